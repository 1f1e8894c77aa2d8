// SPDX-License-Identifier: GPL-2.0
/*
 * Ring library benchmark: build + fill time, balance, disruption, route()
 * cost on one and two threads (with a writer changing membership 10 times
 * a second), memory, and the two table fills apart. Prints a table;
 * `--json FILE` writes the figures; BENCH_RING_FILLS_ONLY=1 runs the fills
 * alone.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include <chlb/chlb.h>
#include "../user/lib/ring_internal.h"	/* the two fills, timed apart */

#define SEED		0x5eedULL
#define NKEYS		4096
#define ROUTE_NS	1000000000LL

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct chlb_addr backend_addr(int i)
{
	struct chlb_addr a;
	char buf[32];

	snprintf(buf, sizeof(buf), "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
	chlb_addr_parse(buf, &a);
	return a;
}

static int apply(struct chlb_ring *r, enum chlb_change_op op, int first,
		 int n, uint32_t w)
{
	struct chlb_change *c = calloc(n, sizeof(*c));
	int i, err;

	if (!c)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		c[i].op = op;
		c[i].addr = backend_addr(first + i);
		c[i].weight = w;
	}
	err = chlb_ring__update(r, c, n);
	free(c);
	return err;
}

static struct chlb_ring *ring_with(int n, uint32_t v, uint32_t m)
{
	struct chlb_ring_opts o = { .sz = sizeof(o), .vnodes = v,
				    .table_size = m, .seed = SEED };
	struct chlb_ring *r;

	if (chlb_ring__new(&o, &r) || apply(r, CHLB_CHANGE_ADD, 0, n, 1)) {
		fprintf(stderr, "ring N=%d V=%u M=%u failed\n", n, v, m);
		exit(1);
	}
	return r;
}

/* Best of 3 full rebuilds (a reweight rebuilds everything), in ms. */
static double build_ms(struct chlb_ring *r)
{
	double best = 1e9, t;
	long long t0;
	int k;

	for (k = 0; k < 3; k++) {
		t0 = now_ns();
		apply(r, CHLB_CHANGE_WEIGHT, 0, 1, k % 2 ? 1 : 2);
		t = (now_ns() - t0) / 1e6;
		best = t < best ? t : best;
	}
	apply(r, CHLB_CHANGE_WEIGHT, 0, 1, 1);
	return best;
}

static void balance(struct chlb_ring *r, int n, double *maxmean, double *cv)
{
	struct chlb_backend_info *b = calloc(n, sizeof(*b));
	double mean, max = 0, var = 0;
	int i;

	chlb_ring__backends(r, b, n);
	for (i = 0, mean = 0; i < n; i++)
		mean += b[i].slots;
	mean /= n;
	for (i = 0; i < n; i++) {
		max = b[i].slots > max ? b[i].slots : max;
		var += (b[i].slots - mean) * (b[i].slots - mean);
	}
	*maxmean = max / mean;
	*cv = sqrt(var / n) / mean;
	free(b);
}

static uint32_t *table_of(struct chlb_ring *r, uint32_t m, int *nb,
			  struct chlb_backend_info **b)
{
	uint32_t *t = malloc(m * sizeof(*t));

	*nb = chlb_ring__num_backends(r);
	*b = calloc(*nb + 1, sizeof(**b));
	chlb_ring__backends(r, *b, *nb);
	chlb_ring__table(r, t, m);
	return t;
}

/* Share of slots whose owner address differs between two rings' states. */
static double moved_share(uint32_t *t0, struct chlb_backend_info *b0,
			  uint32_t *t1, struct chlb_backend_info *b1, uint32_t m)
{
	uint32_t s, moved = 0;

	for (s = 0; s < m; s++)
		moved += !!chlb_addr_cmp(&b0[t0[s]].addr, &b1[t1[s]].addr);
	return (double)moved / m;
}

/* Mean disruption over `k` single adds and removes, as ratio to optimum. */
static void disruption(struct chlb_ring *r, int n, uint32_t m, int k,
		       double *add_ratio, double *del_ratio)
{
	struct chlb_backend_info *b0, *b1;
	uint32_t *t0, *t1;
	int nb, i;

	*add_ratio = *del_ratio = 0;
	t0 = table_of(r, m, &nb, &b0);
	for (i = 0; i < k; i++) {
		apply(r, CHLB_CHANGE_ADD, n + i, 1, 1);
		t1 = table_of(r, m, &nb, &b1);
		*add_ratio += moved_share(t0, b0, t1, b1, m) * (n + 1);
		apply(r, CHLB_CHANGE_DEL, n + i, 1, 1);
		free(t1);
		free(b1);
		apply(r, CHLB_CHANGE_DEL, i, 1, 1);
		t1 = table_of(r, m, &nb, &b1);
		*del_ratio += moved_share(t0, b0, t1, b1, m) * n;
		apply(r, CHLB_CHANGE_ADD, i, 1, 1);
		free(t1);
		free(b1);
	}
	*add_ratio /= k;
	*del_ratio /= k;
	free(t0);
	free(b0);
}

/* ---- route() throughput --------------------------------------------- */

static char keys[NKEYS][24];
static size_t klen[NKEYS];
static struct chlb_ring *route_ring;
static int stop_writer;

static void make_keys(void)
{
	unsigned int s = 1;
	int i;

	for (i = 0; i < NKEYS; i++)	/* 10..20 bytes */
		klen[i] = (size_t)snprintf(keys[i], sizeof(keys[i]),
					   "user:%0*u", 5 + i % 11, rand_r(&s) % 100000);
}

static void *route_loop(void *arg)
{
	double *rate = arg;
	struct chlb_addr a;
	long long t0 = now_ns(), n = 0, t;
	int i;

	do {
		for (i = 0; i < NKEYS; i++)
			chlb_ring__route(route_ring, keys[i], klen[i], &a);
		n += NKEYS;
		t = now_ns() - t0;
	} while (t < ROUTE_NS);
	*rate = n * 1e9 / t;
	return NULL;
}

static void *churn(void *arg)
{
	int *changes = arg, i = 0;
	struct timespec d = { 0, 100000000 };

	while (!__atomic_load_n(&stop_writer, __ATOMIC_ACQUIRE)) {
		apply(route_ring, i % 2 ? CHLB_CHANGE_DEL : CHLB_CHANGE_ADD, 1000, 1, 1);
		i++;
		nanosleep(&d, NULL);
	}
	*changes = i;
	return NULL;
}

static void bench_route(json_object *j)
{
	double one, r2[2], ns;
	pthread_t t[2], w;
	int changes = 0;

	make_keys();
	route_ring = ring_with(100, 0, 0);
	route_loop(&one);		/* warm up */
	route_loop(&one);
	ns = 1e9 / one;
	stop_writer = 0;
	pthread_create(&w, NULL, churn, &changes);
	pthread_create(&t[0], NULL, route_loop, &r2[0]);
	pthread_create(&t[1], NULL, route_loop, &r2[1]);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	__atomic_store_n(&stop_writer, 1, __ATOMIC_RELEASE);
	pthread_join(w, NULL);
	printf("\nroute(), N=100, default V and M, keys of 10-20 bytes:\n");
	printf("  1 thread:  %6.2f ns/op  %7.2f Mops/s       (target <= 15 ns/op)\n",
	       ns, one / 1e6);
	printf("  2 threads: %6.2f Mops/s total, %.2fx one thread (target >= 1.9x), "
	       "writer made %d changes\n", (r2[0] + r2[1]) / 1e6,
	       (r2[0] + r2[1]) / one, changes);
	json_object_object_add(j, "route_ns_per_op", json_object_new_double(ns));
	json_object_object_add(j, "route_1t_ops", json_object_new_double(one));
	json_object_object_add(j, "route_2t_ops", json_object_new_double(r2[0] + r2[1]));
	json_object_object_add(j, "route_2t_ratio", json_object_new_double((r2[0] + r2[1]) / one));
	json_object_object_add(j, "route_2t_writer_changes", json_object_new_int(changes));
	chlb_ring__free(route_ring);
}

/* ---- the grid --------------------------------------------------------- */

static void bench_grid(json_object *arr)
{
	static const int ns[] = { 10, 100, 1000, 5000 };
	static const uint32_t vs[] = { 100, 160, 1000 };
	static const uint32_t ms[] = { 65536, 1048576 };
	double ms_b, mm, cv, da, dd;
	struct chlb_ring *r;
	json_object *o;
	size_t a, b, c;

	printf("%5s %5s %8s | %9s | %8s %6s | %-17s | %-17s | %9s\n", "N", "V", "M",
	       "build ms", "max/mean", "CV", "add: moved/opt", "remove: moved/opt",
	       "memory");
	for (a = 0; a < 4; a++)
		for (b = 0; b < 3; b++)
			for (c = 0; c < 2; c++) {
				r = ring_with(ns[a], vs[b], ms[c]);
				ms_b = build_ms(r);
				balance(r, ns[a], &mm, &cv);
				disruption(r, ns[a], ms[c], 1, &da, &dd);
				printf("%5d %5u %8u | %9.2f | %8.3f %6.3f | %5.3f (opt 1.00) | %5.3f (opt 1.00) | %6.1f MiB\n",
				       ns[a], vs[b], ms[c], ms_b, mm, cv, da, dd,
				       chlb_ring__memory(r) / 1048576.0);
				o = json_object_new_object();
				json_object_object_add(o, "n", json_object_new_int(ns[a]));
				json_object_object_add(o, "vnodes", json_object_new_int(vs[b]));
				json_object_object_add(o, "table_size", json_object_new_int(ms[c]));
				json_object_object_add(o, "build_ms", json_object_new_double(ms_b));
				json_object_object_add(o, "max_over_mean", json_object_new_double(mm));
				json_object_object_add(o, "cv", json_object_new_double(cv));
				json_object_object_add(o, "add_moved_over_optimum", json_object_new_double(da));
				json_object_object_add(o, "remove_moved_over_optimum", json_object_new_double(dd));
				json_object_object_add(o, "memory_bytes",
						       json_object_new_int64((int64_t)chlb_ring__memory(r)));
				json_object_array_add(arr, o);
				chlb_ring__free(r);
			}
}

/* ---- the two table fills ------------------------------------------ */

typedef int (*fill_fn)(struct chlb_snapshot *, struct chlb_build_buf *,
		       const struct chlb_cfg_backend *, size_t, uint32_t);

/* Best of 5 of one fill over r's configuration, warm scratch, in ms. */
static double fill_ms(struct chlb_ring *r, fill_fn fn)
{
	struct chlb_build_buf buf = { 0 };
	struct chlb_snapshot *s = NULL;
	double best = 1e9, t;
	long long t0;
	int k;

	if (chlb_snapshot_reserve(&s, r->opts.table_size, r->next_bid))
		exit(1);
	s->seed = r->opts.seed;
	for (k = 0; k < 5; k++) {
		t0 = now_ns();
		if (fn(s, &buf, r->cfg, r->ncfg, r->opts.vnodes))
			exit(1);
		t = (now_ns() - t0) / 1e6;
		best = t < best ? t : best;
	}
	chlb_build_buf_free(&buf);
	chlb_snapshot_free(s);
	return best;
}

/* Sorted array against per-slot minima, P/M from 1/64 to 76. */
static void bench_fills(json_object *arr)
{
	static const struct { int n; uint32_t v, m; } c[] = {
		{ 10, 100, 65537 }, { 100, 100, 65537 }, { 100, 160, 65537 },
		{ 100, 1000, 65537 }, { 1000, 160, 65537 }, { 1000, 1000, 65537 },
		{ 5000, 1000, 65537 }, { 1000, 160, 262147 }, { 1000, 1000, 262147 },
		{ 5000, 1000, 262147 }, { 1000, 1000, 524287 }, { 5000, 1000, 524287 },
		{ 10, 100, 1048576 }, { 100, 1000, 1048576 },
		{ 1000, 160, 1048576 }, { 1000, 1000, 1048576 }, { 5000, 1000, 1048576 },
	};
	double ts, tb, pm;
	struct chlb_ring *r;
	json_object *o;
	size_t k;

	printf("\ntable fill, best of 5 (ms): sorted array vs per-slot minima (buckets)\n");
	printf("%5s %5s %8s %9s | %8s %8s | %s\n", "N", "V", "M", "P/M", "sorted",
	       "buckets", "chlb_build uses");
	for (k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		r = ring_with(c[k].n, c[k].v, c[k].m);
		ts = fill_ms(r, chlb_build_sorted);
		tb = fill_ms(r, chlb_build_buckets);
		pm = (double)c[k].n * c[k].v / c[k].m;
		printf("%5d %5u %8u %9.3f | %8.2f %8.2f | %s\n", c[k].n, c[k].v,
		       c[k].m, pm, ts, tb,
		       chlb_build_uses_buckets((uint64_t)c[k].n * c[k].v, c[k].m) ? "buckets" : "sorted");
		o = json_object_new_object();
		json_object_object_add(o, "n", json_object_new_int(c[k].n));
		json_object_object_add(o, "vnodes", json_object_new_int(c[k].v));
		json_object_object_add(o, "table_size", json_object_new_int(c[k].m));
		json_object_object_add(o, "sorted_ms", json_object_new_double(ts));
		json_object_object_add(o, "buckets_ms", json_object_new_double(tb));
		json_object_array_add(arr, o);
		chlb_ring__free(r);
	}
}

/* Candidate defaults at N=100: balance, and disruption averaged over 10. */
static void bench_defaults(json_object *arr)
{
	static const uint32_t vs[] = { 160, 1000, 2000 };
	static const uint32_t ms[] = { 65537, 262147, 1048576 };
	double mm, cv, da, dd, bms;
	struct chlb_ring *r;
	json_object *o;
	size_t a, b;

	printf("\nchoosing defaults, N=100 (disruption: mean of 10 adds / removes):\n");
	for (a = 0; a < 3; a++)
		for (b = 0; b < 3; b++) {
			r = ring_with(100, vs[a], ms[b]);
			bms = build_ms(r);
			balance(r, 100, &mm, &cv);
			disruption(r, 100, ms[b], 10, &da, &dd);
			printf("  V=%-5u M=%-8u max/mean %.3f (target <= 1.10)  CV %.3f  add %.3f  remove %.3f x optimum (target <= 1.05)  build %.2f ms%s\n",
			       vs[a], ms[b], mm, cv, da, dd, bms,
			       vs[a] == CHLB_DEFAULT_VNODES && ms[b] == CHLB_DEFAULT_TABLE_SIZE ?
			       "  <- default" : "");
			o = json_object_new_object();
			json_object_object_add(o, "vnodes", json_object_new_int(vs[a]));
			json_object_object_add(o, "table_size", json_object_new_int(ms[b]));
			json_object_object_add(o, "max_over_mean", json_object_new_double(mm));
			json_object_object_add(o, "add_moved_over_optimum", json_object_new_double(da));
			json_object_object_add(o, "remove_moved_over_optimum", json_object_new_double(dd));
			json_object_array_add(arr, o);
			chlb_ring__free(r);
		}
}

int main(int argc, char **argv)
{
	json_object *j = json_object_new_object(), *grid, *defs, *fills;
	const char *out = NULL;

	if (argc == 3 && !strcmp(argv[1], "--json"))
		out = argv[2];
	grid = json_object_new_array();
	defs = json_object_new_array();
	fills = json_object_new_array();
	if (getenv("BENCH_RING_FILLS_ONLY")) {	/* quick look while tuning */
		bench_fills(fills);
	} else {
		bench_grid(grid);
		bench_fills(fills);
		bench_defaults(defs);
		bench_route(j);
	}
	json_object_object_add(j, "grid", grid);
	json_object_object_add(j, "defaults_n100", defs);
	json_object_object_add(j, "fills", fills);
	json_object_object_add(j, "default_vnodes", json_object_new_int(CHLB_DEFAULT_VNODES));
	json_object_object_add(j, "default_table_size", json_object_new_int(CHLB_DEFAULT_TABLE_SIZE));
	if (out && json_object_to_file_ext(out, j, JSON_C_TO_STRING_PRETTY)) {
		fprintf(stderr, "cannot write %s\n", out);
		return 1;
	}
	json_object_put(j);
	return 0;
}
