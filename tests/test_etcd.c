// SPDX-License-Identifier: GPL-2.0
/*
 * The etcd client (user/net/etcd.c): its wire format on fixed texts (base64
 * both ways, request bodies, unary replies, watch stream lines, errors as
 * the gateway writes them), then against a real etcd started by the test
 * on 127.0.0.1 (free ports, a temporary data directory): blocking calls,
 * leases, fail-over to a second endpoint, and watches on the daemon's own
 * event loop, including a start revision that was compacted.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <CUnit/Basic.h>
#include <json-c/json.h>

#include "daemon/loop.h"
#include "helpers/cu_main.h"
#include "net/etcd.h"

/* ---- wire format ------------------------------------------------------ */

static void test_b64(void)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					   "Zm9vYmFy" };
	static const char *const bad[] = { "Zg=", "Z===", "Zh==", "Zm9=", "Zg==Zg==", "Zm9v!A==",
					   "====", "Zm\n9v" };
	unsigned char all[256];
	size_t i, len;
	char *s;
	void *p;

	for (i = 0; i < 7; i++) {
		CU_ASSERT_EQUAL_FATAL(etcd_b64_encode(plain[i], strlen(plain[i]), &s), 0);
		CU_ASSERT_STRING_EQUAL(s, enc[i]);
		free(s);
		CU_ASSERT_EQUAL_FATAL(etcd_b64_decode(enc[i], &p, &len), 0);
		CU_ASSERT_EQUAL(len, strlen(plain[i]));
		CU_ASSERT_STRING_EQUAL(p, plain[i]);
		free(p);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(etcd_b64_decode(bad[i], &p, &len), -EINVAL);
	for (i = 0; i < 256; i++)
		all[i] = i;
	CU_ASSERT_EQUAL_FATAL(etcd_b64_encode(all, 256, &s), 0);
	CU_ASSERT_EQUAL_FATAL(etcd_b64_decode(s, &p, &len), 0);
	CU_ASSERT(len == 256 && !memcmp(p, all, 256));
	free(s);
	free(p);
}

static void test_prefix(void)
{
	char *end, out[16];

	CU_ASSERT_EQUAL_FATAL(etcd_prefix_end("/chlb/", &end), 0);
	CU_ASSERT_STRING_EQUAL(end, "/chlb0");
	free(end);
	CU_ASSERT_EQUAL_FATAL(etcd_prefix_end("a\xff\xff", &end), 0);
	CU_ASSERT_STRING_EQUAL(end, "b");
	free(end);
	CU_ASSERT_EQUAL(etcd_prefix_end("\xff", &end), -EINVAL);
	CU_ASSERT_EQUAL(etcd_prefix_end("", &end), -EINVAL);
	CU_ASSERT_EQUAL(etcd_key_prefix("/x", out, sizeof(out), NULL), 0);
	CU_ASSERT_STRING_EQUAL(out, "/x/");
	CU_ASSERT_EQUAL(etcd_key_prefix("/x/", out, sizeof(out), NULL), 0);
	CU_ASSERT_STRING_EQUAL(out, "/x/");
	CU_ASSERT_EQUAL(etcd_key_prefix("x/", out, sizeof(out), NULL), -EINVAL);
	CU_ASSERT_EQUAL(etcd_key_prefix("", out, sizeof(out), NULL), -EINVAL);
	CU_ASSERT_EQUAL(etcd_key_prefix("/0123456789abcdef", out, sizeof(out), NULL), -EINVAL);
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static void test_requests(void)
{
	struct etcd_req range = { .call = ETCD_RANGE, .key = "/chlb/", .prefix = true,
				  .revision = 42 };
	struct etcd_req put = { .call = ETCD_PUT, .key = "/k", .value = "{\"weight\":2}",
				.lease = 7587862514931851011ll };
	struct etcd_req ka = { .call = ETCD_KEEPALIVE, .lease = 5 };
	struct etcd_req nokey = { .call = ETCD_PUT };
	json_object *o;
	char *body;

	CU_ASSERT_EQUAL_FATAL(etcd_req_json(&range, &body), 0);
	o = json_tokener_parse(body);
	CU_ASSERT_STRING_EQUAL(jstr(o, "key"), "L2NobGIv");		/* /chlb/ */
	CU_ASSERT_STRING_EQUAL(jstr(o, "range_end"), "L2NobGIw");	/* /chlb0 */
	CU_ASSERT_STRING_EQUAL(jstr(o, "revision"), "42");
	json_object_put(o);
	free(body);
	CU_ASSERT_EQUAL_FATAL(etcd_req_json(&put, &body), 0);
	o = json_tokener_parse(body);
	CU_ASSERT_STRING_EQUAL(jstr(o, "value"), "eyJ3ZWlnaHQiOjJ9");
	CU_ASSERT_STRING_EQUAL(jstr(o, "lease"), "7587862514931851011");
	CU_ASSERT_PTR_NULL(jstr(o, "range_end"));
	json_object_put(o);
	free(body);
	CU_ASSERT_EQUAL_FATAL(etcd_req_json(&ka, &body), 0);
	CU_ASSERT_STRING_EQUAL(body, "{\"ID\":5}");
	free(body);
	CU_ASSERT_EQUAL(etcd_req_json(&nokey, &body), -EINVAL);
}

static void test_replies(void)
{
	/* as etcd 3.4's gateway writes them: 64-bit integers as strings, empty values omitted */
	static const char range[] =
		"{\"header\":{\"cluster_id\":\"14841639068965178418\",\"member_id\":\"1\","
		"\"revision\":\"9\",\"raft_term\":\"2\"},\"kvs\":[{\"key\":\"L2NobGIvYQ==\","
		"\"create_revision\":\"2\",\"mod_revision\":\"8\",\"version\":\"1\","
		"\"value\":\"eyJ3ZWlnaHQiOjJ9\"},{\"key\":\"L2NobGIvYg==\",\"mod_revision\":\"9\","
		"\"lease\":\"77\"}],\"count\":\"2\"}";
	char msg[256];
	struct etcd_reply r;

	CU_ASSERT_EQUAL_FATAL(etcd_parse_reply(ETCD_RANGE, range, &r, msg, sizeof(msg)), 0);
	CU_ASSERT_EQUAL(r.revision, 9);
	CU_ASSERT_EQUAL(r.cluster_id, 14841639068965178418ull);
	CU_ASSERT_EQUAL_FATAL(r.nkvs, 2);
	CU_ASSERT_STRING_EQUAL(r.kvs[0].key, "/chlb/a");
	CU_ASSERT_STRING_EQUAL(r.kvs[0].value, "{\"weight\":2}");
	CU_ASSERT_EQUAL(r.kvs[0].mod_revision, 8);
	CU_ASSERT_STRING_EQUAL(r.kvs[1].value, "");
	CU_ASSERT_EQUAL(r.kvs[1].lease, 77);
	etcd_reply_free(&r);
	CU_ASSERT_EQUAL(etcd_parse_reply(ETCD_REVOKE, "{\"error\":\"etcdserver: requested lease "
					 "not found\",\"message\":\"x\",\"code\":5}", &r, msg,
					 sizeof(msg)), -ENOENT);
	CU_ASSERT_STRING_EQUAL(msg, "etcdserver: requested lease not found");
	CU_ASSERT_EQUAL(etcd_parse_reply(ETCD_RANGE, "{\"error\":\"etcdserver: mvcc: required "
					 "revision has been compacted\",\"code\":11}", &r, msg,
					 sizeof(msg)), -ESTALE);
	CU_ASSERT_EQUAL(etcd_parse_reply(ETCD_KEEPALIVE, "{\"result\":{\"header\":{},\"ID\":\"5\"}}",
					 &r, msg, sizeof(msg)), -ENOENT);
	CU_ASSERT_EQUAL_FATAL(etcd_parse_reply(ETCD_KEEPALIVE, "{\"result\":{\"header\":{},"
					       "\"ID\":\"5\",\"TTL\":\"10\"}}", &r, msg,
					       sizeof(msg)), 0);
	CU_ASSERT_EQUAL(r.ttl, 10);
	CU_ASSERT_EQUAL(etcd_parse_reply(ETCD_RANGE, "{\"kvs\":[{\"key\":\"!!\"}]}", &r, msg,
					 sizeof(msg)), -EPROTO);
	CU_ASSERT_EQUAL(etcd_parse_reply(ETCD_RANGE, "<html>", &r, msg, sizeof(msg)), -EPROTO);
	/* a NUL inside a key is no chlb key: refused, not truncated */
	CU_ASSERT_EQUAL(etcd_parse_reply(ETCD_RANGE, "{\"kvs\":[{\"key\":\"YQBi\"}]}", &r, msg,
					 sizeof(msg)), -EPROTO);
}

static void test_watch_lines(void)
{
	struct etcd_watch_msg m;
	int64_t compact;
	char msg[256];

	CU_ASSERT_EQUAL_FATAL(etcd_parse_watch("{\"result\":{\"header\":{\"cluster_id\":\"3\","
					       "\"revision\":\"5\"},\"created\":true}}", &m,
					       &compact, msg, sizeof(msg)), 0);
	CU_ASSERT(m.created && !m.progress && !m.nev && m.revision == 5 && m.cluster_id == 3);
	etcd_watch_msg_free(&m);
	CU_ASSERT_EQUAL_FATAL(etcd_parse_watch(
		"{\"result\":{\"header\":{\"revision\":\"9\"},\"events\":[{\"kv\":{\"key\":"
		"\"L2E=\",\"mod_revision\":\"7\",\"value\":\"eA==\"}},{\"type\":\"DELETE\","
		"\"kv\":{\"key\":\"L2I=\",\"mod_revision\":\"8\"}}]}}", &m, &compact, msg,
		sizeof(msg)), 0);
	CU_ASSERT_EQUAL_FATAL(m.nev, 2);
	CU_ASSERT(m.ev[0].type == ETCD_EV_PUT && !strcmp(m.ev[0].kv.key, "/a") &&
		  !strcmp(m.ev[0].kv.value, "x"));
	CU_ASSERT(m.ev[1].type == ETCD_EV_DELETE && !strcmp(m.ev[1].kv.key, "/b"));
	CU_ASSERT_EQUAL(m.revision, 8);	/* the last event's, not the header's */
	CU_ASSERT(!m.created && !m.progress);
	etcd_watch_msg_free(&m);
	CU_ASSERT_EQUAL_FATAL(etcd_parse_watch("{\"result\":{\"header\":{\"revision\":\"12\"}}}",
					       &m, &compact, msg, sizeof(msg)), 0);
	CU_ASSERT(m.progress && m.revision == 12);
	etcd_watch_msg_free(&m);
	CU_ASSERT_EQUAL(etcd_parse_watch("{\"result\":{\"header\":{},\"canceled\":true,"
					 "\"compact_revision\":\"40\"}}", &m, &compact, msg,
					 sizeof(msg)), -ESTALE);
	CU_ASSERT_EQUAL(compact, 40);
	CU_ASSERT_EQUAL(etcd_parse_watch("{\"result\":{\"canceled\":true,\"cancel_reason\":"
					 "\"bye\"}}", &m, &compact, msg, sizeof(msg)), -ECANCELED);
	CU_ASSERT_PTR_NOT_NULL(strstr(msg, "bye"));
	CU_ASSERT_EQUAL(etcd_parse_watch("{\"error\":{\"grpc_code\":14,\"http_code\":503,"
					 "\"message\":\"no leader\"}}", &m, &compact, msg,
					 sizeof(msg)), -EAGAIN);
	CU_ASSERT_STRING_EQUAL(msg, "no leader");
	CU_ASSERT_EQUAL(etcd_parse_watch("{\"header\":{}}", &m, &compact, msg, sizeof(msg)),
			-EPROTO);
}

static void test_urls(void)
{
	static const char *const bad[] = { "", "127.0.0.1:2379", "ftp://h:1", "http://",
					   "http://h:1/v3", "http://u@h:1", "http://h:1,," };
	struct chlb_err e = {};
	struct etcd *c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		CU_ASSERT_EQUAL(etcd_new(bad[i], NULL, &c, &e), -EINVAL);
		CU_ASSERT_EQUAL(e.kind, CHLB_EK_USAGE);
	}
	CU_ASSERT_EQUAL_FATAL(etcd_new("http://127.0.0.1:1/,https://[::1]:2379", NULL, &c, &e), 0);
	CU_ASSERT_STRING_EQUAL(etcd_endpoint(c), "http://127.0.0.1:1");
	etcd_free(c);
}

/* ---- a real etcd ------------------------------------------------------ */

static struct {
	pid_t pid;
	char dir[64];
	char url[64];
	char dead[64];	/* a port nothing listens on */
	bool up;
} et;

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void etcd_exec(int cport, int pport)
{
	char client[64], peer[64], cluster[96], log[96];

	snprintf(client, sizeof(client), "http://127.0.0.1:%d", cport);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", pport);
	snprintf(cluster, sizeof(cluster), "unit=%s", peer);
	snprintf(log, sizeof(log), "%s/log", et.dir);
	if (!freopen(log, "w", stdout) || !freopen(log, "a", stderr))
		_exit(127);
	execlp("etcd", "etcd", "--name", "unit", "--data-dir", et.dir, "--listen-client-urls",
	       client, "--advertise-client-urls", client, "--listen-peer-urls", peer,
	       "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster,
	       "--heartbeat-interval", "50", "--election-timeout", "500", NULL);
	_exit(127);
}

static bool etcd_ready(void)
{
	struct etcd_req q = { .call = ETCD_RANGE, .key = "/", .prefix = true };
	struct etcd_reply r;
	struct etcd *c;
	int i, err = -1;

	if (etcd_new(et.url, NULL, &c, NULL))
		return false;
	for (i = 0; i < 200 && err; i++) {
		err = etcd_do(c, &q, &r, NULL);
		if (!err)
			etcd_reply_free(&r);
		else
			usleep(50000);
	}
	etcd_free(c);
	return !err;
}

static int suite_init(void)
{
	int cport = free_port(), pport = free_port();

	snprintf(et.dir, sizeof(et.dir), "/tmp/chlb-test-etcd.XXXXXX");
	if (system("command -v etcd >/dev/null") || cport < 0 || pport < 0 || !mkdtemp(et.dir)) {
		printf("\nSKIPPED: etcd cases: no etcd binary (apt-get install etcd-server)\n");
		return 0;
	}
	snprintf(et.url, sizeof(et.url), "http://127.0.0.1:%d", cport);
	snprintf(et.dead, sizeof(et.dead), "http://127.0.0.1:%d", free_port());
	et.pid = fork();
	if (et.pid == 0)
		etcd_exec(cport, pport);
	et.up = et.pid > 0 && etcd_ready();
	if (!et.up)
		printf("\nSKIPPED: etcd cases: etcd did not start (see %s/log)\n", et.dir);
	return 0;
}

static int suite_clean(void)
{
	char cmd[128];

	if (et.pid > 0) {
		kill(et.pid, SIGTERM);
		waitpid(et.pid, NULL, 0);
	}
	if (et.dir[0] && strncmp(et.dir, "/tmp/chlb-test-etcd.", 20) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", et.dir);
		return system(cmd) ? -1 : 0;
	}
	return 0;
}

static struct etcd *client(const char *urls)
{
	struct chlb_err e = {};
	struct etcd *c = NULL;

	CU_ASSERT_EQUAL(etcd_new(urls, NULL, &c, &e), 0);
	return c;
}

static int call(struct etcd *c, struct etcd_req q, struct etcd_reply *r)
{
	struct etcd_reply tmp;
	struct chlb_err e = {};
	int err = etcd_do(c, &q, r ? r : &tmp, &e);

	if (!err && !r)
		etcd_reply_free(&tmp);
	return err;
}

static void test_kv(void)
{
	struct etcd_reply r;
	struct etcd *c;

	if (!et.up)
		return;
	c = client(et.url);
	CU_ASSERT_EQUAL(call(c, (struct etcd_req){ .call = ETCD_PUT, .key = "/t/kv/a",
						   .value = "1" }, NULL), 0);
	CU_ASSERT_EQUAL(call(c, (struct etcd_req){ .call = ETCD_PUT, .key = "/t/kv/b",
						   .value = "" }, NULL), 0);
	CU_ASSERT_EQUAL(call(c, (struct etcd_req){ .call = ETCD_PUT, .key = "/t/kw",
						   .value = "out" }, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(call(c, (struct etcd_req){ .call = ETCD_RANGE, .key = "/t/kv/",
							 .prefix = true }, &r), 0);
	CU_ASSERT_EQUAL_FATAL(r.nkvs, 2);
	CU_ASSERT(!strcmp(r.kvs[0].key, "/t/kv/a") && !strcmp(r.kvs[0].value, "1"));
	CU_ASSERT(!strcmp(r.kvs[1].key, "/t/kv/b") && !strcmp(r.kvs[1].value, ""));
	CU_ASSERT(r.revision >= r.kvs[1].mod_revision && r.cluster_id);
	etcd_reply_free(&r);
	CU_ASSERT_EQUAL_FATAL(call(c, (struct etcd_req){ .call = ETCD_DELETE, .key = "/t/kv/",
							 .prefix = true }, &r), 0);
	CU_ASSERT_EQUAL(r.deleted, 2);
	etcd_reply_free(&r);
	etcd_free(c);
}

static void test_lease(void)
{
	struct etcd_reply r;
	struct etcd *c;
	int64_t id;

	if (!et.up)
		return;
	c = client(et.url);
	CU_ASSERT_EQUAL_FATAL(call(c, (struct etcd_req){ .call = ETCD_GRANT, .ttl = 5 }, &r), 0);
	id = r.lease;
	CU_ASSERT(id != 0 && r.ttl == 5);
	etcd_reply_free(&r);
	CU_ASSERT_EQUAL(call(c, (struct etcd_req){ .call = ETCD_PUT, .key = "/t/lease",
						   .value = "v", .lease = id }, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(call(c, (struct etcd_req){ .call = ETCD_KEEPALIVE, .lease = id },
				   &r), 0);
	CU_ASSERT_EQUAL(r.ttl, 5);
	etcd_reply_free(&r);
	CU_ASSERT_EQUAL(call(c, (struct etcd_req){ .call = ETCD_REVOKE, .lease = id }, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(call(c, (struct etcd_req){ .call = ETCD_RANGE, .key = "/t/lease" },
				   &r), 0);
	CU_ASSERT_EQUAL(r.nkvs, 0);	/* the key went with its lease */
	etcd_reply_free(&r);
	CU_ASSERT_EQUAL(call(c, (struct etcd_req){ .call = ETCD_KEEPALIVE, .lease = id }, NULL),
			-ENOENT);
	CU_ASSERT_EQUAL(call(c, (struct etcd_req){ .call = ETCD_REVOKE, .lease = id }, NULL),
			-ENOENT);
	CU_ASSERT_EQUAL(call(c, (struct etcd_req){ .call = ETCD_PUT, .key = "/t/lease",
						   .value = "v", .lease = id }, NULL), -ENOENT);
	etcd_free(c);
}

static void test_failover(void)
{
	char urls[160];
	struct chlb_err e = {};
	struct etcd_reply r;
	struct etcd *c;

	if (!et.up)
		return;
	snprintf(urls, sizeof(urls), "%s,%s", et.dead, et.url);
	c = client(urls);
	CU_ASSERT_EQUAL(call(c, (struct etcd_req){ .call = ETCD_RANGE, .key = "/" }, NULL), 0);
	CU_ASSERT_STRING_EQUAL(etcd_endpoint(c), et.url);	/* and stays there */
	etcd_free(c);
	c = client(et.dead);
	CU_ASSERT_EQUAL(etcd_do(c, &(struct etcd_req){ .call = ETCD_RANGE, .key = "/" }, &r, &e),
			-ECONNREFUSED);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, et.dead));
	CU_ASSERT_EQUAL(e.kind, CHLB_EK_RUNTIME);
	etcd_free(c);
}

/* ---- on the loop -------------------------------------------------------- */

struct drv {
	struct loop *l;
	struct etcd *c;
	struct loop_watch w[16];
	int nput, nev, ended, err;
	int64_t compact, last_rev;
	bool created;
};

static void drv_event(struct loop_watch *w, uint32_t events)
{
	struct drv *d = w->arg;

	etcd_event(d->c, w->fd, events);
}

static int drv_watch(void *arg, int fd, uint32_t events)
{
	struct drv *d = arg;
	int i, free_slot = -1;

	for (i = 0; i < 16; i++) {
		if (d->w[i].fd == fd && d->w[i].fn) {
			if (events)
				return loop_mod(d->l, &d->w[i], events);
			loop_del(d->l, &d->w[i]);
			d->w[i].fn = NULL;
			return 0;
		}
		if (!d->w[i].fn && free_slot < 0)
			free_slot = i;
	}
	if (!events || free_slot < 0)
		return events ? -EMFILE : 0;
	d->w[free_slot] = (struct loop_watch){ .fd = fd, .fn = drv_event, .arg = d };
	return loop_add(d->l, &d->w[free_slot], events);
}

static int drv_msg(void *arg, const struct etcd_watch_msg *m)
{
	struct drv *d = arg;

	d->created |= m->created;
	d->nev += m->nev;
	if (m->nev)
		d->last_rev = m->revision;
	return 0;
}

static void drv_ended(void *arg, int err, int64_t compact, const char *why)
{
	struct drv *d = arg;

	(void)why;
	d->ended++;
	d->err = err;
	d->compact = compact;
}

static const struct etcd_watch_ops drv_ops = { .msg = drv_msg, .ended = drv_ended };

static void drv_put(void *arg, int err, const struct etcd_reply *r, const char *msg)
{
	struct drv *d = arg;

	(void)msg;
	CU_ASSERT_EQUAL(err, 0);
	CU_ASSERT(r->revision > 0);
	d->nput++;
}

/* Run the loop until cond holds or ms pass. */
static bool drv_until(struct drv *d, bool (*cond)(struct drv *), int ms)
{
	uint64_t end = loop_now_ms() + ms;
	int t;

	while (!cond(d) && loop_now_ms() < end) {
		t = etcd_timeout(d->c);
		loop_once(d->l, t < 0 || t > 50 ? 50 : t);
		etcd_run(d->c);
	}
	return cond(d);
}

static bool is_created(struct drv *d) { return d->created; }
static bool got_three(struct drv *d) { return d->nev >= 3 && d->nput == 3; }
static bool is_ended(struct drv *d) { return d->ended > 0; }

static void drv_open(struct drv *d, const char *urls)
{
	struct etcd_io io = { .arg = d, .watch = drv_watch };
	struct chlb_err e = {};

	memset(d, 0, sizeof(*d));
	CU_ASSERT_EQUAL_FATAL(loop_new(&d->l), 0);
	CU_ASSERT_EQUAL_FATAL(etcd_new(urls, &io, &d->c, &e), 0);
}

static void drv_close(struct drv *d)
{
	etcd_free(d->c);
	loop_free(d->l);
}

static void test_watch(void)
{
	struct etcd_watch *w;
	struct drv d;
	char urls[160];
	int i;

	if (!et.up)
		return;
	snprintf(urls, sizeof(urls), "%s,%s", et.dead, et.url);
	drv_open(&d, urls);
	CU_ASSERT_EQUAL_FATAL(etcd_watch(d.c, "/t/w/", true, 0, &drv_ops, &d, &w), 0);
	CU_ASSERT_FATAL(drv_until(&d, is_created, 5000));
	for (i = 0; i < 3; i++) {
		char key[16];

		snprintf(key, sizeof(key), "/t/w/%d", i);
		CU_ASSERT_EQUAL(etcd_start(d.c, &(struct etcd_req){ .call = ETCD_PUT, .key = key,
								      .value = "v" }, drv_put, &d), 0);
	}
	CU_ASSERT(drv_until(&d, got_three, 5000));
	CU_ASSERT_EQUAL(d.nev, 3);
	CU_ASSERT_EQUAL(d.ended, 0);
	etcd_watch_cancel(d.c, w);
	drv_until(&d, is_ended, 200);
	CU_ASSERT_EQUAL(d.ended, 0);	/* cancelled: no callback */
	drv_close(&d);
}

/* A watch from a compacted revision ends with -ESTALE and etcd's compaction point. */
static void test_watch_compacted(void)
{
	struct etcd_reply r;
	struct etcd_watch *w;
	struct etcd *c;
	struct drv d;
	char cmd[256];

	if (!et.up)
		return;
	c = client(et.url);
	CU_ASSERT_EQUAL(call(c, (struct etcd_req){ .call = ETCD_PUT, .key = "/t/c", .value = "1" },
			     NULL), 0);
	CU_ASSERT_EQUAL_FATAL(call(c, (struct etcd_req){ .call = ETCD_PUT, .key = "/t/c",
							 .value = "2" }, &r), 0);
	snprintf(cmd, sizeof(cmd), "ETCDCTL_API=3 etcdctl --endpoints %s compact %lld >/dev/null",
		 et.url, (long long)r.revision);
	CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
	CU_ASSERT_EQUAL(call(c, (struct etcd_req){ .call = ETCD_RANGE, .key = "/t/c",
						   .revision = r.revision - 1 }, NULL), -ESTALE);
	drv_open(&d, et.url);
	CU_ASSERT_EQUAL_FATAL(etcd_watch(d.c, "/t/", true, r.revision - 1, &drv_ops, &d, &w), 0);
	CU_ASSERT(drv_until(&d, is_ended, 5000));
	CU_ASSERT_EQUAL(d.err, -ESTALE);
	CU_ASSERT_EQUAL(d.compact, r.revision);
	etcd_reply_free(&r);
	drv_close(&d);
	etcd_free(c);
}

/* etcd gone: the stream's end is reported, not hung on. */
static void test_watch_refused(void)
{
	struct etcd_watch *w;
	struct drv d;

	if (!et.up)
		return;
	drv_open(&d, et.dead);
	CU_ASSERT_EQUAL_FATAL(etcd_watch(d.c, "/t/", true, 0, &drv_ops, &d, &w), 0);
	CU_ASSERT(drv_until(&d, is_ended, 5000));
	CU_ASSERT_EQUAL(d.err, -ECONNREFUSED);
	drv_close(&d);
}

static CU_TestInfo wire_tests[] = {
	{ "base64 both ways, strict", test_b64 },
	{ "prefix range ends and key prefixes", test_prefix },
	{ "request bodies", test_requests },
	{ "unary replies and errors", test_replies },
	{ "watch stream lines", test_watch_lines },
	{ "endpoint URLs", test_urls },
	CU_TEST_INFO_NULL,
};

static CU_TestInfo etcd_tests[] = {
	{ "put, range by prefix, delete", test_kv },
	{ "lease grant, keepalive, revoke", test_lease },
	{ "fail-over to a second endpoint", test_failover },
	{ "watch on the loop", test_watch },
	{ "watch from a compacted revision", test_watch_compacted },
	{ "watch with no etcd", test_watch_refused },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		CU_SUITE("etcd wire format", NULL, NULL, wire_tests),
		CU_SUITE("etcd (a real one)", suite_init, suite_clean, etcd_tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
