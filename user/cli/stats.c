// SPDX-License-Identifier: GPL-2.0
/*
 * chlb stats [VIP] [--watch [SECONDS]]: per-CPU counters summed by the data
 * plane helpers. --watch prints rates between two snapshots; each snapshot
 * copies what it needs, so the lock is held only while reading.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "dp/counters.h"
#include "core/parse.h"
#include "stats.h"
#include "table.h"

static volatile sig_atomic_t stop;

static void on_sigint(int sig)
{
	(void)sig;
	stop = 1;
}

static int stats_help(void)
{
	printf("Usage: chlb stats [VIP] [--watch [SECONDS]]\n" CLI_HELP_GRAMMAR
	       "       --watch prints rates every SECONDS (default 1) until Ctrl-C;\n"
	       "       with -j, one JSON object per line.\n");
	return 0;
}


/*
 * A value as printed: the counter itself, or with a previous snapshot its
 * rate per second (a counter that was not there before counts from zero).
 */
struct val {
	const char *name;
	__u64 cur, prev;
};

/* Per second, to 0.001: more digits would be noise from the clock. */
static double rate(const struct val *v, double dt)
{
	double r = v->cur >= v->prev && dt > 0 ? (v->cur - v->prev) / dt : 0;

	return (double)(long long)(r * 1000 + 0.5) / 1000;
}

static void json_vals(struct json_object *o, const struct val *v, int n, double dt)
{
	char name[64];
	int i;

	for (i = 0; i < n; i++) {
		if (dt == 0) {
			json_object_object_add(o, v[i].name, json_object_new_uint64(v[i].cur));
			continue;
		}
		snprintf(name, sizeof(name), "%s_per_sec", v[i].name);
		json_object_object_add(o, name, json_object_new_double(rate(&v[i], dt)));
	}
}

static void table_vals(struct table *t, const struct val *v, int n, double dt)
{
	int i;

	for (i = 0; i < n; i++)
		if (dt == 0)
			table_cell(t, "%llu", (unsigned long long)v[i].cur);
		else
			table_cell(t, "%.1f", rate(&v[i], dt));
}

#define VIP_VALS(c, p) { { "packets", (c)->packets, (p) ? (p)->packets : 0 }, \
			 { "bytes", (c)->bytes, (p) ? (p)->bytes : 0 }, \
			 { "no_backend", (c)->no_backend, (p) ? (p)->no_backend : 0 }, \
			 { "fragments", (c)->fragments, (p) ? (p)->fragments : 0 } }
#define N_VIP_VALS 4
#define BACKEND_VALS(c, p) { { "packets", (c)->packets, (p) ? (p)->packets : 0 }, \
			     { "bytes", (c)->bytes, (p) ? (p)->bytes : 0 }, \
			     { "new_flows", (c)->new_flows, (p) ? (p)->new_flows : 0 } }

static void global_vals(const struct snap *s, const struct snap *p, struct val *v)
{
	int c;

	for (c = 0; c < CHLB_CNT_MAX; c++) {
		v[c].name = counter_name(c);
		v[c].cur = s->g.counters[c];
		v[c].prev = p ? p->g.counters[c] : 0;
	}
}

/*
 * The flow table is under flood while, within the last FLOOD_WINDOW_NS,
 * new flows found every way of their bucket busy (flow_refused, or
 * flow_evict_busy under a policy that evicts them) or pushed out flows
 * not yet confirmed (flow_evict_new: a SYN flood, or a table too small).
 */
#define FLOOD_WINDOW_NS (10 * 1000000000ULL)

/* Seconds since t (0 when t is just ahead of the snapshot's clock); -1: never. */
static double since(const struct snap *s, __u64 t)
{
	if (!t)
		return -1;
	return s->coarse_ns > t ? (s->coarse_ns - t) / 1e9 : 0;
}

static bool flood_recent(const struct snap *s, __u64 t)
{
	return t && since(s, t) * 1e9 <= FLOOD_WINDOW_NS;
}

static bool under_flood(const struct snap *s)
{
	return flood_recent(s, s->flow.refused_ns) || flood_recent(s, s->flow.evict_busy_ns) ||
	       flood_recent(s, s->flow.evict_new_ns);
}

static void json_since(struct json_object *o, const char *key, const struct snap *s, __u64 t)
{
	double d = since(s, t);

	json_object_object_add(o, key, d < 0 ? NULL :
			       json_object_new_double((double)(long long)(d * 10 + 0.5) / 10));
}

static struct json_object *json_flood(const struct snap *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "under_flood", json_object_new_boolean(under_flood(s)));
	json_since(o, "refused_s_ago", s, s->flow.refused_ns);
	json_since(o, "evict_busy_s_ago", s, s->flow.evict_busy_ns);
	json_since(o, "evict_new_s_ago", s, s->flow.evict_new_ns);
	return o;
}

static void print_flood(const struct snap *s)
{
	if (!under_flood(s))
		return;
	printf("\nflow table under flood (in the last %llu s):\n", FLOOD_WINDOW_NS / 1000000000ULL);
	if (flood_recent(s, s->flow.refused_ns))
		printf("  new flows found every way of their bucket busy, not recorded (the last "
		       "%.1f s ago): established flows are kept, new ones follow the table\n",
		       since(s, s->flow.refused_ns));
	if (flood_recent(s, s->flow.evict_busy_ns))
		printf("  busy flows evicted by new ones (the last %.1f s ago)\n",
		       since(s, s->flow.evict_busy_ns));
	if (flood_recent(s, s->flow.evict_new_ns))
		printf("  new flows pushing out flows not yet confirmed (the last %.1f s ago): a "
		       "SYN flood, or a table too small for its flows\n",
		       since(s, s->flow.evict_new_ns));
}

static struct json_object *json_backends(const struct snap *s, const struct snap *p,
					 const struct vsnap *vs, double dt)
{
	struct json_object *arr = json_object_new_array();
	char addr[CHLB_ADDR_STRLEN];
	int i;

	for (i = 0; i < s->nb; i++) {
		const struct bsnap *b = &s->b[i], *pb = snap_prev_backend(p, b);
		struct val v[] = BACKEND_VALS(&b->s, pb ? &pb->s : NULL);
		struct json_object *o;

		if (memcmp(&b->vip, &vs->key, sizeof(vs->key)))
			continue;
		o = json_object_new_object();
		format_addr(b->addr, addr, sizeof(addr));
		json_object_object_add(o, "address", json_object_new_string(addr));
		json_object_object_add(o, "id", json_object_new_int64(b->id));
		json_vals(o, v, 3, dt);
		json_object_array_add(arr, o);
	}
	return arr;
}

static void print_json(const struct snap *s, const struct snap *p, double dt, bool line)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	struct json_object *g = json_object_new_object();
	struct val gv[CHLB_CNT_MAX];
	char vip[CLI_VIP_STRLEN];
	int i;

	if (dt)
		json_object_object_add(root, "interval",
				       json_object_new_double((double)(long long)(dt * 1000 + 0.5) / 1000));
	for (i = 0; i < s->nv; i++) {
		const struct vsnap *vs = &s->v[i], *pv = snap_prev_vip(p, vs);
		struct val v[] = VIP_VALS(&vs->s, pv ? &pv->s : NULL);
		struct json_object *o = json_object_new_object();

		format_vip(&vs->key, vip, sizeof(vip));
		json_object_object_add(o, "vip", json_object_new_string(vip));
		json_vals(o, v, N_VIP_VALS, dt);
		json_object_object_add(o, "backends", json_backends(s, p, vs, dt));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "vips", arr);
	global_vals(s, p, gv);
	json_vals(g, gv, CHLB_CNT_MAX, dt);
	json_object_object_add(root, "global", g);
	if (s->coarse_ns)
		json_object_object_add(root, "flow_table", json_flood(s));
	if (line)
		cli_json_print_line(root);
	else
		cli_json_print(root);
}

static int print_plain(const struct snap *s, const struct snap *p, double dt)
{
	const char *u = dt ? "/S" : "";
	struct table *tv = NULL, *tb = NULL, *tg = NULL;
	struct val gv[CHLB_CNT_MAX];
	char vip[CLI_VIP_STRLEN], addr[CHLB_ADDR_STRLEN], h[5][32];
	int i, err = -ENOMEM;

	snprintf(h[0], 32, ">PACKETS%s", u);
	snprintf(h[1], 32, ">BYTES%s", u);
	snprintf(h[2], 32, ">NO_BACKEND%s", u);
	snprintf(h[3], 32, ">NEW_FLOWS%s", u);
	snprintf(h[4], 32, ">FRAGMENTS%s", u);
	tv = table_new(5, "VIP", h[0], h[1], h[2], h[4]);
	tb = table_new(5, "VIP", "BACKEND", h[0], h[1], h[3]);
	tg = table_new(2, "COUNTER", dt ? ">PER_SEC" : ">VALUE");
	if (!tv || !tb || !tg)
		goto out;
	for (i = 0; i < s->nv; i++) {
		const struct vsnap *vs = &s->v[i], *pv = snap_prev_vip(p, vs);
		struct val v[] = VIP_VALS(&vs->s, pv ? &pv->s : NULL);

		format_vip(&vs->key, vip, sizeof(vip));
		table_cell(tv, "%s", vip);
		table_vals(tv, v, N_VIP_VALS, dt);
	}
	for (i = 0; i < s->nb; i++) {
		const struct bsnap *b = &s->b[i], *pb = snap_prev_backend(p, b);
		struct val v[] = BACKEND_VALS(&b->s, pb ? &pb->s : NULL);

		format_vip(&b->vip, vip, sizeof(vip));
		format_addr(b->addr, addr, sizeof(addr));
		table_cell(tb, "%s", vip);
		table_cell(tb, "%s", addr);
		table_vals(tb, v, 3, dt);
	}
	global_vals(s, p, gv);
	for (i = 0; i < CHLB_CNT_MAX; i++) {
		table_cell(tg, "%s", gv[i].name);
		table_vals(tg, &gv[i], 1, dt);
	}
	table_print(tv, stdout);
	putchar('\n');
	table_print(tb, stdout);
	putchar('\n');
	table_print(tg, stdout);
	print_flood(s);
	fflush(stdout);
	err = 0;
out:
	table_free(tv);
	table_free(tb);
	table_free(tg);
	return err;
}

/* Sleep in small steps so Ctrl-C ends the watch promptly. */
static void nap(double secs)
{
	double end = snap_now() + secs;

	while (!stop && snap_now() < end) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
}

static int watch(const char *vip, double interval)
{
	struct snap prev, cur;
	int err, n = 0;

	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	err = snap_take(vip, &prev);
	while (!err && !stop) {
		nap(interval);
		if (stop)
			break;
		err = snap_take(vip, &cur);
		if (err)
			break;
		if (cli.json) {
			print_json(&cur, &prev, cur.t - prev.t, true);
		} else {
			printf("%s--- rates over %.1f s\n", n++ ? "\n" : "", cur.t - prev.t);
			err = print_plain(&cur, &prev, cur.t - prev.t);
		}
		snap_free(&prev);
		prev = cur;
	}
	snap_free(&prev);
	return err;
}

int do_stats(int argc, char **argv)
{
	struct cli_opt o[] = { CLI_OPT("--watch", CLI_ARG_OPT_NUM), {} };
	static const char *const names[] = { "VIP" };
	const char *vip = NULL;
	double interval = 1;
	struct snap s;
	char *end;
	int n, err;

	err = cli_args(argc, argv, o, &vip, 0, 1, names, &n);
	if (err)
		return err == CLI_HELP ? stats_help() : err;
	if (!n)
		vip = NULL;
	if (o[0].val) {
		interval = strtod(o[0].val, &end);
		if (*end || !(interval >= 0.1 && interval <= 3600))
			return cli_err(-EINVAL, "invalid interval '%s': expected 0.1 to 3600 seconds",
				       o[0].val);
	}
	if (o[0].set)
		return watch(vip, interval);
	err = snap_take(vip, &s);
	if (!err) {
		if (cli.json)
			print_json(&s, NULL, 0, false);
		else
			err = print_plain(&s, NULL, 0);
	}
	snap_free(&s);
	return err;
}
