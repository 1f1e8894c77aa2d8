// SPDX-License-Identifier: GPL-2.0
/*
 * chlb's XDP data plane, method dsr: a frame for a VIP is hashed on its
 * five-tuple, the VIP's slot table names the backend, the destination MAC
 * becomes the backend's and the frame leaves with XDP_TX. Everything else
 * is passed to the kernel unmodified. Each frame is counted once, at the
 * single exit, under the reason for its verdict.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "chlb/shared.h"
#include "maps.h"
#include "parse.h"
#include "flow.h"
#include "icmp.h"

/* Chosen at load time by the controller (struct chlb_dp_opts). */
const volatile __u64 seed = 0;
const volatile __u32 table_size = 1;
const volatile __u32 max_backends = CHLB_DEFAULT_MAX_BACKENDS;
const volatile __u32 vip_index_mask = 0;
/* 2-byte aligned: chlb_for_us() compares it as three 16-bit words */
const volatile __u8 if_mac[ETH_ALEN] __attribute__((aligned(2))) = {};
/*
 * Forward only VIP frames whose destination MAC is if_mac; pass the rest
 * (another host's frames seen in promiscuous mode, broadcast, multicast).
 * 0: any destination MAC (attach --dst-mac any; interfaces without a MAC).
 */
const volatile __u32 dst_mac_check = 0;
/* The flow table: on (non-zero) or the stateless path; its sizes in flow.h. */
const volatile __u32 flow_table = 0;
/*
 * Benches only (tests/bench_xdp.c): BPF_PROG_TEST_RUN's `repeat` runs the
 * same buffer again, so to measure new flows each run adds 1 to the
 * frame's source address before the flow key is read (IPv4: 2^32 distinct
 * flows). Dead code, removed by the verifier, when 0.
 */
const volatile __u32 bench_fresh_flows = 0;
/* Method ipip: outer source ranges, [0] IPv4, [1] IPv6 (struct chlb_encap_src). */
const volatile struct chlb_encap_src encap_src[2] = {};

/* after the settings above, which it reads */
#include "encap.h"

/*
 * Compare VIP keys as two 64-bit words and a 32-bit tail. memcpy, not
 * pointer casts, so the compiler sees every access to the key's bytes;
 * both keys are 8-byte aligned (stack variable, array map value).
 */
static __always_inline int chlb_vip_eq(const struct chlb_vip_key *a,
				       const struct chlb_vip_key *b)
{
	const void *pa = __builtin_assume_aligned(a, 8);
	const void *pb = __builtin_assume_aligned(b, 8);
	__u64 a0, a1, b0, b1;
	__u32 at, bt;

	__builtin_memcpy(&a0, pa, 8);
	__builtin_memcpy(&b0, pb, 8);
	__builtin_memcpy(&a1, pa + 8, 8);
	__builtin_memcpy(&b1, pb + 8, 8);
	__builtin_memcpy(&at, pa + 16, 4);
	__builtin_memcpy(&bt, pb + 16, 4);
	return a0 == b0 && a1 == b1 && at == bt;
}

/*
 * The VIP of a key: linear probing in chlb_vip_index under the seed in its
 * header, a few inlined array loads; a non-VIP frame usually stops at the
 * first, empty, slot. Until userspace has built an index, and for a key
 * whose probes are all taken by other VIPs (it may have overflowed, see
 * shared.h), the authoritative hash map answers.
 */
static __always_inline struct chlb_vip_info *chlb_find_vip(const struct chlb_vip_key *vk)
{
	struct chlb_vip_index_hdr *hdr;
	struct chlb_vip_slot *s;
	__u32 zero = 0, h, i, k;
	void *index;

	index = bpf_map_lookup_elem(&chlb_vip_index, &zero);
	k = vip_index_mask + 1;
	hdr = index ? bpf_map_lookup_elem(index, &k) : NULL;
	if (!hdr)
		return bpf_map_lookup_elem(&chlb_vips, vk);
	h = chlb_vip_hash(vk, hdr->seed);
#pragma unroll
	for (i = 0; i < CHLB_VIP_PROBES; i++) {
		k = (h + i) & vip_index_mask;
		s = bpf_map_lookup_elem(index, &k);
		if (!s || !s->key.family)
			return NULL;
		if (chlb_vip_eq(&s->key, vk))
			return &s->info;
	}
	return bpf_map_lookup_elem(&chlb_vips, vk);
}

/* The frame is addressed to the interface: its destination MAC is if_mac. */
static __always_inline int chlb_for_us(const struct chlb_ethhdr *eth)
{
	const volatile __u16 *m = (const volatile __u16 *)if_mac;
	__u16 d0, d1, d2;

	__builtin_memcpy(&d0, eth->dst, 2);
	__builtin_memcpy(&d1, eth->dst + 2, 2);
	__builtin_memcpy(&d2, eth->dst + 4, 2);
	return !((d0 ^ m[0]) | (d1 ^ m[1]) | (d2 ^ m[2]));
}

/* The backend owning the flow's slot, or NULL when the VIP has none. */
static __always_inline struct chlb_backend *chlb_pick(__u32 h, __u32 vip_id, __u32 *bid)
{
	struct chlb_backend *be;
	__u32 slot, *id;
	void *table;

	table = bpf_map_lookup_elem(&chlb_tables, &vip_id);
	if (!table)
		return NULL;
	slot = chlb_hash_to_slot(h, table_size);
	id = bpf_map_lookup_elem(table, &slot);
	if (!id || *id >= max_backends)
		return NULL;
	*bid = *id;
	be = bpf_map_lookup_elem(&chlb_backends, bid);
	if (!be || !(be->flags & CHLB_BACKEND_F_IN_USE))
		return NULL;
	return be;
}

/*
 * The backend through the flow table (flow.h). A plain SYN takes the slot
 * table and replaces the flow's record (a new connection on a reused
 * five-tuple); other frames keep their recorded backend while it is good,
 * decided on the copy of the way that was validated. A miss records the
 * slot table's choice, unless every way of the bucket is busy.
 * *inserted: an entry was written. h64: the key's chlb_flow_hash64.
 */
static __always_inline struct chlb_backend *chlb_flow_pick(const struct chlb_pkt *p,
							   const struct chlb_flow_key *k, __u64 h64,
							   __u32 vip_id, __u32 *bid, int *inserted,
							   struct chlb_global_stats *gs)
{
	__u32 h = h64 >> 32, idx = chlb_flow_bucket(h, flow_buckets), clock;
	__u64 now = bpf_ktime_get_coarse_ns();
	struct chlb_flow_way c, key;
	struct chlb_flow_bucket *b;
	struct chlb_backend *be;
	int w, kind;

	b = bpf_map_lookup_elem(&chlb_flows, &idx);
	if (!b)
		return chlb_pick(h, vip_id, bid);
	kind = chlb_flow_kind(p);
	clock = chlb_flow_clock(now);
	chlb_flow_way_key(k, vip_id, &key);
	w = chlb_flow_find(b, &key, (__u32)h64, &c);
	if (w >= 0 && kind != CHLB_FLOW_SYN) {
		be = chlb_flow_backend(&c, p->proto, vip_id, clock, gs);
		if (be) {
			*bid = c.backend & CHLB_FLOW_ID_MASK;
			chlb_flow_touch(&b->way[w & (CHLB_FLOW_WAYS - 1)], c.seen, kind, clock);
			chlb_gcount(gs, CHLB_CNT_FLOW_HIT);
			return be;
		}
	}
	chlb_gcount(gs, CHLB_CNT_FLOW_MISS);
	be = chlb_pick(h, vip_id, bid);
	if (be)
		*inserted = chlb_flow_record(b, w, &key, (__u32)h64, *bid, be, kind, now, gs);
	return be;
}

/* bench_fresh_flows: a new source address for every run of the buffer. */
static __always_inline void chlb_bench_next_flow(const struct chlb_pkt *p)
{
	struct ipv6hdr *ip6 = p->l3;
	struct iphdr *ip = p->l3;

	if (p->family == CHLB_FAMILY_INET)
		ip->saddr = bpf_htonl(bpf_ntohl(ip->saddr) + 1);
	else
		ip6->saddr.in6_u.u6_addr32[3] = bpf_htonl(bpf_ntohl(ip6->saddr.in6_u.u6_addr32[3]) + 1);
}

static __always_inline void chlb_rewrite_macs(struct chlb_ethhdr *eth,
					      const struct chlb_backend *be)
{
	int i;

	__builtin_memcpy(eth->dst, be->mac, ETH_ALEN);
	for (i = 0; i < ETH_ALEN; i++)
		eth->src[i] = if_mac[i];
}

/*
 * Send the frame to be (id bid) by the VIP's method; the reason it leaves
 * with. h: the flow hash (ipip draws the outer source from it). *ifindex: where
 * a CHLB_CNT_REDIRECT goes. The frame's pointers are stale afterwards.
 */
static __always_inline int chlb_send(struct xdp_md *ctx, const struct chlb_pkt *p,
				     const struct chlb_vip_info *vip,
				     const struct chlb_backend *be, __u32 bid, __u32 h,
				     struct chlb_global_stats *gs, __u32 *ifindex)
{
	if (vip->method == CHLB_METHOD_IPIP)
		return chlb_encap(ctx, p, be, bid, h, gs, ifindex);
	chlb_rewrite_macs(p->eth, be);
	return CHLB_CNT_TX;
}

/*
 * The frame went the backend's way (chlb_send() said reason). A backend's
 * counters count only those, not the frames ipip answered (too big) or
 * dropped (no route), so they equal what the backend receives.
 */
static __always_inline int chlb_sent(int reason)
{
	return reason == CHLB_CNT_TX || reason == CHLB_CNT_REDIRECT ||
	       reason == CHLB_CNT_PASS_NO_NEIGH;
}

/* A VIP's frame, counted whether it is sent or dropped for want of a backend. */
static __always_inline void chlb_count_vip(__u32 vip_id, __u64 bytes,
					   const struct chlb_backend *be)
{
	struct chlb_vip_stats *vs = bpf_map_lookup_elem(&chlb_vstats, &vip_id);

	if (vs) {
		vs->packets++;
		vs->bytes += bytes;
		vs->no_backend += !be;
	}
}

static __always_inline void chlb_count_backend(__u32 bid, __u64 bytes, int new_flow)
{
	struct chlb_backend_stats *bs = bpf_map_lookup_elem(&chlb_bstats, &bid);

	if (bs) {
		bs->packets++;
		bs->bytes += bytes;
		bs->new_flows += new_flow;
	}
}

/* A VIP frame: forward it (chlb_send) or drop it (no backend). */
static __always_inline int chlb_forward(struct xdp_md *ctx, const struct chlb_pkt *p,
					const struct chlb_vip_key *vk,
					const struct chlb_vip_info *vip, __u64 bytes,
					struct chlb_global_stats *gs, __u32 *ifindex)
{
	struct chlb_flow_key key;
	struct chlb_backend *be;
	__u32 bid = 0;
	int new_flow = 0, reason;
	__u64 h;

	if (bench_fresh_flows)
		chlb_bench_next_flow(p);
	chlb_flow_key_of(p, vk, &key);
	h = chlb_flow_hash64(&key, seed);
	if (flow_table) {
		be = chlb_flow_pick(p, &key, h, vip->id, &bid, &new_flow, gs);
	} else {
		be = chlb_pick(h >> 32, vip->id, &bid);
		new_flow = chlb_flow_kind(p) == CHLB_FLOW_SYN;
	}
	chlb_count_vip(vip->id, bytes, be);
	if (!be)
		return CHLB_CNT_DROP_NO_BACKEND;
	reason = chlb_send(ctx, p, vip, be, bid, h >> 32, gs, ifindex);
	if (chlb_sent(reason))
		chlb_count_backend(bid, bytes, new_flow);
	return reason;
}

/*
 * The fragments policy (SPEC §4): an IPv4 fragment (MF or an offset) or
 * an IPv6 packet with a fragment header, addressed to a VIP address (any
 * port: later fragments carry none), is dropped and counted in the VIP's
 * fragments: the VIP of its ports for a first fragment whose ports are
 * readable and name one, else the one chlb_vip_addrs names for the
 * address. Not forwarded, because sending every fragment of a datagram to
 * the backend of its first needs per-datagram state shared by all CPUs
 * and breaks when fragments come out of order (Katran drops them too);
 * not passed, because the LB's kernel does not own the VIP and would
 * reassemble for nobody. TCP with PMTU discovery never fragments, and a
 * UDP service behind chlb must keep its datagrams under the path MTU.
 * Fragments to other addresses are the kernel's: passed unmodified.
 */
static __always_inline int chlb_fragment(const struct chlb_pkt *p, void *end)
{
	struct chlb_vip_key vk __attribute__((aligned(8)));
	struct chlb_vip_stats *vs;
	struct chlb_vip_info *vip;
	__u32 *addr_id, id;

	chlb_vip_addr_of(p, &vk);
	addr_id = bpf_map_lookup_elem(&chlb_vip_addrs, &vk);
	if (!addr_id)
		return CHLB_CNT_PASS_FRAGMENT;
	if (dst_mac_check && !chlb_for_us(p->eth))
		return CHLB_CNT_PASS_NOT_FOR_US;
	id = *addr_id;
	vip = chlb_frag_vip_key(p, end, &vk) ? chlb_find_vip(&vk) : NULL;
	if (vip)
		id = vip->id;
	vs = bpf_map_lookup_elem(&chlb_vstats, &id);
	if (vs)
		vs->fragments++;
	return CHLB_CNT_DROP_FRAGMENT;
}

/*
 * The backend the flow table holds for flow k (h64 its hash) of a VIP,
 * read only: never recorded, never refreshed, not counted. NULL: none, or
 * one the data path would not use (expired, stale).
 */
static __always_inline struct chlb_backend *chlb_flow_peek(const struct chlb_flow_key *k,
							   __u64 h64, __u32 vip_id, __u32 *bid)
{
	__u32 idx = chlb_flow_bucket(h64 >> 32, flow_buckets);
	struct chlb_flow_way c, key;
	struct chlb_flow_bucket *b;
	struct chlb_backend *be;

	b = bpf_map_lookup_elem(&chlb_flows, &idx);
	if (!b)
		return NULL;
	chlb_flow_way_key(k, vip_id, &key);
	if (chlb_flow_find(b, &key, (__u32)h64, &c) < 0)
		return NULL;
	be = chlb_flow_backend(&c, k->proto, vip_id, chlb_flow_clock(bpf_ktime_get_coarse_ns()),
			       NULL);
	if (be)
		*bid = c.backend & CHLB_FLOW_ID_MASK;
	return be;
}

/*
 * What chlb_not_tcp_udp() returns: the frame's reason in the low byte;
 * for CHLB_CNT_TX (an ICMP error to steer: the caller sends it with
 * chlb_send()), the VIP's method, the backend's id and the flow hash too.
 */
#define CHLB_STEER_METHOD_SHIFT	8	/* 2 bits: enum chlb_method */
#define CHLB_STEER_BID_SHIFT	10	/* 22 bits: below 2^CHLB_FLOW_ID_BITS */
#define CHLB_STEER_HASH_SHIFT	32
_Static_assert(CHLB_METHOD_IPIP < 4, "a method no longer fits chlb_not_tcp_udp()'s 2 bits");
_Static_assert(CHLB_FLOW_ID_BITS <= CHLB_STEER_HASH_SHIFT - CHLB_STEER_BID_SHIFT,
	       "a backend id no longer fits chlb_not_tcp_udp()'s bits");

/*
 * An ICMP or ICMPv6 error to a VIP address quoting a VIP flow's packet
 * (icmp.h): to go to the backend the flow's own packets go to, the flow
 * table's (read only) or else the slot table's, and counted in the VIP's
 * and the backend's packets like its frames (not as a new flow); sent by
 * the caller (CHLB_CNT_TX with the backend, above). Other ICMP (echo, ND,
 * errors about other flows) keeps PASS_OTHER_PROTO; a VIP flow's error
 * with no backend is dropped like its frames.
 */
static __always_inline __u64 chlb_icmp_steer(const struct chlb_pkt *p, void *end, __u64 bytes,
					     struct chlb_global_stats *gs)
{
	struct chlb_vip_key vk __attribute__((aligned(8)));
	struct chlb_backend *be = NULL;
	struct chlb_vip_info *vip;
	struct chlb_flow_key key;
	__u32 bid = 0;
	__u64 h;

	if (!chlb_icmp_is_error(p, end))
		return CHLB_CNT_PASS_OTHER_PROTO;
	chlb_vip_addr_of(p, &vk);
	if (!bpf_map_lookup_elem(&chlb_vip_addrs, &vk) || chlb_icmp_flow(p, end, &vk, &key))
		return CHLB_CNT_PASS_OTHER_PROTO;
	vip = chlb_find_vip(&vk);
	if (!vip)
		return CHLB_CNT_PASS_OTHER_PROTO;
	if (dst_mac_check && !chlb_for_us(p->eth))
		return CHLB_CNT_PASS_NOT_FOR_US;
	h = chlb_flow_hash64(&key, seed);
	if (flow_table)
		be = chlb_flow_peek(&key, h, vip->id, &bid);
	if (!be)
		be = chlb_pick(h >> 32, vip->id, &bid);
	chlb_count_vip(vip->id, bytes, be);
	if (!be)
		return CHLB_CNT_DROP_NO_BACKEND;
	/* the backend's counters and the event: in chlb_send_steered(), once sent */
	return CHLB_CNT_TX | (__u64)(vip->method & 3) << CHLB_STEER_METHOD_SHIFT |
	       (__u64)bid << CHLB_STEER_BID_SHIFT | (h >> 32) << CHLB_STEER_HASH_SHIFT;
}

/*
 * Frames chlb_parse() passes as fragments or other protocols: VIP
 * addresses' fragments are dropped, ICMP errors about VIP flows steered
 * (chlb_icmp_steer()), the rest keeps its reason. A BPF-to-BPF call of its
 * own that parses the frame again, so that nothing of the TCP/UDP path
 * has to live across it: that path keeps its registers and stack. Sending
 * stays with the caller (chlb_send_steered()): chlb_send() inlined here
 * would add its stack to the caller's.
 */
static __attribute__((noinline)) __u64 chlb_not_tcp_udp(struct xdp_md *ctx,
							struct chlb_global_stats *gs)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct chlb_pkt p;
	int reason;

	reason = chlb_parse(data, end, &p);
	if (reason == CHLB_CNT_PASS_FRAGMENT)
		return chlb_fragment(&p, end);
	if (reason == CHLB_CNT_PASS_OTHER_PROTO)
		return chlb_icmp_steer(&p, end, end - data, gs);
	return reason;
}

/*
 * A steered ICMP error (chlb_not_tcp_udp() said r): sent as its flow's
 * frames are, the frame parsed once more (nothing of the first parse
 * lives across the call).
 */
static __always_inline int chlb_send_steered(struct xdp_md *ctx, __u64 r,
					     struct chlb_global_stats *gs, __u32 *ifindex)
{
	struct chlb_vip_info vip = { .method = (r >> CHLB_STEER_METHOD_SHIFT) & 3 };
	__u32 bid = (__u32)r >> CHLB_STEER_BID_SHIFT;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct chlb_backend *be;
	struct chlb_pkt p;
	int reason;

	reason = chlb_parse(data, end, &p);
	be = bpf_map_lookup_elem(&chlb_backends, &bid);
	if (reason != CHLB_CNT_PASS_OTHER_PROTO || !be)
		return CHLB_CNT_DROP_NO_BACKEND;
	reason = chlb_send(ctx, &p, &vip, be, bid, r >> CHLB_STEER_HASH_SHIFT, gs, ifindex);
	if (chlb_sent(reason)) {
		chlb_count_backend(bid, end - data, 0);
		chlb_gcount(gs, CHLB_CNT_ICMP_STEERED);
	}
	return reason;
}

/*
 * The single exit: count the frame under its reason, return the verdict.
 * Every frame has exactly one reason, so userspace derives CHLB_CNT_RX as
 * their sum and the hot path saves an increment.
 */
static __always_inline int chlb_count(struct chlb_global_stats *gs, __u32 reason,
				      __u32 ifindex)
{
	if (reason < CHLB_CNT_REASONS)
		gs->counters[reason]++;
	switch (reason) {
	case CHLB_CNT_TX:
	case CHLB_CNT_TX_TOO_BIG:
		return XDP_TX;
	case CHLB_CNT_REDIRECT:
		return bpf_redirect(ifindex, 0);
	case CHLB_CNT_DROP_NO_BACKEND:
	case CHLB_CNT_DROP_NO_ROUTE:
	case CHLB_CNT_DROP_ENCAP:
	case CHLB_CNT_DROP_TOO_BIG:
	case CHLB_CNT_DROP_FRAGMENT:
		return XDP_DROP;
	}
	return XDP_PASS;
}

SEC("xdp")
int chlb_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct chlb_vip_ports *ports;
	struct chlb_vip_key vk __attribute__((aligned(8)));
	struct chlb_global_stats *gs;
	struct chlb_vip_info *vip;
	struct chlb_pkt pkt;
	__u32 zero = 0, ifindex = 0;
	int reason;
	__u64 r;

	/* looked up once: the flow table's counters and the exit's share it */
	gs = bpf_map_lookup_elem(&chlb_gstats, &zero);
	if (!gs)
		return XDP_PASS;
	reason = chlb_parse(data, end, &pkt);
	if (chlb_unlikely(reason)) {
		if (reason == CHLB_CNT_PASS_FRAGMENT || reason == CHLB_CNT_PASS_OTHER_PROTO) {
			r = chlb_not_tcp_udp(ctx, gs);
			reason = r & 0xff;
			if (reason == CHLB_CNT_TX)
				reason = chlb_send_steered(ctx, r, gs, &ifindex);
		}
		goto out;
	}
	reason = CHLB_CNT_PASS_NOT_VIP;
	ports = bpf_map_lookup_elem(&chlb_vip_ports, &zero);
	if (!ports || (ports->synced && !chlb_vip_port_test(ports, bpf_ntohs(pkt.dport))))
		goto out;
	chlb_vip_key_of(&pkt, &vk);
	vip = chlb_find_vip(&vk);
	if (!vip)
		goto out;
	reason = CHLB_CNT_PASS_NOT_FOR_US;
	if (dst_mac_check && !chlb_for_us(pkt.eth))
		goto out;
	reason = chlb_forward(ctx, &pkt, &vk, vip, end - data, gs, &ifindex);
out:
	return chlb_count(gs, reason, ifindex);
}

char LICENSE[] SEC("license") = "GPL";
