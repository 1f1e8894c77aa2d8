// SPDX-License-Identifier: GPL-2.0
/*
 * Health probes on the daemon's loop; see probe.h. A tcp probe is one
 * non-blocking connect() watched for EPOLLOUT; an http probe is one libcurl
 * easy handle in a multi handle whose sockets are loop watches and whose
 * timer is prober_timeout(). No thread: curl resolves nothing (the host is
 * a numeric address), so its threaded resolver never starts.
 *
 * What ends inside a loop callback is not freed there: an event for it may
 * still wait in the same epoll batch, and a callback (a reload calling
 * hc_set) may cancel more probes than the loop's own list of removed
 * watches holds. It goes to a graveyard freed by the next prober_timeout()
 * or prober_run(), which run between loop_once() calls.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <curl/curl.h>

#include "probe.h"

#ifndef CHLB_VERSION
#define CHLB_VERSION "dev"
#endif

struct pr_probe;

struct pr_list {
	struct pr_probe *head, *tail;
};

struct pr_probe {
	uint64_t id;
	struct prober *p;
	bool dead;		/* ended: late events and callbacks ignored */
	struct pr_probe *hnext;	/* id hash chain, then the graveyard */
	struct pr_list *on;	/* the list it is on (pending or ready), if any */
	struct pr_probe *prev, *next;
	uint64_t deadline_ms;	/* tcp: when the connect is given up */
	int fd;			/* tcp */
	struct loop_watch w;	/* tcp */
	CURL *easy;		/* http */
	uint16_t expect;	/* http */
	bool got_status;	/* http: aborted on purpose after the status */
	uint32_t result, detail;	/* known at start: delivered by prober_run */
};

/* One of curl's sockets, watched on its behalf. */
struct pr_sock {
	struct loop_watch w;
	struct prober *p;
	bool dead;
	struct pr_sock *next;	/* graveyard */
};

struct prober {
	struct loop *l;
	prober_done_fn done;
	void *arg;
	CURLM *multi;
	struct curl_slist *hdrs;
	bool curl_armed;
	uint64_t curl_due_ms;
	struct pr_probe **buckets;	/* probes by id */
	uint32_t mask;
	int n;
	struct pr_list pending;	/* tcp connects in flight, by deadline */
	struct pr_list ready;	/* answered by start itself */
	struct pr_probe *grave;
	struct pr_sock *grave_socks;
};

/* ---- lists and the id hash ------------------------------------------ */

static void list_del(struct pr_probe *pp)
{
	struct pr_list *l = pp->on;

	if (!l)
		return;
	*(pp->prev ? &pp->prev->next : &l->head) = pp->next;
	*(pp->next ? &pp->next->prev : &l->tail) = pp->prev;
	pp->on = NULL;
	pp->prev = pp->next = NULL;
}

/*
 * Insert by deadline, walking back from the tail: probes start in time
 * order with mostly equal timeouts, so this is O(1) in practice.
 */
static void list_insert(struct pr_list *l, struct pr_probe *pp)
{
	struct pr_probe *after = l->tail;

	while (after && after->deadline_ms > pp->deadline_ms)
		after = after->prev;
	pp->prev = after;
	pp->next = after ? after->next : l->head;
	*(pp->next ? &pp->next->prev : &l->tail) = pp;
	*(after ? &after->next : &l->head) = pp;
	pp->on = l;
}

static uint32_t id_bucket(const struct prober *p, uint64_t id)
{
	id *= 0x9e3779b97f4a7c15ull;
	return (uint32_t)(id >> 32) & p->mask;
}

static struct pr_probe *find(const struct prober *p, uint64_t id)
{
	struct pr_probe *pp;

	for (pp = p->buckets[id_bucket(p, id)]; pp; pp = pp->hnext)
		if (pp->id == id)
			return pp;
	return NULL;
}

static void hash_add(struct prober *p, struct pr_probe *pp)
{
	struct pr_probe **b = &p->buckets[id_bucket(p, pp->id)];

	pp->hnext = *b;
	*b = pp;
	p->n++;
}

static void hash_del(struct prober *p, struct pr_probe *pp)
{
	struct pr_probe **pp2 = &p->buckets[id_bucket(p, pp->id)];

	while (*pp2 != pp)
		pp2 = &(*pp2)->hnext;
	*pp2 = pp->hnext;
	p->n--;
}

/* Room for one more probe at a load of at most 1. */
static int hash_reserve(struct prober *p)
{
	uint32_t old = p->buckets ? p->mask + 1 : 0, size = old ? old * 2 : 64, i;
	struct pr_probe **ob = p->buckets, *pp, *next;

	if ((uint32_t)p->n < old)
		return 0;
	p->buckets = calloc(size, sizeof(*p->buckets));
	if (!p->buckets) {
		p->buckets = ob;
		return -ENOMEM;
	}
	p->mask = size - 1;
	p->n = 0;
	for (i = 0; i < old; i++)
		for (pp = ob[i]; pp; pp = next) {
			next = pp->hnext;
			hash_add(p, pp);
		}
	free(ob);
	return 0;
}

/* ---- ending a probe --------------------------------------------------- */

static void retire(struct prober *p, struct pr_probe *pp)
{
	hash_del(p, pp);
	list_del(pp);
	if (pp->fd >= 0) {
		loop_del(p->l, &pp->w);
		close(pp->fd);
		pp->fd = -1;
	}
	if (pp->easy) {
		curl_multi_remove_handle(p->multi, pp->easy);
		curl_easy_cleanup(pp->easy);
		pp->easy = NULL;
	}
	pp->dead = true;
	pp->hnext = p->grave;
	p->grave = pp;
}

/* Retire first, so that done() may start or cancel probes. */
static void complete(struct prober *p, struct pr_probe *pp, uint32_t result, uint32_t detail)
{
	uint64_t id = pp->id;

	retire(p, pp);
	p->done(p->arg, id, result, detail);
}

static void bury(struct prober *p)
{
	struct pr_probe *pp;
	struct pr_sock *ps;

	while ((pp = p->grave)) {
		p->grave = pp->hnext;
		free(pp);
	}
	while ((ps = p->grave_socks)) {
		p->grave_socks = ps->next;
		free(ps);
	}
}

/* ---- tcp -------------------------------------------------------------- */

static void tcp_result(int err, uint32_t *result, uint32_t *detail)
{
	*detail = err;
	if (!err)
		*result = CHLB_CHECK_OK;
	else if (err == ECONNREFUSED)
		*result = CHLB_CHECK_REFUSED;
	else if (err == ETIMEDOUT)
		*result = CHLB_CHECK_TIMEOUT;
	else
		*result = CHLB_CHECK_ERROR;
}

static void tcp_event(struct loop_watch *w, uint32_t events)
{
	struct pr_probe *pp = w->arg;
	socklen_t len = sizeof(int);
	uint32_t result, detail;
	int err = 0;

	if (pp->dead || !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		return;
	if (getsockopt(pp->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	else if (!err && !(events & EPOLLOUT))
		err = ECONNRESET;	/* hung up without an error of its own */
	tcp_result(err, &result, &detail);
	complete(pp->p, pp, result, detail);
}

/* IPv4 as AF_INET, so the probe works on hosts without IPv6. */
static socklen_t sockaddr_of(const struct chlb_addr *a, uint16_t port,
			     struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (chlb_addr_is_v4(a)) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a->bytes + 12, 4);
		return sizeof(*in);
	}
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	memcpy(&in6->sin6_addr, a->bytes, 16);
	return sizeof(*in6);
}

/* A connect that ended at once (refused, unreachable) is answered by prober_run. */
static void tcp_ready(struct prober *p, struct pr_probe *pp, int err)
{
	tcp_result(err, &pp->result, &pp->detail);
	close(pp->fd);
	pp->fd = -1;
	pp->deadline_ms = 0;
	list_insert(&p->ready, pp);
}

static int tcp_start(struct prober *p, struct pr_probe *pp, const struct hc_probe_key *k,
		     uint32_t timeout_ms)
{
	/* RST on close: no TIME_WAIT per probe (1000 probes/s would keep 60,000). */
	static const struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(&k->addr, k->port, &ss);
	int err = 0, cerr;

	pp->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pp->fd < 0 || setsockopt(pp->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg))) {
		err = -errno;
		goto out;
	}
	cerr = connect(pp->fd, (struct sockaddr *)&ss, len) ? errno : 0;
	if (cerr != EINPROGRESS) {
		tcp_ready(p, pp, cerr);
		goto out;
	}
	pp->w = (struct loop_watch){ .fd = pp->fd, .fn = tcp_event, .arg = pp };
	err = loop_add(p->l, &pp->w, EPOLLOUT);
	if (err)
		goto out;
	pp->deadline_ms = loop_now_ms() + timeout_ms;
	list_insert(&p->pending, pp);
out:
	if (err && pp->fd >= 0) {
		close(pp->fd);
		pp->fd = -1;
	}
	return err;
}

/* ---- http (libcurl) --------------------------------------------------- */

static void http_result(struct pr_probe *pp, CURLcode code, uint32_t *result,
			uint32_t *detail)
{
	long status = 0, oserr = 0;

	curl_easy_getinfo(pp->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(pp->easy, CURLINFO_OS_ERRNO, &oserr);
	if (code == CURLE_OK || (code == CURLE_WRITE_ERROR && pp->got_status)) {
		*result = status == pp->expect ? CHLB_CHECK_OK : CHLB_CHECK_HTTP_STATUS;
		*detail = status;
	} else if (code == CURLE_OPERATION_TIMEDOUT) {
		*result = CHLB_CHECK_TIMEOUT;
		*detail = ETIMEDOUT;
	} else if (oserr == ECONNREFUSED) {
		*result = CHLB_CHECK_REFUSED;
		*detail = ECONNREFUSED;
	} else {
		/* no errno: the server broke HTTP (closed early, sent garbage) */
		*result = CHLB_CHECK_ERROR;
		*detail = oserr ? oserr : EPROTO;
	}
}

static void http_check(struct prober *p)
{
	uint32_t result, detail;
	char *priv;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(p->multi, &left))) {
		priv = NULL;
		if (m->msg != CURLMSG_DONE ||
		    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv) != CURLE_OK || !priv)
			continue;
		http_result((struct pr_probe *)priv, m->data.result, &result, &detail);
		complete(p, (struct pr_probe *)priv, result, detail);
	}
}

/*
 * The status is all a check needs: stop at the end of the final response's
 * headers, so a slow or endless body neither costs time nor counts.
 */
static size_t http_header(char *buf, size_t size, size_t n, void *arg)
{
	struct pr_probe *pp = arg;
	long status = 0;

	size *= n;
	if (size > 2 || (buf[0] != '\r' && buf[0] != '\n'))
		return size;
	curl_easy_getinfo(pp->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200)
		return size;	/* 1xx: the final response follows */
	pp->got_status = true;
	return 0;
}

static size_t http_body(char *buf, size_t size, size_t n, void *arg)
{
	(void)buf;
	(void)arg;
	return size * n;
}

/* RST on close, as for tcp probes: no TIME_WAIT per check. */
static int http_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	static const struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	(void)arg;
	(void)purpose;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	return CURL_SOCKOPT_OK;
}

static int http_url(const struct hc_probe_key *k, char *url, size_t len)
{
	bool v6 = !chlb_addr_is_v4(&k->addr);
	char a[CHLB_ADDR_STRLEN];
	int n;

	if (chlb_addr_format(&k->addr, a, sizeof(a)))
		return -EINVAL;
	n = snprintf(url, len, "http://%s%s%s:%u%s%.*s", v6 ? "[" : "", a, v6 ? "]" : "",
		     k->port, k->path[0] == '/' ? "" : "/", (int)sizeof(k->path), k->path);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * One fresh connection per check, closed after it, through no proxy (an
 * http_proxy in the daemon's environment must not answer for a backend),
 * following no redirect: what is checked is this backend's own answer.
 */
static int http_opts(struct prober *p, struct pr_probe *pp, const char *url,
		     uint32_t timeout_ms)
{
	CURL *e = pp->easy;
	int rc = 0;

	rc |= curl_easy_setopt(e, CURLOPT_URL, url);
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	rc |= curl_easy_setopt(e, CURLOPT_PROXY, "");
	rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, p->hdrs);
	rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, "chlb-healthcheck/" CHLB_VERSION);
	rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)pp);
	rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, http_header);
	rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, pp);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_body);
	rc |= curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, http_sockopt);
	return rc ? -EINVAL : 0;
}

static int http_start(struct prober *p, struct pr_probe *pp, const struct hc_probe_key *k,
		      uint32_t timeout_ms)
{
	char url[256];
	int err;

	err = http_url(k, url, sizeof(url));
	if (err)
		return err;
	pp->expect = k->expect;
	pp->easy = curl_easy_init();
	if (!pp->easy)
		return -ENOMEM;
	err = http_opts(p, pp, url, timeout_ms);
	if (err)
		goto out;
	if (curl_multi_add_handle(p->multi, pp->easy) != CURLM_OK)
		err = -ENOMEM;
out:
	if (err) {
		curl_easy_cleanup(pp->easy);
		pp->easy = NULL;
	}
	return err;
}

/* ---- curl's sockets and timer on the loop ----------------------------- */

static void sock_event(struct loop_watch *w, uint32_t events)
{
	struct pr_sock *ps = w->arg;
	int flags = 0, running;

	if (ps->dead)
		return;
	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(ps->p->multi, w->fd, flags, &running);
	http_check(ps->p);
}

static int sock_add(struct prober *p, curl_socket_t s, uint32_t ev)
{
	struct pr_sock *ps = calloc(1, sizeof(*ps));
	int err;

	if (!ps)
		return -ENOMEM;
	ps->p = p;
	ps->w = (struct loop_watch){ .fd = s, .fn = sock_event, .arg = ps };
	err = loop_add(p->l, &ps->w, ev);
	if (!err && curl_multi_assign(p->multi, s, ps) != CURLM_OK) {
		loop_del(p->l, &ps->w);
		err = -ENOMEM;
	}
	if (err)
		free(ps);
	return err;
}

static void sock_drop(struct prober *p, struct pr_sock *ps)
{
	loop_del(p->l, &ps->w);
	curl_multi_assign(p->multi, ps->w.fd, NULL);
	ps->dead = true;
	ps->next = p->grave_socks;
	p->grave_socks = ps;
}

/* CURLMOPT_SOCKETFUNCTION: what curl wants to hear about a socket. */
static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	struct prober *p = userp;
	struct pr_sock *ps = socketp;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (ps)
			sock_drop(p, ps);
		return 0;
	}
	if (!ps)
		return sock_add(p, s, ev) ? -1 : 0;
	return loop_mod(p->l, &ps->w, ev) ? -1 : 0;
}

/* CURLMOPT_TIMERFUNCTION: kept as a deadline for prober_timeout(). */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct prober *p = userp;

	(void)multi;
	p->curl_armed = timeout_ms >= 0;
	p->curl_due_ms = loop_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	return 0;
}

/* ---- the API ---------------------------------------------------------- */

static int multi_new(struct prober *p)
{
	int rc = 0;

	p->multi = curl_multi_init();
	p->hdrs = curl_slist_append(NULL, "Connection: close");
	if (!p->multi || !p->hdrs)
		return -ENOMEM;
	rc |= curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	rc |= curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p);
	rc |= curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	rc |= curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p);
	return rc ? -EINVAL : 0;
}

int prober_new(struct loop *l, prober_done_fn done, void *arg, struct prober **pp)
{
	struct prober *p;
	int err;

	if (!l || !done)
		return -EINVAL;
	/* Reference-counted by curl; paired with the cleanup in prober_free(). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -ENOMEM;
	p = calloc(1, sizeof(*p));
	if (!p) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	p->l = l;
	p->done = done;
	p->arg = arg;
	err = hash_reserve(p);
	if (!err)
		err = multi_new(p);
	if (err) {
		prober_free(p);
		return err;
	}
	*pp = p;
	return 0;
}

void prober_free(struct prober *p)
{
	uint32_t i;

	if (!p)
		return;
	for (i = 0; p->buckets && i <= p->mask; i++)
		while (p->buckets[i])
			retire(p, p->buckets[i]);
	if (p->multi)
		curl_multi_cleanup(p->multi);
	bury(p);
	curl_slist_free_all(p->hdrs);
	free(p->buckets);
	free(p);
	curl_global_cleanup();
}

int prober_start(struct prober *p, uint64_t id, const struct hc_probe_key *k, uint32_t timeout_ms)
{
	struct pr_probe *pp;
	int err;

	/* a timeout of 0 would be "none" to curl, and due at once to prober_run */
	if ((k->type != CHLB_HEALTH_TCP && k->type != CHLB_HEALTH_HTTP) || !timeout_ms)
		return -EINVAL;
	if (find(p, id))
		return -EEXIST;
	err = hash_reserve(p);
	if (err)
		return err;
	pp = calloc(1, sizeof(*pp));
	if (!pp)
		return -ENOMEM;
	pp->id = id;
	pp->p = p;
	pp->fd = -1;
	if (k->type == CHLB_HEALTH_TCP)
		err = tcp_start(p, pp, k, timeout_ms);
	else
		err = http_start(p, pp, k, timeout_ms);
	if (err) {
		free(pp);
		return err;
	}
	hash_add(p, pp);
	return 0;
}

void prober_cancel(struct prober *p, uint64_t id)
{
	struct pr_probe *pp = find(p, id);

	if (pp)
		retire(p, pp);
}

int prober_timeout(struct prober *p)
{
	uint64_t due = UINT64_MAX, now;

	bury(p);
	if (p->ready.head)
		return 0;
	if (p->pending.head)
		due = p->pending.head->deadline_ms;
	if (p->curl_armed && p->curl_due_ms < due)
		due = p->curl_due_ms;
	if (due == UINT64_MAX)
		return -1;
	now = loop_now_ms();
	if (due <= now)
		return 0;
	return due - now > INT_MAX ? INT_MAX : (int)(due - now);
}

void prober_run(struct prober *p)
{
	uint64_t now = loop_now_ms();
	struct pr_probe *pp;
	int running, n = 0;

	bury(p);
	/* Only those ready now: a done() that starts a probe refused at once waits its turn. */
	for (pp = p->ready.head; pp; pp = pp->next)
		n++;
	while (n-- > 0 && (pp = p->ready.head))
		complete(p, pp, pp->result, pp->detail);
	while ((pp = p->pending.head) && pp->deadline_ms <= now)
		complete(p, pp, CHLB_CHECK_TIMEOUT, ETIMEDOUT);
	if (p->curl_armed && p->curl_due_ms <= now) {
		p->curl_armed = false;
		curl_multi_socket_action(p->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		http_check(p);
	}
}

int prober_inflight(const struct prober *p)
{
	return p->n;
}
