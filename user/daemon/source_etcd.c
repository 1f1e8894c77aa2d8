// SPDX-License-Identifier: GPL-2.0
/*
 * The etcd source (SPEC §10): the configuration as keys under a prefix P,
 *   P/cluster                      the "cluster" object
 *   P/vips/<VIP>                   a VIP object without "backends"
 *   P/vips/<VIP>/backends/<ADDR>   a backend object ({"weight": 2})
 * kept in memory as a mirror of every key under P: read whole at a
 * revision R, then updated by a watch from R+1. The document is built from
 * the mirror once a burst of changes has settled; a key whose value is
 * invalid is left out and logged (once per value), the rest applied.
 *
 * Losing etcd loses nothing: a watch that ends resumes after the last
 * revision seen, on the next endpoint; a revision compacted meanwhile (or
 * an etcd that went back in time or is another cluster) means the events
 * are gone, so the prefix is read whole again and the document rebuilt
 * from it. Until then the last applied state stays; retries back off from
 * 0.8 s to 30 s with jitter.
 *
 * The node's own record, P/nodes/<NAME> (SPEC §12), is bound to a lease
 * kept alive here and rewritten after each apply: version, the revision
 * applied, each VIP's live table checksum.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <json-c/json.h>

#include "core/live.h"
#include "core/parse.h"
#include "daemon_internal.h"
#include "net/etcd.h"

#ifndef CHLB_VERSION
#define CHLB_VERSION "dev"
#endif

#define ES_BACKOFF_MIN_MS	800
#define ES_BACKOFF_MAX_MS	30000
#define ES_STABLE_MS		1000	/* a watch up this long resets the backoff */
#define ES_SOCKS		16	/* curl's sockets: a watch and a request or two */
#define ES_NODE_TTL		10	/* s: the node's record outlives it this long */
#define ES_NODE_RETRY_MS	1000

struct es_kv {
	char *key;
	char *value;
	bool reported;		/* its invalid value was logged */
};

struct es_sock {
	struct loop_watch w;
	struct es *es;
	bool used;
};

enum es_state { ES_IDLE, ES_LISTING, ES_WATCHING };

struct es {
	struct daemon *d;
	struct etcd *c;
	char prefix[256];
	size_t plen;
	struct es_sock socks[ES_SOCKS];
	struct es_kv *kv;	/* the mirror, by key */
	int nkv, cap;
	int64_t rev;		/* the mirror is the store at this revision */
	int64_t built_rev;	/* d->doc is the mirror at this revision */
	uint64_t cluster_id;
	bool synced;		/* the mirror was read once */
	enum es_state state;
	bool relist;		/* the next try reads the prefix whole */
	bool lost;		/* the watch failed: say when it is back */
	struct etcd_watch *w;
	uint64_t watch_up_ms;
	int attempts;
	uint64_t retry_at;
	/* the node's record */
	char node_key[340];
	char *node_value;	/* the record; NULL: no apply yet */
	uint64_t gen, putting, written;	/* node_value's number, in flight, stored */
	int64_t lease;
	bool node_busy;		/* a request in flight */
	uint64_t ka_at;		/* next keepalive (or grant) */
	uint64_t put_at;	/* a failed put's retry; 0: at once */
};

static struct es *es_of(struct daemon *d)
{
	return d->src_state;
}

/* Deadlines, 0 meaning none. */
static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* ---- curl's sockets on the loop ----------------------------------------- */

static void sock_event(struct loop_watch *w, uint32_t events)
{
	struct es_sock *s = w->arg;

	if (s->used)
		etcd_event(s->es->c, w->fd, events);
}

static struct es_sock *sock_find(struct es *es, int fd)
{
	int i;

	for (i = 0; i < ES_SOCKS; i++)
		if (es->socks[i].used && es->socks[i].w.fd == fd)
			return &es->socks[i];
	return NULL;
}

/*
 * The slots live as long as the source: an event still queued for a socket
 * curl closed meanwhile finds its slot unused (or the loop skips it).
 */
static int sock_watch(void *arg, int fd, uint32_t events)
{
	struct es *es = arg;
	struct es_sock *s = sock_find(es, fd);
	int i, err;

	if (s && !events) {
		loop_del(es->d->loop, &s->w);
		s->used = false;
		return 0;
	}
	if (s)
		return loop_mod(es->d->loop, &s->w, events);
	if (!events)
		return 0;
	for (i = 0; i < ES_SOCKS && es->socks[i].used; i++)
		;
	if (i == ES_SOCKS)
		return -EMFILE;
	s = &es->socks[i];
	*s = (struct es_sock){ .w = { .fd = fd, .fn = sock_event, .arg = s }, .es = es,
			       .used = true };
	err = loop_add(es->d->loop, &s->w, events);
	s->used = !err;
	return err;
}

/* ---- the mirror --------------------------------------------------------- */

/* The index of key, or -(insertion point) - 1. */
static int kv_find(const struct es *es, const char *key)
{
	int lo = 0, hi = es->nkv - 1, mid, c;

	while (lo <= hi) {
		mid = (lo + hi) / 2;
		c = strcmp(es->kv[mid].key, key);
		if (!c)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

static void kv_free_all(struct es_kv *kv, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

/* Keys the document is made of; P/nodes/ and others are not. */
static bool kv_config(const struct es *es, const char *key)
{
	const char *rel = key + es->plen;

	return !strncmp(key, es->prefix, es->plen) &&
	       (!strcmp(rel, "cluster") || !strncmp(rel, "vips/", 5));
}

/* Set key to value (takes both); 1 if the mirror changed. */
static int kv_put(struct es *es, char *key, char *value)
{
	int i = kv_find(es, key);
	struct es_kv *n;

	if (i >= 0) {
		free(key);
		if (!strcmp(es->kv[i].value, value)) {
			free(value);
			return 0;
		}
		free(es->kv[i].value);
		es->kv[i].value = value;
		es->kv[i].reported = false;
		return 1;
	}
	if (es->nkv == es->cap) {
		n = realloc(es->kv, (es->cap ? es->cap * 2 : 64) * sizeof(*n));
		if (!n) {
			free(key);
			free(value);
			return -ENOMEM;
		}
		es->kv = n;
		es->cap = es->cap ? es->cap * 2 : 64;
	}
	i = -i - 1;
	memmove(&es->kv[i + 1], &es->kv[i], (es->nkv - i) * sizeof(*es->kv));
	es->kv[i] = (struct es_kv){ .key = key, .value = value };
	es->nkv++;
	return 1;
}

static int kv_del(struct es *es, const char *key)
{
	int i = kv_find(es, key);

	if (i < 0)
		return 0;
	free(es->kv[i].key);
	free(es->kv[i].value);
	memmove(&es->kv[i], &es->kv[i + 1], (es->nkv - i - 1) * sizeof(*es->kv));
	es->nkv--;
	return 1;
}

/* Something the document is made of changed: rebuild once the burst settles. */
static void changed(struct es *es)
{
	struct daemon *d = es->d;

	daemon_changed(d);
}

static int kv_dup(const char *key, const char *value, char **k, char **v)
{
	*k = strdup(key);
	*v = strdup(value);
	if (*k && *v)
		return 0;
	free(*k);
	free(*v);
	return -ENOMEM;
}

/*
 * A whole read replaces the mirror; only a difference in the keys of the
 * document counts as a change (the reconcile after a compaction).
 */
static int mirror_replace(struct es *es, const struct etcd_reply *r, bool *diff)
{
	struct es old = { .kv = es->kv, .nkv = es->nkv };
	int i, j, err = 0;
	char *k, *v;

	es->kv = NULL;
	es->nkv = es->cap = 0;
	*diff = false;
	for (i = 0; !err && i < r->nkvs; i++) {
		err = kv_dup(r->kvs[i].key, r->kvs[i].value, &k, &v);
		if (!err)
			err = kv_put(es, k, v) < 0 ? -ENOMEM : 0;
		j = err ? -1 : kv_find(&old, r->kvs[i].key);
		if (j >= 0 && !strcmp(old.kv[j].value, r->kvs[i].value))
			es->kv[kv_find(es, r->kvs[i].key)].reported = old.kv[j].reported;
		else if (!err && kv_config(es, r->kvs[i].key))
			*diff = true;
	}
	for (i = 0; !err && i < old.nkv; i++)
		if (kv_find(es, old.kv[i].key) < 0 && kv_config(es, old.kv[i].key))
			*diff = true;
	kv_free_all(old.kv, old.nkv);
	return err;
}

/* ---- building the document ---------------------------------------------- */

/* The value is one JSON object: spliced into a document for doc_parse. */
static int value_object(const char *value, const char **inside, struct chlb_err *e)
{
	enum json_tokener_error jerr;
	json_object *o = json_tokener_parse_verbose(value, &jerr);
	bool obj = o && json_object_is_type(o, json_type_object);

	json_object_put(o);
	if (!obj)
		return err_usage(e, -EINVAL, "%s", o ? "not a JSON object" :
					     json_tokener_error_desc(jerr));
	*inside = strchr(value, '{') + 1;
	return 0;
}

/*
 * doc_parse() of head + {inject, <the value's members>} + tail: the value is
 * checked strictly (duplicate and unknown keys too) by the document's own
 * rules, and its messages lose the path of the wrapper (path_len bytes).
 */
static int parse_piece(const char *head, const char *inject, const char *value,
		       const char *tail, size_t path_len, struct doc *out, struct chlb_err *e)
{
	const char *in = NULL, *p;
	char *text = NULL;
	int err, n;

	err = value_object(value, &in, e);
	if (err)
		return err;
	for (p = in; *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'; p++)
		;
	n = asprintf(&text, "%s{%s%s%s%s", head, inject, *inject && *p != '}' ? "," : "", in,
		     tail);
	if (n < 0)
		return err_fail(e, -ENOMEM, "out of memory");
	err = doc_parse(text, out, e);
	free(text);
	if (err && strlen(e->msg) > path_len)
		memmove(e->msg, e->msg + path_len, strlen(e->msg + path_len) + 1);
	return err;
}

/* A key's VIP or address must be written as the CLI writes it: one key per object. */
static int canonical_vip(const char *text, struct chlb_vip_key *key, struct chlb_err *e)
{
	char back[CLI_VIP_STRLEN];

	if (parse_vip(text, key, e))
		return -EINVAL;
	format_vip(key, back, sizeof(back));
	if (strcmp(back, text))
		return err_usage(e, -EINVAL, "VIP '%s' is not written as chlb writes it ('%s')",
				 text, back);
	return 0;
}

static int canonical_addr(const char *text, struct chlb_err *e)
{
	char back[CHLB_ADDR_STRLEN];
	struct chlb_addr a;

	if (parse_addr("backend address", text, &a, e))
		return -EINVAL;
	chlb_addr_format(&a, back, sizeof(back));
	if (strcmp(back, text))
		return err_usage(e, -EINVAL, "address '%s' is not written as chlb writes it ('%s')",
				 text, back);
	return 0;
}

struct build {
	struct es *es;
	struct doc doc;
	int vcap;
};

static int add_vip(struct build *b, const char *vip, const char *value, struct chlb_err *e)
{
	struct chlb_vip_key key;
	struct doc one = {};
	char inject[CLI_VIP_STRLEN + 16];
	int err;

	if (canonical_vip(vip, &key, e))
		return -EINVAL;
	snprintf(inject, sizeof(inject), "\"vip\":\"%s\"", vip);
	err = parse_piece("{\"vips\":[", inject, value, "]}", strlen("vips[0]."), &one, e);
	if (!err && one.vips[0].nbackends)
		err = err_usage(e, -EINVAL, "backends are keys under %svips/%s/backends/",
				b->es->prefix, vip);
	if (!err && b->doc.nvips == b->vcap) {
		struct doc_vip *n = realloc(b->doc.vips, (b->vcap + 16) * sizeof(*n));

		err = n ? 0 : err_fail(e, -ENOMEM, "out of memory");
		if (n) {
			b->doc.vips = n;
			b->vcap += 16;
		}
	}
	if (!err)
		b->doc.vips[b->doc.nvips++] = one.vips[0];
	else
		doc_free(&one);
	if (!err)
		free(one.vips);	/* its only VIP is ours now */
	return err;
}

static struct doc_vip *find_vip(struct build *b, const struct chlb_vip_key *key)
{
	int i;

	for (i = 0; i < b->doc.nvips; i++)
		if (!memcmp(&b->doc.vips[i].key, key, sizeof(*key)))
			return &b->doc.vips[i];
	return NULL;
}

static int add_backend(struct build *b, const char *vip, const char *addr, const char *value,
		       struct chlb_err *e)
{
	char head[CLI_VIP_STRLEN + 64], inject[CHLB_ADDR_STRLEN + 16];
	struct chlb_vip_key key;
	struct doc_backend *n;
	struct doc one = {};
	struct doc_vip *v;
	int err;

	if (canonical_vip(vip, &key, e) || canonical_addr(addr, e))
		return -EINVAL;
	v = find_vip(b, &key);
	if (!v)
		return err_usage(e, -ENOENT, "no VIP key %svips/%s", b->es->prefix, vip);
	snprintf(head, sizeof(head), "{\"vips\":[{\"vip\":\"%s\",\"backends\":[", vip);
	snprintf(inject, sizeof(inject), "\"addr\":\"%s\"", addr);
	err = parse_piece(head, inject, value, "]}]}", strlen("vips[0].backends[0]."), &one, e);
	if (err)
		return err;
	n = realloc(v->backends, (v->nbackends + 1) * sizeof(*n));
	if (n) {
		v->backends = n;
		v->backends[v->nbackends++] = one.vips[0].backends[0];
	}
	doc_free(&one);
	return n ? 0 : err_fail(e, -ENOMEM, "out of memory");
}

static int add_cluster(struct build *b, const char *value, struct chlb_err *e)
{
	struct doc one = {};
	int err;

	err = parse_piece("{\"cluster\":", "", value, "}", strlen("cluster."), &one, e);
	if (!err)
		b->doc.cluster = one.cluster;
	doc_free(&one);
	return err;
}

/* Backends go in the second pass, once their VIPs are there. */
static int key_pass(const struct es *es, const char *key)
{
	const char *rel = key + es->plen;

	return !strncmp(rel, "vips/", 5) && strstr(rel, "/backends/") ? 1 : 0;
}

/* One key into the document: 0, or why it is left out. */
static int add_key(struct build *b, const char *key, const char *value, struct chlb_err *e)
{
	const char *rel = key + b->es->plen, *sep;
	char vip[CLI_VIP_STRLEN + 1];

	if (!strcmp(rel, "cluster"))
		return add_cluster(b, value, e);
	if (!strncmp(rel, "nodes/", 6))
		return 0;	/* the LB nodes' records (SPEC §12) */
	if (strncmp(rel, "vips/", 5))
		return err_usage(e, -EINVAL, "not a key of chlb's");
	rel += 5;
	sep = strstr(rel, "/backends/");
	if (!sep)
		return add_vip(b, rel, value, e);
	if ((size_t)(sep - rel) >= sizeof(vip))
		return err_usage(e, -EINVAL, "not a VIP: %.*s", (int)(sep - rel), rel);
	snprintf(vip, sizeof(vip), "%.*s", (int)(sep - rel), rel);
	return add_backend(b, vip, sep + strlen("/backends/"), value, e);
}

/* Two passes: VIPs (and the cluster), then their backends. */
static int build_doc(struct es *es, struct doc *out)
{
	struct build b = { .es = es };
	struct chlb_err e;
	int pass, i, err;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < es->nkv; i++) {
			if (key_pass(es, es->kv[i].key) != pass)
				continue;
			err_clear(&e);
			err = add_key(&b, es->kv[i].key, es->kv[i].value, &e);
			if (err == -ENOMEM) {
				doc_free(&b.doc);
				return err;
			}
			if (err && !es->kv[i].reported)
				dlog("etcd key %s ignored: %s", es->kv[i].key, e.msg);
			es->kv[i].reported = err != 0;
		}
	*out = b.doc;
	return 0;
}

/* ---- talking to etcd ---------------------------------------------------- */

/* Capped exponential backoff with +-20% jitter; the first retry is at once. */
static void retry_later(struct es *es, const char *why)
{
	uint64_t ms = 0;

	if (es->attempts) {
		ms = ES_BACKOFF_MIN_MS << (es->attempts - 1 < 6 ? es->attempts - 1 : 6);
		ms = ms > ES_BACKOFF_MAX_MS ? ES_BACKOFF_MAX_MS : ms;
		ms = ms * (80 + random() % 41) / 100;
	}
	es->attempts++;
	es->retry_at = loop_now_ms() + ms;
	es->state = ES_IDLE;
	es->lost = true;
	es->d->md.source_up = 0;
	dlog("etcd: %s; %s in %.1f s", why, es->relist ? "reading it again" : "watching again",
	     ms / 1000.0);
}

static int on_msg(void *arg, const struct etcd_watch_msg *m)
{
	struct es *es = arg;
	int i, ch = 0;

	if (m->created) {
		/* another cluster, or one restored from an older backup: events are gone */
		if (m->cluster_id != es->cluster_id || m->revision < es->rev) {
			es->relist = true;
			return 1;
		}
		es->d->md.source_up = 1;
		es->watch_up_ms = loop_now_ms();
		if (es->lost)
			dlog("etcd: watching %s again from revision %lld", etcd_endpoint(es->c),
			     (long long)es->rev + 1);
		es->lost = false;
		return 0;
	}
	for (i = 0; i < m->nev; i++) {
		const struct etcd_event *ev = &m->ev[i];
		bool cfg = kv_config(es, ev->kv.key);
		char *k, *v;

		if (ev->type == ETCD_EV_DELETE)
			ch = kv_del(es, ev->kv.key) && cfg;
		else if (kv_dup(ev->kv.key, ev->kv.value, &k, &v) || kv_put(es, k, v) < 0)
			es->relist = true;	/* out of memory: start over */
		else
			ch = cfg;
		if (ch)
			changed(es);
	}
	if (m->revision > es->rev)
		es->rev = m->revision;
	return es->relist;
}

static void on_ended(void *arg, int err, int64_t compact, const char *why)
{
	struct es *es = arg;
	char msg[600];

	es->w = NULL;
	if (es->watch_up_ms && loop_now_ms() - es->watch_up_ms >= ES_STABLE_MS)
		es->attempts = 0;
	es->watch_up_ms = 0;
	if (err == -ESTALE) {
		es->relist = true;
		es->attempts = 0;	/* etcd is there: read it now */
		snprintf(msg, sizeof(msg), "revision %lld was compacted (etcd keeps from %lld)",
			 (long long)es->rev + 1, (long long)compact);
	} else if (err == -ECANCELED && es->relist) {
		snprintf(msg, sizeof(msg), "etcd is another cluster or went back in time");
	} else {
		snprintf(msg, sizeof(msg), "%s", why);
	}
	retry_later(es, msg);
}

static const struct etcd_watch_ops watch_ops = { .msg = on_msg, .ended = on_ended };

static void watch(struct es *es)
{
	int err;

	err = etcd_watch(es->c, es->prefix, true, es->rev + 1, &watch_ops, es, &es->w);
	if (err) {
		retry_later(es, strerror(-err));
		return;
	}
	es->state = ES_WATCHING;
}

/* The prefix read whole: the mirror is the store at r->revision. */
static int listed(struct es *es, const struct etcd_reply *r)
{
	bool diff;
	int err;

	err = mirror_replace(es, r, &diff);
	if (err)
		return err;
	if (es->synced && diff)
		dlog("etcd: read %d keys at revision %lld: changes found", es->nkv,
		     (long long)r->revision);
	if (!es->synced || diff)
		es->d->reload_at = loop_now_ms();	/* nothing to wait for: all is here */
	es->rev = r->revision;
	es->cluster_id = r->cluster_id;
	es->synced = true;
	es->relist = false;
	return 0;
}

static void on_range(void *arg, int err, const struct etcd_reply *r, const char *msg)
{
	struct es *es = arg;

	if (!err)
		err = listed(es, r);
	if (err) {
		retry_later(es, err == -ENOMEM ? "out of memory" : msg);
		return;
	}
	es->attempts = 0;
	watch(es);
}

/* Due: read the prefix whole, or watch from the last revision seen. */
static void step(struct es *es)
{
	struct etcd_req q = { .call = ETCD_RANGE, .key = es->prefix, .prefix = true };
	int err;

	es->retry_at = 0;
	if (!es->relist && es->synced) {
		watch(es);
		return;
	}
	err = etcd_start(es->c, &q, on_range, es);
	if (err)
		retry_later(es, strerror(-err));
	else
		es->state = ES_LISTING;
}

/* ---- the node's record -------------------------------------------------- */

static void node_done(void *arg, int err, const struct etcd_reply *r, const char *msg,
		      enum etcd_call call)
{
	struct es *es = arg;
	uint64_t now = loop_now_ms();

	es->node_busy = false;
	if (err == -ENOENT && call != ETCD_GRANT) {
		es->lease = 0;	/* expired while etcd was away: the record is gone too */
		es->ka_at = now;
		es->put_at = 0;
	} else if (err) {
		*(call == ETCD_PUT ? &es->put_at : &es->ka_at) = now + ES_NODE_RETRY_MS;
		if (es->d->md.source_up)
			dlog("etcd: %s: %s", es->node_key, msg);
	} else if (call == ETCD_GRANT) {
		es->lease = r->lease;
		es->written = 0;	/* a new lease: the record anew */
		es->ka_at = now + ES_NODE_TTL * 1000 / 3;
	} else if (call == ETCD_PUT) {
		es->written = es->putting;
	} else {
		es->ka_at = now + ES_NODE_TTL * 1000 / 3;
	}
}

static void on_grant(void *a, int err, const struct etcd_reply *r, const char *m)
{
	node_done(a, err, r, m, ETCD_GRANT);
}

static void on_put(void *a, int err, const struct etcd_reply *r, const char *m)
{
	node_done(a, err, r, m, ETCD_PUT);
}

static void on_keepalive(void *a, int err, const struct etcd_reply *r, const char *m)
{
	node_done(a, err, r, m, ETCD_KEEPALIVE);
}

/* When node_step() has something to do (0: nothing until a request ends or an apply). */
static uint64_t node_due(const struct es *es)
{
	if (es->node_busy || !es->node_value)
		return 0;
	if (!es->lease)
		return es->ka_at ?: 1;
	if (es->written != es->gen)
		return earliest(es->put_at ?: 1, es->ka_at);
	return es->ka_at;
}

/* One request at a time: a lease, the record under it, then keepalives. */
static void node_step(struct es *es)
{
	struct etcd_req q = { .lease = es->lease };
	uint64_t due = node_due(es), now = loop_now_ms();
	etcd_done_fn fn;

	if (!due || due > now)
		return;
	if (!es->lease) {
		q.call = ETCD_GRANT, q.ttl = ES_NODE_TTL, fn = on_grant;
	} else if (es->written != es->gen && es->put_at <= now) {
		q.call = ETCD_PUT, q.key = es->node_key, q.value = es->node_value, fn = on_put;
		es->putting = es->gen;
	} else {
		q.call = ETCD_KEEPALIVE, fn = on_keepalive;
	}
	if (etcd_start(es->c, &q, fn, es))
		es->ka_at = now + ES_NODE_RETRY_MS;
	else
		es->node_busy = true;
}

static json_object *node_vips(struct inst *in)
{
	json_object *o = json_object_new_object();
	__u32 *slots = calloc(in->m.table_size, sizeof(*slots));
	char vip[CLI_VIP_STRLEN], sum[20];
	struct chlb_err e = {};
	uint64_t ck;
	int i;

	for (i = 0; slots && i < in->m.nvips; i++) {
		if (live_checksum(in, in->m.vips[i].info.id, slots, &ck, &e))
			continue;
		format_vip(&in->m.vips[i].key, vip, sizeof(vip));
		snprintf(sum, sizeof(sum), "%016llx", (unsigned long long)ck);
		json_object_object_add(o, vip, json_object_new_string(sum));
	}
	free(slots);
	return o;
}

/* After an apply: the record says what this node now forwards by. */
static void es_applied(struct daemon *d, struct inst *in)
{
	struct es *es = es_of(d);
	json_object *o = json_object_new_object();
	const char *t;

	d->md.source_revision = es->built_rev;
	json_object_object_add(o, "node", json_object_new_string(es->node_key + es->plen + 6));
	json_object_object_add(o, "version", json_object_new_string(CHLB_VERSION));
	json_object_object_add(o, "revision", json_object_new_int64(es->built_rev));
	json_object_object_add(o, "vips", node_vips(in));
	t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	free(es->node_value);
	es->node_value = t ? strdup(t) : NULL;
	es->gen++;
	json_object_put(o);
	node_step(es);
}

/* ---- the source --------------------------------------------------------- */

static int node_name(struct es *es, const char *node, struct chlb_err *e)
{
	char host[256] = "";

	if (!node) {
		if (gethostname(host, sizeof(host) - 1))
			return err_fail(e, -errno, "gethostname: %s", strerror(errno));
		node = host;
	}
	if (!*node || strchr(node, '/') || strlen(node) > 64)
		return err_usage(e, -EINVAL, "node name '%s': 1 to 64 characters, no '/'", node);
	snprintf(es->node_key, sizeof(es->node_key), "%snodes/%s", es->prefix, node);
	return 0;
}

/* The first read waits (nothing else runs yet); a failure is retried on the loop. */
static void first_read(struct es *es)
{
	struct etcd_req q = { .call = ETCD_RANGE, .key = es->prefix, .prefix = true };
	struct etcd_reply r;
	struct chlb_err e = {};

	if (etcd_do(es->c, &q, &r, &e) || listed(es, &r)) {
		es->relist = true;
		es->attempts = 1;	/* nothing to resume: wait the first step */
		retry_later(es, e.msg[0] ? e.msg : "out of memory");
	} else {
		es->d->reload_at = 0;	/* start() reads and applies it */
		watch(es);
	}
	etcd_reply_free(&r);
}

static int es_open(struct daemon *d, struct chlb_err *e)
{
	struct es *es = calloc(1, sizeof(*es));
	struct etcd_io io = { .arg = es, .watch = sock_watch };
	int err;

	if (!es)
		return err_fail(e, -ENOMEM, "out of memory");
	d->src_state = es;
	es->d = d;
	srandom(getpid() ^ loop_now_ms());
	err = etcd_key_prefix(d->o->prefix ? d->o->prefix : DAEMON_ETCD_PREFIX, es->prefix,
			      sizeof(es->prefix), e);
	es->plen = strlen(es->prefix);
	if (!err)
		err = node_name(es, d->o->node, e);
	if (!err)
		err = etcd_new(d->o->etcd, &io, &es->c, e);
	if (err)
		return err;
	snprintf(d->src_desc, sizeof(d->src_desc), "%.160s %s", d->o->etcd, es->prefix);
	first_read(es);
	return 0;
}

static int es_read(struct daemon *d, struct chlb_err *e)
{
	struct es *es = es_of(d);
	struct doc doc;
	int err;

	if (!es->synced)
		return err_fail(e, -EAGAIN, "etcd %s unreachable: forwarding as pinned until it "
				"answers", d->o->etcd);
	err = build_doc(es, &doc);
	if (err)
		return err_fail(e, err, "out of memory");
	doc_free(&d->doc);
	d->doc = doc;
	d->have_doc = true;
	es->built_rev = es->rev;
	return 0;
}

/* A clean stop lets the node's record go at once rather than at its lease's end. */
static void es_close(struct daemon *d)
{
	struct es *es = es_of(d);
	struct etcd_req q = { .call = ETCD_REVOKE };
	struct etcd_reply r;
	int i;

	if (!es)
		return;
	if (es->w)
		etcd_watch_cancel(es->c, es->w);
	q.lease = es->lease;
	if (es->lease && d->md.source_up && !etcd_do(es->c, &q, &r, NULL))
		etcd_reply_free(&r);
	etcd_free(es->c);
	for (i = 0; i < ES_SOCKS; i++)
		if (es->socks[i].used)
			loop_del(d->loop, &es->socks[i].w);
	kv_free_all(es->kv, es->nkv);
	free(es->node_value);
	free(es);
	d->src_state = NULL;
}

/* curl's timer, the next try, the node's next request: the earliest. */
static int es_timeout(struct daemon *d)
{
	struct es *es = es_of(d);
	uint64_t now = loop_now_ms(), due = es->retry_at;
	int t = etcd_timeout(es->c), u;

	due = earliest(due, node_due(es));
	if (!due)
		return t;
	u = due <= now ? 0 : due - now > INT_MAX ? INT_MAX : (int)(due - now);
	return t < 0 || u < t ? u : t;
}

static void es_run(struct daemon *d)
{
	struct es *es = es_of(d);

	etcd_run(es->c);
	if (es->retry_at && loop_now_ms() >= es->retry_at && es->state == ES_IDLE)
		step(es);
	node_step(es);
}

const struct source_ops source_etcd = {
	.kind = CHLB_SOURCE_ETCD,
	.open = es_open,
	.read = es_read,
	.close = es_close,
	.timeout = es_timeout,
	.run = es_run,
	.applied = es_applied,
};
