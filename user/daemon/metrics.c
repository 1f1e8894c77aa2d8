// SPDX-License-Identifier: GPL-2.0
/*
 * GET /metrics; see metrics.h. A scrape opens the instance read-only (the
 * CLI's shared lock), copies every counter it reports into memory, formats
 * the text from that copy and releases the lock: one scrape is one
 * consistent reading, the same sums `chlb -j stats` prints.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "core/inst.h"
#include "core/parse.h"
#include "dp/counters.h"
#include "metrics.h"

#ifndef CHLB_VERSION
#define CHLB_VERSION "unknown"	/* the Makefile defines it */
#endif

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* An idle or stalled client must not hold a connection for ever (MHD's default is no limit). */
#define METRICS_CONN_TIMEOUT_S 30
/* Scrapers are few; this bounds the memory a flood of connections can take. */
#define METRICS_CONN_LIMIT 64

/* ---- one scrape's figures -------------------------------------------- */

/* Everything one scrape reports, read while the shared lock is held. */
struct scrape {
	struct inst in;
	struct chlb_global_stats g;
	struct chlb_vip_stats *vs;	/* by position in in.m.vips */
	struct chlb_backend_stats *bs;	/* by backend id */
};

/* What the renderers write from. */
struct out {
	FILE *f;
	const struct scrape *s;
	const struct metrics_daemon *d;
};

static bool is_member(const struct model *m, const struct model_vip *v, __u32 id)
{
	const struct chlb_backend *b = &m->backends[id];

	return backend_in_use(b) && b->vip_id == v->info.id;
}

/* The global counters first, then each VIP, then its backends, as `chlb stats` reads them. */
static int scrape_read(struct scrape *s, struct chlb_err *e)
{
	const struct model *m = &s->in.m;
	__u32 id;
	int i, err;

	s->vs = calloc(m->nvips ? m->nvips : 1, sizeof(*s->vs));
	s->bs = calloc(m->max_backends ? m->max_backends : 1, sizeof(*s->bs));
	if (!s->vs || !s->bs)
		return err_fail(e, -ENOMEM, "cannot read counters: %s", strerror(ENOMEM));
	err = chlb_dp__global_stats(&s->in.dp, &s->g);
	for (i = 0; !err && i < m->nvips; i++) {
		err = chlb_dp__vip_stats(&s->in.dp, m->vips[i].info.id, &s->vs[i]);
		for (id = 0; !err && id < m->max_backends; id++)
			if (is_member(m, &m->vips[i], id))
				err = chlb_dp__backend_stats(&s->in.dp, id, &s->bs[id]);
	}
	if (err)
		return err_fail(e, err, "cannot read counters: %s", strerror(-err));
	return 0;
}

static void scrape_free(struct scrape *s)
{
	inst_close(&s->in);
	free(s->vs);
	free(s->bs);
}

/* ---- the text format ------------------------------------------------- */

void metrics_escape(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* HELP and TYPE: once per metric, before its samples. */
static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{k="v",...} value; labels as name, value pairs ending with NULL. */
static void sample(FILE *f, const char *name, const char *value, ...)
{
	const char *k;
	bool any = false;
	va_list ap;

	fputs(name, f);
	va_start(ap, value);
	while ((k = va_arg(ap, const char *))) {
		fprintf(f, "%s%s=\"", any ? "," : "{", k);
		metrics_escape(f, va_arg(ap, const char *));
		fputc('"', f);
		any = true;
	}
	va_end(ap);
	fprintf(f, "%s %s\n", any ? "}" : "", value);
}

/* Counters print exactly: a double would round them past 2^53. */
static const char *u64s(char buf[24], __u64 v)
{
	snprintf(buf, 24, "%llu", (unsigned long long)v);
	return buf;
}

/* ---- per backend ----------------------------------------------------- */

/* One backend as its labels name it. */
struct brow {
	const struct model_vip *v;
	__u32 id;
	const char *vip, *addr;
};

typedef void (*brow_fn)(struct out *o, const struct brow *r, int arg);

/* fn for every backend of every VIP, in VIP id then backend id order (as `chlb stats`). */
static void each_backend(struct out *o, brow_fn fn, int arg)
{
	const struct model *m = &o->s->in.m;
	char vip[CLI_VIP_STRLEN], addr[CHLB_ADDR_STRLEN];
	struct brow r = { .vip = vip, .addr = addr };
	int i;

	for (i = 0; i < m->nvips; i++) {
		r.v = &m->vips[i];
		format_vip(&r.v->key, vip, sizeof(vip));
		for (r.id = 0; r.id < m->max_backends; r.id++) {
			if (!is_member(m, r.v, r.id))
				continue;
			format_addr(m->backends[r.id].addr, addr, sizeof(addr));
			fn(o, &r, arg);
		}
	}
}

enum bfield { B_PACKETS, B_BYTES, B_NEW_FLOWS, B_WEIGHT, B_UP, B_FIELDS };

static const struct fam {
	const char *name, *type, *help;
} backend_fams[B_FIELDS] = {
	[B_PACKETS] = { "chlb_backend_packets_total", "counter",
			"Frames forwarded to the backend." },
	[B_BYTES] = { "chlb_backend_bytes_total", "counter",
		      "Bytes of the frames forwarded to the backend, as received." },
	[B_NEW_FLOWS] = { "chlb_backend_new_flows_total", "counter",
			  "Flows assigned to the backend: flow-table misses forwarded to it "
			  "(TCP SYNs without a flow table)." },
	[B_WEIGHT] = { "chlb_backend_weight", "gauge", "The backend's configured weight." },
	[B_UP] = { "chlb_backend_up", "gauge",
		   "1 while the backend is serving, 0 when its health checks took it down." },
};

static __u64 backend_value(const struct scrape *s, __u32 id, enum bfield f)
{
	const struct chlb_backend *b = &s->in.m.backends[id];

	switch (f) {
	case B_PACKETS:
		return s->bs[id].packets;
	case B_BYTES:
		return s->bs[id].bytes;
	case B_NEW_FLOWS:
		return s->bs[id].new_flows;
	case B_WEIGHT:
		return b->weight;
	default:
		return !(b->flags & CHLB_BACKEND_F_DOWN);
	}
}

static void backend_sample(struct out *o, const struct brow *r, int f)
{
	char v[24];

	sample(o->f, backend_fams[f].name, u64s(v, backend_value(o->s, r->id, f)), "vip", r->vip,
	       "backend", r->addr, NULL);
}

/* Down wins over draining: a down backend serves nothing, drained or not. */
static const char *backend_state(const struct chlb_backend *b)
{
	if (b->flags & CHLB_BACKEND_F_DOWN)
		return "down";
	return b->flags & CHLB_BACKEND_F_DRAINING ? "draining" : "active";
}

static void state_samples(struct out *o, const struct brow *r, int arg)
{
	static const char *const states[] = { "active", "draining", "down" };
	const char *cur = backend_state(&o->s->in.m.backends[r->id]);
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		sample(o->f, "chlb_backend_state", strcmp(states[i], cur) ? "0" : "1", "vip",
		       r->vip, "backend", r->addr, "state", states[i], NULL);
}

static void render_backends(struct out *o)
{
	int f;

	for (f = 0; f < B_FIELDS; f++) {
		family(o->f, backend_fams[f].name, backend_fams[f].type, backend_fams[f].help);
		each_backend(o, backend_sample, f);
	}
	family(o->f, "chlb_backend_state", "gauge",
	       "1 for the backend's current state (active, draining or down), 0 for the others.");
	each_backend(o, state_samples, 0);
}

/* ---- health checks --------------------------------------------------- */

static const char *const check_results[CHLB_CHECK_MAX] = {
	[CHLB_CHECK_OK] = "ok",
	[CHLB_CHECK_REFUSED] = "refused",
	[CHLB_CHECK_TIMEOUT] = "timeout",
	[CHLB_CHECK_HTTP_STATUS] = "http_status",
	[CHLB_CHECK_ERROR] = "error",
};

/*
 * Only VIPs with a check have these series; they are at 0 until the
 * checker knows the backend (no d->hc yet, or not subscribed yet).
 */
static void health_samples(struct out *o, const struct brow *r, int arg)
{
	struct hc_state st = { 0 };
	struct chlb_addr a;
	char v[24];
	int c;

	(void)arg;
	if (r->v->health.type == CHLB_HEALTH_NONE)
		return;
	memcpy(a.bytes, o->s->in.m.backends[r->id].addr, CHLB_ADDR_LEN);
	if (!o->d->hc || hc_state(o->d->hc, &r->v->key, &a, &st))
		memset(&st, 0, sizeof(st));
	for (c = CHLB_CHECK_OK; c < CHLB_CHECK_MAX; c++)
		sample(o->f, "chlb_healthcheck_total", u64s(v, st.counts[c]), "vip", r->vip,
		       "backend", r->addr, "result", check_results[c], NULL);
}

static void render_health(struct out *o)
{
	family(o->f, "chlb_healthcheck_total", "counter",
	       "Health checks of the backend by result: ok, refused, timeout, http_status "
	       "(unexpected status) or error.");
	each_backend(o, health_samples, 0);
}

/* ---- per VIP --------------------------------------------------------- */

enum vfield { V_PACKETS, V_BYTES, V_NO_BACKEND, V_FRAGMENTS, V_PANIC, V_FIELDS };

static const struct fam vip_fams[V_FIELDS] = {
	[V_PACKETS] = { "chlb_vip_packets_total", "counter", "Frames received for the VIP." },
	[V_BYTES] = { "chlb_vip_bytes_total", "counter",
		      "Bytes of the frames received for the VIP." },
	[V_NO_BACKEND] = { "chlb_vip_no_backend_packets_total", "counter",
			   "Frames for the VIP dropped because it had no usable backend." },
	[V_FRAGMENTS] = { "chlb_vip_fragments_total", "counter",
			  "IP fragments to the VIP's address, dropped (never passed to the "
			  "kernel, which does not own the VIP)." },
	[V_PANIC] = { "chlb_vip_panic", "gauge",
		      "1 while every backend of the VIP is down and all are kept (fail open)." },
};

static __u64 vip_value(const struct scrape *s, int i, enum vfield f)
{
	switch (f) {
	case V_PACKETS:
		return s->vs[i].packets;
	case V_BYTES:
		return s->vs[i].bytes;
	case V_NO_BACKEND:
		return s->vs[i].no_backend;
	case V_FRAGMENTS:
		return s->vs[i].fragments;
	default:
		return !!(s->in.m.vips[i].info.flags & CHLB_VIP_F_PANIC);
	}
}

static void render_vips(struct out *o)
{
	const struct model *m = &o->s->in.m;
	char vip[CLI_VIP_STRLEN], v[24];
	int f, i;

	for (f = 0; f < V_FIELDS; f++) {
		family(o->f, vip_fams[f].name, vip_fams[f].type, vip_fams[f].help);
		for (i = 0; i < m->nvips; i++) {
			format_vip(&m->vips[i].key, vip, sizeof(vip));
			sample(o->f, vip_fams[f].name, u64s(v, vip_value(o->s, i, f)), "vip", vip,
			       NULL);
		}
	}
}

/* ---- global counters ------------------------------------------------- */

/* The events counted beside a frame's reason: each a counter of its own. */
static const struct event_fam {
	const char *name, *help;
	enum chlb_counter c;
} event_fams[] = {
	{ "chlb_flow_table_hits_total", "VIP frames whose backend came from the flow table.",
	  CHLB_CNT_FLOW_HIT },
	{ "chlb_flow_table_misses_total",
	  "VIP frames not found in the flow table (new, SYN, expired or stale).",
	  CHLB_CNT_FLOW_MISS },
	{ "chlb_flow_table_inserts_total", "Flow table entries written.", CHLB_CNT_FLOW_INSERT },
	{ "chlb_flow_table_expired_total", "Misses on a UDP entry idle past its timeout.",
	  CHLB_CNT_FLOW_EXPIRED },
	{ "chlb_flow_table_stale_total",
	  "Misses on an entry whose backend was removed or replaced.", CHLB_CNT_FLOW_STALE },
	{ "chlb_flow_table_refused_total",
	  "New flows not recorded: every way of their bucket busy (a flood, if rising).",
	  CHLB_CNT_FLOW_REFUSED },
	{ "chlb_flow_table_evicted_busy_total",
	  "Busy flows evicted by new ones (only under a policy that allows it).",
	  CHLB_CNT_FLOW_EVICT_BUSY },
	{ "chlb_flow_table_evicted_new_total",
	  "Flows pushed out before their second packet (a SYN flood, or a small table).",
	  CHLB_CNT_FLOW_EVICT_NEW },
	{ "chlb_icmp_steered_total",
	  "ICMP and ICMPv6 errors quoting a VIP flow, sent to the backend owning the flow.",
	  CHLB_CNT_ICMP_STEERED },
	{ "chlb_too_big_rate_limited_total",
	  "Frames too big once encapsulated whose ICMP answer (fragmentation needed, packet "
	  "too big) the per-CPU rate limit held back.", CHLB_CNT_TOO_BIG_LIMITED },
};
_Static_assert(sizeof(event_fams) / sizeof(event_fams[0]) == CHLB_CNT_MAX - CHLB_CNT_REASONS,
	       "every event counter needs a metric");

/* rx is left out: it is the sum of the reasons, which a query can take itself. */
static void render_global(struct out *o)
{
	char v[24];
	size_t i;
	int c;

	family(o->f, "chlb_packets_total", "counter",
	       "Frames seen by the XDP program, by what it did with them.");
	for (c = CHLB_CNT_RX + 1; c < CHLB_CNT_REASONS; c++)
		sample(o->f, "chlb_packets_total", u64s(v, o->s->g.counters[c]), "reason",
		       counter_name(c), NULL);
	for (i = 0; i < sizeof(event_fams) / sizeof(event_fams[0]); i++) {
		family(o->f, event_fams[i].name, "counter", event_fams[i].help);
		sample(o->f, event_fams[i].name, u64s(v, o->s->g.counters[event_fams[i].c]), NULL);
	}
}

/* ---- the daemon's own ------------------------------------------------ */

static void render_daemon(struct out *o)
{
	const struct metrics_daemon *d = o->d;
	char v[32];

	family(o->f, "chlb_config_applies_total", "counter",
	       "Configurations the daemon applied (success) or refused (failure).");
	sample(o->f, "chlb_config_applies_total", u64s(v, d->applies_ok), "result", "success",
	       NULL);
	sample(o->f, "chlb_config_applies_total", u64s(v, d->applies_failed), "result", "failure",
	       NULL);
	family(o->f, "chlb_config_last_apply_timestamp_seconds", "gauge",
	       "Unix time of the last successful apply; 0 before the first.");
	snprintf(v, sizeof(v), "%.3f", d->last_apply_s);
	sample(o->f, "chlb_config_last_apply_timestamp_seconds", v, NULL);
	family(o->f, "chlb_build_info", "gauge",
	       "The chlb version serving these metrics; always 1.");
	sample(o->f, "chlb_build_info", "1", "version", CHLB_VERSION, NULL);
	if (d->source != CHLB_SOURCE_ETCD)
		return;
	family(o->f, "chlb_source_up", "gauge", "1 while the configuration source is reachable.");
	sample(o->f, "chlb_source_up", d->source_up ? "1" : "0", NULL);
	family(o->f, "chlb_source_revision", "gauge", "The source's last revision applied.");
	sample(o->f, "chlb_source_revision", u64s(v, d->source_revision), NULL);
}

static void render_all(struct out *o)
{
	render_backends(o);
	render_health(o);
	render_vips(o);
	render_global(o);
	render_daemon(o);
}

int metrics_render(const struct metrics_daemon *d, char **text, size_t *len, struct chlb_err *e)
{
	struct scrape s = { .in.lock_fd = -1 };
	struct out o = { .s = &s, .d = d };
	char *buf = NULL;
	size_t n = 0;
	int err, bad;

	*text = NULL;
	*len = 0;
	err = inst_open(&s.in, d->pin_dir, false, e);
	if (!err)
		err = scrape_read(&s, e);
	if (err)
		goto out;
	o.f = open_memstream(&buf, &n);
	if (!o.f) {
		err = err_fail(e, -errno, "cannot render metrics: %s", strerror(errno));
		goto out;
	}
	render_all(&o);
	/* memstream writes fail only for want of memory; fclose sets buf and n */
	bad = ferror(o.f);
	if (fclose(o.f) || bad) {
		err = err_fail(e, -ENOMEM, "cannot render metrics: %s", strerror(ENOMEM));
		goto out;
	}
	*text = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	scrape_free(&s);
	return err;
}

/* ---- the HTTP server ------------------------------------------------- */

struct metrics_server {
	struct loop *l;
	struct MHD_Daemon *mhd;
	struct loop_watch w;
	bool watching;
	const struct metrics_daemon *d;
	char log[256];		/* libmicrohttpd's last message: why a start failed */
};

/*
 * Kept, not printed: a failed start is reported through chlb_err, and
 * errors about one client (it went away) are noise in the daemon's log.
 */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct metrics_server *s = cls;
	size_t n;

	vsnprintf(s->log, sizeof(s->log), fmt, ap);
	n = strlen(s->log);
	while (n && s->log[n - 1] == '\n')
		s->log[--n] = '\0';
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
			     void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (ret == MHD_YES && status == MHD_HTTP_METHOD_NOT_ALLOWED)
		ret = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (ret == MHD_YES)
		ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, const char *msg)
{
	return reply(c, status, "text/plain; charset=utf-8", (void *)msg, strlen(msg),
		     MHD_RESPMEM_MUST_COPY);
}

/* A scrape that cannot read the instance says why, so the target's error shows it. */
static enum MHD_Result reply_metrics(struct metrics_server *s, struct MHD_Connection *c)
{
	struct chlb_err e = { 0 };
	char msg[sizeof(e.msg) + 2];
	size_t len;
	char *text;
	int err;

	err = metrics_render(s->d, &text, &len, &e);
	if (!err)
		return reply(c, MHD_HTTP_OK, METRICS_CONTENT_TYPE, text, len,
			     MHD_RESPMEM_MUST_FREE);
	snprintf(msg, sizeof(msg), "%s\n", e.msg[0] ? e.msg : strerror(-err));
	return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
}

/*
 * Answered on the first call, before any body: a request to /metrics has
 * none, and MHD discards the rest of one that has (closing the connection).
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(url, "/metrics"))
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: metrics are at /metrics\n");
	/* HEAD is GET without the body (RFC 9110); MHD leaves the body out itself */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n");
	return reply_metrics(cls, c);
}

static void on_ready(struct loop_watch *w, uint32_t events)
{
	(void)events;
	metrics_server_run(w->arg);
}

/* ADDR:PORT or [ADDR]:PORT as a socket address; MHD_USE_IPv6 added to *flags for IPv6. */
static int listen_addr(const char *addr_port, struct sockaddr_storage *ss, unsigned int *flags,
		       __u16 *port, struct chlb_err *e)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct chlb_addr a;
	int err;

	err = parse_endpoint(addr_port, &a, port, e);
	if (err) {
		err_prefix(e, "--metrics: ");
		return err;
	}
	memset(ss, 0, sizeof(*ss));
	if (chlb_addr_is_v4(&a)) {
		in->sin_family = AF_INET;
		in->sin_port = htons(*port);
		memcpy(&in->sin_addr, a.bytes + 12, 4);
		return 0;
	}
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(*port);
	memcpy(&in6->sin6_addr, a.bytes, CHLB_ADDR_LEN);
	*flags |= MHD_USE_IPv6;
	return 0;
}

/* No MHD_USE_INTERNAL_POLLING_THREAD: MHD runs only from our loop, on its thread. */
static int server_start(struct metrics_server *s, const char *addr_port, struct chlb_err *e)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct sockaddr_storage ss;
	__u16 port;
	int err;

	err = listen_addr(addr_port, &ss, &flags, &port, e);
	if (err)
		return err;
	errno = 0;
	s->mhd = MHD_start_daemon(flags, port, NULL, NULL, on_request, s,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				  MHD_OPTION_CONNECTION_TIMEOUT,
				  (unsigned int)METRICS_CONN_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONN_LIMIT,
				  MHD_OPTION_END);
	if (!s->mhd)
		return err_fail(e, errno ? -errno : -EIO, "--metrics: cannot serve on %s: %s",
				addr_port, s->log[0] ? s->log : "libmicrohttpd did not start");
	return 0;
}

int metrics_server_new(struct loop *l, const char *addr_port, const struct metrics_daemon *d,
		       struct metrics_server **sp, struct chlb_err *e)
{
	const union MHD_DaemonInfo *info;
	struct metrics_server *s;
	int err;

	*sp = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return err_fail(e, -ENOMEM, "--metrics: %s", strerror(ENOMEM));
	s->l = l;
	s->d = d;
	err = server_start(s, addr_port, e);
	if (err)
		goto out;
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		err = err_fail(e, -EINVAL, "--metrics: libmicrohttpd has no epoll descriptor");
		goto out;
	}
	s->w = (struct loop_watch){ .fd = info->epoll_fd, .fn = on_ready, .arg = s };
	err = loop_add(l, &s->w, EPOLLIN);
	if (err) {
		err_fail(e, err, "--metrics: cannot watch the server: %s", strerror(-err));
		goto out;
	}
	s->watching = true;
	*sp = s;
	s = NULL;
out:
	metrics_server_free(s);
	return err;
}

void metrics_server_free(struct metrics_server *s)
{
	if (!s)
		return;
	if (s->watching)
		loop_del(s->l, &s->w);
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	free(s);
}

int metrics_server_timeout(struct metrics_server *s)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (!s || MHD_get_timeout(s->mhd, &t) != MHD_YES)
		return -1;
	return t > INT_MAX ? INT_MAX : (int)t;
}

void metrics_server_run(struct metrics_server *s)
{
	if (s)
		MHD_run(s->mhd);
}
