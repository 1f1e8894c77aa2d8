// SPDX-License-Identifier: GPL-2.0
/*
 * Real probes on loopback (127.0.0.1 and ::1), driven by the daemon's real
 * loop: listening and closed TCP ports, a backlog kept full (SYNs dropped:
 * a connect that never completes), and a small HTTP server on a thread of
 * the test answering 200, 503, nothing, or closing at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <CUnit/Basic.h>

#include "daemon/health.h"
#include "daemon/loop.h"
#include "daemon/probe.h"
#include "helpers/cu_main.h"

#define MAX_RESULTS 512

/* ---- the HTTP server -------------------------------------------------- */

/* answer 200, answer 503, accept and never answer, read the request and close */
enum srv_kind { SRV_200, SRV_503, SRV_SILENT, SRV_CLOSE, SRV_N };

static struct srv {
	int lfd[SRV_N][2];		/* [kind][v4, v6] */
	uint16_t port[SRV_N][2];
	int stop[2];			/* pipe: the test tells the thread to end */
	int held[1024];			/* SRV_SILENT connections, kept open */
	int nheld;
	pthread_t th;
	pthread_mutex_t lock;
	char last_req[1024];		/* the last request read, for the test */
	int requests;
	int open;			/* connections accepted and not closed */
} srv;

static int listen_on(int family, uint16_t *port, int backlog)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = family == AF_INET ? sizeof(*in) : sizeof(*in6);
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ss.ss_family = family;
	if (family == AF_INET)
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		in6->sin6_addr = in6addr_loopback;
	if (bind(fd, (struct sockaddr *)&ss, len) || (backlog >= 0 && listen(fd, backlog)) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? in->sin_port : in6->sin6_port);
	return fd;
}

/* Under the lock with the count, so the test can tell the server's descriptors from its own. */
static void srv_close(int fd)
{
	pthread_mutex_lock(&srv.lock);
	close(fd);
	srv.open--;
	pthread_mutex_unlock(&srv.lock);
}

static void srv_answer(int fd, enum srv_kind kind)
{
	static const char *const resp[] = {
		[SRV_200] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
		[SRV_503] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
			    "Connection: close\r\n\r\n",
		[SRV_CLOSE] = "",	/* reads the request, closes without a word */
	};
	struct timeval tv = { .tv_sec = 2 };
	char buf[1024];
	size_t n = 0;
	ssize_t r;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0) {
		n += r;
		buf[n] = 0;
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	buf[n] = 0;
	pthread_mutex_lock(&srv.lock);
	memcpy(srv.last_req, buf, n + 1);
	srv.requests++;
	pthread_mutex_unlock(&srv.lock);
	/* no SIGPIPE: a tcp probe resets its connection without reading */
	if (kind != SRV_CLOSE)
		send(fd, resp[kind], strlen(resp[kind]), MSG_NOSIGNAL);
	srv_close(fd);
}

static void srv_accept(int lfd, enum srv_kind kind)
{
	int fd;

	pthread_mutex_lock(&srv.lock);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);	/* the listener does not block */
	srv.open += fd >= 0;
	pthread_mutex_unlock(&srv.lock);
	if (fd < 0)
		return;
	if (kind == SRV_SILENT && srv.nheld < 1024)
		srv.held[srv.nheld++] = fd;
	else if (kind == SRV_SILENT)
		srv_close(fd);
	else
		srv_answer(fd, kind);
}

static void *srv_main(void *arg)
{
	struct pollfd pfd[SRV_N * 2 + 1];
	int i;

	(void)arg;
	for (i = 0; i < SRV_N * 2; i++)
		pfd[i] = (struct pollfd){ .fd = srv.lfd[i / 2][i % 2], .events = POLLIN };
	pfd[i] = (struct pollfd){ .fd = srv.stop[0], .events = POLLIN };
	while (poll(pfd, SRV_N * 2 + 1, -1) >= 0 && !pfd[SRV_N * 2].revents)
		for (i = 0; i < SRV_N * 2; i++)
			if (pfd[i].revents)
				srv_accept(pfd[i].fd, i / 2);
	return NULL;
}

static int srv_init(void)
{
	int k, v;

	pthread_mutex_init(&srv.lock, NULL);
	for (k = 0; k < SRV_N; k++)
		for (v = 0; v < 2; v++) {
			srv.lfd[k][v] = listen_on(v ? AF_INET6 : AF_INET, &srv.port[k][v], 128);
			if (srv.lfd[k][v] < 0 || fcntl(srv.lfd[k][v], F_SETFL, O_NONBLOCK))
				return -1;
		}
	if (pipe2(srv.stop, O_CLOEXEC))
		return -1;
	return pthread_create(&srv.th, NULL, srv_main, NULL) ? -1 : 0;
}

static int srv_fini(void)
{
	int k, i;

	if (write(srv.stop[1], "x", 1) == 1)
		pthread_join(srv.th, NULL);
	for (k = 0; k < SRV_N * 2; k++)
		close(srv.lfd[k / 2][k % 2]);
	for (i = 0; i < srv.nheld; i++)
		close(srv.held[i]);
	close(srv.stop[0]);
	close(srv.stop[1]);
	return 0;
}

/* ---- the prober on a loop --------------------------------------------- */

struct run {
	struct loop *l;
	struct prober *p;
	struct res {
		uint64_t id;
		uint32_t result, detail;
		uint64_t at;
	} res[MAX_RESULTS];
	int n;
	int chain;		/* done() starts another probe this many times */
	struct hc_probe_key chain_key;
};

static void on_done(void *arg, uint64_t id, uint32_t result, uint32_t detail)
{
	struct run *r = arg;

	CU_ASSERT_FATAL(r->n < MAX_RESULTS);
	r->res[r->n++] = (struct res){ id, result, detail, loop_now_ms() };
	if (r->chain > 0) {
		r->chain--;
		CU_ASSERT_EQUAL(prober_start(r->p, id + 1000, &r->chain_key, 1000), 0);
	}
}

static void run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
	CU_ASSERT_EQUAL_FATAL(loop_new(&r->l), 0);
	CU_ASSERT_EQUAL_FATAL(prober_new(r->l, on_done, r, &r->p), 0);
}

static void run_fini(struct run *r)
{
	prober_free(r->p);
	loop_free(r->l);
}

/* The daemon's loop: wait for the prober's deadline or an event, then let it run. */
static void drive(struct run *r, int want, int max_ms)
{
	uint64_t end = loop_now_ms() + max_ms;

	while (r->n < want && loop_now_ms() < end) {
		int t = prober_timeout(r->p), left = (int)(end - loop_now_ms());

		if (t < 0 || t > left)
			t = left > 0 ? left : 0;
		CU_ASSERT(loop_once(r->l, t) >= 0);
		prober_run(r->p);
	}
}

static const struct res *result_of(const struct run *r, uint64_t id)
{
	int i;

	for (i = 0; i < r->n; i++)
		if (r->res[i].id == id)
			return &r->res[i];
	return NULL;
}

static struct hc_probe_key mkkey(int v6, uint16_t port, uint32_t type)
{
	struct hc_probe_key k;

	memset(&k, 0, sizeof(k));
	if (v6) {
		k.addr.bytes[15] = 1;
	} else {
		k.addr.bytes[10] = k.addr.bytes[11] = 0xff;
		k.addr.bytes[12] = 127;
		k.addr.bytes[15] = 1;
	}
	k.port = port;
	k.type = type;
	if (type == CHLB_HEALTH_HTTP) {
		strcpy(k.path, "/healthz");
		k.expect = 200;
	}
	return k;
}

/* One probe to completion: its result, checked against what is expected. */
static void probe_one(const struct hc_probe_key *k, uint32_t timeout_ms, uint32_t result,
		      uint32_t detail, uint64_t *elapsed)
{
	const struct res *res;
	struct run r;
	uint64_t t0;

	run_init(&r);
	t0 = loop_now_ms();
	CU_ASSERT_EQUAL_FATAL(prober_start(r.p, 42, k, timeout_ms), 0);
	CU_ASSERT_EQUAL(r.n, 0);	/* never from inside prober_start() */
	CU_ASSERT_EQUAL(prober_inflight(r.p), 1);
	drive(&r, 1, 5000);
	res = result_of(&r, 42);
	CU_ASSERT_PTR_NOT_NULL_FATAL(res);
	if (res->result != result || res->detail != detail)
		fprintf(stderr, "\n    %s port %u: got result %u detail %u, want %u %u\n",
			chlb_addr_is_v4(&k->addr) ? "v4" : "v6", k->port, res->result,
			res->detail, result, detail);
	CU_ASSERT_EQUAL(res->result, result);
	CU_ASSERT_EQUAL(res->detail, detail);
	CU_ASSERT_EQUAL(r.n, 1);
	CU_ASSERT_EQUAL(prober_inflight(r.p), 0);
	if (elapsed)
		*elapsed = res->at - t0;
	run_fini(&r);
}

/* ---- tcp -------------------------------------------------------------- */

static void test_tcp_ok(void)
{
	uint16_t port;
	int v, fd;

	for (v = 0; v < 2; v++) {
		fd = listen_on(v ? AF_INET6 : AF_INET, &port, 16);
		CU_ASSERT_FATAL(fd >= 0);
		struct hc_probe_key k = mkkey(v, port, CHLB_HEALTH_TCP);

		probe_one(&k, 1000, CHLB_CHECK_OK, 0, NULL);
		close(fd);
	}
}

/* A port with a bound but not listening socket: nothing else takes it meanwhile. */
static void test_tcp_refused(void)
{
	uint16_t port;
	int v, fd;

	for (v = 0; v < 2; v++) {
		fd = listen_on(v ? AF_INET6 : AF_INET, &port, -1);
		CU_ASSERT_FATAL(fd >= 0);
		struct hc_probe_key k = mkkey(v, port, CHLB_HEALTH_TCP);

		probe_one(&k, 1000, CHLB_CHECK_REFUSED, ECONNREFUSED, NULL);
		close(fd);
	}
}

/*
 * A connect that fails at once (TCP to a multicast address: ENETUNREACH
 * from connect() itself) is still answered from the loop, not from
 * prober_start(); curl reports the same errno.
 */
static void test_unreachable(void)
{
	struct hc_probe_key k = mkkey(0, 80, CHLB_HEALTH_TCP);
	struct run r;

	k.addr.bytes[12] = 224;		/* 224.0.0.1 */
	run_init(&r);
	CU_ASSERT_EQUAL(prober_start(r.p, 7, &k, 1000), 0);
	CU_ASSERT_EQUAL(r.n, 0);
	CU_ASSERT_EQUAL(prober_timeout(r.p), 0);	/* due now */
	run_fini(&r);
	probe_one(&k, 1000, CHLB_CHECK_ERROR, ENETUNREACH, NULL);
	k.type = CHLB_HEALTH_HTTP;
	k.expect = 200;
	probe_one(&k, 1000, CHLB_CHECK_ERROR, ENETUNREACH, NULL);
}

/*
 * A listener with backlog 0 and one connection it never accepts: its
 * accept queue is full, so the kernel drops further SYNs and a connect to
 * it never completes.
 */
static int full_listener(int family, uint16_t *port, int *filler)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = listen_on(family, port, 0);

	*filler = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || *filler < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) ||
	    connect(*filler, (struct sockaddr *)&ss, len))
		return -1;
	return fd;
}

static void test_tcp_timeout(void)
{
	uint64_t elapsed;
	int v, fd, filler;
	uint16_t port;

	for (v = 0; v < 2; v++) {
		fd = full_listener(v ? AF_INET6 : AF_INET, &port, &filler);
		CU_ASSERT_FATAL(fd >= 0);
		struct hc_probe_key k = mkkey(v, port, CHLB_HEALTH_TCP);

		probe_one(&k, 300, CHLB_CHECK_TIMEOUT, ETIMEDOUT, &elapsed);
		printf(" [timed out after %llu ms]", (unsigned long long)elapsed);
		CU_ASSERT(elapsed >= 299 && elapsed < 450);
		close(filler);
		close(fd);
	}
}

/* SO_LINGER 0: a probe leaves no TIME_WAIT behind (1000 probes/s would keep 60,000). */
static int time_waits(uint16_t port)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512];
	unsigned int rport, st;
	int i, n = 0;

	for (i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char *rem = strchr(line, ':');

			/* "sl: local:port remote:port st ..." */
			if (!rem || !(rem = strchr(rem + 1, ' ')) || !(rem = strchr(rem + 1, ':')))
				continue;
			if (sscanf(rem + 1, "%x %x", &rport, &st) == 2 && rport == port && st == 6)
				n++;
		}
		fclose(f);
	}
	return n;
}

static void test_tcp_no_time_wait(void)
{
	struct hc_probe_key k;
	struct run r;
	uint16_t port;
	int i, fd = listen_on(AF_INET, &port, 128);

	CU_ASSERT_FATAL(fd >= 0);
	k = mkkey(0, port, CHLB_HEALTH_TCP);
	run_init(&r);
	for (i = 0; i < 50; i++)
		CU_ASSERT_EQUAL(prober_start(r.p, i + 1, &k, 1000), 0);
	drive(&r, 50, 5000);
	CU_ASSERT_EQUAL(r.n, 50);
	for (i = 0; i < r.n; i++)
		CU_ASSERT_EQUAL(r.res[i].result, CHLB_CHECK_OK);
	CU_ASSERT_EQUAL(time_waits(port), 0);
	run_fini(&r);
	close(fd);
}

/* ---- http ------------------------------------------------------------- */

static void test_http_ok(void)
{
	int v;

	for (v = 0; v < 2; v++) {
		struct hc_probe_key k = mkkey(v, srv.port[SRV_200][v], CHLB_HEALTH_HTTP);

		probe_one(&k, 2000, CHLB_CHECK_OK, 200, NULL);
		pthread_mutex_lock(&srv.lock);
		CU_ASSERT(!strncmp(srv.last_req, "GET /healthz HTTP/1.1\r\n", 23));
		CU_ASSERT_PTR_NOT_NULL(strstr(srv.last_req, "\r\nConnection: close\r\n"));
		CU_ASSERT_PTR_NOT_NULL(strstr(srv.last_req, v ? "\r\nHost: [::1]:" :
							    "\r\nHost: 127.0.0.1:"));
		pthread_mutex_unlock(&srv.lock);
	}
}

/* A proxy in the environment is not used: the backend itself answers. */
static void test_http_no_proxy(void)
{
	struct hc_probe_key k = mkkey(0, srv.port[SRV_200][0], CHLB_HEALTH_HTTP);

	setenv("http_proxy", "http://127.0.0.1:1", 1);
	setenv("HTTP_PROXY", "http://127.0.0.1:1", 1);
	probe_one(&k, 2000, CHLB_CHECK_OK, 200, NULL);
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
}

static void test_http_status(void)
{
	int v;

	for (v = 0; v < 2; v++) {
		struct hc_probe_key k = mkkey(v, srv.port[SRV_503][v], CHLB_HEALTH_HTTP);

		probe_one(&k, 2000, CHLB_CHECK_HTTP_STATUS, 503, NULL);
		k.expect = 503;
		probe_one(&k, 2000, CHLB_CHECK_OK, 503, NULL);
		/* 200 where 204 is expected is as wrong as a 503 */
		k = mkkey(v, srv.port[SRV_200][v], CHLB_HEALTH_HTTP);
		k.expect = 204;
		probe_one(&k, 2000, CHLB_CHECK_HTTP_STATUS, 200, NULL);
	}
}

static void test_http_timeout(void)
{
	uint64_t elapsed;
	int v;

	for (v = 0; v < 2; v++) {
		struct hc_probe_key k = mkkey(v, srv.port[SRV_SILENT][v], CHLB_HEALTH_HTTP);

		probe_one(&k, 300, CHLB_CHECK_TIMEOUT, ETIMEDOUT, &elapsed);
		printf(" [timed out after %llu ms]", (unsigned long long)elapsed);
		CU_ASSERT(elapsed >= 295 && elapsed < 450);
	}
}

static void test_http_refused(void)
{
	uint16_t port;
	int v, fd;

	for (v = 0; v < 2; v++) {
		fd = listen_on(v ? AF_INET6 : AF_INET, &port, -1);
		CU_ASSERT_FATAL(fd >= 0);
		struct hc_probe_key k = mkkey(v, port, CHLB_HEALTH_HTTP);

		probe_one(&k, 1000, CHLB_CHECK_REFUSED, ECONNREFUSED, NULL);
		close(fd);
	}
}

/* A server that closes without answering broke HTTP: an error, EPROTO. */
static void test_http_closed(void)
{
	struct hc_probe_key k = mkkey(0, srv.port[SRV_CLOSE][0], CHLB_HEALTH_HTTP);

	probe_one(&k, 1000, CHLB_CHECK_ERROR, EPROTO, NULL);
}

/* ---- cancelling, many at once ----------------------------------------- */

static void test_cancel(void)
{
	struct hc_probe_key ks = mkkey(1, srv.port[SRV_SILENT][1], CHLB_HEALTH_HTTP);
	struct hc_probe_key kok = mkkey(0, srv.port[SRV_200][0], CHLB_HEALTH_HTTP);
	struct hc_probe_key kt;
	int fd, filler;
	uint16_t port;
	struct run r;

	fd = full_listener(AF_INET, &port, &filler);
	CU_ASSERT_FATAL(fd >= 0);
	kt = mkkey(0, port, CHLB_HEALTH_TCP);
	run_init(&r);
	CU_ASSERT_EQUAL(prober_start(r.p, 1, &ks, 300), 0);
	CU_ASSERT_EQUAL(prober_start(r.p, 2, &kt, 300), 0);
	CU_ASSERT_EQUAL(prober_start(r.p, 3, &kok, 300), 0);
	CU_ASSERT_EQUAL(prober_start(r.p, 4, &ks, 300), 0);
	CU_ASSERT_EQUAL(prober_start(r.p, 1, &ks, 300), -EEXIST);
	prober_cancel(r.p, 4);			/* before curl even began */
	drive(&r, 1, 2000);			/* 3 answers; 1 and 2 connect, then wait */
	CU_ASSERT_EQUAL_FATAL(r.n, 1);
	CU_ASSERT_EQUAL(r.res[0].id, 3);
	CU_ASSERT_EQUAL(r.res[0].result, CHLB_CHECK_OK);
	prober_cancel(r.p, 1);			/* in flight */
	prober_cancel(r.p, 2);
	prober_cancel(r.p, 3);			/* finished: nothing */
	prober_cancel(r.p, 99);			/* unknown: nothing */
	prober_cancel(r.p, 1);			/* twice */
	CU_ASSERT_EQUAL(prober_inflight(r.p), 0);
	drive(&r, 2, 600);			/* past every timeout: no result comes */
	CU_ASSERT_EQUAL(r.n, 1);
	CU_ASSERT_EQUAL(prober_timeout(r.p), -1);
	run_fini(&r);
	close(filler);
	close(fd);
}

/* Freeing the prober with probes in flight releases everything, calls nothing. */
static void test_free_inflight(void)
{
	struct hc_probe_key ks = mkkey(0, srv.port[SRV_SILENT][0], CHLB_HEALTH_HTTP);
	struct hc_probe_key kt = mkkey(0, srv.port[SRV_200][0], CHLB_HEALTH_TCP);
	struct run r;
	int i;

	run_init(&r);
	for (i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(prober_start(r.p, i + 1, i % 2 ? &ks : &kt, 1000), 0);
	drive(&r, 5, 1000);
	CU_ASSERT_EQUAL(r.n, 5);
	CU_ASSERT_EQUAL(prober_inflight(r.p), 5);
	run_fini(&r);
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Descriptors of the test's own, not the server thread's. */
static int own_fds(void)
{
	int n;

	pthread_mutex_lock(&srv.lock);
	n = count_dir("/proc/self/fd") - srv.open;
	pthread_mutex_unlock(&srv.lock);
	return n;
}

/* 100 probes at once, tcp and http, v4 and v6: each answered once; no fd or thread left. */
static void test_concurrent(void)
{
	int fds = own_fds(), tasks = count_dir("/proc/self/task");
	int i, v, lfd[2], max_tasks = 0;
	uint16_t port[2];
	struct run r;

	for (v = 0; v < 2; v++) {
		lfd[v] = listen_on(v ? AF_INET6 : AF_INET, &port[v], 128);
		CU_ASSERT_FATAL(lfd[v] >= 0);
	}
	run_init(&r);
	for (i = 0; i < 100; i++) {
		int http = i % 2;
		struct hc_probe_key k =
			mkkey(i / 2 % 2, http ? srv.port[SRV_200][i / 2 % 2] : port[i / 2 % 2],
			      http ? CHLB_HEALTH_HTTP : CHLB_HEALTH_TCP);

		CU_ASSERT_EQUAL(prober_start(r.p, 1000 + i, &k, 3000), 0);
	}
	CU_ASSERT_EQUAL(prober_inflight(r.p), 100);
	while (r.n < 100) {
		int t = count_dir("/proc/self/task");

		max_tasks = t > max_tasks ? t : max_tasks;
		drive(&r, r.n + 1, 5000);
	}
	CU_ASSERT_EQUAL(r.n, 100);
	for (i = 0; i < 100; i++) {
		const struct res *res = result_of(&r, 1000 + i);

		CU_ASSERT_PTR_NOT_NULL_FATAL(res);
		CU_ASSERT_EQUAL(res->result, CHLB_CHECK_OK);
	}
	CU_ASSERT_EQUAL(prober_inflight(r.p), 0);
	run_fini(&r);
	for (v = 0; v < 2; v++)
		close(lfd[v]);
	CU_ASSERT_EQUAL(own_fds(), fds);
	/* curl started no thread of its own (the numeric host needs no resolver) */
	CU_ASSERT_EQUAL(max_tasks, tasks);
}

/* done() may start the next probe: a chain of 20, one after another. */
static void test_chain(void)
{
	struct run r;

	run_init(&r);
	r.chain = 19;
	r.chain_key = mkkey(1, srv.port[SRV_200][1], CHLB_HEALTH_HTTP);
	CU_ASSERT_EQUAL(prober_start(r.p, 1, &r.chain_key, 1000), 0);
	drive(&r, 20, 5000);
	CU_ASSERT_EQUAL(r.n, 20);
	CU_ASSERT_EQUAL(prober_inflight(r.p), 0);
	run_fini(&r);
}

static void test_bad_start(void)
{
	struct hc_probe_key k = mkkey(0, 80, CHLB_HEALTH_NONE);
	struct run r;

	run_init(&r);
	CU_ASSERT_EQUAL(prober_start(r.p, 1, &k, 1000), -EINVAL);
	k.type = CHLB_HEALTH_TCP;
	CU_ASSERT_EQUAL(prober_start(r.p, 1, &k, 0), -EINVAL);
	CU_ASSERT_EQUAL(prober_inflight(r.p), 0);
	CU_ASSERT_EQUAL(prober_timeout(r.p), -1);
	run_fini(&r);
}

/* ---- the scheduler and the prober on the real loop ---------------------- */

struct wired {
	struct loop *l;
	struct prober *p;
	struct hc *h;
	struct loop_watch lw;	/* the listener: accepted and closed at once */
	int changes, downs;
};

static int w_start(void *arg, uint64_t id, const struct hc_probe_key *k, uint32_t timeout_ms)
{
	return prober_start(((struct wired *)arg)->p, id, k, timeout_ms);
}

static void w_cancel(void *arg, uint64_t id)
{
	prober_cancel(((struct wired *)arg)->p, id);
}

static void w_changed(void *arg, const struct hc_sub *s, const struct hc_state *st)
{
	struct wired *w = arg;

	(void)s;
	w->changes++;
	w->downs += st->down;
}

static void w_done(void *arg, uint64_t id, uint32_t result, uint32_t detail)
{
	struct wired *w = arg;

	hc_done(w->h, id, result, detail, loop_now_ms());
}

static void w_accept(struct loop_watch *lw, uint32_t events)
{
	int fd;

	(void)events;
	while ((fd = accept4(lw->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(fd);
}

static void wired_init(struct wired *w, int lfd)
{
	struct hc_env env = { .arg = w, .start = w_start, .cancel = w_cancel,
			      .changed = w_changed };

	memset(w, 0, sizeof(*w));
	CU_ASSERT_EQUAL_FATAL(loop_new(&w->l), 0);
	CU_ASSERT_EQUAL_FATAL(prober_new(w->l, w_done, w, &w->p), 0);
	CU_ASSERT_EQUAL_FATAL(hc_new(&env, &w->h), 0);
	w->lw = (struct loop_watch){ .fd = lfd, .fn = w_accept };
	CU_ASSERT_EQUAL_FATAL(fcntl(lfd, F_SETFL, O_NONBLOCK), 0);
	CU_ASSERT_EQUAL_FATAL(loop_add(w->l, &w->lw, EPOLLIN), 0);
}

static void wired_fini(struct wired *w)
{
	loop_del(w->l, &w->lw);
	hc_free(w->h);
	prober_free(w->p);
	loop_free(w->l);
}

/* What the daemon does: wait for the nearer of the two deadlines, then run both. */
static void wired_run(struct wired *w, int ms)
{
	uint64_t end = loop_now_ms() + ms;

	while (loop_now_ms() < end) {
		int t = hc_run(w->h, loop_now_ms()), pt = prober_timeout(w->p);
		int left = (int)(end - loop_now_ms());

		if (pt >= 0 && (t < 0 || pt < t))
			t = pt;
		if (t < 0 || t > left)
			t = left > 0 ? left : 0;
		loop_once(w->l, t);
		prober_run(w->p);
	}
}

static struct hc_sub wsub(int vip, uint8_t host, uint16_t port)
{
	struct hc_sub s;

	memset(&s, 0, sizeof(s));
	s.vip.addr[10] = s.vip.addr[11] = 0xff;
	s.vip.addr[12] = 10;
	s.vip.addr[15] = vip;
	s.vip.port = htons(80);
	s.vip.proto = IPPROTO_TCP;
	s.vip.family = CHLB_FAMILY_INET;
	s.addr = mkkey(0, 0, CHLB_HEALTH_TCP).addr;
	s.addr.bytes[13] = host >> 8;
	s.addr.bytes[15] = host ? host : 1;
	s.cfg = (struct chlb_health){ .type = CHLB_HEALTH_TCP, .port = port, .interval_ms = 100,
				      .timeout_ms = 50, .rise = 2, .fall = 2 };
	return s;
}

/* Two VIPs, one backend listening and one refusing: the second goes down in both, once. */
static void test_wired(void)
{
	uint16_t lport, cport;
	int lfd = listen_on(AF_INET, &lport, 128), cfd = listen_on(AF_INET, &cport, -1);
	/* backend 127.0.0.2: nothing listens on its port there either */
	struct hc_sub s[4] = { wsub(1, 1, lport), wsub(2, 1, lport), wsub(1, 2, cport),
			       wsub(2, 2, cport) };
	struct hc_state st;
	struct wired w;
	int i;

	CU_ASSERT_FATAL(lfd >= 0 && cfd >= 0);
	wired_init(&w, lfd);
	CU_ASSERT_EQUAL_FATAL(hc_set(w.h, s, 4, loop_now_ms()), 0);
	CU_ASSERT_EQUAL(hc_probes(w.h), 2);
	wired_run(&w, 1000);
	for (i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL_FATAL(hc_state(w.h, &s[i].vip, &s[i].addr, &st), 0);
		CU_ASSERT_EQUAL(st.down, i >= 2);
		CU_ASSERT_EQUAL(st.result, i < 2 ? CHLB_CHECK_OK : CHLB_CHECK_REFUSED);
		CU_ASSERT(st.counts[st.result] >= 8 && st.counts[st.result] <= 12);
	}
	CU_ASSERT_EQUAL(w.changes, 2);
	CU_ASSERT_EQUAL(w.downs, 2);
	wired_fini(&w);
	close(lfd);
	close(cfd);
}

static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * 1000 backends (127.0.x.y, one listener on the wildcard address, since all
 * of 127/8 goes to lo) checked every second for 3 s: the CPU of scheduler,
 * prober and loop together, plus the listener's accepts and the kernel's
 * work for both ends of every connection, on the sanitizer build: an upper
 * bound of the daemon's own cost.
 */
static void test_wired_cpu(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), i, ok = 0;
	struct hc_sub *s = calloc(1000, sizeof(*s));
	struct hc_state st;
	struct wired w;
	double c0;

	CU_ASSERT_FATAL(s && lfd >= 0);
	CU_ASSERT_FATAL(!bind(lfd, (struct sockaddr *)&sa, len) && !listen(lfd, 4096) &&
			!getsockname(lfd, (struct sockaddr *)&sa, &len));
	for (i = 0; i < 1000; i++) {
		s[i] = wsub(1, 0, ntohs(sa.sin_port));
		s[i].addr.bytes[14] = i / 250;
		s[i].addr.bytes[15] = i % 250 + 1;
		s[i].cfg.interval_ms = 1000;
		s[i].cfg.timeout_ms = 500;
	}
	wired_init(&w, lfd);
	CU_ASSERT_EQUAL_FATAL(hc_set(w.h, s, 1000, loop_now_ms()), 0);
	c0 = cpu_ms();
	wired_run(&w, 3000);
	c0 = cpu_ms() - c0;
	for (i = 0; i < 1000; i++)
		if (!hc_state(w.h, &s[i].vip, &s[i].addr, &st))
			ok += st.counts[CHLB_CHECK_OK];
	printf(" [%d checks OK in 3 s, %.0f ms CPU: %.1f%% of a core]", ok, c0, c0 / 30);
	CU_ASSERT(ok >= 2700);
	CU_ASSERT(c0 < 750);	/* a busy loop would take the whole core: 3000 ms */
	CU_ASSERT_EQUAL(w.downs, 0);
	wired_fini(&w);
	close(lfd);
	free(s);
}

static int suite_init(void)
{
	return srv_init();
}

static int suite_clean(void)
{
	return srv_fini();
}

static CU_TestInfo tests[] = {
	{ "tcp: listening port is OK", test_tcp_ok },
	{ "tcp: closed port is REFUSED", test_tcp_refused },
	{ "tcp: SYNs dropped is TIMEOUT", test_tcp_timeout },
	{ "tcp and http: unreachable is ERROR", test_unreachable },
	{ "tcp: no TIME_WAIT left", test_tcp_no_time_wait },
	{ "http: 200 is OK, the request as expected", test_http_ok },
	{ "http: no proxy from the environment", test_http_no_proxy },
	{ "http: another status is HTTP_STATUS", test_http_status },
	{ "http: no answer is TIMEOUT", test_http_timeout },
	{ "http: closed port is REFUSED", test_http_refused },
	{ "http: closed without answer is ERROR", test_http_closed },
	{ "cancel in flight, finished, unknown", test_cancel },
	{ "free with probes in flight", test_free_inflight },
	{ "100 concurrent probes", test_concurrent },
	{ "done() starting the next probe", test_chain },
	{ "invalid starts", test_bad_start },
	{ "scheduler and prober on the loop", test_wired },
	{ "1000 backends a second on the loop: CPU", test_wired_cpu },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		CU_SUITE("probe", suite_init, suite_clean, tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
