// SPDX-License-Identifier: GPL-2.0
/*
 * Method ipip, for real: the chlb program is loaded (not attached, not
 * pinned), its VIPs set to method ipip, and frames run through it with
 * BPF_PROG_TEST_RUN as received on an interface of a private network
 * namespace (tests/helpers/ipip_net.h) whose routes and neighbours
 * bpf_fib_lookup() consults. Each VIP has one backend, in a subnet whose
 * route gives one outcome: XDP_TX, redirect, no neighbour, blackhole, ...
 *
 * Every forwarded frame is compared byte for byte with the frame this
 * file builds on its own: the outer header from the specification (the
 * source from the flow hash and the range, TOS, DF, flow label, lengths),
 * its checksum by the tests' own one's complement sum (helpers/csum.c,
 * not the data plane's), the MACs of the neighbour entries, the inner
 * packet as it came. The ICMP answers are built here the same way, with
 * their checksums (ICMPv6's over the pseudo-header). Every counter is
 * checked after every frame: exactly the expected reason moved, by one,
 * and the expected event if any.
 *
 * The instances of the existing cases run with the next-hop cache off
 * (every frame looks its route up); a third one with the cache on and a
 * short TTL (CACHE_TTL_NS) shows what the cache keeps and for how long:
 * a hit makes the bytes a miss makes, a neighbour, route or route MTU
 * change is used after the TTL and not before, a backend's new gen misses
 * at once, NO_NEIGH and failures are never kept.
 *
 * Without a network namespace (no privilege) every test says SKIPPED.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <CUnit/Basic.h>

#include "chlb/shared.h"	/* the skeleton names its types */
#include "chlb.skel.h"
#include "dp/dataplane.h"
#include "helpers/cpu.h"
#include "helpers/csum.h"
#include "helpers/ipip_net.h"
#include "helpers/pkt.h"
#include "helpers/xdp_run.h"
#include "helpers/cu_check.h"
#include "helpers/cu_main.h"

#define SEED		0x0123456789abcdefULL
#define M		7
#define MAX_VIPS	64	/* each VIP twice: TCP and UDP */
#define MAX_BACKENDS	32
#define VIP4		"10.0.0.100"
#define VIP6		"2001:db8::100"
#define CLIENT4		"203.0.113.7"
#define CLIENT6		"2001:db8:99::7"
#define SRC4		"172.16.0.0"	/* the outer sources: a /24 ... */
#define SRC4_LEN	24
#define SRC6		"2001:db8:5::"	/* ... and a /112 */
#define SRC6_LEN	112
#define SRC4_ONE	"192.0.2.1"	/* the other instance: the LB's own, /32 */
/*
 * The cached instance's TTL: long enough that an `ip` command between a
 * fill and the next frame is well inside it, short enough to wait out.
 */
#define CACHE_TTL_NS	200000000LL

static const __u8 SENDER_MAC[6] = { 0x02, 0xc1, 0, 0, 0, 0x01 };	/* the router before the LB */

struct vip_def {
	int family;
	const char *addr;
	__u16 port;
	const char *backend;	/* its one backend */
};

enum {
	V44, V66, V46, V64, V44_REDIR, V66_REDIR, V44_NONEIGH, V66_NONEIGH,
	V44_BLACKHOLE, V66_BLACKHOLE, V44_UNREACH, V44_NOROUTE, V44_MTU, V66_MTU,
	V44_INCOMPLETE, V44_FAILED, NVIPS
};

static const struct vip_def vips[NVIPS] = {
	[V44] = { 4, VIP4, 80, "10.1.0.2" },
	[V66] = { 6, VIP6, 80, "2001:db8:b::2" },
	[V46] = { 4, VIP4, 81, "2001:db8:b::3" },
	[V64] = { 6, VIP6, 81, "10.1.0.3" },
	[V44_REDIR] = { 4, VIP4, 82, "10.2.0.2" },
	[V66_REDIR] = { 6, VIP6, 82, "2001:db8:c::2" },
	[V44_NONEIGH] = { 4, VIP4, 83, "10.3.0.2" },
	[V66_NONEIGH] = { 6, VIP6, 83, "2001:db8:d::2" },
	[V44_BLACKHOLE] = { 4, VIP4, 84, "10.4.0.2" },
	[V66_BLACKHOLE] = { 6, VIP6, 84, "2001:db8:e::2" },
	[V44_UNREACH] = { 4, VIP4, 85, "10.5.0.2" },
	[V44_NOROUTE] = { 4, VIP4, 86, "10.9.0.2" },
	[V44_MTU] = { 4, VIP4, 87, "10.6.0.2" },
	[V66_MTU] = { 6, VIP6, 87, "2001:db8:f::2" },
	[V44_INCOMPLETE] = { 4, VIP4, 88, "10.7.0.2" },
	[V44_FAILED] = { 4, VIP4, 89, "10.8.0.2" },
};

/* One loaded instance with its outer source ranges and next-hop cache TTL. */
struct lb {
	struct chlb *skel;
	struct chlb_dp dp;
	int prog_fd;
	struct chlb_encap_src src[2];
	__s64 ttl;		/* chlb_dp_opts.nexthop_ttl_ns */
};

static struct ipip_net net;
static struct lb lb_range = { .ttl = -1 };	/* SRC4/24, SRC6/112, no cache */
static struct lb lb_one = { .ttl = -1 };	/* SRC4_ONE/32, no IPv6 range, no cache */
static struct lb lb_cache = { .ttl = CACHE_TTL_NS };	/* lb_range's ranges, cached */
static char skip_why[160];	/* set: every test is SKIPPED */

#define SKIP_IF_NO_NETNS()                                          \
	do {                                                        \
		if (skip_why[0]) {                                  \
			printf("SKIPPED (%s) ", skip_why);          \
			return;                                     \
		}                                                   \
	} while (0)

/* ---- byte layout ------------------------------------------------------------ */

/* The frame's L2 header length: Ethernet, and a tag if it has one. */
static size_t l2_len(const __u8 *f)
{
	return f[12] == 0x81 && f[13] == 0x00 ? 18 : 14;
}

/* ---- set-up -------------------------------------------------------------- */

static int addr_of(int family, const char *text, __u8 *a)
{
	struct chlb_vip_key k;

	if (pkt_vip_key(family, text, 0, 0, &k))
		return -EINVAL;
	memcpy(a, k.addr, CHLB_ADDR_LEN);
	return 0;
}

static int family_of(const char *text)
{
	return strchr(text, ':') ? 6 : 4;
}

static int range(const char *text, int prefix_len, struct chlb_encap_src *s)
{
	memset(s, 0, sizeof(*s));
	s->family = family_of(text) == 4 ? CHLB_FAMILY_INET : CHLB_FAMILY_INET6;
	s->prefix_len = prefix_len;
	return addr_of(family_of(text), text, s->addr);
}

/* VIP v: id v, method ipip, every slot to its one backend, id v. */
static int add_vip(struct lb *lb, __u32 v)
{
	struct chlb_vip_info info = { .id = v, .method = CHLB_METHOD_IPIP };
	struct chlb_backend be = { .weight = 1, .vip_id = v, .flags = CHLB_BACKEND_F_IN_USE };
	struct chlb_vip_key key;
	__u32 slots[M], s;
	int err;

	err = addr_of(family_of(vips[v].backend), vips[v].backend, be.addr);
	if (err)
		return err;
	if (bpf_map_update_elem(lb->dp.backends_fd, &v, &be, BPF_ANY))
		return -errno;
	for (s = 0; s < M; s++)
		slots[s] = v;
	err = chlb_dp__set_table(&lb->dp, v, slots);
	if (!err)
		err = pkt_vip_key(vips[v].family, vips[v].addr, vips[v].port, IPPROTO_TCP, &key);
	if (!err)
		err = chlb_dp__vip_add(&lb->dp, &key, &info);
	if (!err)
		err = pkt_vip_key(vips[v].family, vips[v].addr, vips[v].port, IPPROTO_UDP, &key);
	if (!err) {
		info.id = v + NVIPS;	/* the same backend's table, by id */
		err = chlb_dp__set_table(&lb->dp, v + NVIPS, slots);
	}
	if (!err)
		err = chlb_dp__vip_add(&lb->dp, &key, &info);
	return err;
}

static int load_lb(struct lb *lb)
{
	struct chlb_dp_opts opts = {
		.max_vips = MAX_VIPS, .max_backends = MAX_BACKENDS,
		.table_size = M, .seed = SEED, .dst_mac_check = 1,
		.nexthop_ttl_ns = lb->ttl,
	};
	__u32 v;
	int err;

	memcpy(opts.if_mac, ipip_if0_mac, 6);
	memcpy(opts.encap, lb->src, sizeof(opts.encap));
	err = chlb_dp__load(&opts, &lb->skel);
	if (!err)
		err = chlb_dp__from_skel(lb->skel, &lb->dp);
	for (v = 0; !err && v < NVIPS; v++)
		err = add_vip(lb, v);
	if (!err)
		lb->prog_fd = bpf_program__fd(lb->skel->progs.chlb_xdp);
	return err;
}

static int suite_init(void)
{
	int skip, err;

	err = ipip_net_setup(&net, &skip, skip_why, sizeof(skip_why));
	if (err && skip) {
		fprintf(stderr, "test_ipip: SKIPPED: %s\n", skip_why);
		return 0;
	}
	skip_why[0] = 0;
	if (!err)
		err = range(SRC4, SRC4_LEN, &lb_range.src[0]);
	if (!err)
		err = range(SRC6, SRC6_LEN, &lb_range.src[1]);
	if (!err)
		err = range(SRC4_ONE, 32, &lb_one.src[0]);
	if (!err)
		err = load_lb(&lb_range);
	if (!err)
		err = load_lb(&lb_one);
	if (!err) {
		memcpy(lb_cache.src, lb_range.src, sizeof(lb_cache.src));
		err = load_lb(&lb_cache);
	}
	if (err) {
		fprintf(stderr, "test_ipip: set-up failed: %s %s\n", strerror(-err),
			skip_why);
		return -1;
	}
	cpu_pin_here();	/* one CPU, one rate-limit bucket and cache entry */
	return 0;
}

static void close_lb(struct lb *lb)
{
	if (!lb->skel)
		return;
	chlb_dp__close(&lb->dp);
	chlb__destroy(lb->skel);
}

static int suite_clean(void)
{
	close_lb(&lb_range);
	close_lb(&lb_one);
	close_lb(&lb_cache);
	return 0;
}

/* ---- frames --------------------------------------------------------------- */

/* A TCP (or UDP) frame from the client to VIP v, to the LB's MAC. */
static __u32 frame(int v, __u8 proto, __u16 sport, __u16 payload, __u16 frag_off, __u16 vlan,
		   __u8 *f, struct pkt_spec *spec)
{
	struct pkt_spec s = {
		.family = vips[v].family, .proto = proto,
		.src = vips[v].family == 4 ? CLIENT4 : CLIENT6, .dst = vips[v].addr,
		.sport = sport, .dport = vips[v].port, .payload_len = payload,
		.frag_off = frag_off, .vlan = vlan,
	};
	ssize_t n;

	memcpy(s.smac, SENDER_MAC, 6);
	memcpy(s.dmac, ipip_if0_mac, 6);
	n = pkt_build(&s, f, PKT_MAX);
	CU_ASSERT_FATAL(n > 0);
	if (spec)
		*spec = s;
	return n;
}

/* Set the inner TOS / traffic class (the IPv4 checksum follows). */
static void set_tos(__u8 *f, __u8 tos)
{
	__u8 *ip = f + l2_len(f);

	if (ip[0] >> 4 == 4) {
		ip[1] = tos;
		csum_fill(ip, (ip[0] & 0xf) * 4, ip + 10, 0);
	} else {
		ip[0] = 0x60 | tos >> 4;
		ip[1] = (tos & 0xf) << 4 | (ip[1] & 0xf);
	}
}

/* ---- expected frames, built here ------------------------------------------ */

/* The flow hash's top half, as chlb_send() hands it to the encapsulation. */
static __u32 flow_hash(const struct pkt_spec *s)
{
	struct chlb_flow_key key;

	CU_ASSERT_FATAL(pkt_flow_key(s, &key) == 0);
	return chlb_flow_hash(&key, SEED);
}

/* The outer source: the range with its low bits (at most 16) from h. */
static void outer_source(const struct chlb_encap_src *r, __u32 h, __u8 *src)
{
	int v4 = r->family == CHLB_FAMILY_INET;
	int bits = (v4 ? 32 : 128) - r->prefix_len;
	__u32 mask = (1u << (bits > 16 ? 16 : bits)) - 1, last;

	memcpy(src, v4 ? r->addr + 12 : r->addr, v4 ? 4 : 16);
	src += v4 ? 0 : 12;
	last = (__u32)src[0] << 24 | src[1] << 16 | src[2] << 8 | src[3];
	put32(src, last | (h & mask));
}

struct encap_want {
	const __u8 *dmac, *smac;
	__u8 src[16];		/* outer source */
	__u8 dst[16];		/* outer destination: the backend */
	int outer6;
	__u32 label;
};

/* What the program must make of in (len bytes) for backend of VIP v, flow hash h. */
static void encap_want(const struct lb *lb, int v, __u32 h, struct encap_want *w)
{
	int outer6 = family_of(vips[v].backend) == 6;

	w->outer6 = outer6;
	outer_source(&lb->src[outer6], h, w->src);
	inet_pton(outer6 ? AF_INET6 : AF_INET, vips[v].backend, w->dst);
	w->label = (h & 0xfffff) ? (h & 0xfffff) : 1;
	w->dmac = ipip_gw0_mac;
	w->smac = ipip_if0_mac;
}

static size_t put_outer(const struct encap_want *w, const __u8 *inner, __u8 *o)
{
	int inner6 = inner[0] >> 4 == 6;
	__u32 ilen = inner6 ? get16(inner + 4) + 40u : get16(inner + 2);
	__u8 tos = inner6 ? (get16(inner) >> 4) & 0xff : inner[1];

	if (!w->outer6) {
		memset(o, 0, 20);
		o[0] = 0x45;
		o[1] = tos;
		put16(o + 2, ilen + 20);
		put16(o + 6, get16(inner + 6) & 0x4000);	/* DF copied */
		o[8] = 64;
		o[9] = 4;
		memcpy(o + 12, w->src, 4);
		memcpy(o + 16, w->dst, 4);
		csum_fill(o, 20, o + 10, 0);
		return 20;
	}
	put32(o, 6u << 28 | (__u32)tos << 20 | w->label);
	put16(o + 4, ilen);
	o[6] = inner6 ? 41 : 4;
	o[7] = 64;
	memcpy(o + 8, w->src, 16);
	memcpy(o + 24, w->dst, 16);
	return 40;
}

/* The encapsulated frame: L2 (tag kept), outer header, in's packet unchanged. */
static __u32 build_encap(const struct encap_want *w, const __u8 *in, __u32 len, __u8 *out)
{
	size_t l2 = l2_len(in), hl;

	memcpy(out, w->dmac, 6);
	memcpy(out + 6, w->smac, 6);
	memcpy(out + 12, in + 12, l2 - 12);
	put16(out + l2 - 2, w->outer6 ? ETH_P_IPV6 : ETH_P_IP);
	hl = put_outer(w, in + l2, out + l2);
	memcpy(out + l2 + hl, in + l2, len - l2);
	return len + hl;
}

/* The answer's L2 header: back to the sender from the LB, the tag kept. */
static size_t put_reply_l2(const __u8 *in, __u8 *out)
{
	size_t l2 = l2_len(in);

	memcpy(out, in + 6, 6);
	memcpy(out + 6, ipip_if0_mac, 6);
	memcpy(out + 12, in + 12, l2 - 12);
	return l2;
}

/* ICMP fragmentation needed for the IPv4 frame in, next-hop MTU mtu. */
static __u32 build_frag_needed(const __u8 *in, __u16 mtu, __u8 *out)
{
	size_t l2 = put_reply_l2(in, out);
	const __u8 *ip = in + l2;
	__u8 *o = out + l2, *icmp = o + 20;

	memset(o, 0, 28);
	o[0] = 0x45;
	o[1] = 0xc0;
	put16(o + 2, 56);
	o[8] = 64;
	o[9] = IPPROTO_ICMP;
	memcpy(o + 12, ip + 16, 4);	/* from the VIP */
	memcpy(o + 16, ip + 12, 4);	/* to the client */
	csum_fill(o, 20, o + 10, 0);
	icmp[0] = 3;
	icmp[1] = 4;
	put16(icmp + 6, mtu);
	memcpy(icmp + 8, ip, 28);
	csum_fill(icmp, 36, icmp + 2, 0);
	return l2 + 56;
}

/* ICMPv6 packet too big for the IPv6 frame in: 1280 bytes, 1232 of them quoted. */
static __u32 build_ptb6(const __u8 *in, __u32 mtu, __u8 *out)
{
	size_t l2 = put_reply_l2(in, out);
	const __u8 *ip = in + l2;
	__u8 *o = out + l2, *icmp = o + 40;
	__u32 pseudo;

	memset(o, 0, 48);
	o[0] = 0x60;
	put16(o + 4, 1240);
	o[6] = IPPROTO_ICMPV6;
	o[7] = 64;
	memcpy(o + 8, ip + 24, 16);
	memcpy(o + 24, ip + 8, 16);
	icmp[0] = 2;
	put32(icmp + 4, mtu);
	memcpy(icmp + 8, ip, 1232);
	pseudo = csum_add(csum_add(0, o + 8, 32), (const __u8 *)"\0\0\x04\xd8\0\0\0\x3a", 8);
	csum_fill(icmp, 1240, icmp + 2, pseudo);
	return l2 + 1280;
}

/* ---- running ---------------------------------------------------------------- */

struct expect {
	const char *desc;
	__u32 verdict;
	int reason;		/* enum chlb_counter: the frame's */
	int event;		/* an event counted beside it, or -1 */
	const __u8 *want;	/* expected output (NULL: the input unchanged) */
	__u32 want_len;
};

#define EXPECT(d, v, r, ev) { .desc = (d), .verdict = (v), .reason = (r), .event = (ev) }

/* Packets every backend of lb was sent, summed. */
static __u64 backend_packets(struct lb *lb)
{
	struct chlb_backend_stats bs;
	__u64 n = 0;
	__u32 id;

	for (id = 0; id < MAX_BACKENDS; id++) {
		CU_ASSERT_EQUAL_FATAL(chlb_dp__backend_stats(&lb->dp, id, &bs), 0);
		n += bs.packets;
	}
	return n;
}

/*
 * An outer IPv4 header without DF carries a random ID (bpf/encap.h): the
 * expected frame takes the output's, and its checksum is computed again
 * by the tests' own sum, so the program's checksum must cover that ID.
 */
static const __u8 *with_outer_id(const __u8 *want, __u32 len, const struct xdp_result *r)
{
	static __u8 w[PKT_MAX + 64];
	size_t l2 = l2_len(want);

	if (len > sizeof(w) || len < l2 + 20 || r->len < l2 + 20 || want[l2] != 0x45 ||
	    want[l2 + 9] != IPPROTO_IPIP || (want[l2 + 6] & 0x40))
		return want;
	memcpy(w, want, len);
	memcpy(w + l2 + 4, r->out + l2 + 4, 2);
	put16(w + l2 + 10, 0);
	csum_fill(w + l2, 20, w + l2 + 10, 0);
	return w;
}

/*
 * Run f on lb: the verdict, the output (except for drops), and every
 * counter: exactly the reason and the event moved, by one; a backend's
 * packets only when the frame went its way (not answered, not dropped).
 */
static void run(struct lb *lb, const struct expect *e, const __u8 *f, __u32 len,
		struct xdp_result *r)
{
	int sent = e->reason == CHLB_CNT_TX || e->reason == CHLB_CNT_REDIRECT ||
		   e->reason == CHLB_CNT_PASS_NO_NEIGH;
	__u64 pa = backend_packets(lb);
	struct chlb_global_stats a, b;
	const __u8 *want = e->want ? e->want : f;
	__u32 want_len = e->want ? e->want_len : len;
	int i, err;

	CU_ASSERT_EQUAL_FATAL(chlb_dp__global_stats(&lb->dp, &a), 0);
	err = xdp_run_ingress(lb->prog_fd, net.if0, f, len, r);
	CHECK(err == 0, e->desc);
	if (err)
		return;
	CU_ASSERT_EQUAL_FATAL(chlb_dp__global_stats(&lb->dp, &b), 0);
	CHECK(r->verdict == e->verdict, e->desc);
	CHECK(backend_packets(lb) - pa == (__u64)sent, e->desc);
	if (e->verdict != XDP_DROP) {
		if (e->want)
			want = with_outer_id(want, want_len, r);
		CHECK(r->len == want_len, e->desc);
		CHECK(r->len == want_len && !memcmp(r->out, want, want_len), e->desc);
	}
	for (i = 0; i < CHLB_CNT_MAX; i++) {
		CHECK(b.counters[i] - a.counters[i] ==
		      (__u64)(i == CHLB_CNT_RX || i == e->reason || i == e->event), e->desc);
		if (i != CHLB_CNT_RX && b.counters[i] != a.counters[i] && i != e->reason &&
		    i != e->event)
			fprintf(stderr, "\n    [%s] verdict %u, counted %d", e->desc, r->verdict, i);
	}
}

/* Encapsulated to VIP v's backend by lb to dmac (NULL: as reason says). */
static void run_encap_to(struct lb *lb, const char *desc, int v, const __u8 *f, __u32 len,
			 const struct pkt_spec *s, __u32 verdict, int reason, const __u8 *dmac)
{
	static __u8 want[PKT_MAX + 64];
	struct encap_want w;
	struct xdp_result r;
	struct expect e = EXPECT(desc, verdict, reason, -1);

	encap_want(lb, v, flow_hash(s), &w);
	if (dmac) {
		w.dmac = dmac;
		w.smac = reason == CHLB_CNT_REDIRECT ? ipip_if1_mac : ipip_if0_mac;
	} else if (reason == CHLB_CNT_REDIRECT) {
		w.dmac = ipip_gw1_mac;
		w.smac = ipip_if1_mac;
	} else if (reason == CHLB_CNT_PASS_NO_NEIGH) {
		w.dmac = ipip_if0_mac;	/* to the LB's kernel ... */
		w.smac = SENDER_MAC;	/* ... as sent */
	}
	e.want = want;
	e.want_len = build_encap(&w, f, len, want);
	run(lb, &e, f, len, &r);
}

/* Encapsulated to VIP v's backend by lb, via IPIP_GW0 unless told. */
static void run_encap(struct lb *lb, const char *desc, int v, const __u8 *f, __u32 len,
		      const struct pkt_spec *s, __u32 verdict, int reason)
{
	run_encap_to(lb, desc, v, f, len, s, verdict, reason, NULL);
}

/* The output's outer header sums right, by the tests' own computation. */
static int outer_csum_ok(const __u8 *out)
{
	size_t l2 = l2_len(out);

	return out[l2] >> 4 == 6 || csum_fold(csum_add(0, out + l2, 20)) == 0xffff;
}

/*
 * Without DF the outer IDs differ from packet to packet, even within one
 * flow (a router may fragment those): 16 frames give more than one ID.
 * With DF the ID is 0 (the exact bytes of test_4in4's other cases).
 */
static void check_outer_ids(void)
{
	__u16 first = 0, id;
	int i, distinct = 0;
	__u8 f[PKT_MAX];
	struct pkt_spec s;
	struct xdp_result r;
	__u32 len;

	for (i = 0; i < 16; i++) {
		len = frame(V44, IPPROTO_UDP, 40007, 100, 0, 0, f, &s);
		CU_ASSERT_FATAL(xdp_run_ingress(lb_range.prog_fd, net.if0, f, len, &r) == 0);
		CU_ASSERT(outer_csum_ok(r.out));
		id = get16(r.out + 14 + 4);
		if (!i)
			first = id;
		distinct += id != first;
	}
	CHECK(distinct > 0, "4in4 without DF: outer IDs vary");
}

/* ---- tests ------------------------------------------------------------------- */

static void test_4in4(void)
{
	__u8 f[PKT_MAX];
	struct pkt_spec s;
	struct xdp_result r;
	__u32 len;

	SKIP_IF_NO_NETNS();
	len = frame(V44, IPPROTO_TCP, 40000, 100, 0, 0, f, &s);
	run_encap(&lb_range, "4in4, DF clear, TOS 0", V44, f, len, &s, XDP_TX, CHLB_CNT_TX);
	len = frame(V44, IPPROTO_TCP, 40001, 100, 0x4000, 0, f, &s);
	set_tos(f, 0xb9);	/* DSCP 46 (EF), ECN ECT(1) */
	run_encap(&lb_range, "4in4, DF set, EF + ECT(1)", V44, f, len, &s, XDP_TX, CHLB_CNT_TX);
	len = frame(V44, IPPROTO_TCP, 40002, 0, 0x4000, 0, f, &s);
	set_tos(f, 0x03);	/* CE */
	run_encap(&lb_range, "4in4, CE", V44, f, len, &s, XDP_TX, CHLB_CNT_TX);
	len = frame(V44, IPPROTO_UDP, 40003, 300, 0x4000, 0, f, &s);
	run_encap(&lb_range, "4in4, UDP", V44, f, len, &s, XDP_TX, CHLB_CNT_TX);
	len = frame(V44, IPPROTO_TCP, 40004, 10, 0, 42, f, &s);
	run_encap(&lb_range, "4in4, VLAN 42 kept", V44, f, len, &s, XDP_TX, CHLB_CNT_TX);
	/* a short packet in a padded frame: the lengths are the packet's */
	len = frame(V44, IPPROTO_TCP, 40005, 0, 0, 0, f, &s);
	memset(f + len, 0, 6);
	run_encap(&lb_range, "4in4, Ethernet padding", V44, f, len + 6, &s, XDP_TX, CHLB_CNT_TX);
	/* the checksum of one output, once more by a plain sum */
	len = frame(V44, IPPROTO_TCP, 40006, 100, 0x4000, 0, f, &s);
	CU_ASSERT_EQUAL(xdp_run_ingress(lb_range.prog_fd, net.if0, f, len, &r), 0);
	CU_ASSERT(outer_csum_ok(r.out));
	CU_ASSERT_EQUAL(r.out[14 + 6], 0x40);	/* DF */
	CU_ASSERT(!memcmp(r.out + 34, f + 14, len - 14));
	check_outer_ids();
}

static void test_6in6(void)
{
	__u8 f[PKT_MAX];
	struct pkt_spec s;
	__u32 len;

	SKIP_IF_NO_NETNS();
	len = frame(V66, IPPROTO_TCP, 40000, 100, 0, 0, f, &s);
	run_encap(&lb_range, "6in6", V66, f, len, &s, XDP_TX, CHLB_CNT_TX);
	len = frame(V66, IPPROTO_TCP, 40001, 100, 0, 0, f, &s);
	set_tos(f, 0xba);	/* EF, ECT(0) */
	run_encap(&lb_range, "6in6, EF + ECT(0)", V66, f, len, &s, XDP_TX, CHLB_CNT_TX);
	len = frame(V66, IPPROTO_UDP, 40002, 50, 0, 0, f, &s);
	set_tos(f, 0x03);
	run_encap(&lb_range, "6in6, UDP, CE", V66, f, len, &s, XDP_TX, CHLB_CNT_TX);
	len = frame(V66, IPPROTO_TCP, 40003, 10, 0, 4094, f, &s);
	run_encap(&lb_range, "6in6, VLAN 4094 kept", V66, f, len, &s, XDP_TX, CHLB_CNT_TX);
	len = frame(V66, IPPROTO_TCP, 40004, 0, 0, 0, f, &s);
	memset(f + len, 0, 8);
	run_encap(&lb_range, "6in6, padding", V66, f, len + 8, &s, XDP_TX, CHLB_CNT_TX);
}

static void test_4in6(void)
{
	const struct expect e = EXPECT("IPv6 VIP, IPv4 backend: 6in4 not built", XDP_DROP, CHLB_CNT_DROP_ENCAP, -1);
	__u8 f[PKT_MAX];
	struct pkt_spec s;
	struct xdp_result r;
	__u32 len;

	SKIP_IF_NO_NETNS();
	len = frame(V46, IPPROTO_TCP, 40000, 100, 0x4000, 0, f, &s);
	set_tos(f, 0x29);	/* AF11, ECT(1) */
	run_encap(&lb_range, "4in6", V46, f, len, &s, XDP_TX, CHLB_CNT_TX);
	len = frame(V46, IPPROTO_UDP, 40001, 20, 0, 7, f, &s);
	run_encap(&lb_range, "4in6, UDP, VLAN 7", V46, f, len, &s, XDP_TX, CHLB_CNT_TX);
	len = frame(V64, IPPROTO_TCP, 40000, 100, 0, 0, f, &s);
	run(&lb_range, &e, f, len, &r);
}

/* Outer sources of many flows: in the range, as the hash says, spread. */
static void check_sources(struct lb *lb, int v, int want_distinct, const char *desc)
{
	__u8 f[PKT_MAX], seen[64][16];
	struct pkt_spec s;
	struct xdp_result r;
	struct encap_want w;
	int i, j, distinct = 0, v6 = family_of(vips[v].backend) == 6;
	size_t alen = v6 ? 16 : 4, off = v6 ? 14 + 8 : 14 + 12;
	__u32 len;

	for (i = 0; i < 64; i++) {
		len = frame(v, IPPROTO_TCP, 41000 + i, 20, 0, 0, f, &s);
		CU_ASSERT_FATAL(xdp_run_ingress(lb->prog_fd, net.if0, f, len, &r) == 0);
		CHECK(r.verdict == XDP_TX, desc);
		encap_want(lb, v, flow_hash(&s), &w);
		CHECK(!memcmp(r.out + off, w.src, alen), desc);
		CHECK(!memcmp(r.out + off, lb->src[v6].addr + (v6 ? 0 : 12),
			      lb->src[v6].prefix_len / 8), desc);
		for (j = 0; j < distinct && memcmp(seen[j], r.out + off, alen); j++)
			;
		if (j == distinct)
			memcpy(seen[distinct++], r.out + off, alen);
	}
	CHECK(distinct >= want_distinct, desc);
	if (want_distinct == 1)
		CHECK(distinct == 1, desc);
}

static void test_sources(void)
{
	const struct expect e = EXPECT("no IPv6 range: 6in6 not built", XDP_DROP, CHLB_CNT_DROP_ENCAP, -1);
	__u8 f[PKT_MAX];
	struct pkt_spec s;
	struct xdp_result r;
	__u32 len;

	SKIP_IF_NO_NETNS();
	/* 64 flows over 256 (or 65536) sources: about 57 (64) distinct */
	check_sources(&lb_range, V44, 40, "/24: flows spread over the range");
	check_sources(&lb_range, V66, 60, "/112: flows spread over the range");
	check_sources(&lb_range, V46, 60, "/112 for 4in6");
	check_sources(&lb_one, V44, 1, "/32: the one address");
	len = frame(V44, IPPROTO_TCP, 40000, 100, 0, 0, f, &s);
	run_encap(&lb_one, "4in4 from the LB's own address", V44, f, len, &s, XDP_TX,
		  CHLB_CNT_TX);
	len = frame(V66, IPPROTO_TCP, 40000, 100, 0, 0, f, &s);
	run(&lb_one, &e, f, len, &r);
	len = frame(V46, IPPROTO_TCP, 40000, 100, 0, 0, f, &s);
	run(&lb_one, &e, f, len, &r);
}

static void test_redirect(void)
{
	__u8 f[PKT_MAX];
	struct pkt_spec s;
	__u32 len;

	SKIP_IF_NO_NETNS();
	len = frame(V44_REDIR, IPPROTO_TCP, 40000, 100, 0x4000, 0, f, &s);
	run_encap(&lb_range, "4in4 out of the other interface", V44_REDIR, f, len, &s,
		  XDP_REDIRECT, CHLB_CNT_REDIRECT);
	len = frame(V66_REDIR, IPPROTO_UDP, 40000, 100, 0, 0, f, &s);
	run_encap(&lb_range, "6in6 out of the other interface", V66_REDIR, f, len, &s,
		  XDP_REDIRECT, CHLB_CNT_REDIRECT);
}

static void test_no_neigh(void)
{
	__u8 f[PKT_MAX];
	struct pkt_spec s;
	__u32 len;

	SKIP_IF_NO_NETNS();
	len = frame(V44_NONEIGH, IPPROTO_TCP, 40000, 100, 0, 0, f, &s);
	run_encap(&lb_range, "4in4, gateway not resolved: to the kernel", V44_NONEIGH, f, len,
		  &s, XDP_PASS, CHLB_CNT_PASS_NO_NEIGH);
	len = frame(V66_NONEIGH, IPPROTO_TCP, 40000, 100, 0, 0, f, &s);
	run_encap(&lb_range, "6in6, gateway not resolved: to the kernel", V66_NONEIGH, f, len,
		  &s, XDP_PASS, CHLB_CNT_PASS_NO_NEIGH);
	/* entries without a valid address: never a frame to 00:00:00:00:00:00 */
	len = frame(V44_INCOMPLETE, IPPROTO_TCP, 40000, 100, 0, 0, f, &s);
	run_encap(&lb_range, "4in4, gateway INCOMPLETE: to the kernel", V44_INCOMPLETE, f, len,
		  &s, XDP_PASS, CHLB_CNT_PASS_NO_NEIGH);
	len = frame(V44_FAILED, IPPROTO_TCP, 40000, 100, 0, 0, f, &s);
	run_encap(&lb_range, "4in4, gateway FAILED: to the kernel", V44_FAILED, f, len,
		  &s, XDP_PASS, CHLB_CNT_PASS_NO_NEIGH);
}

/* Write /proc/sys/net/<name> (this process's namespace); 0 or -1. */
static int sysctl_write(const char *name, const char *value)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/sys/net/%s", name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ok = fputs(value, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static void test_no_route(void)
{
	static const struct {
		int v;
		const char *desc;
	} c[] = {
		{ V44_BLACKHOLE, "IPv4 blackhole" },
		{ V66_BLACKHOLE, "IPv6 blackhole" },
		{ V44_UNREACH, "IPv4 unreachable" },
		{ V44_NOROUTE, "IPv4 no route at all" },
	};
	struct expect e = EXPECT(NULL, XDP_DROP, CHLB_CNT_DROP_NO_ROUTE, -1);
	__u8 f[PKT_MAX];
	struct xdp_result r;
	size_t i;
	__u32 len;

	SKIP_IF_NO_NETNS();
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		e.desc = c[i].desc;
		len = frame(c[i].v, IPPROTO_TCP, 40000, 100, 0x4000, 0, f, NULL);
		run(&lb_range, &e, f, len, &r);
	}
	/* the XDP lookup wants forwarding on the interface the frame came in on */
	e.desc = "IPv4 forwarding off on the interface";
	CU_ASSERT_FATAL(sysctl_write("ipv4/conf/" IPIP_IF0 "/forwarding", "0") == 0);
	len = frame(V44, IPPROTO_TCP, 40000, 100, 0x4000, 0, f, NULL);
	run(&lb_range, &e, f, len, &r);
	CU_ASSERT_FATAL(sysctl_write("ipv4/conf/" IPIP_IF0 "/forwarding", "1") == 0);
	e.desc = "IPv6 forwarding off on the interface";
	CU_ASSERT_FATAL(sysctl_write("ipv6/conf/" IPIP_IF0 "/forwarding", "0") == 0);
	len = frame(V66, IPPROTO_TCP, 40000, 100, 0, 0, f, NULL);
	run(&lb_range, &e, f, len, &r);
	CU_ASSERT_FATAL(sysctl_write("ipv6/conf/" IPIP_IF0 "/forwarding", "1") == 0);
}

/* The largest packet that fits is sent, one byte more is answered with mtu. */
static void check_boundary(struct lb *lb, int v, __u16 fit_payload, __u32 mtu,
			   const char *desc)
{
	static __u8 want[PKT_MAX];
	struct expect e = EXPECT(desc, XDP_TX, CHLB_CNT_TX_TOO_BIG, -1);
	__u8 f[PKT_MAX];
	struct pkt_spec s;
	struct xdp_result r;
	__u32 len;

	len = frame(v, IPPROTO_TCP, 40000, fit_payload, 0x4000, 0, f, &s);
	run_encap(lb, desc, v, f, len, &s, XDP_TX, CHLB_CNT_TX);
	len = frame(v, IPPROTO_TCP, 40000, fit_payload + 1, 0x4000, 0, f, &s);
	e.want = want;
	e.want_len = vips[v].family == 4 ? build_frag_needed(f, mtu, want) :
					   build_ptb6(f, mtu, want);
	run(lb, &e, f, len, &r);
}

static void reset_rate_limit(struct lb *lb, __u64 tat);

static void test_too_big(void)
{
	const struct expect no_df = EXPECT("IPv4 without DF: dropped", XDP_DROP, CHLB_CNT_DROP_TOO_BIG, -1);
	const struct expect small = EXPECT("IPv6: an MTU below 1280 left: dropped", XDP_DROP, CHLB_CNT_DROP_TOO_BIG, -1);
	struct expect tagged = EXPECT("frag needed, VLAN kept", XDP_TX, CHLB_CNT_TX_TOO_BIG, -1);
	static __u8 want[PKT_MAX];
	__u8 f[PKT_MAX];
	struct xdp_result r;
	__u32 len;

	SKIP_IF_NO_NETNS();
	reset_rate_limit(&lb_range, 0);
	/* TCP payload + 40 bytes of headers = the inner length */
	check_boundary(&lb_range, V44, IPIP_MTU - 20 - 40, IPIP_MTU - 20, "4in4 at 1500");
	check_boundary(&lb_range, V66, IPIP_MTU - 40 - 60, IPIP_MTU - 40, "6in6 at 1500");
	check_boundary(&lb_range, V46, IPIP_MTU - 40 - 40, IPIP_MTU - 40, "4in6 at 1500");
	check_boundary(&lb_range, V44_MTU, IPIP_MTU_ROUTE4 - 20 - 40, IPIP_MTU_ROUTE4 - 20,
		       "4in4, route MTU 1400");
	len = frame(V44, IPPROTO_TCP, 40000, IPIP_MTU - 60 + 1, 0, 0, f, NULL);
	run(&lb_range, &no_df, f, len, &r);
	len = frame(V66_MTU, IPPROTO_TCP, 40000, IPIP_MTU_ROUTE6 - 100 + 1, 0, 0, f, NULL);
	run(&lb_range, &small, f, len, &r);
	len = frame(V44, IPPROTO_TCP, 40000, IPIP_MTU - 60 + 1, 0x4000, 9, f, NULL);
	tagged.want = want;
	tagged.want_len = build_frag_needed(f, IPIP_MTU - 20, want);
	run(&lb_range, &tagged, f, len, &r);
}

/* IPv4 options and DF: XDP does not answer (the quote would vary). */
static void test_too_big_options(void)
{
	const struct expect e = EXPECT("IPv4 options, DF, too big: dropped", XDP_DROP, CHLB_CNT_DROP_TOO_BIG, -1);
	struct pkt_spec s = {
		.family = 4, .proto = IPPROTO_TCP, .src = CLIENT4, .dst = VIP4, .sport = 40000,
		.dport = vips[V44].port, .payload_len = IPIP_MTU - 64 + 1, .frag_off = 0x4000,
		.ip_opt_len = 4,
	};
	__u8 f[PKT_MAX];
	struct xdp_result r;
	ssize_t n;

	SKIP_IF_NO_NETNS();
	memcpy(s.smac, SENDER_MAC, 6);
	memcpy(s.dmac, ipip_if0_mac, 6);
	n = pkt_build(&s, f, sizeof(f));
	CU_ASSERT_FATAL(n > 0);
	run(&lb_range, &e, f, n, &r);
	s.payload_len -= 1;	/* fits: encapsulated, options and all */
	n = pkt_build(&s, f, sizeof(f));
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(xdp_run_ingress(lb_range.prog_fd, net.if0, f, n, &r), 0);
	CU_ASSERT_EQUAL(r.verdict, XDP_TX);
	CU_ASSERT_EQUAL(r.len, n + 20);
}

/*
 * An ICMP (ICMPv6) error from a router to VIP v's address quoting the
 * VIP's reply to the client (port 40000), quote bytes of it: frag needed
 * (packet too big) as a router on the backend's direct return path sends.
 * *spec: the flow it is about, client -> VIP.
 */
static __u32 icmp_error_frame(int v, __u16 quote, __u8 *f, struct pkt_spec *spec)
{
	int v6 = vips[v].family == 6;
	__u8 *ip = f + 14, *ic = ip + (v6 ? 40 : 20), *q = ic + 8;
	__u16 len = (v6 ? 40 : 20) + 8 + quote;

	frame(v, IPPROTO_TCP, 40000, 0, 0, 0, f, spec);	/* L2 header, and the flow */
	memset(ip, 0, len);
	if (v6) {
		ip[0] = 0x60;
		put16(ip + 4, len - 40);
		ip[6] = IPPROTO_ICMPV6;
		ip[7] = 64;
		inet_pton(AF_INET6, "2001:db8:1::fe", ip + 8);
		inet_pton(AF_INET6, VIP6, ip + 24);
		ic[0] = 2;
		put32(ic + 4, 1280);
		q[0] = 0x60;
		put16(q + 4, 1400);
		q[6] = IPPROTO_TCP;
		q[7] = 63;
		inet_pton(AF_INET6, VIP6, q + 8);
		inet_pton(AF_INET6, CLIENT6, q + 24);
		put16(q + 40, vips[v].port);
		put16(q + 42, 40000);
		csum_fill(ic, len - 40, ic + 2,
			  csum_add(csum_add(csum_add(0, ip + 8, 32), (const __u8 *)"\0\0\0\x3a", 4),
				ip + 4, 2));
	} else {
		ip[0] = 0x45;
		put16(ip + 2, len);
		ip[6] = 0x40;	/* DF: only its being ICMP keeps it from an answer */
		ip[8] = 64;
		ip[9] = IPPROTO_ICMP;
		inet_pton(AF_INET, "192.0.2.254", ip + 12);
		inet_pton(AF_INET, VIP4, ip + 16);
		csum_fill(ip, 20, ip + 10, 0);
		ic[0] = 3;
		ic[1] = 4;
		put16(ic + 6, 1000);
		q[0] = 0x45;
		put16(q + 2, 1400);
		q[6] = 0x40;
		q[8] = 63;
		q[9] = IPPROTO_TCP;
		inet_pton(AF_INET, VIP4, q + 12);
		inet_pton(AF_INET, CLIENT4, q + 16);
		csum_fill(q, 20, q + 10, 0);
		put16(q + 20, vips[v].port);
		put16(q + 22, 40000);
		csum_fill(ic, len - 20, ic + 2, 0);
	}
	return 14 + len;
}

/*
 * An ICMP error about an ipip VIP's flow is steered to the flow's backend
 * encapsulated (icmp_steered counts it); one too big for the tunnel is
 * dropped, not steered, never answered with another ICMP error.
 */
static void test_icmp_error(void)
{
	static __u8 want[PKT_MAX + 64];
	struct expect e = EXPECT("ICMPv6 error steered, 6in6", XDP_TX, CHLB_CNT_TX,
				 CHLB_CNT_ICMP_STEERED);
	struct encap_want w;
	struct pkt_spec s;
	struct xdp_result r;
	__u8 f[PKT_MAX];
	__u32 len;
	int i;

	SKIP_IF_NO_NETNS();
	for (i = 0; i < 2; i++) {
		int v = i ? V44_MTU : V66;	/* inner room: 1380, 1460 */

		e = (struct expect)EXPECT(i ? "ICMP error steered, 4in4" : "ICMPv6 error steered, 6in6",
					  XDP_TX, CHLB_CNT_TX, CHLB_CNT_ICMP_STEERED);
		len = icmp_error_frame(v, 200, f, &s);
		encap_want(&lb_range, v, flow_hash(&s), &w);
		e.want = want;
		e.want_len = build_encap(&w, f, len, want);
		run(&lb_range, &e, f, len, &r);
		e = (struct expect)EXPECT(i ? "ICMP error too big for the tunnel: dropped" :
					      "ICMPv6 error too big for the tunnel: dropped",
					  XDP_DROP, CHLB_CNT_DROP_TOO_BIG, -1);
		len = icmp_error_frame(v, i ? IPIP_MTU_ROUTE4 : IPIP_MTU - 60, f, &s);
		run(&lb_range, &e, f, len, &r);
	}
}

/* Every CPU's too-big bucket set to tat (CLOCK_MONOTONIC ns; 0: full). */
static void reset_rate_limit(struct lb *lb, __u64 tat)
{
	struct chlb_flow_cpu *v = calloc(lb->dp.ncpus, sizeof(*v));
	__u32 zero = 0;
	int i;

	CU_ASSERT_FATAL(v != NULL);
	CU_ASSERT_FATAL(bpf_map_lookup_elem(lb->dp.flow_cpu_fd, &zero, v) == 0);
	for (i = 0; i < lb->dp.ncpus; i++)
		v[i].too_big_tat = tat;
	CU_ASSERT_FATAL(bpf_map_update_elem(lb->dp.flow_cpu_fd, &zero, v, BPF_ANY) == 0);
	free(v);
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void test_rate_limit(void)
{
	const struct expect limited = EXPECT("over the limit: dropped", XDP_DROP, CHLB_CNT_DROP_TOO_BIG, CHLB_CNT_TOO_BIG_LIMITED);
	struct chlb_global_stats a, b;
	__u64 t0, elapsed_ms, answered, held;
	__u8 f[PKT_MAX];
	struct xdp_result r;
	__u32 len;
	int i, n = CHLB_TOO_BIG_BURST + 50;

	SKIP_IF_NO_NETNS();
	len = frame(V66, IPPROTO_TCP, 40000, IPIP_MTU - 100 + 1, 0, 0, f, NULL);
	/* a bucket emptied a moment ago: the next answer is held back */
	reset_rate_limit(&lb_range, mono_ns() + 10000000000ULL);
	run(&lb_range, &limited, f, len, &r);
	/* a full bucket: a burst, then what the rate refills */
	reset_rate_limit(&lb_range, 0);
	CU_ASSERT_EQUAL_FATAL(chlb_dp__global_stats(&lb_range.dp, &a), 0);
	t0 = mono_ns();
	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL(xdp_run_ingress(lb_range.prog_fd, net.if0, f, len, &r), 0);
	elapsed_ms = (mono_ns() - t0) / 1000000;
	CU_ASSERT_EQUAL_FATAL(chlb_dp__global_stats(&lb_range.dp, &b), 0);
	answered = b.counters[CHLB_CNT_TX_TOO_BIG] - a.counters[CHLB_CNT_TX_TOO_BIG];
	held = b.counters[CHLB_CNT_TOO_BIG_LIMITED] - a.counters[CHLB_CNT_TOO_BIG_LIMITED];
	CU_ASSERT(answered >= CHLB_TOO_BIG_BURST);
	CU_ASSERT(answered <= CHLB_TOO_BIG_BURST + elapsed_ms * CHLB_TOO_BIG_RATE / 1000 + 1);
	CU_ASSERT_EQUAL(answered + held, (__u64)n);
	CU_ASSERT_EQUAL(b.counters[CHLB_CNT_DROP_TOO_BIG] - a.counters[CHLB_CNT_DROP_TOO_BIG],
			held);
	if (elapsed_ms < 40)	/* 50 over the burst: some must have been held */
		CU_ASSERT(held > 0);
	printf("%d too big in %llu ms: %llu answered, %llu held back ", n,
	       (unsigned long long)elapsed_ms, (unsigned long long)answered,
	       (unsigned long long)held);
	reset_rate_limit(&lb_range, 0);
}

/* ---- the next-hop cache ---------------------------------------------------- */

/* Run `ip ARGS` in this process's namespace; 0 when it succeeded. */
static int ip(const char *fmt, ...)
{
	char cmd[256] = "ip ";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd + 3, sizeof(cmd) - 3, fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* This CPU's entry of lb's cache for backend bid and flow hash h. */
static void nexthop_entry(struct lb *lb, __u32 bid, __u32 h, struct chlb_nexthop *nh)
{
	__u32 idx = bid * CHLB_NEXTHOP_WAYS + (h & (CHLB_NEXTHOP_WAYS - 1));
	struct chlb_nexthop *all = calloc(lb->dp.ncpus, sizeof(*all));
	int cpu = sched_getcpu();

	CU_ASSERT_FATAL(all != NULL && cpu >= 0 && cpu < lb->dp.ncpus);
	CU_ASSERT_FATAL(bpf_map_lookup_elem(lb->dp.nexthops_fd, &idx, all) == 0);
	*nh = all[cpu];
	free(all);
}

/* Every entry of lb's cache emptied, on every CPU; 1 if any was not empty. */
static int clear_cache(struct lb *lb)
{
	__u32 n = MAX_BACKENDS * CHLB_NEXTHOP_WAYS, i;
	struct chlb_nexthop *all = calloc(lb->dp.ncpus, sizeof(*all));
	int cpu, used = 0;

	CU_ASSERT_FATAL(all != NULL);
	for (i = 0; i < n; i++) {
		CU_ASSERT_FATAL(bpf_map_lookup_elem(lb->dp.nexthops_fd, &i, all) == 0);
		for (cpu = 0; cpu < lb->dp.ncpus; cpu++)
			used |= all[cpu].filled_ns != 0;
		memset(all, 0, lb->dp.ncpus * sizeof(*all));
		CU_ASSERT_FATAL(bpf_map_update_elem(lb->dp.nexthops_fd, &i, all, BPF_ANY) == 0);
	}
	free(all);
	return used;
}

/* Longer than the cache's TTL, with a jiffy or two of the coarse clock to spare. */
static void outlive_ttl(void)
{
	struct timespec ts = { 0, CACHE_TTL_NS + 30000000 };

	nanosleep(&ts, NULL);
}

/* A hit: the entry was not written again (a fill always rewrites its time). */
static void check_hit(struct lb *lb, int v, const struct pkt_spec *s,
		      const struct chlb_nexthop *before, const char *desc)
{
	struct chlb_nexthop nh;

	nexthop_entry(lb, v, flow_hash(s), &nh);
	CHECK(nh.filled_ns && nh.filled_ns == before->filled_ns, desc);
}

/*
 * A hit makes the bytes a miss makes (XDP_TX, redirect, every family),
 * and the entry holds the lookup's answer: the interface, the MACs, the
 * route's MTU (mtu_result of a SUCCESS lookup), the backend's gen.
 */
static void test_cache_hit(void)
{
	static const struct {
		int v, reason;
		__u32 verdict;
		__u16 mtu;
	} c[] = {
		{ V44, CHLB_CNT_TX, XDP_TX, IPIP_MTU },
		{ V66, CHLB_CNT_TX, XDP_TX, IPIP_MTU },
		{ V46, CHLB_CNT_TX, XDP_TX, IPIP_MTU },
		{ V44_REDIR, CHLB_CNT_REDIRECT, XDP_REDIRECT, IPIP_MTU },
		{ V66_REDIR, CHLB_CNT_REDIRECT, XDP_REDIRECT, IPIP_MTU },
		{ V44_MTU, CHLB_CNT_TX, XDP_TX, IPIP_MTU_ROUTE4 },
	};
	struct chlb_nexthop nh;
	__u8 f[PKT_MAX];
	struct pkt_spec s;
	size_t i;
	__u32 len;
	int sport;

	SKIP_IF_NO_NETNS();
	clear_cache(&lb_cache);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int redir = c[i].reason == CHLB_CNT_REDIRECT;

		/* four flows: every entry of the backend filled, then hit */
		for (sport = 40000; sport < 40004; sport++) {
			len = frame(c[i].v, IPPROTO_TCP, sport, 100, 0x4000, 0, f, &s);
			run_encap(&lb_cache, "cache: a miss fills", c[i].v, f, len, &s, c[i].verdict,
				  c[i].reason);
			nexthop_entry(&lb_cache, c[i].v, flow_hash(&s), &nh);
			CHECK(nh.filled_ns != 0, "cache: filled");
			CHECK(nh.ifindex == (redir ? net.if1 : net.if0), "cache: interface");
			CHECK(!memcmp(nh.dmac, redir ? ipip_gw1_mac : ipip_gw0_mac, 6),
			      "cache: next hop's MAC");
			CHECK(!memcmp(nh.smac, redir ? ipip_if1_mac : ipip_if0_mac, 6),
			      "cache: interface's MAC");
			CHECK(nh.mtu == c[i].mtu, "cache: the route's MTU");
			CHECK(nh.gen == 0 && nh.v6 == (family_of(vips[c[i].v].backend) == 6),
			      "cache: gen, family");
			run_encap(&lb_cache, "cache: a hit, the same bytes", c[i].v, f, len, &s,
				  c[i].verdict, c[i].reason);
			check_hit(&lb_cache, c[i].v, &s, &nh, "cache: hit, not filled again");
		}
	}
	/* the too-big boundaries from the cached MTU: the fitting frame fills */
	reset_rate_limit(&lb_cache, 0);
	clear_cache(&lb_cache);
	check_boundary(&lb_cache, V44, IPIP_MTU - 20 - 40, IPIP_MTU - 20, "cached: 4in4 at 1500");
	check_boundary(&lb_cache, V66, IPIP_MTU - 40 - 60, IPIP_MTU - 40, "cached: 6in6 at 1500");
	check_boundary(&lb_cache, V46, IPIP_MTU - 40 - 40, IPIP_MTU - 40, "cached: 4in6 at 1500");
	check_boundary(&lb_cache, V44_MTU, IPIP_MTU_ROUTE4 - 20 - 40, IPIP_MTU_ROUTE4 - 20,
		       "cached: 4in4, route MTU 1400");
	len = frame(V44_MTU, IPPROTO_TCP, 40000, 0, 0x4000, 0, f, &s);
	nexthop_entry(&lb_cache, V44_MTU, flow_hash(&s), &nh);
	CHECK(nh.filled_ns != 0 && nh.mtu == IPIP_MTU_ROUTE4, "cached: answered from the entry");
	/* the instances without a cache never wrote theirs */
	CHECK(!clear_cache(&lb_range) && !clear_cache(&lb_one), "cache off: never filled");
}

/*
 * VIP v's TCP frame (payload bytes, frag_off) built into f and run once
 * through lb_cache to fill its entry; returns when the run began, for
 * check_before_ttl(). The cache tests all start from such a fill.
 */
static __u64 fill_entry(int v, __u16 payload, __u16 frag_off, __u8 *f, __u32 *len,
			struct pkt_spec *s, const char *desc)
{
	__u64 t;

	*len = frame(v, IPPROTO_TCP, 40000, payload, frag_off, 0, f, s);
	t = mono_ns();
	run_encap(&lb_cache, desc, v, f, *len, s, XDP_TX, CHLB_CNT_TX);
	return t;
}

/*
 * Whatever changed since the fill at filled_at, VIP v's frame still goes
 * the way it was filled (IPIP_GW0, XDP_TX) while the entry lives, and hits:
 * checked when the change came quickly enough to tell.
 */
static void check_before_ttl(int v, const __u8 *f, __u32 len, const struct pkt_spec *s,
			     __u64 filled_at, const char *desc)
{
	struct chlb_nexthop nh;

	nexthop_entry(&lb_cache, v, flow_hash(s), &nh);
	if (mono_ns() - filled_at < CACHE_TTL_NS / 2) {
		run_encap_to(&lb_cache, desc, v, f, len, s, XDP_TX, CHLB_CNT_TX, ipip_gw0_mac);
		check_hit(&lb_cache, v, s, &nh, desc);
	} else {
		printf("(the change took longer than half the TTL: 'not before' not checked) ");
	}
}

/*
 * A change to the network made after VIP v's entry was filled (`ip make`,
 * `ip undo` after): used after the TTL, where v's frame goes as verdict and
 * reason say, to mac; not before. A new neighbour MAC and a new route are
 * checked alike: test_cache_neigh() and test_cache_route() are tables of these.
 */
struct cache_change {
	int v;
	const char *make, *undo;
	__u32 verdict;
	int reason;
	const __u8 *mac;
};

static void check_change(const struct cache_change *c, const char *fill_desc, const char *desc)
{
	__u8 f[PKT_MAX];
	struct pkt_spec s;
	__u32 len;
	__u64 t;

	t = fill_entry(c->v, 100, 0, f, &len, &s, fill_desc);
	CU_ASSERT_FATAL(ip("%s", c->make) == 0);
	check_before_ttl(c->v, f, len, &s, t, desc);
	outlive_ttl();
	run_encap_to(&lb_cache, desc, c->v, f, len, &s, c->verdict, c->reason, c->mac);
	CU_ASSERT_FATAL(ip("%s", c->undo) == 0);
}

/* The n changes of a table, one after the other, from an empty cache. */
static void check_changes(const struct cache_change *c, size_t n, const char *fill_desc,
			  const char *desc)
{
	size_t i;

	clear_cache(&lb_cache);
	for (i = 0; i < n; i++)
		check_change(&c[i], fill_desc, desc);
}

static const __u8 new_mac[6] = { 0x02, 0x99, 0, 0, 0, 0x77 };
#define NEW_MAC		"02:99:00:00:00:77"	/* new_mac, for `ip` */
#define GW0_MAC		"02:99:00:00:00:01"	/* ipip_gw0_mac */

/* A gateway's new MAC: used after the TTL, not before. */
static void test_cache_neigh(void)
{
	static const struct cache_change c[] = {
		{ V44, "neigh replace 192.0.2.254 lladdr " NEW_MAC " dev " IPIP_IF0 " nud permanent",
		  "neigh replace 192.0.2.254 lladdr " GW0_MAC " dev " IPIP_IF0 " nud permanent",
		  XDP_TX, CHLB_CNT_TX, new_mac },
		{ V66, "neigh replace 2001:db8:1::fe lladdr " NEW_MAC " dev " IPIP_IF0 " nud permanent",
		  "neigh replace 2001:db8:1::fe lladdr " GW0_MAC " dev " IPIP_IF0 " nud permanent",
		  XDP_TX, CHLB_CNT_TX, new_mac },
	};

	SKIP_IF_NO_NETNS();
	check_changes(c, sizeof(c) / sizeof(c[0]), "neighbour: filled",
		      "neighbour's new MAC: after the TTL");
}

/* A route by the other interface: used after the TTL, not before. */
static void test_cache_route(void)
{
	static const struct cache_change c[] = {
		{ V44, "route replace 10.1.0.0/16 via 198.51.100.254",
		  "route replace 10.1.0.0/16 via 192.0.2.254",
		  XDP_REDIRECT, CHLB_CNT_REDIRECT, ipip_gw1_mac },
		{ V66, "route replace 2001:db8:b::/48 via 2001:db8:2::fe",
		  "route replace 2001:db8:b::/48 via 2001:db8:1::fe",
		  XDP_REDIRECT, CHLB_CNT_REDIRECT, ipip_gw1_mac },
	};

	SKIP_IF_NO_NETNS();
	check_changes(c, sizeof(c) / sizeof(c[0]), "route: filled",
		      "route by the other interface: after the TTL");
}

/*
 * A route MTU lowered: the frame that fitted is still sent while the
 * entry lives, answered too big after the TTL, and the new boundary holds
 * (its fitting frame fills, the next byte is answered from the entry).
 */
static void test_cache_mtu(void)
{
	static const struct {
		int v;
		const char *route;
		__u16 fit, fit_new;
		__u32 mtu_new;
	} c[] = {
		{ V44, "10.1.0.0/16 via 192.0.2.254", IPIP_MTU - 60, 1400 - 60, 1400 - 20 },
		{ V66, "2001:db8:b::/48 via 2001:db8:1::fe", IPIP_MTU - 100, 1400 - 100, 1400 - 40 },
	};
	struct expect e = EXPECT("route MTU lowered: too big after the TTL", XDP_TX,
				 CHLB_CNT_TX_TOO_BIG, -1);
	static __u8 want[PKT_MAX];
	struct xdp_result r;
	__u8 f[PKT_MAX];
	struct pkt_spec s;
	size_t i;
	__u32 len;
	__u64 t;

	SKIP_IF_NO_NETNS();
	reset_rate_limit(&lb_cache, 0);
	clear_cache(&lb_cache);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		t = fill_entry(c[i].v, c[i].fit, 0x4000, f, &len, &s, "route MTU: filled at 1500");
		CU_ASSERT_FATAL(ip("route replace %s mtu lock 1400", c[i].route) == 0);
		check_before_ttl(c[i].v, f, len, &s, t,
				 "route MTU lowered: the old MTU before the TTL");
		outlive_ttl();
		e.want = want;
		e.want_len = vips[c[i].v].family == 4 ? build_frag_needed(f, c[i].mtu_new, want) :
							build_ptb6(f, c[i].mtu_new, want);
		run(&lb_cache, &e, f, len, &r);
		check_boundary(&lb_cache, c[i].v, c[i].fit_new, c[i].mtu_new,
			       "route MTU 1400: the new boundary, cached");
		CU_ASSERT_FATAL(ip("route replace %s", c[i].route) == 0);
	}
}

/*
 * A backend's new life (gen bumped, as the controller does when it reuses
 * an id or takes a backend down) misses at once: the gateway's new MAC is
 * used by the next frame, which the same gen did not do.
 */
static void test_cache_gen(void)
{
	struct chlb_backend be;
	struct chlb_nexthop nh;
	__u8 f[PKT_MAX];
	struct pkt_spec s;
	__u32 len, id = V44;

	SKIP_IF_NO_NETNS();
	clear_cache(&lb_cache);
	fill_entry(V44, 100, 0, f, &len, &s, "gen: filled");
	CU_ASSERT_FATAL(ip("neigh replace 192.0.2.254 lladdr " NEW_MAC " dev %s nud permanent",
			   IPIP_IF0) == 0);
	nexthop_entry(&lb_cache, V44, flow_hash(&s), &nh);
	run_encap_to(&lb_cache, "gen: the same gen hits", V44, f, len, &s, XDP_TX, CHLB_CNT_TX,
		     ipip_gw0_mac);
	CU_ASSERT_FATAL(bpf_map_lookup_elem(lb_cache.dp.backends_fd, &id, &be) == 0);
	be.gen++;
	CU_ASSERT_FATAL(bpf_map_update_elem(lb_cache.dp.backends_fd, &id, &be, BPF_ANY) == 0);
	run_encap_to(&lb_cache, "gen: a new gen misses at once", V44, f, len, &s, XDP_TX,
		     CHLB_CNT_TX, new_mac);
	nexthop_entry(&lb_cache, V44, flow_hash(&s), &nh);
	CHECK(nh.gen == be.gen, "gen: filled for the new gen");
	CU_ASSERT_FATAL(ip("neigh replace 192.0.2.254 lladdr " GW0_MAC " dev %s nud permanent",
			   IPIP_IF0) == 0);
	be.gen--;
	CU_ASSERT_FATAL(bpf_map_update_elem(lb_cache.dp.backends_fd, &id, &be, BPF_ANY) == 0);
}

/*
 * NO_NEIGH, a failed route and FRAG_NEEDED are never kept: the entry
 * stays empty, and the gateway's resolution is used by the very next
 * frame.
 */
static void test_cache_no_neigh(void)
{
	const struct expect drop = EXPECT("blackhole: not cached", XDP_DROP, CHLB_CNT_DROP_NO_ROUTE, -1);
	struct expect big = EXPECT("too big: not cached", XDP_TX, CHLB_CNT_TX_TOO_BIG, -1);
	static const __u8 gw3_mac[6] = { 0x02, 0x99, 0, 0, 0, 0x03 };
	static __u8 want[PKT_MAX];
	struct chlb_nexthop nh;
	struct xdp_result r;
	__u8 f[PKT_MAX];
	struct pkt_spec s;
	__u32 len;

	SKIP_IF_NO_NETNS();
	clear_cache(&lb_cache);
	reset_rate_limit(&lb_cache, 0);
	len = frame(V44_NONEIGH, IPPROTO_TCP, 40000, 100, 0, 0, f, &s);
	run_encap(&lb_cache, "no neighbour: to the kernel", V44_NONEIGH, f, len, &s, XDP_PASS,
		  CHLB_CNT_PASS_NO_NEIGH);
	nexthop_entry(&lb_cache, V44_NONEIGH, flow_hash(&s), &nh);
	CHECK(nh.filled_ns == 0, "no neighbour: not cached");
	CU_ASSERT_FATAL(ip("neigh replace 192.0.2.253 lladdr 02:99:00:00:00:03 dev %s nud permanent",
			   IPIP_IF0) == 0);
	run_encap_to(&lb_cache, "resolved: the next frame uses it", V44_NONEIGH, f, len, &s, XDP_TX,
		     CHLB_CNT_TX, gw3_mac);
	nexthop_entry(&lb_cache, V44_NONEIGH, flow_hash(&s), &nh);
	CHECK(nh.filled_ns != 0, "resolved: cached");
	CU_ASSERT_FATAL(ip("neigh del 192.0.2.253 dev %s", IPIP_IF0) == 0);
	len = frame(V44_BLACKHOLE, IPPROTO_TCP, 40000, 100, 0, 0, f, &s);
	run(&lb_cache, &drop, f, len, &r);
	nexthop_entry(&lb_cache, V44_BLACKHOLE, flow_hash(&s), &nh);
	CHECK(nh.filled_ns == 0, "blackhole: not cached");
	len = frame(V44, IPPROTO_TCP, 40000, IPIP_MTU - 60 + 1, 0x4000, 0, f, &s);
	big.want = want;
	big.want_len = build_frag_needed(f, IPIP_MTU - 20, want);
	run(&lb_cache, &big, f, len, &r);
	nexthop_entry(&lb_cache, V44, flow_hash(&s), &nh);
	CHECK(nh.filled_ns == 0, "too big: not cached");
}

int main(void)
{
	static CU_TestInfo tests[] = {
		{ "IPv4 in IPv4: bytes, DF, TOS/ECN, VLAN, padding", test_4in4 },
		{ "IPv6 in IPv6: bytes, traffic class, flow label", test_6in6 },
		{ "IPv4 in IPv6; IPv6 on IPv4 refused", test_4in6 },
		{ "outer sources: /24, /112, /32, none", test_sources },
		{ "route by another interface: redirect", test_redirect },
		{ "no neighbour: encapsulated, to the kernel", test_no_neigh },
		{ "blackhole, unreachable, no route, forwarding off: dropped", test_no_route },
		{ "too big: boundaries, frag needed, packet too big", test_too_big },
		{ "too big with IPv4 options", test_too_big_options },
		{ "too-big answers rate limited", test_rate_limit },
		{ "ICMP errors about ipip flows: steered, never answered", test_icmp_error },
		{ "next-hop cache: a hit's bytes, the entry, too big from it", test_cache_hit },
		{ "next-hop cache: a new neighbour MAC after the TTL", test_cache_neigh },
		{ "next-hop cache: a new route after the TTL", test_cache_route },
		{ "next-hop cache: a new route MTU after the TTL", test_cache_mtu },
		{ "next-hop cache: a backend's new gen misses at once", test_cache_gen },
		{ "next-hop cache: no neighbour, failures, too big never kept", test_cache_no_neigh },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("ipip", suite_init, suite_clean, tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
