// SPDX-License-Identifier: GPL-2.0
/*
 * Which flow-table policy survives a SYN flood: measured, not argued
 * (bpf/flow.h chose by this). For each policy (struct chlb_flow_policy,
 * loaded as rodata knobs) and each kind of flood, through
 * BPF_PROG_TEST_RUN on one CPU, in real time, one packet a call (a call
 * with `repeat` > 1 costs the kernel an XDP dispatcher update, 26 ms of
 * wall time here, which would make any flood a trickle):
 *
 *   - 200 established TCP flows, recorded and confirmed, each sending a
 *     packet every 100 ms;
 *   - a flood of SYNs from random-looking sources (a new source address a
 *     packet); the "2-packet" flood also sends an ACK for each of its
 *     tuples right after, so its entries are confirmed as a real
 *     connection's would be;
 *   - 200 legitimate new connections opened during the flood (SYN, ACK a
 *     millisecond later, then a packet every 100 ms);
 *   - half-way through the flood a backend is added (backend 3 takes every
 *     fourth slot), and after it every flow sends once more.
 *
 * Packets of the flows are sent between flood packets as they fall due, so
 * a budget refilled at a clock tick goes to whoever comes first, as in a
 * real flood. Reported per policy: established flows whose entry was
 * evicted at some point (seen before each of their packets) and broken (a
 * packet sent to another backend than their first), the same for the
 * legitimate new connections, the flood's rate and its cost per packet as
 * the kernel timed it, and the flood counters. Default table size
 * (CHLB_DEFAULT_FLOW_ENTRIES).
 *
 * Usage: bench_flood [--json FILE] [--syns N] [--flows N]
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "chlb/shared.h"	/* the skeleton names its types */
#include "chlb.skel.h"
#include "dp/dataplane.h"
#include "helpers/pkt.h"

#define M		65537
#define BACKENDS	4	/* 0-2 in the table, 3 added after the flood */
#define CHECK_EVERY	64	/* flood packets between looks at the flows due */
#define MIN_SYNS	1000
#define PERIOD_NS	100000000ULL	/* every flow sends this often */
#define RTT_NS		1000000ULL	/* a new connection's ACK after its SYN */
#define MAX_FLOWS	1000
#define SEED		0x5eedULL
#define IP_SRC_OFF	(14 + 12)	/* IPv4 source address in a frame */

struct policy {
	const char *name, *key;
	struct chlb_flow_policy p;
};

#define BUSY .busy_ns = CHLB_FLOW_BUSY_NS, .closing_ns = CHLB_FLOW_CLOSING_NS
#define RATE .budget_rate = 10000, .budget_burst = 1000

static const struct policy policies[] = {
	{ "LRU: oldest way (before)", "lru", { .evict_busy = 1 } },
	{ "budget on evictions, LRU (Katran-like)", "budget", { .evict_busy = 1, RATE,
								 .budget_all = 1 } },
	{ "busy kept, refused (chosen)", "busy", { BUSY } },
	{ "busy kept, busy evicted in budget", "busy_budget", { BUSY, .evict_busy = 1,
								  RATE } },
	{ "busy kept + budget on evictions", "busy_budget_all", { BUSY, RATE,
								    .budget_all = 1 } },
};

struct flow {
	__u8 frame[2][PKT_MAX];	/* plain SYN, ACK */
	__u32 len[2];
	struct chlb_flow_key key;
	int first;		/* backend of its first packet */
	__u64 last_ns;		/* when it last sent */
	int open;		/* 0 not yet, 1 SYN sent, 2 established */
	int lost, broken;	/* its entry was gone once; a packet went elsewhere */
};

struct run {
	struct chlb *lb;
	struct chlb_dp dp;
	struct flow *est, *legit;
	int nflows;
	long syns;
	int two_packet;
	double flood_ns;	/* the kernel's time of the flood's packets */
	__u64 flood_pkts;
	double flood_s;		/* the flood's wall time */
};

struct result {
	int lost, broken, legit_lost, legit_broken;
	double ns_per_syn, pps;
	__u64 refused, evict_busy, evict_new, inserts;
};

static __u64 mono_ns(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int tables(struct chlb_dp *dp, int added)
{
	static __u32 slots[M];
	__u32 s;

	for (s = 0; s < M; s++)
		slots[s] = added && s % 4 == 3 ? 3 : s % 3;
	return chlb_dp__set_table(dp, 0, slots);
}

static int setup(struct chlb_dp *dp)
{
	struct chlb_vip_info info = { .id = 0, .method = CHLB_METHOD_DSR };
	struct chlb_backend be = { .weight = 1, .flags = CHLB_BACKEND_F_IN_USE, .gen = 1 };
	struct chlb_vip_key vk;
	__u32 i;
	int err;

	pkt_vip_key(4, "10.0.0.100", 80, IPPROTO_TCP, &vk);
	err = chlb_dp__vip_add(dp, &vk, &info);
	for (i = 0; !err && i < BACKENDS; i++) {
		be.mac[5] = i;
		err = bpf_map_update_elem(dp->backends_fd, &i, &be, BPF_ANY) ? -errno : 0;
	}
	return err ? err : tables(dp, 0);
}

static int load(const struct chlb_flow_policy *p, struct run *r)
{
	struct chlb_dp_opts o = { .max_vips = 4, .max_backends = 16, .table_size = M,
				  .seed = SEED, .flow_entries = CHLB_DEFAULT_FLOW_ENTRIES,
				  .flow_policy = p };
	int err;

	err = chlb_dp__load(&o, &r->lb);
	if (!err)
		err = chlb_dp__from_skel(r->lb, &r->dp);
	return err ? err : setup(&r->dp);
}

/* A flow from src:sport; both its frames. */
static int flow_init(struct flow *f, const char *src, __u16 sport)
{
	struct pkt_spec s = { .family = 4, .proto = IPPROTO_TCP, .src = src,
			      .dst = "10.0.0.100", .sport = sport, .dport = 80,
			      .tcp_flags = PKT_TCP_SYN, .payload_len = 20 };
	ssize_t n;
	int i;

	memset(f, 0, sizeof(*f));
	f->first = -1;
	if (pkt_flow_key(&s, &f->key))
		return -EINVAL;
	for (i = 0; i < 2; i++) {
		n = pkt_build(&s, f->frame[i], PKT_MAX);
		if (n < 0)
			return n;
		f->len[i] = n;
		s.tcp_flags = PKT_TCP_ACK;
	}
	return 0;
}

/*
 * One packet (0: SYN, 1: ACK) of f through prog; the backend it went to.
 * *ns (if any) adds the kernel's time of the run.
 */
static int send1(int prog, struct flow *f, int which, double *ns)
{
	__u8 out[PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->frame[which],
		    .data_size_in = f->len[which], .data_out = out, .data_size_out = sizeof(out),
		    .repeat = 1);

	if (bpf_prog_test_run_opts(prog, &o))
		return -errno;
	if (ns)
		*ns += o.duration;
	return o.retval == XDP_TX ? out[5] : -1;
}

/* Is f recorded on its first backend (read from the map as lookup.c does)? */
static int recorded(struct run *r, const struct flow *f)
{
	struct chlb_flow_bucket b;
	struct chlb_flow_way w, key;
	__u64 h = chlb_flow_hash64(&f->key, SEED);
	__u32 idx = chlb_flow_bucket(h >> 32, r->dp.flow_entries / CHLB_FLOW_WAYS);

	chlb_flow_way_key(&f->key, 0, &key);
	if (bpf_map_lookup_elem(r->dp.flows_fd, &idx, &b) ||
	    chlb_flow_find(&b, &key, (__u32)h, &w) < 0)
		return 0;
	return (int)(w.backend & CHLB_FLOW_ID_MASK) == f->first;
}

/* Flows due (every PERIOD_NS, or all) send their next packet, checked. */
static int tick(struct run *r, struct flow *f, int n, __u64 now, int all)
{
	int prog = bpf_program__fd(r->lb->progs.chlb_xdp), i, b;

	for (i = 0; i < n; i++) {
		if (!f[i].open ||
		    (!all && now - f[i].last_ns < (f[i].open == 1 ? RTT_NS : PERIOD_NS)))
			continue;
		f[i].lost |= f[i].open == 2 && !recorded(r, &f[i]);
		b = send1(prog, &f[i], 1, NULL);
		if (b < 0)
			return b == -1 ? -EIO : b;
		f[i].broken |= b != f[i].first;
		f[i].open = 2;
		f[i].last_ns = now;
	}
	return 0;
}

/* Flood packet n: a SYN (and its ACK) from 172.16.0.0 + n. */
static int flood_one(struct run *r, struct flow *f, __u32 n)
{
	int prog = bpf_program__fd(r->lb->progs.chlb_xdp), k, b;
	__be32 src = htonl(0xac100000u + n);

	for (k = 0; k < 1 + r->two_packet; k++) {
		memcpy(f->frame[k] + IP_SRC_OFF, &src, 4);
		b = send1(prog, f, k, &r->flood_ns);
		if (b < 0)
			return b == -1 ? -EIO : b;
		r->flood_pkts++;
	}
	return 0;
}

/* Open the legitimate connections due by flood packet n (spread evenly). */
static int open_legit(struct run *r, long n, int *next, __u64 now)
{
	int prog = bpf_program__fd(r->lb->progs.chlb_xdp);
	struct flow *f;

	while (*next < r->nflows && (long)*next * r->syns <= n * r->nflows) {
		f = &r->legit[(*next)++];
		f->first = send1(prog, f, 0, NULL);
		if (f->first < 0)
			return f->first == -1 ? -EIO : f->first;
		f->open = 1;
		f->last_ns = now;
	}
	return 0;
}

/* The flood, with the flows' packets and the new connections among it. */
static int flood(struct run *r)
{
	__u64 t0 = mono_ns(CLOCK_MONOTONIC), now;
	struct flow f;
	int next = 0, err;
	long n;

	err = flow_init(&f, "172.16.0.0", 1234);
	for (n = 0; n < r->syns && !err; n++) {
		err = flood_one(r, &f, n);
		if (err || n % CHECK_EVERY)
			continue;
		now = mono_ns(CLOCK_MONOTONIC);
		err = open_legit(r, n, &next, now);
		if (!err)
			err = tick(r, r->est, r->nflows, now, 0);
		if (!err)
			err = tick(r, r->legit, next, now, 0);
		if (!err && n == r->syns / 2 / CHECK_EVERY * CHECK_EVERY)
			err = tables(&r->dp, 1);
	}
	r->flood_s = (mono_ns(CLOCK_MONOTONIC) - t0) / 1e9;
	return err;
}

/* After the flood: every flow sends once more; the counters. */
static int judge(struct run *r, struct result *res)
{
	struct chlb_global_stats g;
	__u64 now = mono_ns(CLOCK_MONOTONIC);
	int i, err;

	err = tick(r, r->est, r->nflows, now, 1);
	if (!err)
		err = tick(r, r->legit, r->nflows, now, 1);
	if (!err)
		err = chlb_dp__global_stats(&r->dp, &g);
	for (i = 0; !err && i < r->nflows; i++) {
		res->lost += r->est[i].lost;
		res->broken += r->est[i].broken;
		res->legit_lost += r->legit[i].lost;
		res->legit_broken += r->legit[i].broken;
	}
	res->ns_per_syn = r->flood_ns / r->flood_pkts;
	res->pps = r->flood_pkts / r->flood_s;
	res->refused = g.counters[CHLB_CNT_FLOW_REFUSED];
	res->evict_busy = g.counters[CHLB_CNT_FLOW_EVICT_BUSY];
	res->evict_new = g.counters[CHLB_CNT_FLOW_EVICT_NEW];
	res->inserts = g.counters[CHLB_CNT_FLOW_INSERT];
	return err;
}

static int establish(struct run *r)
{
	int prog = bpf_program__fd(r->lb->progs.chlb_xdp), i, err = 0;
	char src[32];

	for (i = 0; !err && i < r->nflows; i++) {
		snprintf(src, sizeof(src), "10.9.%d.%d", i >> 8, i & 255);
		err = flow_init(&r->est[i], src, 40000 + i);
		if (!err)
			err = flow_init(&r->legit[i], (snprintf(src, sizeof(src), "10.8.%d.%d",
								i >> 8, i & 255), src),
					41000 + i);
		if (err)
			break;
		r->est[i].first = send1(prog, &r->est[i], 0, NULL);
		if (r->est[i].first < 0 || send1(prog, &r->est[i], 1, NULL) != r->est[i].first)
			err = -EIO;
		r->est[i].open = 2;
		r->est[i].last_ns = mono_ns(CLOCK_MONOTONIC);
	}
	return err;
}

static int run_policy(const struct policy *p, int two_packet, long syns, int nflows,
		      struct result *res)
{
	struct run r = { .syns = syns, .nflows = nflows, .two_packet = two_packet };
	int err;

	memset(res, 0, sizeof(*res));
	r.est = calloc(nflows, sizeof(*r.est));
	r.legit = calloc(nflows, sizeof(*r.legit));
	err = r.est && r.legit ? load(&p->p, &r) : -ENOMEM;
	if (!err)
		err = establish(&r);
	if (!err)
		err = flood(&r);
	if (!err)
		err = judge(&r, res);
	chlb__destroy(r.lb);
	free(r.est);
	free(r.legit);
	return err;
}

static void report(const struct policy *p, int two, const struct result *x, int n,
		   struct json_object *j)
{
	char key[96];
	struct json_object *o = json_object_new_object();

	printf("%-40s %-8s %5d/%-4d %5d/%-4d %5d/%-4d %5d/%-4d %6.0fk %6.1f %9llu %9llu %9llu\n",
	       p->name, two ? "2-packet" : "SYN", x->lost, n, x->broken, n, x->legit_lost, n,
	       x->legit_broken, n, x->pps / 1000, x->ns_per_syn, (unsigned long long)x->refused,
	       (unsigned long long)x->evict_busy, (unsigned long long)x->evict_new);
	json_object_object_add(o, "established_lost", json_object_new_int(x->lost));
	json_object_object_add(o, "established_broken", json_object_new_int(x->broken));
	json_object_object_add(o, "legit_lost", json_object_new_int(x->legit_lost));
	json_object_object_add(o, "legit_broken", json_object_new_int(x->legit_broken));
	json_object_object_add(o, "flood_pps", json_object_new_int64((long long)x->pps));
	json_object_object_add(o, "ns_per_flood_packet",
			       json_object_new_double((double)(long long)(x->ns_per_syn * 10) / 10));
	json_object_object_add(o, "refused", json_object_new_int64(x->refused));
	json_object_object_add(o, "evict_busy", json_object_new_int64(x->evict_busy));
	json_object_object_add(o, "evict_new", json_object_new_int64(x->evict_new));
	snprintf(key, sizeof(key), "%s_%s", p->key, two ? "two_packet" : "syn");
	json_object_object_add(j, key, o);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "syns", required_argument, NULL, 's' },
		{ "flows", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *j = json_object_new_object();
	const char *json = NULL;
	cpu_set_t cpus;
	long syns = 1000000;
	int nflows = 200, c, i, two, err = 0;
	struct result res;

	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		if (c == 'j')
			json = optarg;
		else if (c == 's')
			syns = atol(optarg);
		else if (c == 'f')
			nflows = atoi(optarg);
		else
			return 2;
	}
	if (syns < MIN_SYNS || nflows < 1 || nflows > MAX_FLOWS) {
		fprintf(stderr, "usage: %s [--json FILE] [--syns N >= %d] [--flows 1..%d]\n",
			argv[0], MIN_SYNS, MAX_FLOWS);
		return 2;
	}
	/* one CPU, as a flood spread by RSS reaches every CPU's budget */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	printf("%ld flood SYNs, %d established flows and %d new ones sending every 100 ms, "
	       "table of %u entries; a backend added half-way\n", syns,
	       nflows, nflows, CHLB_DEFAULT_FLOW_ENTRIES);
	printf("%-40s %-8s %10s %10s %10s %10s %7s %6s %9s %9s %9s\n", "policy", "flood",
	       "est. lost", "est. broke", "new lost", "new broke", "pps", "ns", "refused",
	       "evict_bsy", "evict_new");
	for (i = 0; !err && i < (int)(sizeof(policies) / sizeof(policies[0])); i++)
		for (two = 0; !err && two < 2; two++) {
			if (getenv("FLOOD_ONLY") && strcmp(getenv("FLOOD_ONLY"), policies[i].key))
				continue;
			err = run_policy(&policies[i], two, syns, nflows, &res);
			if (!err)
				report(&policies[i], two, &res, nflows, j);
		}
	if (err)
		fprintf(stderr, "Error: bench_flood: %s\n", strerror(-err));
	else if (json && json_object_to_file_ext(json, j, JSON_C_TO_STRING_PRETTY))
		err = -EIO;
	json_object_put(j);
	return err ? 1 : 0;
}
