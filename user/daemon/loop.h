/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's one event loop: epoll over every descriptor (signals,
 * inotify, probes' sockets, curl's sockets, the metrics server), with the
 * timeout of each wait chosen by the caller from its subsystems' deadlines.
 * No threads: every callback runs on the loop's thread, one at a time.
 */
#ifndef CHLB_DAEMON_LOOP_H
#define CHLB_DAEMON_LOOP_H

#include <stdint.h>

struct loop;

struct loop_watch {
	int fd;
	/* events: EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP as epoll reports them */
	void (*fn)(struct loop_watch *w, uint32_t events);
	void *arg;		/* the owner's */
};

int loop_new(struct loop **l);
void loop_free(struct loop *l);
/* Watch w->fd for events (EPOLLIN | EPOLLOUT ...); w must outlive the watch. */
int loop_add(struct loop *l, struct loop_watch *w, uint32_t events);
int loop_mod(struct loop *l, struct loop_watch *w, uint32_t events);
/* Stop watching (before closing the fd). Safe from inside a callback. */
void loop_del(struct loop *l, struct loop_watch *w);
/* Wait up to timeout_ms (-1: no limit) and run the callbacks of what is ready. */
int loop_once(struct loop *l, int timeout_ms);

/* CLOCK_MONOTONIC in milliseconds: every deadline of the daemon is in it. */
uint64_t loop_now_ms(void);

#endif /* CHLB_DAEMON_LOOP_H */
