// SPDX-License-Identifier: GPL-2.0
/*
 * Per-packet cost of the XDP program via BPF_PROG_TEST_RUN, beside two
 * baselines measured in the same run on the same frame: a trivial
 * XDP_PASS program and an XDP_TX MAC swap. The flow table's paths (a
 * set-associative cache in an array, include/chlb/shared.h) are measured
 * for a hit, a new flow into an empty table and into a full one, and a new
 * flow under a flood (every way of every bucket busy: refused, forwarded
 * by the table), with the table's lines cold and warm, also with two CPUs
 * inserting at once, and its memory per entry.
 *
 * New flows: `repeat` reruns one buffer, which would be a hit from the
 * second run on. The objects for new flows are loaded with the rodata
 * knob bench_fresh_flows (bpf/chlb.bpf.c), which adds 1 to the source
 * address before the flow key is read, so every run is a new five-tuple.
 * Its own cost is measured on the stateless path (the same object with
 * the knob off and on) and taken off the new-flow figures ("net").
 * Beside them, for comparison, the kernel's per-CPU LRU hash of the same
 * size (tests/bpf/lru_insert.bpf.c): a lookup miss and an insert, nothing
 * else, which is what the flow table cost before it became a cache.
 *
 * `repeat` runs the program again on the same buffer. That is valid here:
 * the VIP path rewrites only the Ethernet addresses, which chlb never
 * matches on, so every iteration takes the same path as the first (the
 * retval of the whole run is checked, too).
 *
 * Method ipip (IPv4 in IPv4, IPv6 in IPv6, flow table off): the frames
 * are run as received on a veth of a private network namespace
 * (tests/helpers/ipip_net.h) whose route to the backends leaves by the
 * same interface, via a gateway with a permanent neighbour entry, so
 * bpf_fib_lookup() answers and the frame leaves with XDP_TX. The ipip
 * rows take the next hop from the per-CPU cache (bpf/encap.h), as almost
 * every frame does (a lookup once a TTL); the 'uncached' rows, loaded
 * with the cache off, look it up for every frame. The
 * encapsulation grows the buffer, so these objects are loaded with the
 * rodata knob bench_encap_restore (bpf/encap.h): once built, the frame is
 * put back as it came (one bpf_xdp_adjust_head() and two stores). Its
 * cost is estimated as half of a program that makes the same call and
 * stores and the call back (tests/bpf/xdp_head_pair.bpf.c) beyond
 * XDP_PASS, and taken off in the 'net' rows. Without a namespace the
 * ipip rows say SKIPPED.
 *
 * Timing: the thread's CPU time around each BPF_PROG_TEST_RUN call, less
 * the call's own (call_ns, calibrated every round), divided by its
 * iterations. The kernel's own figure is truncated to whole nanoseconds, a
 * seventh of the 7 ns MAC swap on this machine, and the wall clock counts
 * the time other jobs on a shared machine take the CPU.
 * The machine may be shared (CI, other jobs): every job runs once
 * per round, rounds interleave the jobs, and each figure is the median
 * over the rounds with its spread (the quartiles); a ratio is the median
 * of the per-round ratios, so a slow round slows a figure and its
 * baseline alike.
 *
 * Usage: bench_xdp [--json FILE] [--repeat N] [--runs N]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "chlb/shared.h"	/* the skeleton names its types */
#include "chlb.skel.h"
#include "xdp_pass.skel.h"
#include "xdp_macswap.skel.h"
#include "lru_insert.skel.h"
#include "xdp_head_pair.skel.h"
#include "dp/dataplane.h"
#include "helpers/cpu.h"
#include "helpers/ipip_net.h"
#include "helpers/pkt.h"


#define BENCH_TABLE_SIZE 65537
#define BENCH_BACKENDS 3
#define MAX_RUNS 200

struct bench_cfg {
	__u32 repeat;
	int runs;
	const char *json;
};

struct frame {
	__u8 data[PKT_MAX];
	__u32 len;
	__u32 ifindex;		/* received on (ipip); 0: lo */
};

static double now_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/*
 * The CPU time of a call of BPF_PROG_TEST_RUN beside its iterations: with
 * repeat > 1 the kernel installs the program in the XDP dispatcher and
 * removes it again (about 0.35 ms of CPU here, 26 ms of wall time).
 * Measured each round with repeat 2 of the XDP_PASS program.
 */
static double call_ns;

/*
 * One run of repeat iterations; its CPU time per iteration, less the
 * call's (call_ns). The verdict must match.
 */
static int bench_once(int prog_fd, const struct frame *f, __u32 want, __u32 repeat,
		      double *ns)
{
	__u8 buf[PKT_MAX];
	struct xdp_md ctx = { .data_end = f->len, .ingress_ifindex = f->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = f->len,
		    .repeat = repeat);
	double t0;

	if (f->ifindex) {	/* as received there: bpf_fib_lookup() needs it */
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	memcpy(buf, f->data, f->len);
	t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	*ns = (now_ns(CLOCK_THREAD_CPUTIME_ID) - t0 - call_ns) / repeat;
	if (o.retval != want) {
		fprintf(stderr, "Error: verdict %u, expected %u\n", o.retval, want);
		return -EINVAL;
	}
	return 0;
}

/* One VIP with three backends spread over its table. */
static int setup_vip(struct chlb *skel)
{
	struct chlb_vip_info info = { .id = 0, .method = CHLB_METHOD_DSR };
	struct chlb_backend be = { .weight = 1, .flags = CHLB_BACKEND_F_IN_USE };
	struct chlb_vip_key vk;
	struct chlb_dp dp;
	__u32 *slots, i;
	int err;

	err = chlb_dp__from_skel(skel, &dp);
	if (err)
		return err;
	pkt_vip_key(4, "10.0.0.100", 80, IPPROTO_TCP, &vk);
	err = chlb_dp__vip_add(&dp, &vk, &info);
	if (err)
		return err;
	for (i = 0; i < BENCH_BACKENDS; i++) {
		be.mac[5] = 0x10 + i;
		if (bpf_map_update_elem(dp.backends_fd, &i, &be, BPF_ANY))
			return -errno;
	}
	slots = malloc(BENCH_TABLE_SIZE * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < BENCH_TABLE_SIZE; i++)
		slots[i] = i % BENCH_BACKENDS;
	err = chlb_dp__set_table(&dp, 0, slots);
	free(slots);
	return err;
}

/* Method ipip: a VIP with three backends behind IPIP_GW0 (ipip_net.h). */
#define IPIP_PORT 81

static int setup_ipip_vip(struct chlb *skel, int family, __u32 vip_id)
{
	static const char *const be4[] = { "10.1.0.2", "10.1.0.3", "10.1.0.4" };
	static const char *const be6[] = { "2001:db8:b::2", "2001:db8:b::3", "2001:db8:b::4" };
	struct chlb_vip_info info = { .id = vip_id, .method = CHLB_METHOD_IPIP };
	struct chlb_backend be = { .weight = 1, .vip_id = vip_id, .flags = CHLB_BACKEND_F_IN_USE };
	struct chlb_vip_key vk;
	struct chlb_dp dp;
	__u32 *slots, i, id;
	int err;

	err = chlb_dp__from_skel(skel, &dp);
	if (!err)
		err = pkt_vip_key(family, family == 4 ? "10.0.0.100" : "2001:db8::100", IPIP_PORT,
				  IPPROTO_TCP, &vk);
	if (!err)
		err = chlb_dp__vip_add(&dp, &vk, &info);
	for (i = 0; !err && i < BENCH_BACKENDS; i++) {
		id = vip_id * BENCH_BACKENDS + i;
		err = pkt_vip_key(family, family == 4 ? be4[i] : be6[i], 0, 0, &vk);
		memcpy(be.addr, vk.addr, sizeof(be.addr));
		if (!err && bpf_map_update_elem(dp.backends_fd, &id, &be, BPF_ANY))
			err = -errno;
	}
	if (err)
		return err;
	slots = malloc(BENCH_TABLE_SIZE * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < BENCH_TABLE_SIZE; i++)
		slots[i] = vip_id * BENCH_BACKENDS + i % BENCH_BACKENDS;
	err = chlb_dp__set_table(&dp, vip_id, slots);
	free(slots);
	return err;
}

/* The outer sources: a /24 and a /112, flows spread over them (bpf/encap.h). */
static void ipip_ranges(struct chlb_encap_src *src)
{
	struct chlb_vip_key k;

	pkt_vip_key(4, "172.16.0.0", 0, 0, &k);
	src[0] = (struct chlb_encap_src){ .prefix_len = 24, .family = CHLB_FAMILY_INET };
	memcpy(src[0].addr, k.addr, CHLB_ADDR_LEN);
	pkt_vip_key(6, "2001:db8:5::", 0, 0, &k);
	src[1] = (struct chlb_encap_src){ .prefix_len = 112, .family = CHLB_FAMILY_INET6 };
	memcpy(src[1].addr, k.addr, CHLB_ADDR_LEN);
}

/* A TCP frame src -> dst:dport with 64 bytes of payload, IPv4 or IPv6 as src is. */
static int make_frame_from(const char *src, const char *dst, __u16 dport, struct frame *f)
{
	struct pkt_spec s = {
		.family = strchr(src, ':') ? 6 : 4, .proto = IPPROTO_TCP, .src = src,
		.dst = dst, .sport = 40000, .dport = dport,
		.payload_len = 64,
	};
	ssize_t n = pkt_build(&s, f->data, sizeof(f->data));

	if (n < 0)
		return n;
	f->len = n;
	f->ifindex = 0;
	return 0;
}

static int make_frame(const char *dst, __u16 dport, struct frame *f)
{
	return make_frame_from("192.168.1.7", dst, dport, f);
}

/* The rows; J_NET and after are derived (net of the fresh-flow knob). */
enum {
	J_PASS, J_SWAP, J_VIP, J_KNOB, J_NONVIP, J_NONVIP_PORT, J_HIT, J_NEW, J_FULL, J_FLOOD,
	J_WARM, J_KERN, J_KERN_FULL, J_IPIP4, J_IPIP6, J_IPIP4_NC, J_IPIP6_NC, J_PAIR, J_NET
};

/* What a job's flow table must hold before each of its runs. */
enum prep {
	PREP_NONE,
	PREP_EMPTY,	/* emptied: new flows find room */
	PREP_BUSY,	/* every way busy (a flood that confirmed its flows) */
};

/* A figure and what it is compared with (0: a baseline itself). */
struct job {
	const char *name;
	const char *key;	/* JSON: <key>_ns, <key>_vs_<base> */
	int prog_fd;		/* -1: derived (net of the knob) from job src */
	const struct frame *frame;
	__u32 verdict;
	int base;		/* index of the baseline job, -1: none */
	double target;		/* ratio to the baseline, 0: none */
	enum prep prep;
	int prep_fd;		/* the flow table prep applies to */
	int cold;		/* runs of ROOM_REPEAT: the table's lines mostly cold */
	int src;		/* derived jobs: the raw job */
	int restore;		/* derived jobs: net of bench_encap_restore, not the flow knob */
	int skip;		/* not measured (ipip without a network namespace) */
	double ns[MAX_RUNS];	/* per round */
};

/*
 * Runs that must find room in the flow table insert this many flows each,
 * into an emptied table: a fifth of its 2^18 entries, so almost every
 * insert finds an empty way (and the kernel baseline's per-CPU LRU, a
 * CPU's share of its 2^18, evicts nothing). Runs against a prepared table
 * are as short, so the preparation holds through the run.
 */
#define ROOM_REPEAT 50000

/* Empty the kernel LRU baseline's map (outside the timed runs). */
static int empty_lru(int fd)
{
	static struct chlb_flow_key keys[4096];
	static struct chlb_flow_way vals[4096];
	__u32 batch, count;
	int err;
	void *in = NULL;

	do {
		count = 4096;
		err = bpf_map_lookup_and_delete_batch(fd, in, &batch, keys, vals, &count, NULL);
		in = &batch;
	} while (!err);
	return err == -ENOENT ? 0 : err;
}

/*
 * Every bucket of a flow table set to b (1024 at a time), or an LRU hash
 * emptied.
 */
static int fill_flows(int fd, const struct chlb_flow_bucket *b)
{
	static struct chlb_flow_bucket vals[1024];	/* 128 KiB */
	static __u32 idx[1024];
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), i, n, count;
	int err;

	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err)
		return err;
	if (info.type != BPF_MAP_TYPE_ARRAY)
		return empty_lru(fd);
	for (i = 0; i < 1024; i++)
		vals[i] = *b;
	for (i = 0; i < info.max_entries; i += n) {
		n = info.max_entries - i < 1024 ? info.max_entries - i : 1024;
		for (count = 0; count < n; count++)
			idx[count] = i + count;
		count = n;
		err = bpf_map_update_batch(fd, idx, vals, &count, NULL);
		if (err)
			return err;
	}
	return 0;
}

/* Every way of every bucket busy: confirmed, seen now, some other flow's. */
static int fill_busy(int fd)
{
	struct chlb_flow_bucket b = {};
	int i;

	for (i = 0; i < CHLB_FLOW_WAYS; i++) {
		b.way[i].seen = chlb_flow_clock(now_ns(CLOCK_MONOTONIC_COARSE)) |
				CHLB_FLOW_F_CONFIRMED;
		b.way[i].sport = 1 + i;
	}
	return fill_flows(fd, &b);
}

static int prepare(const struct job *j)
{
	static const struct chlb_flow_bucket empty;

	if (j->prep == PREP_EMPTY)
		return fill_flows(j->prep_fd, &empty);
	if (j->prep == PREP_BUSY)
		return fill_busy(j->prep_fd);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of n values, interpolated. */
static double quantile(const double *v, int n, double q)
{
	double s[MAX_RUNS], pos;
	int i;

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	pos = q * (n - 1);
	i = (int)pos;
	return i + 1 < n ? s[i] + (pos - i) * (s[i + 1] - s[i]) : s[i];
}

/* A job's per-round ratios to its baseline. */
static void ratios(const struct job *j, int i, int n, double *r)
{
	int k;

	for (k = 0; k < n; k++)
		r[k] = j[i].base < 0 ? 1.0 : j[i].ns[k] / j[j[i].base].ns[k];
}

static void print_results(const struct job *j, int n, int runs, __u32 repeat)
{
	char ns[32], ratio[32], target[16];
	double r[MAX_RUNS];
	int i;

	printf("%-38s %-20s %-20s %s\n", "program (median of rounds)", "ns/pkt [quartiles]",
	       "ratio [quartiles]", "target");
	for (i = 0; i < n; i++) {
		if (j[i].skip) {
			printf("%-38s SKIPPED (no network namespace)\n", j[i].name);
			continue;
		}
		ratios(j, i, runs, r);
		snprintf(ns, sizeof(ns), "%.1f [%.1f-%.1f]", quantile(j[i].ns, runs, 0.5),
			 quantile(j[i].ns, runs, 0.25), quantile(j[i].ns, runs, 0.75));
		snprintf(ratio, sizeof(ratio), "%.2fx [%.2f-%.2f]", quantile(r, runs, 0.5),
			 quantile(r, runs, 0.25), quantile(r, runs, 0.75));
		snprintf(target, sizeof(target), j[i].target ? "<=%.1fx %s" : "-", j[i].target,
			 quantile(r, runs, 0.5) <= j[i].target ? "met" : "MISSED");
		printf("%-38s %-20s %-20s %s\n", j[i].name, ns, j[i].base < 0 ? "-" : ratio, target);
	}
	printf("(%d interleaved rounds; CPU time less the call's. Ratios: VIP and flow\n"
	       " paths vs the XDP_TX MAC swap, non-VIP paths vs XDP_PASS. Non-VIP: a port no\n"
	       " VIP uses, stopped by the port filter; VIP port: another address on a VIP's\n"
	       " port, which also searches the VIP index. Flow hit: an established flow\n"
	       " found in the flow table. New flow: lookup miss + insert, a fresh source\n"
	       " address per run, into an emptied table or a full one (evicting flows not\n"
	       " yet confirmed); flood: every way busy, so the new flow is forwarded by the\n"
	       " table without being recorded. Those three in runs of %d random buckets,\n"
	       " whose lines are mostly cold; 'warm': runs of %u into a full table, which\n"
	       " the run keeps in the CPU's caches. The knob that makes flows fresh costs\n"
	       " the difference of the two stateless rows and is subtracted in the 'net'\n"
	       " figures. Kernel: a per-CPU LRU hash of the same size, a miss and an\n"
	       " insert, nothing else. ipip: a frame encapsulated to a backend through\n"
	       " the FIB's next hop, XDP_TX, then put back for the next run: the next hop\n"
	       " from the per-CPU cache (filled once a TTL), or 'uncached' from a\n"
	       " bpf_fib_lookup() every frame; 'head pair'\n"
	       " makes that restore's call twice, and half of it beyond XDP_PASS is taken\n"
	       " off in the 'net' rows)\n", runs, ROOM_REPEAT, repeat);
}

static void json_add_double(struct json_object *o, const char *a, const char *b, double v)
{
	char key[96];

	snprintf(key, sizeof(key), "%s%s", a, b);
	json_object_object_add(o, key, json_object_new_double((double)(long long)(v * 1000 + 0.5) /
							      1000));
}

static int write_json(const char *path, const struct job *j, int n,
		      struct json_object *extra, const struct bench_cfg *cfg)
{
	struct json_object *o = json_object_new_object();
	char suffix[64];
	double r[MAX_RUNS];
	int i, err = 0;

	json_object_object_add(o, "repeat", json_object_new_int64(cfg->repeat));
	json_object_object_add(o, "runs", json_object_new_int(cfg->runs));
	for (i = 0; i < n; i++) {
		if (j[i].skip)
			continue;
		json_add_double(o, j[i].key, "_ns", quantile(j[i].ns, cfg->runs, 0.5));
		json_add_double(o, j[i].key, "_p25_ns", quantile(j[i].ns, cfg->runs, 0.25));
		json_add_double(o, j[i].key, "_p75_ns", quantile(j[i].ns, cfg->runs, 0.75));
		if (j[i].base < 0)
			continue;
		ratios(j, i, cfg->runs, r);
		snprintf(suffix, sizeof(suffix), "_vs_%s", j[j[i].base].key);
		json_add_double(o, j[i].key, suffix, quantile(r, cfg->runs, 0.5));
		snprintf(suffix, sizeof(suffix), "_vs_%s_p25", j[j[i].base].key);
		json_add_double(o, j[i].key, suffix, quantile(r, cfg->runs, 0.25));
		snprintf(suffix, sizeof(suffix), "_vs_%s_p75", j[j[i].base].key);
		json_add_double(o, j[i].key, suffix, quantile(r, cfg->runs, 0.75));
		if (j[i].target)
			json_add_double(o, "target_", j[i].key, j[i].target);
	}
	json_object_object_foreach(extra, k, v)
		json_object_object_add(o, k, json_object_get(v));
	if (json_object_to_file_ext(path, o, JSON_C_TO_STRING_PRETTY))
		err = -EIO;
	json_object_put(o);
	return err;
}

static int parse_args(int argc, char **argv, struct bench_cfg *cfg)
{
	static const struct option lopts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "runs", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		if (c == 'j')
			cfg->json = optarg;
		else if (c == 'r')
			cfg->repeat = strtoul(optarg, NULL, 0);
		else if (c == 'n')
			cfg->runs = atoi(optarg);
		else
			return -EINVAL;
	}
	return cfg->repeat && cfg->runs > 0 && cfg->runs <= MAX_RUNS ? 0 : -EINVAL;
}

/* call_ns: the median of 5 calls with repeat 2 (their 4 iterations are noise). */
static int calibrate(int pass_fd, const struct frame *f)
{
	double ns[5];
	int i, err;

	call_ns = 0;
	for (i = 0; i < 5; i++) {
		err = bench_once(pass_fd, f, XDP_PASS, 2, &ns[i]);
		if (err)
			return err;
		ns[i] *= 2;
	}
	call_ns = quantile(ns, 5, 0.5);
	return 0;
}

/*
 * Rounds interleave the jobs (each program once per round), so a noisy
 * neighbour on the machine hits every program alike. Round -1 warms up
 * (and fills the tables that must be full); it is not counted.
 */
static int bench_jobs(struct job *jobs, int n, const struct bench_cfg *cfg)
{
	double warm;
	__u32 repeat;
	int r, i, err;

	for (r = -1; r < cfg->runs; r++) {
		err = calibrate(jobs[J_PASS].prog_fd, jobs[J_PASS].frame);
		if (err)
			return err;
		for (i = 0; i < n; i++) {
			if (jobs[i].prog_fd < 0 || jobs[i].skip)
				continue;
			repeat = jobs[i].cold && cfg->repeat > ROOM_REPEAT ? ROOM_REPEAT :
									     cfg->repeat;
			err = prepare(&jobs[i]);
			if (!err)
				err = bench_once(jobs[i].prog_fd, jobs[i].frame, jobs[i].verdict,
						 repeat, r < 0 ? &warm : &jobs[i].ns[r]);
			if (err)
				return err;
		}
	}
	return 0;
}

/* The chlb objects measured: the flow table off or on, fresh flows or not. */
enum {
	LB_OFF, LB_OFF_FRESH, LB_PCPU, LB_PCPU_FRESH, LB_FULL_FRESH, LB_BUSY_FRESH, LB_IPIP,
	LB_IPIP_NC, LB_N
};

static const struct {
	__u32 flows;
	int fresh;
	int restore;	/* ipip VIPs, frames put back after each run */
	int nocache;	/* ipip: no next-hop cache, a FIB lookup every frame */
} lb_kinds[LB_N] = {
	[LB_OFF] = { 0, 0 },
	[LB_IPIP] = { 0, 0, 1 },
	[LB_IPIP_NC] = { 0, 0, 1, 1 },
	[LB_OFF_FRESH] = { 0, 1 },
	[LB_PCPU] = { CHLB_DEFAULT_FLOW_ENTRIES, 0 },
	[LB_PCPU_FRESH] = { CHLB_DEFAULT_FLOW_ENTRIES, 1 },
	[LB_FULL_FRESH] = { CHLB_DEFAULT_FLOW_ENTRIES, 1 },
	[LB_BUSY_FRESH] = { CHLB_DEFAULT_FLOW_ENTRIES, 1 },
};

/* Flow table entries: chlb's default, or $CHLB_BENCH_FLOWS to see the cache's share. */
static __u32 bench_flows(void)
{
	const char *e = getenv("CHLB_BENCH_FLOWS");

	return e && atoi(e) > 0 ? (__u32)atoi(e) : CHLB_DEFAULT_FLOW_ENTRIES;
}

static int load_lb(int kind, struct chlb **lb)
{
	struct chlb_dp_opts opts = {
		.max_vips = CHLB_DEFAULT_MAX_VIPS, .max_backends = CHLB_DEFAULT_MAX_BACKENDS,
		.table_size = BENCH_TABLE_SIZE, .seed = 0x5eed,
		.if_mac = { 0x02, 0, 0, 0, 0, 0xfe },
		.flow_entries = lb_kinds[kind].flows ? bench_flows() : 0,
		.bench_fresh_flows = lb_kinds[kind].fresh,
		.bench_encap_restore = lb_kinds[kind].restore,
		.nexthop_ttl_ns = lb_kinds[kind].nocache ? -1 : 0,
	};
	int err;

	ipip_ranges(opts.encap);
	err = chlb_dp__load(&opts, lb);
	if (!err)
		err = setup_vip(*lb);
	if (!err && lb_kinds[kind].restore)
		err = setup_ipip_vip(*lb, 4, 1);
	if (!err && lb_kinds[kind].restore)
		err = setup_ipip_vip(*lb, 6, 2);
	return err;
}

/*
 * The kernel-only baseline: a per-CPU LRU hash of chlb_flows' size, a
 * lookup miss and an insert per run, so the new-flow rows can be read as
 * the kernel's share plus chlb's.
 */
static int load_kern(struct chlb *like, struct lru_insert **kern)
{
	struct lru_insert *k = lru_insert__open();
	int err;

	if (!k)
		return -errno;
	*kern = k;
	k->rodata->lookup_first = 1;
	/* as large as chlb's flow cache, per-CPU LRU lists */
	err = bpf_map__set_max_entries(k->maps.flows,
				       bpf_map__max_entries(like->maps.chlb_flows) * CHLB_FLOW_WAYS);
	return err ? err : lru_insert__load(k);
}

/* The kernel's own accounting of a map's memory, from fdinfo. */
static long long fd_memlock(int fd)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/*
 * Memory per flow entry: the kernel's memlock of flow tables of two sizes,
 * shaped as chlb_flows (buckets of CHLB_FLOW_WAYS entries); the slope is
 * the cost of one more entry.
 */
static int bench_flow_memory(struct json_object *extra)
{
	const __u32 n[2] = { 1u << 16, CHLB_DEFAULT_FLOW_ENTRIES };
	long long mem[2];
	double per;
	int i, fd;

	for (i = 0; i < 2; i++) {
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "flow_mem", sizeof(__u32),
				    sizeof(struct chlb_flow_bucket), n[i] / CHLB_FLOW_WAYS, NULL);
		if (fd < 0)
			return -errno;
		mem[i] = fd_memlock(fd);
		close(fd);
		if (mem[i] < 0)
			return -EIO;
	}
	per = (double)(mem[1] - mem[0]) / (n[1] - n[0]);
	printf("flow table memory: %u entries %lld B, %u entries %lld B: %.1f B an entry\n",
	       n[0], mem[0], n[1], mem[1], per);
	json_object_object_add(extra, "flow_entry_bytes", json_object_new_double(per));
	json_object_object_add(extra, "flow_table_default_entries", json_object_new_int64(n[1]));
	json_object_object_add(extra, "flow_table_default_bytes", json_object_new_int64(mem[1]));
	return 0;
}

/* One thread of the two-CPU new-flow run: its own sources, its own CPU. */
struct cpu_run {
	pthread_t tid;
	int cpu, prog_fd, err;
	__u32 repeat;
	struct frame f;
	double ns;
};

static void *cpu_run_main(void *arg)
{
	struct cpu_run *r = arg;

	r->err = cpu_pin(r->cpu);
	if (!r->err)
		r->err = bench_once(r->prog_fd, &r->f, XDP_TX, r->repeat, &r->ns);
	return NULL;
}

/* Both CPUs inserting new flows at once into one table; mean ns/pkt. */
static int two_cpu_round(int prog_fd, __u32 repeat, double *ns)
{
	static const char *const src[2] = { "10.1.0.1", "10.200.0.1" };	/* 2^24+ apart */
	struct cpu_run r[2];
	int i, err = 0;

	for (i = 0; i < 2; i++) {
		r[i] = (struct cpu_run){ .cpu = i, .prog_fd = prog_fd, .repeat = repeat };
		err = make_frame_from(src[i], "10.0.0.100", 80, &r[i].f);
		if (err)
			return err;
	}
	for (i = 0; i < 2; i++)
		if (pthread_create(&r[i].tid, NULL, cpu_run_main, &r[i]))
			return -EAGAIN;
	for (i = 0; i < 2; i++) {
		pthread_join(r[i].tid, NULL);
		err = err ? err : r[i].err;
	}
	*ns = (r[0].ns + r[1].ns) / 2;
	return err;
}

/*
 * Two CPUs inserting at once share the flow cache's lines (and may tear
 * a way, which the tag catches). Median of 9 rounds.
 */
static int bench_two_cpus(struct chlb **lb, int pass_fd, struct json_object *extra)
{
	struct frame pass_frame;
	static const struct chlb_flow_bucket empty;
	double ns[9];
	int r, err;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("two-CPU new flows: SKIPPED (one CPU online)\n");
		return 0;
	}
	err = make_frame("10.0.0.100", 80, &pass_frame);
	if (err)
		return err;
	for (r = 0; r < 9; r++) {
		err = calibrate(pass_fd, &pass_frame);
		if (!err)
			err = fill_flows(bpf_map__fd(lb[LB_PCPU_FRESH]->maps.chlb_flows), &empty);
		if (!err)
			err = two_cpu_round(bpf_program__fd(lb[LB_PCPU_FRESH]->progs.chlb_xdp),
					    ROOM_REPEAT / 2, &ns[r]);
		if (err)
			return err;
	}
	printf("new flows on two CPUs at once, with room (+knob): %.1f ns/pkt median "
	       "[%.1f-%.1f]\n", quantile(ns, 9, 0.5), quantile(ns, 9, 0.25), quantile(ns, 9, 0.75));
	json_object_object_add(extra, "new_flow_two_cpus_raw_ns",
			       json_object_new_double(quantile(ns, 9, 0.5)));
	return 0;
}

static int lb_fd(struct chlb **lb, int kind)
{
	return bpf_program__fd(lb[kind]->progs.chlb_xdp);
}

static int lb_flows_fd(struct chlb **lb, int kind)
{
	return bpf_map__fd(lb[kind]->maps.chlb_flows);
}

/*
 * Derived rows: a fresh-flow row per round, less the knob's own cost; an
 * ipip row, less the restore's (half the head pair beyond XDP_PASS).
 */
static void net_of_knob(struct job *j, int n, int runs)
{
	double knob;
	int i, r;

	for (i = 0; i < n; i++) {
		for (r = 0; j[i].prog_fd < 0 && r < runs; r++) {
			knob = j[i].restore ? (j[J_PAIR].ns[r] - j[J_PASS].ns[r]) / 2 :
					      j[J_KNOB].ns[r] - j[J_VIP].ns[r];
			j[i].ns[r] = j[j[i].src].ns[r] - knob;
		}
	}
}

/* The ipip rows' frames, programs and interface; skipped without one. */
static int ipip_jobs(struct job *jobs, int n, struct chlb **lb, int pair_fd, __u32 ifindex)
{
	static struct frame v4, v6;
	int i, err;

	for (i = 0; i < n; i++)
		jobs[i].skip = !ifindex && (i == J_IPIP4 || i == J_IPIP6 || i == J_IPIP4_NC ||
					    i == J_IPIP6_NC || i == J_PAIR || jobs[i].restore);
	if (!ifindex)
		return 0;
	err = make_frame("10.0.0.100", IPIP_PORT, &v4);
	if (!err)
		err = make_frame_from("2001:db8:99::7", "2001:db8::100", IPIP_PORT, &v6);
	if (err)
		return err;
	v4.ifindex = v6.ifindex = ifindex;
	jobs[J_IPIP4].frame = jobs[J_IPIP4_NC].frame = &v4;
	jobs[J_IPIP6].frame = jobs[J_IPIP6_NC].frame = &v6;
	jobs[J_IPIP4].prog_fd = jobs[J_IPIP6].prog_fd = lb_fd(lb, LB_IPIP);
	jobs[J_IPIP4_NC].prog_fd = jobs[J_IPIP6_NC].prog_fd = lb_fd(lb, LB_IPIP_NC);
	jobs[J_PAIR].prog_fd = pair_fd;
	return 0;
}

static int run_all(struct bench_cfg *cfg, struct chlb **lb, int pass_fd, int swap_fd,
		   int pair_fd, __u32 ipip_if, struct lru_insert *kern,
		   struct json_object *extra)
{
	static struct job jobs[] = {
		[J_PASS] = { "xdp_pass (baseline)", "xdp_pass", .verdict = XDP_PASS, .base = -1 },
		[J_SWAP] = { "xdp_macswap (baseline)", "xdp_macswap", .verdict = XDP_TX,
			     .base = -1 },
		[J_VIP] = { "chlb VIP path, table off", "vip_path", .verdict = XDP_TX,
			    .base = J_SWAP, .target = 1.8 },
		[J_KNOB] = { "  same, fresh-flow knob on", "vip_path_knob", .verdict = XDP_TX,
			     .base = J_SWAP },
		[J_NONVIP] = { "chlb non-VIP path", "non_vip_path", .verdict = XDP_PASS,
			       .base = J_PASS, .target = 1.3 },
		[J_NONVIP_PORT] = { "chlb non-VIP, VIP port", "non_vip_vip_port",
				    .verdict = XDP_PASS, .base = J_PASS },
		[J_HIT] = { "flow hit", "flow_hit", .verdict = XDP_TX, .base = J_SWAP,
			    .target = 2.6 },
		[J_NEW] = { "new flow, empty table (+knob)", "new_flow_raw", .verdict = XDP_TX,
			    .base = J_SWAP, .prep = PREP_EMPTY, .cold = 1 },
		[J_FULL] = { "new flow, full table (+knob)", "new_flow_evict_raw",
			     .verdict = XDP_TX, .base = J_SWAP, .cold = 1 },
		[J_FLOOD] = { "new flow, flood: refused (+knob)", "new_flow_flood_raw",
			      .verdict = XDP_TX, .base = J_SWAP, .prep = PREP_BUSY, .cold = 1 },
		[J_WARM] = { "new flow, full table, warm (+knob)", "new_flow_warm_raw",
			     .verdict = XDP_TX, .base = J_SWAP },
		/* the kernel alone: lookup miss + insert of a fresh key, no chlb */
		[J_KERN] = { "kernel LRU miss+insert (no chlb)", "kernel_new_flow",
			     .verdict = XDP_TX, .base = J_SWAP, .prep = PREP_EMPTY, .cold = 1 },
		[J_KERN_FULL] = { "  same, full table", "kernel_new_flow_evict", .verdict = XDP_TX,
				  .base = J_SWAP },
		/* method ipip, flow table off, frames put back after each run */
		[J_IPIP4] = { "ipip 4in4, table off (+restore)", "ipip4_raw", .verdict = XDP_TX,
			      .base = J_SWAP },
		[J_IPIP6] = { "ipip 6in6, table off (+restore)", "ipip6_raw", .verdict = XDP_TX,
			      .base = J_SWAP },
		[J_IPIP4_NC] = { "  same, next hop uncached", "ipip4_uncached_raw",
				 .verdict = XDP_TX, .base = J_SWAP },
		[J_IPIP6_NC] = { "  6in6, next hop uncached", "ipip6_uncached_raw",
				 .verdict = XDP_TX, .base = J_SWAP },
		[J_PAIR] = { "head pair (the restore, twice)", "head_pair", .verdict = XDP_TX,
			     .base = J_PASS },
		/* the knob's cost taken off the chlb new-flow rows */
		{ "new flow, empty table, net", "new_flow", -1, .base = J_SWAP, .target = 4.0,
		  .src = J_NEW },
		{ "new flow, full table, net", "new_flow_evict", -1, .base = J_SWAP, .target = 4.0,
		  .src = J_FULL },
		{ "new flow, flood, net", "new_flow_flood", -1, .base = J_SWAP, .src = J_FLOOD },
		{ "new flow, full table, warm, net", "new_flow_warm", -1, .base = J_SWAP,
		  .src = J_WARM },
		/* the restore's cost taken off the ipip rows */
		{ "ipip 4in4, table off, net", "ipip4", -1, .base = J_SWAP, .target = 2.5,
		  .src = J_IPIP4, .restore = 1 },
		{ "ipip 6in6, table off, net", "ipip6", -1, .base = J_SWAP, .target = 2.5,
		  .src = J_IPIP6, .restore = 1 },
		{ "ipip 4in4, uncached, net", "ipip4_uncached", -1, .base = J_SWAP,
		  .src = J_IPIP4_NC, .restore = 1 },
		{ "ipip 6in6, uncached, net", "ipip6_uncached", -1, .base = J_SWAP,
		  .src = J_IPIP6_NC, .restore = 1 },
	};
	static struct frame vip, other, other_addr;
	int n = sizeof(jobs) / sizeof(jobs[0]);
	int kern_fd = bpf_program__fd(kern->progs.lru_insert);
	int err;

	err = make_frame("10.0.0.100", 80, &vip);
	if (!err)	/* the same frame to a port no VIP uses */
		err = make_frame("10.0.0.100", 8080, &other);
	if (!err)	/* the same frame to another address on the VIP's port */
		err = make_frame("10.0.0.99", 80, &other_addr);
	if (err)
		return err;
	/* one frame (an established TCP flow's); the non-VIP rows change its destination */
	for (int i = 0; i < n; i++)
		jobs[i].frame = &vip;
	jobs[J_NONVIP].frame = &other;
	jobs[J_NONVIP_PORT].frame = &other_addr;
	jobs[J_PASS].prog_fd = pass_fd;
	jobs[J_SWAP].prog_fd = swap_fd;
	jobs[J_VIP].prog_fd = jobs[J_NONVIP].prog_fd = jobs[J_NONVIP_PORT].prog_fd = lb_fd(lb, LB_OFF);
	jobs[J_KNOB].prog_fd = lb_fd(lb, LB_OFF_FRESH);
	jobs[J_HIT].prog_fd = lb_fd(lb, LB_PCPU);
	jobs[J_NEW].prog_fd = lb_fd(lb, LB_PCPU_FRESH);
	jobs[J_FULL].prog_fd = jobs[J_WARM].prog_fd = lb_fd(lb, LB_FULL_FRESH);
	jobs[J_NEW].prep_fd = lb_flows_fd(lb, LB_PCPU_FRESH);
	jobs[J_FLOOD].prog_fd = lb_fd(lb, LB_BUSY_FRESH);
	jobs[J_FLOOD].prep_fd = lb_flows_fd(lb, LB_BUSY_FRESH);
	jobs[J_KERN].prog_fd = jobs[J_KERN_FULL].prog_fd = kern_fd;
	jobs[J_KERN].prep_fd = bpf_map__fd(kern->maps.flows);
	err = ipip_jobs(jobs, n, lb, pair_fd, ipip_if);
	if (!err)
		err = bench_jobs(jobs, n, cfg);
	if (err)
		return err;
	net_of_knob(jobs, n, cfg->runs);
	json_add_double(extra, "fresh_flow_knob_ns", "",
			quantile(jobs[J_KNOB].ns, cfg->runs, 0.5) -
				quantile(jobs[J_VIP].ns, cfg->runs, 0.5));
	print_results(jobs, n, cfg->runs, cfg->repeat);
	return cfg->json ? write_json(cfg->json, jobs, n, extra, cfg) : 0;
}

int main(int argc, char **argv)
{
	struct bench_cfg cfg = { .repeat = 1000000, .runs = 21 };
	struct json_object *extra = json_object_new_object();
	struct xdp_macswap *swap = NULL;
	struct xdp_pass *pass = NULL;
	struct lru_insert *kern = NULL;
	struct xdp_head_pair *pair = NULL;
	struct chlb *lb[LB_N] = {};
	struct ipip_net net = {};
	char why[160];
	int i, skip, err;

	if (parse_args(argc, argv, &cfg)) {
		fprintf(stderr, "usage: %s [--json FILE] [--repeat N] [--runs N (<= %d)]\n",
			argv[0], MAX_RUNS);
		return 2;
	}
	/* the ipip rows need routes: this process moves to a namespace of its own */
	if (ipip_net_setup(&net, &skip, why, sizeof(why))) {
		printf("ipip rows: SKIPPED (%s)\n", why);
		net.if0 = 0;
	}
	pass = xdp_pass__open_and_load();
	swap = xdp_macswap__open_and_load();
	pair = xdp_head_pair__open_and_load();
	if (!pass || !swap || !pair) {
		err = -errno;
		goto out;
	}
	for (i = 0, err = 0; i < LB_N && !err; i++)
		err = load_lb(i, &lb[i]);
	if (!err)
		err = load_kern(lb[LB_PCPU], &kern);
	if (!err)
		err = bench_flow_memory(extra);
	if (!err)
		err = bench_two_cpus(lb, bpf_program__fd(pass->progs.xdp_pass), extra);
	cpu_pin_here();	/* test runs execute on the calling CPU: no migrations */
	if (!err)
		err = run_all(&cfg, lb, bpf_program__fd(pass->progs.xdp_pass),
			      bpf_program__fd(swap->progs.xdp_macswap),
			      bpf_program__fd(pair->progs.xdp_head_pair), net.if0, kern, extra);
out:
	if (err)
		fprintf(stderr, "Error: bench_xdp: %s\n", strerror(-err));
	for (i = 0; i < LB_N; i++)
		chlb__destroy(lb[i]);
	lru_insert__destroy(kern);
	xdp_head_pair__destroy(pair);
	xdp_macswap__destroy(swap);
	xdp_pass__destroy(pass);
	json_object_put(extra);
	return err ? 1 : 0;
}
