// SPDX-License-Identifier: GPL-2.0
/*
 * chlb register (SPEC §10), run on a backend: its key
 * P/vips/<VIP>/backends/<ADDR> bound to an etcd lease kept alive, so the
 * backend leaves every LB's pool when this process or its host dies (the
 * lease expires). SIGTERM (or SIGINT) lets it go at once, or with
 * --drain-wait first marks it draining (no new flows) and waits.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>

#include "cli.h"
#include "commands.h"
#include "core/parse.h"
#include "daemon/daemon.h"
#include "net/etcd.h"

#define REG_TTL_DEFAULT	10
#define REG_TTL_MIN	2	/* etcd's own minimum is about that */
#define REG_RETRY_MS	1000

struct reg {
	struct etcd *c;
	char key[512];
	__u32 weight, ttl, drain_s;
	const char *mac;
	int64_t lease;
	sigset_t sigs;
};

static int register_help(void)
{
	printf("Usage: chlb register --etcd URL[,URL...] VIP ADDR [--weight W] [--mac MAC]\n"
	       "                     [--ttl S] [--prefix P] [--drain-wait S]\n"
	       "       on a backend: puts P/vips/VIP/backends/ADDR (P default /chlb/) bound\n"
	       "       to an etcd lease of S seconds (default %d, at least %d) and renews it\n"
	       "       every S/3 s, so the backend leaves the pool within S seconds of this\n"
	       "       process or its host dying. SIGTERM: with --drain-wait S, the key is\n"
	       "       first marked draining (existing flows stay, no new ones) for S\n"
	       "       seconds; then the lease is revoked and the key goes; exit 0.\n"
	       CLI_HELP_GRAMMAR,
	       REG_TTL_DEFAULT, REG_TTL_MIN);
	return 0;
}

static void rlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void rlog(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "chlb register: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static char *value(const struct reg *r, bool draining)
{
	json_object *o = json_object_new_object();
	const char *t;
	char *s;

	json_object_object_add(o, "weight", json_object_new_int64(r->weight));
	if (draining)
		json_object_object_add(o, "state", json_object_new_string("draining"));
	if (r->mac)
		json_object_object_add(o, "mac", json_object_new_string(r->mac));
	t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	s = t ? strdup(t) : NULL;
	json_object_put(o);
	return s;
}

static int call(struct reg *r, struct etcd_req q, struct etcd_reply *out, struct chlb_err *e)
{
	struct etcd_reply rep;
	int err = etcd_do(r->c, &q, &rep, e);

	if (!err && out)
		*out = rep;
	else if (!err)
		etcd_reply_free(&rep);
	return err;
}

/* A new lease and the key under it. */
static int put_key(struct reg *r, bool draining, bool new_lease, struct chlb_err *e)
{
	struct etcd_reply rep;
	char *v = value(r, draining);
	int err = v ? 0 : err_fail(e, -ENOMEM, "out of memory");

	if (!err && new_lease) {
		err = call(r, (struct etcd_req){ .call = ETCD_GRANT, .ttl = r->ttl }, &rep, e);
		if (!err)
			r->lease = rep.lease;
		if (!err)
			etcd_reply_free(&rep);
	}
	if (!err)
		err = call(r, (struct etcd_req){ .call = ETCD_PUT, .key = r->key, .value = v,
						 .lease = r->lease }, NULL, e);
	free(v);
	return err;
}

/*
 * Renew the lease; one that expired meanwhile (etcd away longer than the
 * TTL) took the key with it: both anew. 0, or ms until the next try.
 */
static int renew(struct reg *r, bool draining)
{
	struct chlb_err e = {};
	int err, t;

	err = call(r, (struct etcd_req){ .call = ETCD_KEEPALIVE, .lease = r->lease }, NULL, &e);
	if (err == -ENOENT) {
		rlog("lease %llx expired: registering again", (unsigned long long)r->lease);
		err_clear(&e);
		err = put_key(r, draining, true, &e);
	}
	if (!err)
		return 0;
	t = r->ttl * 1000 / 3 < REG_RETRY_MS ? r->ttl * 1000 / 3 : REG_RETRY_MS;
	rlog("%s; retrying in %.1f s", e.msg, t / 1000.0);
	return t;
}

/* The next TERM or INT within ms (true), renewing the lease meanwhile. */
static bool wait_signal(struct reg *r, long ms, bool draining)
{
	long step = r->ttl * 1000 / 3, left = ms, t;
	struct timespec ts;

	while (ms < 0 || left > 0) {
		t = ms < 0 || step < left ? step : left;
		ts = (struct timespec){ .tv_sec = t / 1000, .tv_nsec = t % 1000 * 1000000 };
		if (sigtimedwait(&r->sigs, NULL, &ts) > 0)
			return true;
		left -= t;
		if (ms < 0 || left > 0)
			step = renew(r, draining) ?: (long)r->ttl * 1000 / 3;
	}
	return false;
}

static int stop(struct reg *r)
{
	struct chlb_err e = {};

	if (r->drain_s) {
		if (put_key(r, true, false, &e))
			rlog("cannot mark %s draining: %s", r->key, e.msg);
		else
			rlog("%s draining for %u s", r->key, r->drain_s);
		if (wait_signal(r, r->drain_s * 1000L, true))
			rlog("signalled again: not waiting any longer");
	}
	err_clear(&e);
	if (call(r, (struct etcd_req){ .call = ETCD_REVOKE, .lease = r->lease }, NULL, &e))
		rlog("cannot revoke the lease (the key goes when it expires): %s", e.msg);
	else
		rlog("%s deregistered", r->key);
	return 0;
}

static int run(struct reg *r)
{
	int err;

	sigemptyset(&r->sigs);
	sigaddset(&r->sigs, SIGTERM);
	sigaddset(&r->sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &r->sigs, NULL);
	err = put_key(r, false, true, CLI_E);
	if (err)
		return err;
	rlog("%s registered (lease %llx, TTL %u s, renewed every %.1f s)", r->key,
	     (unsigned long long)r->lease, r->ttl, r->ttl / 3.0);
	wait_signal(r, -1, false);
	return stop(r);
}

enum { R_ETCD, R_WEIGHT, R_MAC, R_TTL, R_PREFIX, R_DRAIN, R_N };

/* VIP and ADDR as chlb writes them: the key the daemons read. */
static int make_key(struct reg *r, const char *prefix, const char *vip, const char *addr)
{
	char p[256], v[CLI_VIP_STRLEN], a[CHLB_ADDR_STRLEN];
	struct chlb_vip_key key;
	struct chlb_addr ad;

	if (etcd_key_prefix(prefix, p, sizeof(p), CLI_E) || parse_vip(vip, &key, CLI_E) ||
	    parse_addr("backend address", addr, &ad, CLI_E))
		return -EINVAL;
	format_vip(&key, v, sizeof(v));
	chlb_addr_format(&ad, a, sizeof(a));
	snprintf(r->key, sizeof(r->key), "%svips/%s/backends/%s", p, v, a);
	return 0;
}

static int parse_opts(struct reg *r, struct cli_opt *o, const char **pos)
{
	__u8 mac[6];

	if (!o[R_ETCD].val)
		return cli_err(-EINVAL, "register: give --etcd URL[,URL...]");
	if (make_key(r, o[R_PREFIX].val ? o[R_PREFIX].val : DAEMON_ETCD_PREFIX, pos[0], pos[1]))
		return -EINVAL;
	if (o[R_WEIGHT].val && parse_weight(o[R_WEIGHT].val, &r->weight, CLI_E))
		return -EINVAL;
	if (o[R_MAC].val && parse_mac(o[R_MAC].val, mac, CLI_E))
		return -EINVAL;
	r->mac = o[R_MAC].val;
	if (o[R_TTL].val && parse_u32("--ttl", o[R_TTL].val, REG_TTL_MIN, 86400, &r->ttl, CLI_E))
		return -EINVAL;
	if (o[R_DRAIN].val &&
	    parse_u32("--drain-wait", o[R_DRAIN].val, 0, 86400, &r->drain_s, CLI_E))
		return -EINVAL;
	return 0;
}

int do_register(int argc, char **argv)
{
	static const char *const names[] = { "VIP", "ADDR" };
	struct cli_opt o[R_N + 1] = {
		[R_ETCD] = CLI_OPT("--etcd", CLI_ARG_REQ),
		[R_WEIGHT] = CLI_OPT("--weight", CLI_ARG_REQ),
		[R_MAC] = CLI_OPT("--mac", CLI_ARG_REQ),
		[R_TTL] = CLI_OPT("--ttl", CLI_ARG_REQ),
		[R_PREFIX] = CLI_OPT("--prefix", CLI_ARG_REQ),
		[R_DRAIN] = CLI_OPT("--drain-wait", CLI_ARG_REQ),
	};
	struct reg r = { .weight = 1, .ttl = REG_TTL_DEFAULT };
	const char *pos[2];
	int n, err;

	err = cli_args(argc, argv, o, pos, 2, 2, names, &n);
	if (err)
		return err == CLI_HELP ? register_help() : err;
	err = parse_opts(&r, o, pos);
	if (!err)
		err = etcd_new(o[R_ETCD].val, NULL, &r.c, CLI_E);
	if (!err)
		err = run(&r);
	etcd_free(r.c);
	return err;
}
