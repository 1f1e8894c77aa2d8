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
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <CUnit/Basic.h>

#include "chlb.skel.h"
#include "dp/dataplane.h"
#include "helpers/pkt.h"
#include "helpers/xdp_run.h"
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

/* cond is evaluated twice: no side effects in it */
#define CHECK(cond, desc)                                                   \
	do {                                                                \
		CU_ASSERT(cond);                                            \
		if (!(cond))                                                \
			fprintf(stderr, "\n    [%s] failed: %s", desc, #cond); \
	} while (0)

/* Flow events one frame must add (frame reasons: RX and TX, one each). */
struct events {
	int hit, miss, insert, expired, stale;
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
				     [CHLB_CNT_FLOW_STALE] = e->stale };
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

/* The flow's bucket in the flow cache, read into *b; its hash in *h. */
static int flow_bucket(struct inst *in, const struct chlb_flow_key *k,
		       struct chlb_flow_bucket *b, __u32 *idx, __u32 *h)
{
	*h = chlb_flow_hash(k, SEED);
	*idx = chlb_flow_bucket(*h, in->dp.flow_entries / CHLB_FLOW_WAYS);
	return bpf_map_lookup_elem(in->dp.flows_fd, idx, b) ? -errno : 0;
}

/* The flow's valid entry, as the program would find it; -ENOENT: none. */
static int flow_entry(struct inst *in, const struct pkt_spec *s, struct chlb_flow *f)
{
	struct chlb_flow_bucket b;
	struct chlb_flow_key k;
	__u32 idx, h;
	int w, err;

	if (pkt_flow_key(s, &k))
		return -EINVAL;
	err = flow_bucket(in, &k, &b, &idx, &h);
	if (err)
		return err;
	w = chlb_flow_find(&b, &k, h);
	if (w < 0)
		return -ENOENT;
	*f = b.way[w].f;
	return 0;
}

/* Overwrite the flow's existing entry, with a check word that matches. */
static void set_flow_entry(struct inst *in, const struct pkt_spec *s, const struct chlb_flow *f)
{
	struct chlb_flow_bucket b;
	struct chlb_flow_key k;
	__u32 idx, h;
	int w;

	CU_ASSERT_FATAL(pkt_flow_key(s, &k) == 0);
	CU_ASSERT_FATAL(flow_bucket(in, &k, &b, &idx, &h) == 0);
	w = chlb_flow_find(&b, &k, h);
	CU_ASSERT_FATAL(w >= 0);
	b.way[w].f = *f;
	b.way[w].check = chlb_flow_check(h, f);
	CU_ASSERT_FATAL(bpf_map_update_elem(in->dp.flows_fd, &idx, &b, BPF_ANY) == 0);
}

/* ---- the case table ------------------------------------------------------------ */

/* What happens between the recording frame and the checked one. */
enum change {
	CH_TABLE = 1 << 0,	/* the VIP's table now sends every slot to B */
	CH_REMOVE = 1 << 1,	/* A's entry cleared (backend del) */
	CH_REPLACE = 1 << 2,	/* A's id reused: gen + 1 (backend del + add) */
	CH_DRAIN = 1 << 3,	/* A draining (and, with CH_TABLE, out of the table) */
	CH_OTHER_VIP = 1 << 4,	/* A's id now belongs to another VIP */
	CH_AGE = 1 << 5,	/* the entry's last_seen moved back by age_ms */
};

enum want { WANT_A, WANT_B };

struct flow_case {
	const char *desc;
	int vip;
	int record;		/* send a recording frame first (an ACK / UDP) */
	unsigned int change;
	__u32 age_ms;
	__u8 flags;		/* TCP flags of the checked frame */
	enum want want;
	struct events ev;	/* events of the checked frame */
	int refreshed;		/* 1: last_seen now; 0: as written; -1: don't care */
};

#define ACK PKT_TCP_ACK
#define SYN PKT_TCP_SYN

static const struct flow_case cases[] = {
	{ "miss: an unknown TCP flow takes the table and is recorded", V4_TCP, 0, CH_TABLE, 0,
	  ACK, WANT_B, { .miss = 1, .insert = 1 }, 1 },
	{ "miss: an unknown UDP flow is recorded, a new flow", V4_UDP, 0, CH_TABLE, 0, 0,
	  WANT_B, { .miss = 1, .insert = 1 }, 1 },
	{ "hit: a TCP flow keeps its backend after the table changed", V4_TCP, 1, CH_TABLE, 0,
	  ACK, WANT_A, { .hit = 1 }, 0 },
	{ "hit: IPv6 TCP", V6_TCP, 1, CH_TABLE, 0, ACK, WANT_A, { .hit = 1 }, 0 },
	{ "hit: IPv6 UDP", V6_UDP, 1, CH_TABLE, 0, 0, WANT_A, { .hit = 1 }, 0 },
	{ "SYN on a known flow re-picks from the table and overwrites", V4_TCP, 1, CH_TABLE, 0,
	  SYN, WANT_B, { .miss = 1, .insert = 1 }, 1 },
	{ "SYN on a known flow, table unchanged: same backend, re-recorded", V4_TCP, 1, 0, 0,
	  SYN, WANT_A, { .miss = 1, .insert = 1 }, 1 },
	{ "SYN-ACK is not a new connection", V4_TCP, 1, CH_TABLE, 0, SYN | ACK, WANT_A,
	  { .hit = 1 }, 0 },
	{ "removed backend: its flow is re-hashed", V4_TCP, 1, CH_TABLE | CH_REMOVE, 0, ACK,
	  WANT_B, { .miss = 1, .stale = 1, .insert = 1 }, 1 },
	{ "replaced backend (id reused, gen + 1): re-hashed", V4_TCP, 1, CH_TABLE | CH_REPLACE,
	  0, ACK, WANT_B, { .miss = 1, .stale = 1, .insert = 1 }, 1 },
	{ "backend id now in another VIP: re-hashed", V6_TCP, 1, CH_TABLE | CH_OTHER_VIP, 0,
	  ACK, WANT_B, { .miss = 1, .stale = 1, .insert = 1 }, 1 },
	{ "draining backend: its flow is kept", V4_TCP, 1, CH_TABLE | CH_DRAIN, 0, ACK, WANT_A,
	  { .hit = 1 }, 0 },
	{ "draining backend: its UDP flow is kept", V4_UDP, 1, CH_TABLE | CH_DRAIN, 0, 0, WANT_A,
	  { .hit = 1 }, 0 },
	{ "UDP idle past the timeout: expired, re-hashed", V4_UDP, 1, CH_TABLE | CH_AGE,
	  (UDP_TIMEOUT + 2) * 1000, 0, WANT_B, { .miss = 1, .expired = 1, .insert = 1 }, 1 },
	{ "UDP idle within the timeout: kept, last_seen refreshed", V4_UDP, 1,
	  CH_TABLE | CH_AGE, (UDP_TIMEOUT - 2) * 1000, 0, WANT_A, { .hit = 1 }, 1 },
	{ "recent hit: last_seen not rewritten (< 1 s old)", V4_UDP, 1, CH_TABLE | CH_AGE, 500,
	  0, WANT_A, { .hit = 1 }, 0 },
	{ "TCP entries do not expire by time; a hit refreshes last_seen", V4_TCP, 1,
	  CH_TABLE | CH_AGE, UDP_TIMEOUT * 4000, ACK, WANT_A, { .hit = 1 }, 1 },
	{ "recent TCP hit: last_seen not rewritten (< 1 s old)", V4_TCP, 1,
	  CH_TABLE | CH_AGE, 500, ACK, WANT_A, { .hit = 1 }, 0 },
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
	struct chlb_flow f;

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
	if (c->change & CH_AGE) {
		CU_ASSERT_FATAL(flow_entry(in, s, &f) == 0);
		f.last_seen -= (__u64)c->age_ms * 1000000;
		set_flow_entry(in, s, &f);
	}
}

static void run_case(const struct flow_case *c, __u16 sport)
{
	const struct vip_def *v = &vips[c->vip];
	__u32 want = c->want == WANT_A ? v->a : v->b;
	struct chlb_flow before = {}, after;
	struct pkt_spec s;
	__u64 t0;

	reset(&on, c->vip);
	flow_spec(c->vip, sport, ACK, &s);
	CHECK(flow_entry(&on, &s, &after) == -ENOENT, c->desc);
	if (c->record)
		step(&on, c->desc, &s, v->a, &(struct events){ .miss = 1, .insert = 1 });
	apply_change(&on, c, &s);
	if (c->record)
		CU_ASSERT_FATAL(flow_entry(&on, &s, &before) == 0);
	s.tcp_flags = c->flags;
	t0 = now_coarse();
	step(&on, c->desc, &s, want, &c->ev);
	CHECK(flow_entry(&on, &s, &after) == 0, c->desc);
	CHECK(after.backend_id == want, c->desc);
	CHECK(after.backend_gen == (c->change & CH_REPLACE && c->want == WANT_A ? 2u : 1u),
	      c->desc);
	if (c->refreshed == 1)
		CHECK(after.last_seen >= t0 && after.last_seen <= now_coarse(), c->desc);
	if (c->refreshed == 0)
		CHECK(after.last_seen == before.last_seen, c->desc);
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
 * A way torn by two CPUs writing it at once has a check that does not
 * match: the program takes it as a miss, re-picks from the table and
 * rewrites the way whole.
 */
static void test_torn_way(void)
{
	const struct vip_def *v = &vips[V4_TCP];
	struct chlb_flow_bucket b;
	struct chlb_flow_key k;
	struct pkt_spec s;
	struct chlb_flow f;
	__u32 idx, h;
	int w;

	reset(&on, V4_TCP);
	flow_spec(V4_TCP, 30000, ACK, &s);
	step(&on, "torn: recorded", &s, v->a, &(struct events){ .miss = 1, .insert = 1 });
	CU_ASSERT_FATAL(set_table(&on.dp, V4_TCP, v->b) == 0);
	CU_ASSERT_FATAL(pkt_flow_key(&s, &k) == 0);
	CU_ASSERT_FATAL(flow_bucket(&on, &k, &b, &idx, &h) == 0);
	w = chlb_flow_find(&b, &k, h);
	CU_ASSERT_FATAL(w >= 0);
	b.way[w].f.backend_gen ^= 0x100;	/* another writer's value, this check */
	CU_ASSERT_FATAL(bpf_map_update_elem(on.dp.flows_fd, &idx, &b, BPF_ANY) == 0);
	CHECK(flow_entry(&on, &s, &f) == -ENOENT, "torn: not found");
	step(&on, "torn: a miss, re-recorded", &s, v->b,
	     &(struct events){ .miss = 1, .insert = 1 });
	CHECK(flow_entry(&on, &s, &f) == 0 && f.backend_id == v->b && f.backend_gen == 1,
	      "torn: rewritten whole");
	reset(&on, V4_TCP);
}

/*
 * A full bucket: a new flow takes the way seen longest ago (oldest
 * last_seen); the other flows stay. Flows whose keys share a bucket are
 * found by trying source ports.
 */
static void test_evict_oldest(void)
{
	const struct vip_def *v = &vips[V4_TCP];
	struct pkt_spec s[CHLB_FLOW_WAYS + 1];
	struct chlb_flow_bucket b;
	struct chlb_flow_key k;
	struct chlb_flow f;
	__u32 idx, h, want = 0;
	int n = 0, i, port;

	reset(&on, V4_TCP);
	for (port = 1; port < 65536 && n <= CHLB_FLOW_WAYS; port++) {
		flow_spec(V4_TCP, port, ACK, &s[n]);
		CU_ASSERT_FATAL(pkt_flow_key(&s[n], &k) == 0);
		CU_ASSERT_FATAL(flow_bucket(&on, &k, &b, &idx, &h) == 0);
		if (!n)
			want = idx;
		if (idx == want)
			n++;
	}
	CU_ASSERT_FATAL(n == CHLB_FLOW_WAYS + 1);
	/* clear the bucket, fill it, then age the second flow: the oldest */
	memset(&b, 0, sizeof(b));
	CU_ASSERT_FATAL(bpf_map_update_elem(on.dp.flows_fd, &want, &b, BPF_ANY) == 0);
	for (i = 0; i < CHLB_FLOW_WAYS; i++)
		step(&on, "evict: fill", &s[i], v->a, &(struct events){ .miss = 1, .insert = 1 });
	CU_ASSERT_FATAL(flow_entry(&on, &s[1], &f) == 0);
	f.last_seen -= 5000000000ULL;	/* s[1]: the oldest */
	set_flow_entry(&on, &s[1], &f);
	step(&on, "evict: a fifth flow", &s[CHLB_FLOW_WAYS], v->a,
	     &(struct events){ .miss = 1, .insert = 1 });
	CHECK(flow_entry(&on, &s[1], &f) == -ENOENT, "evict: the oldest went");
	for (i = 0; i <= CHLB_FLOW_WAYS; i++)
		if (i != 1)
			CHECK(flow_entry(&on, &s[i], &f) == 0, "evict: the others stay");
	reset(&on, V4_TCP);
}

/* A VIP whose table names no usable backend drops: a miss, nothing recorded. */
static void test_no_backend(void)
{
	struct events miss = { .miss = 1 };
	struct snapshot a, b;
	struct pkt_spec s;
	struct chlb_flow f;
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

static int run_on_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
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
		CU_ASSERT_FATAL(run_on_cpu(0) == 0);
		set_table(&in->dp, V4_TCP, v->a);
		step(in, desc, &s, v->a, &(struct events){ .miss = 1, .insert = 1 });
		set_table(&in->dp, V4_TCP, v->b);
		CU_ASSERT_FATAL(run_on_cpu(1) == 0);
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
		{ "flows seen on two CPUs", test_cross_cpu },
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
