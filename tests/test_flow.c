// SPDX-License-Identifier: GPL-2.0
/*
 * The flow table, for real: the XDP program is loaded with a flow table
 * and frames run through it with BPF_PROG_TEST_RUN. Each case records a
 * flow with a first frame while the VIP's table sends everything to
 * backend A, then changes something (the table now names B; A removed,
 * replaced, draining; the entry aged through the map fd) and checks where
 * the next frame goes, every global counter, the backends' new_flows and
 * the entry left in chlb_flows. The same steps with the table off must
 * behave as the stateless path always did.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <CUnit/Basic.h>

#include "chlb/shared.h"	/* the skeleton names its types */
#include "chlb.skel.h"
#include "dp/dataplane.h"
#include "helpers/cpu.h"
#include "helpers/pkt.h"
#include "helpers/xdp_run.h"
#include "helpers/cu_check.h"
#include "helpers/cu_main.h"

#define SEED		0xfeedfacecafef00dULL
#define M		61
#define MAX_VIPS	4
#define MAX_BACKENDS	8
#define FLOWS		1024
#define UDP_TIMEOUT	30	/* seconds */
#define NS		1000000000ULL

/* Each VIP has two backends: A (recorded first) and B (the new table's). */
struct vip_def {
	int family;
	const char *addr;
	__u16 port;
	__u8 proto;
	__u32 a, b;
};

enum { V4_TCP, V4_UDP, V6_TCP, V6_UDP, NVIPS };

static const struct vip_def vips[NVIPS] = {
	[V4_TCP] = { 4, "10.0.0.100", 80, IPPROTO_TCP, 0, 1 },
	[V4_UDP] = { 4, "10.0.0.100", 53, IPPROTO_UDP, 2, 3 },
	[V6_TCP] = { 6, "2001:db8::100", 443, IPPROTO_TCP, 4, 5 },
	[V6_UDP] = { 6, "2001:db8::100", 53, IPPROTO_UDP, 6, 7 },
};

struct inst {
	struct chlb *skel;
	struct chlb_dp dp;
	int prog_fd;
};

static struct inst on, off;

/* ---- set-up ---------------------------------------------------------------- */

static int write_backend(struct chlb_dp *dp, __u32 id, __u32 flags, __u32 gen)
{
	struct chlb_backend be = { .weight = 1, .vip_id = id / 2, .flags = flags, .gen = gen };

	be.mac[0] = 0x02;
	be.mac[5] = id;
	return bpf_map_update_elem(dp->backends_fd, &id, &be, BPF_ANY) ? -errno : 0;
}

/* Every slot of VIP v's table to one backend. */
static int set_table(struct chlb_dp *dp, int v, __u32 id)
{
	__u32 slots[M], s;

	for (s = 0; s < M; s++)
		slots[s] = id;
	return chlb_dp__set_table(dp, v, slots);
}

static int inst_load(struct inst *in, __u32 flows)
{
	struct chlb_dp_opts opts = { .max_vips = MAX_VIPS, .max_backends = MAX_BACKENDS,
				     .table_size = M, .seed = SEED, .flow_entries = flows,
				     .udp_timeout = UDP_TIMEOUT };
	struct chlb_vip_info info = { .method = CHLB_METHOD_DSR };
	struct chlb_vip_key key;
	int v, err;

	err = chlb_dp__load(&opts, &in->skel);
	if (!err)
		err = chlb_dp__from_skel(in->skel, &in->dp);
	for (v = 0; !err && v < NVIPS; v++) {
		pkt_vip_key(vips[v].family, vips[v].addr, vips[v].port, vips[v].proto, &key);
		info.id = v;
		err = write_backend(&in->dp, vips[v].a, CHLB_BACKEND_F_IN_USE, 1);
		if (!err)
			err = write_backend(&in->dp, vips[v].b, CHLB_BACKEND_F_IN_USE, 1);
		if (!err)
			err = set_table(&in->dp, v, vips[v].a);
		if (!err)
			err = chlb_dp__vip_add(&in->dp, &key, &info);
	}
	if (err)
		return err;
	in->prog_fd = bpf_program__fd(in->skel->progs.chlb_xdp);
	return 0;
}

static void inst_free(struct inst *in)
{
	chlb_dp__close(&in->dp);
	chlb__destroy(in->skel);
	in->skel = NULL;
}

static int suite_init(void)
{
	int err = inst_load(&on, FLOWS);

	if (!err)
		err = inst_load(&off, 0);
	if (err) {
		fprintf(stderr, "test_flow: set-up failed: %s\n", strerror(-err));
		return -1;
	}
	return 0;
}

static int suite_clean(void)
{
	inst_free(&on);
	inst_free(&off);
	return 0;
}

/* ---- running and checking frames --------------------------------------------- */

static __u64 now_coarse(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * NS + ts.tv_nsec;
}

static void flow_spec(int v, __u16 sport, __u8 flags, struct pkt_spec *s)
{
	*s = (struct pkt_spec){ .family = vips[v].family, .proto = vips[v].proto,
				.src = vips[v].family == 4 ? "192.168.1.7" : "2001:db8:1::7",
				.dst = vips[v].addr, .sport = sport, .dport = vips[v].port,
				.tcp_flags = flags, .payload_len = 20 };
}

/* Run a frame; the backend whose MAC it got, or -1 when not forwarded. */
static int send_frame(struct inst *in, const struct pkt_spec *s)
{
	struct xdp_result r;
	__u8 f[PKT_MAX];
	ssize_t n = pkt_build(s, f, sizeof(f));

	if (n < 0 || xdp_run(in->prog_fd, f, n, &r))
		return -2;
	return r.verdict == XDP_TX ? r.out[5] : -1;
}

struct snapshot {
	struct chlb_global_stats g;
	__u64 new_flows[MAX_BACKENDS];
};

static void snap(struct inst *in, struct snapshot *s)
{
	struct chlb_backend_stats b;
	__u32 id;

	CU_ASSERT_FATAL(chlb_dp__global_stats(&in->dp, &s->g) == 0);
	for (id = 0; id < MAX_BACKENDS; id++) {
		CU_ASSERT_FATAL(chlb_dp__backend_stats(&in->dp, id, &b) == 0);
		s->new_flows[id] = b.new_flows;
	}
}

/* Flow events one frame must add (frame reasons: RX and TX, one each). */
struct events {
	int hit, miss, insert, expired, stale, refused, evict_busy, evict_new;
	int new_flows;		/* check: new_flows counts the insert, on bid */
};

static void check_deltas(const char *desc, const struct snapshot *a, const struct snapshot *b,
			 const struct events *e, int bid)
{
	__u64 want[CHLB_CNT_MAX] = { [CHLB_CNT_RX] = 1, [CHLB_CNT_TX] = 1,
				     [CHLB_CNT_FLOW_HIT] = e->hit,
				     [CHLB_CNT_FLOW_MISS] = e->miss,
				     [CHLB_CNT_FLOW_INSERT] = e->insert,
				     [CHLB_CNT_FLOW_EXPIRED] = e->expired,
				     [CHLB_CNT_FLOW_STALE] = e->stale,
				     [CHLB_CNT_FLOW_REFUSED] = e->refused,
				     [CHLB_CNT_FLOW_EVICT_BUSY] = e->evict_busy,
				     [CHLB_CNT_FLOW_EVICT_NEW] = e->evict_new };
	int i;

	for (i = 0; i < CHLB_CNT_MAX; i++) {
		CHECK(b->g.counters[i] - a->g.counters[i] == want[i], desc);
		if (b->g.counters[i] - a->g.counters[i] != want[i])
			fprintf(stderr, " (counter %d: %llu, expected %llu)", i,
				(unsigned long long)(b->g.counters[i] - a->g.counters[i]),
				(unsigned long long)want[i]);
	}
	for (i = 0; e->new_flows && i < MAX_BACKENDS; i++)
		CHECK(b->new_flows[i] - a->new_flows[i] == (__u64)(i == bid && e->insert), desc);
}

/* Send s, expect backend bid and exactly the events e. */
static void step(struct inst *in, const char *desc, const struct pkt_spec *s, int bid,
		 const struct events *ev)
{
	struct events e = *ev;
	struct snapshot a, b;
	int got;

	e.new_flows = 1;
	snap(in, &a);
	got = send_frame(in, s);
	snap(in, &b);
	CHECK(got == bid, desc);
	if (got != bid)
		fprintf(stderr, "\n    [%s] backend %d, expected %d", desc, got, bid);
	check_deltas(desc, &a, &b, &e, bid);
}

/* The flow's bucket in the flow cache, read into *b; its 64-bit hash in *h. */
static int flow_bucket(struct inst *in, const struct chlb_flow_key *k,
		       struct chlb_flow_bucket *b, __u32 *idx, __u64 *h)
{
	*h = chlb_flow_hash64(k, SEED);
	*idx = chlb_flow_bucket(*h >> 32, in->dp.flow_entries / CHLB_FLOW_WAYS);
	return bpf_map_lookup_elem(in->dp.flows_fd, idx, b) ? -errno : 0;
}

/* The VIP id of a spec's destination (ids are indexes into vips[]). */
static __u32 spec_vip(const struct pkt_spec *s)
{
	int v;

	for (v = 0; v < NVIPS; v++)
		if (vips[v].family == s->family && vips[v].port == s->dport &&
		    vips[v].proto == s->proto && !strcmp(vips[v].addr, s->dst))
			return v;
	return ~0u;
}

/* The flow's key, bucket and hash; its bucket read into *b. */
static void spec_bucket(struct inst *in, const struct pkt_spec *s, struct chlb_flow_way *key,
			struct chlb_flow_bucket *b, __u32 *idx, __u64 *h)
{
	struct chlb_flow_key k;

	CU_ASSERT_FATAL(pkt_flow_key(s, &k) == 0);
	chlb_flow_way_key(&k, spec_vip(s), key);
	CU_ASSERT_FATAL(flow_bucket(in, &k, b, idx, h) == 0);
}

/* The flow's valid entry, as the program would find it; -ENOENT: none. */
static int flow_entry(struct inst *in, const struct pkt_spec *s, struct chlb_flow_way *f)
{
	struct chlb_flow_bucket b;
	struct chlb_flow_way key;
	__u32 idx;
	__u64 h;

	spec_bucket(in, s, &key, &b, &idx, &h);
	return chlb_flow_find(&b, &key, (__u32)h, f) < 0 ? -ENOENT : 0;
}

/* Overwrite the flow's existing entry, with a check that matches. */
static void set_flow_entry(struct inst *in, const struct pkt_spec *s,
			   const struct chlb_flow_way *f)
{
	struct chlb_flow_bucket b;
	struct chlb_flow_way old, key;
	__u32 idx;
	__u64 h;
	int w;

	spec_bucket(in, s, &key, &b, &idx, &h);
	w = chlb_flow_find(&b, &key, (__u32)h, &old);
	CU_ASSERT_FATAL(w >= 0);
	b.way[w] = *f;
	b.way[w].check = chlb_flow_check((__u32)h, f->backend);
	CU_ASSERT_FATAL(bpf_map_update_elem(in->dp.flows_fd, &idx, &b, BPF_ANY) == 0);
}

/* A way's backend id and generation. */
static __u32 way_id(const struct chlb_flow_way *f)
{
	return f->backend & CHLB_FLOW_ID_MASK;
}

static __u32 way_gen(const struct chlb_flow_way *f)
{
	return f->backend >> CHLB_FLOW_ID_BITS;
}

/* Move a way's time back by ns, flags kept. */
static void age_way(struct chlb_flow_way *f, __u64 ns)
{
	f->seen = ((f->seen & ~CHLB_FLOW_F_MASK) - chlb_flow_clock(ns)) |
		  (f->seen & CHLB_FLOW_F_MASK);
}

/* Age the flow's entry by ms (and set flags): what that much idle time does. */
static void age_entry(struct inst *in, const struct pkt_spec *s, __u64 ms, __u32 flags)
{
	struct chlb_flow_way f;

	CU_ASSERT_FATAL(flow_entry(in, s, &f) == 0);
	age_way(&f, ms * 1000000);
	f.seen |= flags;
	set_flow_entry(in, s, &f);
}

/* A way's time was written between t0 and now (coarse ns). */
static int seen_between(__u32 seen, __u64 t0)
{
	__u32 t = seen & ~CHLB_FLOW_F_MASK;

	return t >= chlb_flow_clock(t0) && t <= chlb_flow_clock(now_coarse());
}

/* ---- the case table ------------------------------------------------------------ */

/* What happens between the recording frame and the checked one. */
enum change {
	CH_TABLE = 1 << 0,	/* the VIP's table now sends every slot to B */
	CH_REMOVE = 1 << 1,	/* A's entry cleared (backend del) */
	CH_REPLACE = 1 << 2,	/* A's id reused: gen + 1 (backend del + add) */
	CH_DRAIN = 1 << 3,	/* A draining (and, with CH_TABLE, out of the table) */
	CH_OTHER_VIP = 1 << 4,	/* A's id now belongs to another VIP */
	CH_AGE = 1 << 5,	/* the entry's time moved back by age_ms */
};

enum want { WANT_A, WANT_B };

struct flow_case {
	const char *desc;
	int vip;
	int record;		/* record the flow first: a miss, then a hit confirms it */
	unsigned int change;
	__u32 age_ms;
	__u8 flags;		/* TCP flags of the checked frame */
	enum want want;
	struct events ev;	/* events of the checked frame */
	int refreshed;		/* 1: time now; 0: as before the frame; -1: don't care */
	__u32 seen_flags;	/* CHLB_FLOW_F_* of the entry after */
};

#define ACK PKT_TCP_ACK
#define SYN PKT_TCP_SYN
#define FIN 0x01
#define RST 0x04
#define ECE_CWR 0xc0
#define CONF CHLB_FLOW_F_CONFIRMED
#define CLOSING CHLB_FLOW_F_CLOSING
#define MISS_INSERT { .miss = 1, .insert = 1 }

static const struct flow_case cases[] = {
	{ "miss: an unknown TCP flow takes the table and is recorded", V4_TCP, 0, CH_TABLE, 0,
	  ACK, WANT_B, MISS_INSERT, 1, 0 },
	{ "miss: an unknown UDP flow is recorded, a new flow", V4_UDP, 0, CH_TABLE, 0, 0,
	  WANT_B, MISS_INSERT, 1, 0 },
	{ "hit: a TCP flow keeps its backend after the table changed", V4_TCP, 1, CH_TABLE, 0,
	  ACK, WANT_A, { .hit = 1 }, 0, CONF },
	{ "hit: IPv6 TCP", V6_TCP, 1, CH_TABLE, 0, ACK, WANT_A, { .hit = 1 }, 0, CONF },
	{ "hit: IPv6 UDP", V6_UDP, 1, CH_TABLE, 0, 0, WANT_A, { .hit = 1 }, 0, CONF },
	{ "SYN on a known flow re-picks from the table and overwrites", V4_TCP, 1, CH_TABLE, 0,
	  SYN, WANT_B, MISS_INSERT, 1, 0 },
	{ "SYN on a known flow, table unchanged: same backend, re-recorded", V4_TCP, 1, 0, 0,
	  SYN, WANT_A, MISS_INSERT, 1, 0 },
	{ "SYN with ECE|CWR (ECN set-up) is a plain SYN: re-picks", V6_TCP, 1, CH_TABLE, 0,
	  SYN | ECE_CWR, WANT_B, MISS_INSERT, 1, 0 },
	{ "SYN-ACK is not a new connection", V4_TCP, 1, CH_TABLE, 0, SYN | ACK, WANT_A,
	  { .hit = 1 }, 0, CONF },
	{ "SYN|RST cannot move a flow: looked up, a hit, the entry closing", V4_TCP, 1,
	  CH_TABLE, 0, SYN | RST, WANT_A, { .hit = 1 }, 1, CONF | CLOSING },
	{ "SYN|FIN cannot move a flow either", V6_TCP, 1, CH_TABLE, 0, SYN | FIN, WANT_A,
	  { .hit = 1 }, 1, CONF | CLOSING },
	{ "RST keeps the entry and its backend, closing", V4_TCP, 1, CH_TABLE, 0, RST, WANT_A,
	  { .hit = 1 }, 1, CONF | CLOSING },
	{ "FIN|ACK keeps the entry and its backend, closing", V4_TCP, 1, CH_TABLE, 0,
	  FIN | ACK, WANT_A, { .hit = 1 }, 1, CONF | CLOSING },
	{ "a FIN that misses is recorded closing", V4_TCP, 0, CH_TABLE, 0, FIN | ACK, WANT_B,
	  MISS_INSERT, 1, CLOSING },
	{ "removed backend: its flow is re-hashed", V4_TCP, 1, CH_TABLE | CH_REMOVE, 0, ACK,
	  WANT_B, { .miss = 1, .stale = 1, .insert = 1 }, 1, 0 },
	{ "replaced backend (id reused, gen + 1): re-hashed", V4_TCP, 1, CH_TABLE | CH_REPLACE,
	  0, ACK, WANT_B, { .miss = 1, .stale = 1, .insert = 1 }, 1, 0 },
	{ "backend id now in another VIP: re-hashed", V6_TCP, 1, CH_TABLE | CH_OTHER_VIP, 0,
	  ACK, WANT_B, { .miss = 1, .stale = 1, .insert = 1 }, 1, 0 },
	{ "draining backend: its flow is kept", V4_TCP, 1, CH_TABLE | CH_DRAIN, 0, ACK, WANT_A,
	  { .hit = 1 }, 0, CONF },
	{ "draining backend: its UDP flow is kept", V4_UDP, 1, CH_TABLE | CH_DRAIN, 0, 0, WANT_A,
	  { .hit = 1 }, 0, CONF },
	{ "UDP idle 2 s past the timeout: expired, re-hashed", V4_UDP, 1, CH_TABLE | CH_AGE,
	  (UDP_TIMEOUT + 2) * 1000, 0, WANT_B, { .miss = 1, .expired = 1, .insert = 1 }, 1, 0 },
	{ "UDP idle 0.2 s past the timeout: expired", V6_UDP, 1, CH_TABLE | CH_AGE,
	  UDP_TIMEOUT * 1000 + 200, 0, WANT_B, { .miss = 1, .expired = 1, .insert = 1 }, 1, 0 },
	{ "UDP idle 0.2 s short of the timeout: kept, time refreshed", V6_UDP, 1,
	  CH_TABLE | CH_AGE, UDP_TIMEOUT * 1000 - 200, 0, WANT_A, { .hit = 1 }, 1, CONF },
	{ "UDP idle within the timeout: kept, time refreshed", V4_UDP, 1,
	  CH_TABLE | CH_AGE, (UDP_TIMEOUT - 2) * 1000, 0, WANT_A, { .hit = 1 }, 1, CONF },
	{ "recent hit: time not rewritten (< 1 s old)", V4_UDP, 1, CH_TABLE | CH_AGE, 500,
	  0, WANT_A, { .hit = 1 }, 0, CONF },
	{ "TCP entries do not expire by time; a hit refreshes the time", V4_TCP, 1,
	  CH_TABLE | CH_AGE, UDP_TIMEOUT * 4000, ACK, WANT_A, { .hit = 1 }, 1, CONF },
	{ "recent TCP hit: time not rewritten (< 1 s old)", V4_TCP, 1,
	  CH_TABLE | CH_AGE, 500, ACK, WANT_A, { .hit = 1 }, 0, CONF },
};

/* Back to the initial state: tables to A, both backends in use, gen 1. */
static void reset(struct inst *in, int v)
{
	CU_ASSERT_FATAL(write_backend(&in->dp, vips[v].a, CHLB_BACKEND_F_IN_USE, 1) == 0);
	CU_ASSERT_FATAL(write_backend(&in->dp, vips[v].b, CHLB_BACKEND_F_IN_USE, 1) == 0);
	CU_ASSERT_FATAL(set_table(&in->dp, v, vips[v].a) == 0);
}

static void apply_change(struct inst *in, const struct flow_case *c, const struct pkt_spec *s)
{
	__u32 a = vips[c->vip].a;
	struct chlb_backend be;

	if (c->change & CH_TABLE)
		CU_ASSERT_FATAL(set_table(&in->dp, c->vip, vips[c->vip].b) == 0);
	if (c->change & CH_REMOVE)
		CU_ASSERT_FATAL(write_backend(&in->dp, a, 0, 1) == 0);
	if (c->change & CH_REPLACE)
		CU_ASSERT_FATAL(write_backend(&in->dp, a, CHLB_BACKEND_F_IN_USE, 2) == 0);
	if (c->change & CH_DRAIN)
		CU_ASSERT_FATAL(write_backend(&in->dp, a, CHLB_BACKEND_F_IN_USE |
					      CHLB_BACKEND_F_DRAINING, 1) == 0);
	if (c->change & CH_OTHER_VIP) {
		CU_ASSERT_FATAL(bpf_map_lookup_elem(in->dp.backends_fd, &a, &be) == 0);
		be.vip_id = (c->vip + 1) % NVIPS;
		CU_ASSERT_FATAL(bpf_map_update_elem(in->dp.backends_fd, &a, &be, BPF_ANY) == 0);
	}
	if (c->change & CH_AGE)
		age_entry(in, s, c->age_ms, 0);
}

static void run_case(const struct flow_case *c, __u16 sport)
{
	const struct vip_def *v = &vips[c->vip];
	__u32 want = c->want == WANT_A ? v->a : v->b;
	struct chlb_flow_way before = {}, after;
	struct pkt_spec s;
	__u64 t0;

	reset(&on, c->vip);
	flow_spec(c->vip, sport, ACK, &s);
	CHECK(flow_entry(&on, &s, &after) == -ENOENT, c->desc);
	if (c->record) {
		step(&on, c->desc, &s, v->a, &(struct events)MISS_INSERT);
		step(&on, c->desc, &s, v->a, &(struct events){ .hit = 1 });
	}
	apply_change(&on, c, &s);
	if (c->record)
		CU_ASSERT_FATAL(flow_entry(&on, &s, &before) == 0);
	s.tcp_flags = c->flags;
	t0 = now_coarse();
	step(&on, c->desc, &s, want, &c->ev);
	CHECK(flow_entry(&on, &s, &after) == 0, c->desc);
	CHECK(way_id(&after) == want, c->desc);
	CHECK(way_gen(&after) == (c->change & CH_REPLACE && c->want == WANT_A ? 2u : 1u),
	      c->desc);
	CHECK((after.seen & CHLB_FLOW_F_MASK) == c->seen_flags, c->desc);
	if (c->refreshed == 1)
		CHECK(seen_between(after.seen, t0), c->desc);
	if (c->refreshed == 0)
		CHECK(after.seen == before.seen, c->desc);
}

static void test_cases(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i], 10000 + i);
}

/*
 * Flow table off: the stateless path as before this table existed. Every
 * frame follows the current table, only SYNs are new flows, no flow
 * event is counted and chlb_flows stays empty.
 */
static void test_off_is_stateless(void)
{
	static const struct {
		int vip;
		__u8 flags;
	} frames[] = { { V4_TCP, ACK }, { V4_TCP, SYN }, { V4_UDP, 0 }, { V6_TCP, SYN | ACK },
		       { V6_UDP, 0 } };
	const struct events none = { .new_flows = 0 };
	struct chlb_flow_bucket bucket, empty = {};
	__u32 zero = 0;
	struct snapshot a, b;
	struct pkt_spec s;
	size_t i;
	int v, phase, bid, got;

	CU_ASSERT_EQUAL(off.dp.flow_entries, 0);
	for (i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		v = frames[i].vip;
		reset(&off, v);
		flow_spec(v, 20000 + i, frames[i].flags, &s);
		for (phase = 0; phase < 2; phase++) {
			bid = phase ? vips[v].b : vips[v].a;
			snap(&off, &a);
			got = send_frame(&off, &s);
			snap(&off, &b);
			CHECK(got == bid, "off: follows the table");
			check_deltas("off: no flow events", &a, &b, &none, -1);
			CHECK(b.new_flows[bid] - a.new_flows[bid] ==
			      (__u64)(frames[i].flags == SYN), "off: new flows are SYNs");
			CU_ASSERT_FATAL(set_table(&off.dp, v, vips[v].b) == 0);
		}
	}
	CU_ASSERT_FATAL(bpf_map_lookup_elem(off.dp.flows_fd, &zero, &bucket) == 0);
	CU_ASSERT(memcmp(&bucket, &empty, sizeof(bucket)) == 0);
}

/*
 * Ways torn by two CPUs writing them at once: a head whose tag does not
 * match its backend fields, or a head of one flow beside the key of
 * another. The program takes either as a miss, re-picks from the table
 * and rewrites the way whole.
 */
static void torn(const char *desc, int kind)
{
	const struct vip_def *v = &vips[V4_TCP];
	struct chlb_flow_way f, key;
	struct chlb_flow_bucket b;
	struct pkt_spec s;
	__u32 idx;
	__u64 h;
	int w;

	reset(&on, V4_TCP);
	flow_spec(V4_TCP, 30000 + kind, ACK, &s);
	step(&on, desc, &s, v->a, &(struct events)MISS_INSERT);
	CU_ASSERT_FATAL(set_table(&on.dp, V4_TCP, v->b) == 0);
	spec_bucket(&on, &s, &key, &b, &idx, &h);
	w = chlb_flow_find(&b, &key, (__u32)h, &f);
	CU_ASSERT_FATAL(w >= 0);
	if (kind == 0)		/* another writer's generation, this check */
		b.way[w].backend ^= 1u << CHLB_FLOW_ID_BITS;
	else if (kind == 1)	/* another writer's backend, this check */
		b.way[w].backend = chlb_flow_backend_of(v->b, 1);
	else			/* another flow's key, this backend and check */
		b.way[w].sport ^= 1;
	CU_ASSERT_FATAL(bpf_map_update_elem(on.dp.flows_fd, &idx, &b, BPF_ANY) == 0);
	CHECK(flow_entry(&on, &s, &f) == -ENOENT, desc);
	step(&on, desc, &s, v->b, &(struct events)MISS_INSERT);
	CHECK(flow_entry(&on, &s, &f) == 0 && way_id(&f) == v->b && way_gen(&f) == 1, desc);
	reset(&on, V4_TCP);
}

static void test_torn_way(void)
{
	torn("torn: gen of another write", 0);
	torn("torn: backend of another write", 1);
	torn("torn: key of another flow", 2);
}

/* n flows of VIP v whose keys share one bucket of in (source ports from port0). */
static int same_bucket(struct inst *in, int v, struct pkt_spec *s, int n, int port0,
		       __u32 *bucket)
{
	struct chlb_flow_key k;
	int found = 0, port;
	__u32 idx;

	for (port = port0; port < 65536 && found < n; port++) {
		flow_spec(v, port, ACK, &s[found]);
		if (pkt_flow_key(&s[found], &k))
			return -EINVAL;
		idx = chlb_flow_bucket(chlb_flow_hash(&k, SEED), in->dp.flow_entries / CHLB_FLOW_WAYS);
		if (!found)
			*bucket = idx;
		if (idx == *bucket)
			found++;
	}
	return found == n ? 0 : -ENOENT;
}

static void clear_bucket(struct inst *in, __u32 idx)
{
	struct chlb_flow_bucket b = {};

	CU_ASSERT_FATAL(bpf_map_update_elem(in->dp.flows_fd, &idx, &b, BPF_ANY) == 0);
}

/* Fill a cleared bucket with ways flows: each recorded, then confirmed if asked. */
static void fill_bucket(struct inst *in, struct pkt_spec *s, int confirm, __u32 *idx)
{
	const struct vip_def *v = &vips[V4_TCP];
	int i;

	reset(in, V4_TCP);
	CU_ASSERT_FATAL(same_bucket(in, V4_TCP, s, CHLB_FLOW_WAYS + 1, 1, idx) == 0);
	clear_bucket(in, *idx);
	for (i = 0; i < CHLB_FLOW_WAYS; i++) {
		step(in, "fill", &s[i], v->a, &(struct events)MISS_INSERT);
		if (confirm)
			step(in, "fill: confirmed", &s[i], v->a, &(struct events){ .hit = 1 });
	}
}

/*
 * A full bucket of unconfirmed flows: a new flow takes the way seen
 * longest ago; the other flows stay.
 */
static void test_evict_oldest(void)
{
	const struct vip_def *v = &vips[V4_TCP];
	struct pkt_spec s[CHLB_FLOW_WAYS + 1];
	struct chlb_flow_way f;
	__u32 idx;
	int i;

	fill_bucket(&on, s, 0, &idx);
	age_entry(&on, &s[1], 5000, 0);	/* s[1]: the oldest */
	step(&on, "evict: a fifth flow", &s[CHLB_FLOW_WAYS], v->a,
	     &(struct events){ .miss = 1, .insert = 1, .evict_new = 1 });
	CHECK(flow_entry(&on, &s[1], &f) == -ENOENT, "evict: the oldest went");
	for (i = 0; i <= CHLB_FLOW_WAYS; i++)
		if (i != 1)
			CHECK(flow_entry(&on, &s[i], &f) == 0, "evict: the others stay");
	reset(&on, V4_TCP);
}

/*
 * Flood resilience: a bucket of confirmed flows seen recently is never
 * evicted. A new flow (plain SYN or not) is forwarded by the table and not
 * recorded (refused); once a way is idle past the busy time (or the
 * closing time after a FIN or RST), or unconfirmed, the new flow takes it.
 */
static void test_busy_kept(void)
{
	const struct vip_def *v = &vips[V4_TCP];
	struct pkt_spec s[CHLB_FLOW_WAYS + 2], *n = &s[CHLB_FLOW_WAYS];
	struct events refused = { .miss = 1, .refused = 1 };
	struct chlb_flow_way f;
	__u32 idx;
	int i;

	fill_bucket(&on, s, 1, &idx);
	CU_ASSERT_FATAL(set_table(&on.dp, V4_TCP, v->b) == 0);
	step(&on, "busy: a new flow is refused", n, v->b, &refused);
	n->tcp_flags = SYN;
	step(&on, "busy: a new connection too", n, v->b, &refused);
	CHECK(flow_entry(&on, n, &f) == -ENOENT, "busy: not recorded");
	for (i = 0; i < CHLB_FLOW_WAYS; i++)
		step(&on, "busy: every flow kept", &s[i], v->a, &(struct events){ .hit = 1 });
	/* closing but seen within the closing time: still busy */
	age_entry(&on, &s[0], CHLB_FLOW_CLOSING_NS / 1000000 - 500, CHLB_FLOW_F_CLOSING);
	step(&on, "busy: closing, recent", n, v->b, &refused);
	/* quiet for longer than the closing time after a FIN: taken */
	age_entry(&on, &s[0], 1000, 0);
	step(&on, "busy: closing and quiet: taken", n, v->b, &(struct events)MISS_INSERT);
	CHECK(flow_entry(&on, &s[0], &f) == -ENOENT, "busy: the closing flow went");
	/* an open flow quiet past the busy time: taken */
	age_entry(&on, &s[2], CHLB_FLOW_BUSY_NS / 1000000 + 500, 0);
	CU_ASSERT_FATAL(same_bucket(&on, V4_TCP, s, CHLB_FLOW_WAYS + 2, 1, &idx) == 0);
	step(&on, "busy: idle past the busy time: taken", &s[CHLB_FLOW_WAYS + 1], v->b,
	     &(struct events)MISS_INSERT);
	CHECK(flow_entry(&on, &s[2], &f) == -ENOENT, "busy: the idle flow went");
	for (i = 1; i < CHLB_FLOW_WAYS; i += 2)
		CHECK(flow_entry(&on, &s[i], &f) == 0 && way_id(&f) == v->a, "busy: others stay");
	clear_bucket(&on, idx);
	reset(&on, V4_TCP);
}

/*
 * A FIN or RST only shortens a flow's protection: a flow that keeps
 * sending after a spoofed RST stays busy (each packet refreshes the way).
 */
static void test_spoofed_rst(void)
{
	const struct vip_def *v = &vips[V4_TCP];
	struct pkt_spec s[CHLB_FLOW_WAYS + 1], rst;
	struct chlb_flow_way f;
	__u32 idx;

	fill_bucket(&on, s, 1, &idx);
	CU_ASSERT_FATAL(set_table(&on.dp, V4_TCP, v->b) == 0);
	rst = s[0];
	rst.tcp_flags = RST;
	step(&on, "spoofed RST: a hit", &rst, v->a, &(struct events){ .hit = 1 });
	age_entry(&on, &s[0], CHLB_FLOW_CLOSING_NS / 1000000 + 500, 0);
	step(&on, "spoofed RST: the flow sends again", &s[0], v->a,
	     &(struct events){ .hit = 1 });
	step(&on, "spoofed RST: still busy", &s[CHLB_FLOW_WAYS], v->b,
	     &(struct events){ .miss = 1, .refused = 1 });
	CHECK(flow_entry(&on, &s[0], &f) == 0 && way_id(&f) == v->a, "spoofed RST: kept");
	clear_bucket(&on, idx);
	reset(&on, V4_TCP);
}

/* A VIP whose table names no usable backend drops: a miss, nothing recorded. */
static void test_no_backend(void)
{
	struct events miss = { .miss = 1 };
	struct snapshot a, b;
	struct pkt_spec s;
	struct chlb_flow_way f;
	int i;

	reset(&on, V4_TCP);
	CU_ASSERT_FATAL(set_table(&on.dp, V4_TCP, CHLB_NO_BACKEND) == 0);
	flow_spec(V4_TCP, 30000, ACK, &s);
	snap(&on, &a);
	CU_ASSERT_EQUAL(send_frame(&on, &s), -1);
	snap(&on, &b);
	for (i = 0; i < CHLB_CNT_MAX; i++)
		CU_ASSERT_EQUAL(b.g.counters[i] - a.g.counters[i],
				(__u64)(i == CHLB_CNT_RX || i == CHLB_CNT_DROP_NO_BACKEND ||
					i == CHLB_CNT_FLOW_MISS) * miss.miss);
	CU_ASSERT_EQUAL(flow_entry(&on, &s, &f), -ENOENT);
	reset(&on, V4_TCP);
}

/*
 * A flow recorded on one CPU is found on another: one shared flow cache.
 * BPF_PROG_TEST_RUN runs on
 * the calling thread's CPU.
 */
static void cross_cpu(struct inst *in, const char *desc)
{
	const struct vip_def *v = &vips[V4_TCP];
	struct pkt_spec s;
	cpu_set_t saved;
	int i;

	CU_ASSERT_FATAL(sched_getaffinity(0, sizeof(saved), &saved) == 0);
	reset(in, V4_TCP);
	for (i = 0; i < 32; i++) {
		flow_spec(V4_TCP, 40000 + i, ACK, &s);
		CU_ASSERT_FATAL(cpu_pin(0) == 0);
		set_table(&in->dp, V4_TCP, v->a);
		step(in, desc, &s, v->a, &(struct events){ .miss = 1, .insert = 1 });
		set_table(&in->dp, V4_TCP, v->b);
		CU_ASSERT_FATAL(cpu_pin(1) == 0);
		step(in, desc, &s, v->a, &(struct events){ .hit = 1 });
	}
	sched_setaffinity(0, sizeof(saved), &saved);
	reset(in, V4_TCP);
}

static void test_cross_cpu(void)
{
	if (libbpf_num_possible_cpus() < 2 || sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "\n    SKIPPED: cross-CPU flows need two online CPUs\n");
		return;
	}
	cross_cpu(&on, "cross-CPU");
}

/*
 * UDP timeout at its minimum (2 s, twice the refresh period): a flow
 * sending every 0.9 s, in real time, never expires though its way's time
 * is refreshed only once a second; once quiet past the timeout it does.
 */
static void test_udp_min_timeout(void)
{
	struct chlb_dp_opts opts = { .max_vips = MAX_VIPS, .max_backends = MAX_BACKENDS,
				     .table_size = M, .seed = SEED, .flow_entries = FLOWS,
				     .udp_timeout = CHLB_MIN_UDP_TIMEOUT };
	struct chlb_vip_info info = { .id = V4_UDP, .method = CHLB_METHOD_DSR };
	const struct vip_def *v = &vips[V4_UDP];
	struct timespec gap = { 0, 900 * 1000 * 1000 }, quiet = { 2, 300 * 1000 * 1000 };
	struct chlb_vip_key key;
	struct inst u = {};
	struct pkt_spec s;
	int i;

	CU_ASSERT_FATAL(chlb_dp__load(&opts, &u.skel) == 0);
	CU_ASSERT_FATAL(chlb_dp__from_skel(u.skel, &u.dp) == 0);
	u.prog_fd = bpf_program__fd(u.skel->progs.chlb_xdp);
	pkt_vip_key(4, v->addr, v->port, v->proto, &key);
	CU_ASSERT_FATAL(chlb_dp__vip_add(&u.dp, &key, &info) == 0);
	reset(&u, V4_UDP);
	flow_spec(V4_UDP, 5353, 0, &s);
	step(&u, "udp 2 s: recorded", &s, v->a, &(struct events)MISS_INSERT);
	CU_ASSERT_FATAL(set_table(&u.dp, V4_UDP, v->b) == 0);
	for (i = 0; i < 6; i++) {
		nanosleep(&gap, NULL);
		step(&u, "udp 2 s: every 0.9 s, kept", &s, v->a, &(struct events){ .hit = 1 });
	}
	nanosleep(&quiet, NULL);
	step(&u, "udp 2 s: quiet 2.3 s, expired", &s, v->b,
	     &(struct events){ .miss = 1, .expired = 1, .insert = 1 });
	inst_free(&u);
}

/*
 * The flood policies the bench compares, each loaded as a knob: with a
 * budget of busy evictions (2 at once, then 1 a second), a bucket of busy
 * flows gives up two of them to new flows (confirmed at once) and refuses
 * the third; with no busy time (LRU) the oldest goes whatever it is.
 */
static void policy_case(const struct chlb_flow_policy *pol, const struct events *third,
			const char *desc)
{
	struct chlb_dp_opts opts = { .max_vips = MAX_VIPS, .max_backends = MAX_BACKENDS,
				     .table_size = M, .seed = SEED, .flow_entries = FLOWS,
				     .udp_timeout = UDP_TIMEOUT, .flow_policy = pol };
	struct chlb_vip_info info = { .id = V4_TCP, .method = CHLB_METHOD_DSR };
	const struct vip_def *v = &vips[V4_TCP];
	struct pkt_spec s[CHLB_FLOW_WAYS + 3];
	struct events ev = { .miss = 1, .insert = 1, .evict_busy = !!pol->busy_ns };
	struct chlb_vip_key key;
	struct inst p = {};
	__u32 idx;
	int i;

	CU_ASSERT_FATAL(chlb_dp__load(&opts, &p.skel) == 0);
	CU_ASSERT_FATAL(chlb_dp__from_skel(p.skel, &p.dp) == 0);
	p.prog_fd = bpf_program__fd(p.skel->progs.chlb_xdp);
	pkt_vip_key(4, v->addr, v->port, v->proto, &key);
	CU_ASSERT_FATAL(chlb_dp__vip_add(&p.dp, &key, &info) == 0);
	fill_bucket(&p, s, 1, &idx);
	CU_ASSERT_FATAL(same_bucket(&p, V4_TCP, s, CHLB_FLOW_WAYS + 3, 1, &idx) == 0);
	for (i = 0; i < 2; i++) {
		step(&p, desc, &s[CHLB_FLOW_WAYS + i], v->a, &ev);
		step(&p, desc, &s[CHLB_FLOW_WAYS + i], v->a, &(struct events){ .hit = 1 });
	}
	step(&p, desc, &s[CHLB_FLOW_WAYS + 2], v->a, third);
	inst_free(&p);
}

static void test_policies(void)
{
	const struct chlb_flow_policy budget = { .busy_ns = CHLB_FLOW_BUSY_NS,
						 .closing_ns = CHLB_FLOW_CLOSING_NS,
						 .evict_busy = 1, .budget_rate = 1,
						 .budget_burst = 2 };
	const struct chlb_flow_policy lru = { .evict_busy = 1 };

	policy_case(&budget, &(struct events){ .miss = 1, .refused = 1 }, "busy budget");
	policy_case(&lru, &(struct events)MISS_INSERT, "LRU");
}

/* ---- the race: two CPUs on one bucket --------------------------------------- */

#define RACE_FLOWS	12	/* in one 4-way bucket: every packet may evict */
#define RACE_BACKENDS	(2 * RACE_FLOWS + 1)
#define RACE_M		65537
#define RACE_NS		(2 * NS)

/*
 * Flow i's backend is i under table 0 and RACE_FLOWS + i under table 1
 * (every other slot: the last backend), so a packet that went to any other
 * flow's backend is seen. All backends belong to VIP 0 and stay valid.
 */
struct race {
	struct inst in;
	__u8 frame[2][RACE_FLOWS][PKT_MAX];	/* an ACK and a plain SYN each */
	__u32 len[2][RACE_FLOWS], slot[RACE_FLOWS];
	__u32 *tables[2];
	volatile int stop;
};

struct racer {
	pthread_t tid;
	struct race *r;
	int cpu, err;
	__u64 packets, wrong;
};

static int race_table(struct race *r, int t)
{
	int i;

	for (i = 0; i < RACE_M; i++)
		r->tables[t][i] = RACE_BACKENDS - 1;
	for (i = 0; i < RACE_FLOWS; i++)
		r->tables[t][r->slot[i]] = i + t * RACE_FLOWS;
	return chlb_dp__set_table(&r->in.dp, 0, r->tables[t]);
}

/* RACE_FLOWS flows in one bucket, each in a slot of its own. */
static int race_flows(struct race *r)
{
	struct chlb_flow_key k;
	struct pkt_spec s;
	__u32 want = 0, idx, h, slot;
	int n = 0, i, port, dup;
	ssize_t len;

	for (port = 1; port < 65536 && n < RACE_FLOWS; port++) {
		flow_spec(V4_TCP, port, ACK, &s);
		if (pkt_flow_key(&s, &k))
			return -EINVAL;
		h = chlb_flow_hash(&k, SEED);
		idx = chlb_flow_bucket(h, r->in.dp.flow_entries / CHLB_FLOW_WAYS);
		slot = chlb_hash_to_slot(h, RACE_M);
		for (i = 0, dup = 0; i < n; i++)
			dup |= r->slot[i] == slot;
		if (!n)
			want = idx;
		if (idx != want || dup)
			continue;
		len = pkt_build(&s, r->frame[0][n], PKT_MAX);
		r->len[0][n] = len;
		s.tcp_flags = SYN;
		if (len > 0)
			len = pkt_build(&s, r->frame[1][n], PKT_MAX);
		if (len < 0)
			return len;
		r->len[1][n] = len;
		r->slot[n++] = slot;
	}
	return n == RACE_FLOWS ? 0 : -ENOENT;
}

static int race_load(struct race *r, const struct chlb_flow_policy *pol)
{
	struct chlb_dp_opts opts = { .max_vips = 1, .max_backends = RACE_BACKENDS,
				     .table_size = RACE_M, .seed = SEED, .flow_entries = 64,
				     .udp_timeout = UDP_TIMEOUT, .flow_policy = pol };
	struct chlb_vip_info info = { .id = 0, .method = CHLB_METHOD_DSR };
	struct chlb_backend be = { .weight = 1, .flags = CHLB_BACKEND_F_IN_USE, .gen = 1 };
	struct chlb_vip_key key;
	__u32 id;
	int err;

	err = chlb_dp__load(&opts, &r->in.skel);
	if (!err)
		err = chlb_dp__from_skel(r->in.skel, &r->in.dp);
	for (id = 0; !err && id < RACE_BACKENDS; id++) {
		be.mac[5] = id;
		err = bpf_map_update_elem(r->in.dp.backends_fd, &id, &be, BPF_ANY) ? -errno : 0;
	}
	if (!err)
		err = pkt_vip_key(4, vips[V4_TCP].addr, vips[V4_TCP].port, IPPROTO_TCP, &key);
	if (!err)
		err = chlb_dp__vip_add(&r->in.dp, &key, &info);
	if (!err)
		err = race_flows(r);
	if (!err)
		err = race_table(r, 0);
	r->in.prog_fd = err ? -1 : bpf_program__fd(r->in.skel->progs.chlb_xdp);
	return err;
}

/*
 * One CPU: its half of the flows first, then the others, until stopped;
 * one packet in five a plain SYN, which rewrites the flow's way.
 */
static void *racer_main(void *arg)
{
	struct racer *c = arg;
	struct race *r = c->r;
	struct xdp_result res;
	int i, f, syn;

	c->err = cpu_pin(c->cpu);
	for (i = c->cpu * RACE_FLOWS / 2; !c->err && !r->stop; i++) {
		f = i % RACE_FLOWS;
		syn = i % 5 == 0;
		c->err = xdp_run(r->in.prog_fd, r->frame[syn][f], r->len[syn][f], &res);
		c->packets++;
		if (!c->err && (res.verdict != XDP_TX ||
				(res.out[5] != f && res.out[5] != f + RACE_FLOWS)))
			c->wrong++;
	}
	return NULL;
}

/* Flip the table every 20 ms while both CPUs hammer the bucket. */
static void race_run(const struct chlb_flow_policy *pol, const char *desc)
{
	struct race r = {};
	struct racer c[2] = { { .r = &r, .cpu = 0 }, { .r = &r, .cpu = 1 } };
	struct timespec gap = { 0, 20 * 1000 * 1000 };
	struct chlb_global_stats g;
	__u64 start = now_coarse();
	int i, t = 0;

	r.tables[0] = calloc(RACE_M, sizeof(__u32));
	r.tables[1] = calloc(RACE_M, sizeof(__u32));
	CU_ASSERT_FATAL(r.tables[0] && r.tables[1]);
	CU_ASSERT_FATAL(race_load(&r, pol) == 0);
	for (i = 0; i < 2; i++)
		CU_ASSERT_FATAL(pthread_create(&c[i].tid, NULL, racer_main, &c[i]) == 0);
	while (now_coarse() - start < RACE_NS) {
		nanosleep(&gap, NULL);
		CU_ASSERT(race_table(&r, t ^= 1) == 0);
	}
	r.stop = 1;
	for (i = 0; i < 2; i++) {
		pthread_join(c[i].tid, NULL);
		CU_ASSERT_EQUAL(c[i].err, 0);
		CHECK(c[i].wrong == 0, desc);
		CU_ASSERT(c[i].packets > 10000);
	}
	CU_ASSERT_FATAL(chlb_dp__global_stats(&r.in.dp, &g) == 0);
	fprintf(stderr, "\n    %s: %llu + %llu packets, %llu hits, %llu inserts, %llu refused, "
		"%llu + %llu to another flow's backend", desc,
		(unsigned long long)c[0].packets, (unsigned long long)c[1].packets,
		(unsigned long long)g.counters[CHLB_CNT_FLOW_HIT],
		(unsigned long long)g.counters[CHLB_CNT_FLOW_INSERT],
		(unsigned long long)g.counters[CHLB_CNT_FLOW_REFUSED],
		(unsigned long long)c[0].wrong, (unsigned long long)c[1].wrong);
	CU_ASSERT(g.counters[CHLB_CNT_FLOW_HIT] > 0);
	CU_ASSERT(g.counters[CHLB_CNT_FLOW_INSERT] > 1000);
	inst_free(&r.in);
	free(r.tables[0]);
	free(r.tables[1]);
}

/*
 * Two CPUs send RACE_FLOWS colliding flows through one 4-way bucket (LRU:
 * nearly every packet evicts another flow's way; the default policy: plain
 * SYNs rewrite ways, which then become others' to take) while the table
 * flips between two owners of each flow's slot: every packet must reach
 * its own flow's recorded backend or the table's choice, never another's.
 */
static void test_race(void)
{
	const struct chlb_flow_policy lru = { .evict_busy = 1 };

	if (libbpf_num_possible_cpus() < 2 || sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "\n    SKIPPED: the race needs two online CPUs\n");
		return;
	}
	race_run(&lru, "race, LRU");
	race_run(NULL, "race, default policy");
}

/* The table's size as loaded: rounded up to whole buckets, and off. */
static void test_sizes(void)
{
	struct chlb_config cfg;
	__u32 zero = 0;

	CU_ASSERT_EQUAL(on.dp.flow_entries % CHLB_FLOW_WAYS, 0);
	CU_ASSERT(on.dp.flow_entries >= FLOWS && on.dp.flow_entries < FLOWS + CHLB_FLOW_WAYS);
	CU_ASSERT_EQUAL(bpf_map__max_entries(on.skel->maps.chlb_flows),
			on.dp.flow_entries / CHLB_FLOW_WAYS);
	CU_ASSERT_EQUAL(on.dp.udp_timeout, UDP_TIMEOUT);
	CU_ASSERT_FATAL(bpf_map_lookup_elem(on.dp.config_fd, &zero, &cfg) == 0);
	CU_ASSERT_EQUAL(cfg.flow_entries, on.dp.flow_entries);
	CU_ASSERT_EQUAL(cfg.udp_timeout, UDP_TIMEOUT);
	CU_ASSERT_EQUAL(cfg.flow_map_flags, 0);
	CU_ASSERT_FATAL(bpf_map_lookup_elem(off.dp.config_fd, &zero, &cfg) == 0);
	CU_ASSERT_EQUAL(cfg.flow_entries, 0);
}

static void test_bad_opts(void)
{
	struct chlb_dp_opts opts = { .max_vips = 1, .max_backends = 1, .table_size = 1,
				     .flow_entries = CHLB_MAX_FLOW_ENTRIES + 1 };
	struct chlb *sk = NULL;

	CU_ASSERT_EQUAL(chlb_dp__load(&opts, &sk), -EINVAL);
	opts.flow_entries = 16;
	opts.udp_timeout = CHLB_MAX_UDP_TIMEOUT + 1;
	CU_ASSERT_EQUAL(chlb_dp__load(&opts, &sk), -EINVAL);
	opts.udp_timeout = CHLB_MIN_UDP_TIMEOUT - 1;	/* shorter than two refreshes */
	CU_ASSERT_EQUAL(chlb_dp__load(&opts, &sk), -EINVAL);
	CU_ASSERT_PTR_NULL(sk);
}

int main(void)
{
	static CU_TestInfo tests[] = {
		{ "flow table cases", test_cases },
		{ "table off: stateless as before", test_off_is_stateless },
		{ "no backend: dropped, not recorded", test_no_backend },
		{ "torn way: a miss, rewritten", test_torn_way },
		{ "full bucket: the oldest way evicted", test_evict_oldest },
		{ "busy flows are never evicted", test_busy_kept },
		{ "a spoofed RST does not unprotect a live flow", test_spoofed_rst },
		{ "flows seen on two CPUs", test_cross_cpu },
		{ "two CPUs racing on one bucket", test_race },
		{ "UDP at the minimum timeout, in real time", test_udp_min_timeout },
		{ "flood policies (bench knobs)", test_policies },
		{ "sizes and config", test_sizes },
		{ "bad options", test_bad_opts },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("flow", suite_init, suite_clean, tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
