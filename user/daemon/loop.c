// SPDX-License-Identifier: GPL-2.0
/* The daemon's event loop; see loop.h. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "loop.h"

#define LOOP_BATCH 64

struct loop {
	int epfd;
	/* watches removed during a dispatch: their pending events are skipped */
	struct loop_watch *gone[LOOP_BATCH];
	int ngone;
	int dispatching;
};

int loop_new(struct loop **lp)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int err = -errno;

		free(l);
		return err;
	}
	*lp = l;
	return 0;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l);
}

static int loop_ctl(struct loop *l, int op, struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(l->epfd, op, w->fd, &ev) ? -errno : 0;
}

int loop_add(struct loop *l, struct loop_watch *w, uint32_t events)
{
	return loop_ctl(l, EPOLL_CTL_ADD, w, events);
}

int loop_mod(struct loop *l, struct loop_watch *w, uint32_t events)
{
	return loop_ctl(l, EPOLL_CTL_MOD, w, events);
}

void loop_del(struct loop *l, struct loop_watch *w)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (l->dispatching && l->ngone < LOOP_BATCH)
		l->gone[l->ngone++] = w;
}

static int removed(struct loop *l, struct loop_watch *w)
{
	int i;

	for (i = 0; i < l->ngone; i++)
		if (l->gone[i] == w)
			return 1;
	return 0;
}

int loop_once(struct loop *l, int timeout_ms)
{
	struct epoll_event ev[LOOP_BATCH];
	int i, n;

	n = epoll_wait(l->epfd, ev, LOOP_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->dispatching = 1;
	l->ngone = 0;
	for (i = 0; i < n; i++) {
		struct loop_watch *w = ev[i].data.ptr;

		if (!removed(l, w))
			w->fn(w, ev[i].events);
	}
	l->dispatching = 0;
	l->ngone = 0;
	return n;
}

uint64_t loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
