/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Method ipip (SPEC §11): the VIP's packet, untouched, inside an outer IP
 * header to the backend, sent to the next hop the kernel's FIB names.
 *
 *   IPv4 VIP, IPv4 backend: IPv4 in IPv4 (outer protocol 4)
 *   IPv6 VIP, IPv6 backend: IPv6 in IPv6 (next header 41)
 *   IPv4 VIP, IPv6 backend: IPv4 in IPv6 (next header 4)
 *   IPv6 VIP, IPv4 backend: not built (DROP_ENCAP; userspace refuses it)
 *
 * The outer header: source from the family's range set at attach
 * (encap_src, struct chlb_encap_src) with its host bits taken from the
 * flow hash, so a backend's NIC spreads flows over its queues;
 * destination the backend. TOS / traffic class copied whole from the
 * inner header: DSCP, and ECN as RFC 6040's normal mode asks (the
 * backend's decapsulation carries a CE mark back in). IPv4: DF copied
 * from the inner header; ID 0 with DF (RFC 6864: an atomic datagram needs
 * none), else a random one, since a router may then fragment the outer
 * packet and the backend reassembles by (source, destination, protocol,
 * ID): with one ID every packet of a backend from one outer source would
 * share a reassembly queue. TTL 64, its checksum computed here (XDP has
 * no offload for it). IPv6:
 * a nonzero flow label from the flow hash (RFC 6438), hop limit 64.
 *
 * The inner TTL / hop limit is left as it came: for the client the LB is
 * the VIP's endpoint, as with method dsr (whose frames the LB does not
 * route either), and the tunnel is one hop to the backend, which
 * receives the packet as the client sent it.
 *
 * Next hop: bpf_fib_lookup() on the outer addresses, done before the
 * frame changes, with the outer packet's length so the kernel checks it
 * against the route's MTU (an XDP lookup always checks tot_len).
 *   SUCCESS        MACs from the neighbour entry; XDP_TX when the route
 *                  leaves by the interface the frame came in on, else
 *                  bpf_redirect() to that interface (REDIRECT).
 *   NO_NEIGH       the frame is encapsulated all the same, addressed to
 *                  the interface's own MAC and passed to the kernel
 *                  (PASS_NO_NEIGH), which routes it, resolves the next
 *                  hop and sends it: the first packets of a new next hop
 *                  are not lost, and the kernel's neighbour entry serves
 *                  the next ones. This needs forwarding on, and rp_filter
 *                  loose or off for the outer source range (accept_local
 *                  when the outer source is the LB's own address).
 *   FRAG_NEEDED    the packet would not fit once encapsulated: answered
 *                  with ICMP / ICMPv6 (bpf/too_big.h).
 *   anything else  blackhole, unreachable, prohibit, no route, forwarding
 *                  disabled on the interface (the XDP lookup requires
 *                  net.ipv4.conf.DEV.forwarding / net.ipv6.conf.DEV.
 *                  forwarding), a tunnel route: DROP_NO_ROUTE.
 * SUCCESS answers are cached per CPU (chlb_nexthops, below); the others
 * are looked up again for every frame.
 * An 802.1Q tag the frame came with is kept, as dsr keeps it: right when
 * the route leaves by the interface the program runs on (XDP_TX). The FIB
 * sees that interface, not the tag: a route by a VLAN device on top of it
 * is a redirect to a device that takes no XDP frames, which the kernel
 * drops: serve a tagged segment with the program on its VLAN device
 * (generic XDP), where frames arrive untagged.
 */
#ifndef CHLB_BPF_ENCAP_H
#define CHLB_BPF_ENCAP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "chlb/shared.h"
#include "parse.h"
#include "too_big.h"

/*
 * Benches only (tests/bench_xdp.c): BPF_PROG_TEST_RUN's `repeat` runs the
 * same buffer again, and the encapsulation grows it. With this set, a
 * frame sent by XDP_TX is put back as it came once built (the outer
 * header cut off again, the L2 header of an untagged frame rewritten), so
 * every run encapsulates the same frame; the bench takes the cost of that
 * off. Dead code, removed by the verifier, when 0.
 */
const volatile __u32 bench_encap_restore = 0;

/*
 * The next-hop cache's lifetime (shared.h: chlb_nexthops), set at load;
 * 0: no cache, every frame looks its route up.
 */
const volatile __u64 nexthop_ttl_ns = CHLB_NEXTHOP_TTL_NS;

#define CHLB_AF_INET	2	/* <sys/socket.h> is not for BPF */
#define CHLB_AF_INET6	10
#define CHLB_ENCAP_TTL	64
#define CHLB_IP_DF	0x4000

/*
 * What the outer header needs, read before the frame moves. The outer
 * source is kept in the FIB lookup's parameters (which the lookup leaves
 * as they are): the stack of the program and its ICMP call is tight.
 */
struct chlb_encap {
	__u32 inner_len;	/* the inner packet's IP length */
	__u32 l2_len;		/* 14, or 18 with an 802.1Q tag */
	__be16 tci;		/* the tag's, when l2_len is 18 */
	__be16 df;		/* the inner IPv4 header's DF bit */
	__u8 tos;		/* inner TOS / traffic class */
	__u8 inner_proto;	/* the outer header's protocol: 4 or 41 */
	__u8 v6;		/* the outer header is IPv6 */
	__u8 pad;
};

/* Is a backend's address IPv4 (stored IPv4-mapped, ::ffff:a.b.c.d)? */
static __always_inline int chlb_addr_is_v4(const __u8 *a)
{
	__u64 w0;
	__u32 w2;

	__builtin_memcpy(&w0, a, 8);
	__builtin_memcpy(&w2, a + 8, 4);
	return w0 == 0 && w2 == bpf_htonl(0xffff);
}

/*
 * The outer source for flow hash h: the family's range with its host bits
 * (chlb_encap_src_mask) from h. -1 when no range was set for the family.
 * rodata is read through volatile, word by word: the compiler must not
 * fold the initializer in, and chlb_encap_src_mask() takes a plain copy.
 */
static __always_inline int chlb_encap_source(int v6, __u32 h, struct bpf_fib_lookup *fib)
{
	__u32 *src = fib->ipv6_src;	/* IPv4: ipv4_src, the first word */

	const volatile struct chlb_encap_src *r = &encap_src[v6 ? 1 : 0];
	const volatile __u32 *a = (const volatile __u32 *)r->addr;
	struct chlb_encap_src s = { .prefix_len = r->prefix_len, .family = r->family };

	if (!s.family)
		return -1;
	if (!v6) {
		fib->ipv4_src = a[3] | bpf_htonl(h & chlb_encap_src_mask(&s));
		return 0;
	}
	src[0] = a[0];
	src[1] = a[1];
	src[2] = a[2];
	src[3] = a[3] | bpf_htonl(h & chlb_encap_src_mask(&s));
	return 0;
}

/*
 * The inner packet's length, TOS and DF, and the frame's L2 header; -1
 * when they are not in the frame. The bounds are checked here again: the
 * ICMP path (chlb_not_tcp_udp) calls this with a frame parsed elsewhere.
 */
static __always_inline int chlb_encap_inner(const struct chlb_pkt *p, void *end,
					    struct chlb_encap *e)
{
	struct chlb_vlan_hdr *vh = (void *)(p->eth + 1);
	struct ipv6hdr *ip6 = p->l3;
	struct iphdr *ip = p->l3;

	if ((void *)(vh + 1) > end)
		return -1;
	e->l2_len = p->l3 - (void *)p->eth;
	e->tci = e->l2_len == sizeof(struct chlb_ethhdr) + sizeof(*vh) ? vh->tci : 0;
	if (p->family == CHLB_FAMILY_INET) {
		if ((void *)(ip + 1) > end)
			return -1;
		e->inner_len = bpf_ntohs(ip->tot_len);
		e->tos = ip->tos;
		e->df = ip->frag_off & bpf_htons(CHLB_IP_DF);
		e->inner_proto = IPPROTO_IPIP;
	} else {
		if ((void *)(ip6 + 1) > end)
			return -1;
		e->inner_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		e->tos = bpf_ntohl(*(__be32 *)ip6) >> 20;
		e->df = 0;
		e->inner_proto = IPPROTO_IPV6;
	}
	return 0;
}

/* The outer packet's route: a BPF_FIB_LKUP_RET_ code, or < 0. */
static __always_inline int chlb_encap_route(struct xdp_md *ctx, const struct chlb_backend *be,
					    const struct chlb_encap *e, __u32 label,
					    struct bpf_fib_lookup *fib)
{
	fib->l4_protocol = e->inner_proto;
	fib->ifindex = ctx->ingress_ifindex;
	if (e->v6) {
		fib->family = CHLB_AF_INET6;
		fib->tot_len = e->inner_len + sizeof(struct ipv6hdr);
		fib->flowinfo = bpf_htonl((__u32)e->tos << 20 | label);
		__builtin_memcpy(fib->ipv6_dst, be->addr, 16);
	} else {
		fib->family = CHLB_AF_INET;
		fib->tot_len = e->inner_len + sizeof(struct iphdr);
		fib->tos = e->tos;
		__builtin_memcpy(&fib->ipv4_dst, be->addr + 12, 4);
	}
	return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

/*
 * The next-hop cache. bpf_fib_lookup() is most of ipip's cost (~32 ns
 * IPv4, ~100 ns IPv6 on the test VM, against ~40 ns for the rest), and
 * its answer for a backend changes only when routes, neighbours or MTUs
 * do. So a SUCCESS answer (interface, MACs, the route's MTU) is kept per
 * CPU for nexthop_ttl_ns and the backend's frames on that CPU use it:
 *
 *   - 100 ms by default: a route, neighbour or MTU change (a next hop's
 *     MAC after a failover, a new route, `mtu lock`), forwarding turned
 *     off on the interface, take effect within it, which is well below what TCP notices; and 10 fills a second per
 *     CPU and entry cost nothing at any rate where the lookup matters.
 *   - gen and the outer family must be those the entry was filled for: a
 *     backend id's new life (its address is only ever set with a new gen)
 *     misses at once.
 *   - NO_NEIGH and every failure are never kept: each such frame looks up
 *     again, so the kernel's resolution is used by the next frame, and a
 *     route that starts working is used at once.
 *   - the MTU: a SUCCESS lookup returns the MTU it checked tot_len
 *     against in mtu_result (net/core/filter.c, bpf_fib_set_fwd_params():
 *     an XDP lookup always checks the MTU, and says the figure since
 *     5.12): the route's locked MTU, a learned path MTU, else the
 *     interface's, just what a FRAG_NEEDED answer would give. So a fill
 *     needs no second lookup, and a hit answers too-big as a miss would.
 *     bpf_check_mtu() would not do: it knows the interface's MTU only.
 *   - ECMP: a lookup picks a multipath route's next hop by the outer
 *     addresses (and IPv6's flow label), which come from the flow hash.
 *     A cache keyed by backend alone would send all of a backend's flows
 *     on a CPU through one next hop for a TTL; the entry is therefore
 *     picked by the backend and the flow hash's low 2 bits (also the low
 *     bits of the outer source's host part and of the flow label): 4
 *     entries a backend, spread like 4 classes of flows. The cost is
 *     memory (32 bytes * 4 * max_backends per CPU), not time.
 *   - per CPU: a fill is plain stores to this CPU's copy; the time is
 *     written last, after being zeroed, so a program that nests on the
 *     CPU (a test run interrupted by a NAPI poll) never takes a half
 *     written entry as fresh.
 * The lookup's input interface is the frame's: one instance serves one
 * interface, so it is the same for every frame.
 */
static __always_inline struct chlb_nexthop *chlb_nexthop_of(__u32 bid, __u32 h)
{
	__u32 idx = bid * CHLB_NEXTHOP_WAYS + (h & (CHLB_NEXTHOP_WAYS - 1));

	if (!nexthop_ttl_ns)
		return NULL;
	return bpf_map_lookup_elem(&chlb_nexthops, &idx);
}

static __always_inline int chlb_nexthop_fresh(const struct chlb_nexthop *nh,
					      const struct chlb_backend *be, __u8 v6, __u64 now)
{
	return nh->filled_ns && now - nh->filled_ns < nexthop_ttl_ns && nh->gen == be->gen &&
	       nh->v6 == v6;
}

static __always_inline void chlb_nexthop_fill(struct chlb_nexthop *nh,
					      const struct chlb_backend *be, __u8 v6,
					      const struct bpf_fib_lookup *fib, __u64 now)
{
	nh->filled_ns = 0;
	asm volatile("" ::: "memory");
	nh->gen = be->gen;
	nh->ifindex = fib->ifindex;
	__builtin_memcpy(nh->smac, fib->smac, 2 * ETH_ALEN);
	nh->mtu = fib->mtu_result;
	nh->v6 = v6;
	asm volatile("" ::: "memory");
	nh->filled_ns = now;
}

/* The outer IPv4 header at o, with its checksum. */
static __always_inline void chlb_put_outer4(__u32 *o, const struct chlb_encap *e,
					    const struct chlb_backend *be, __u32 src)
{
	__u32 w0 = bpf_htonl(0x45000000 | (__u32)e->tos << 16 | (e->inner_len + 20));
	__u32 w1 = e->df ? bpf_htonl(CHLB_IP_DF) : bpf_htonl(bpf_get_prandom_u32() << 16);
	__u32 w2 = bpf_htonl(CHLB_ENCAP_TTL << 24 | IPPROTO_IPIP << 16);
	__u32 dst;

	__builtin_memcpy(&dst, be->addr + 12, 4);
	o[0] = w0;
	o[1] = w1;
	o[2] = w2;
	o[3] = src;
	o[4] = dst;
	((struct iphdr *)o)->check = ~chlb_csum_fold((__u64)w0 + w1 + w2 + src + dst);
}

/* The outer IPv6 header at o; label: the flow label, 20 bits. */
static __always_inline void chlb_put_outer6(__u32 *o, const struct chlb_encap *e,
					    const struct chlb_backend *be, const __u32 *src,
					    __u32 label)
{
	const __u32 *dst = (const __u32 *)be->addr;

	o[0] = bpf_htonl(6u << 28 | (__u32)e->tos << 20 | label);
	o[1] = bpf_htonl(e->inner_len << 16 | (__u32)e->inner_proto << 8 | CHLB_ENCAP_TTL);
	o[2] = src[0];
	o[3] = src[1];
	o[4] = src[2];
	o[5] = src[3];
	o[6] = dst[0];
	o[7] = dst[1];
	o[8] = dst[2];
	o[9] = dst[3];
}

/*
 * Grow the frame by the outer header and write the L2 header (the MACs in
 * fib, the tag if there was one) and the outer header (its source in
 * fib). -1 when the frame has no room in front (the driver's headroom).
 */
static __always_inline int chlb_encap_push(struct xdp_md *ctx, const struct chlb_encap *e,
					   const struct chlb_backend *be,
					   const struct bpf_fib_lookup *fib, __u32 label)
{
	__u32 outer = e->v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	__be16 proto = bpf_htons(e->v6 ? ETH_P_IPV6 : ETH_P_IP);
	struct chlb_ethhdr *eth;
	struct chlb_vlan_hdr *vh;
	void *data, *end, *l3;

	if (bpf_xdp_adjust_head(ctx, -(int)outer))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > end)
		return -1;
	__builtin_memcpy(eth->dst, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->src, fib->smac, ETH_ALEN);
	l3 = eth + 1;
	if (e->l2_len != sizeof(*eth)) {
		vh = l3;
		if ((void *)(vh + 1) > end)
			return -1;
		eth->proto = bpf_htons(ETH_P_8021Q);
		vh->tci = e->tci;
		vh->encap_proto = proto;
		l3 = vh + 1;
	} else {
		eth->proto = proto;
	}
	if (l3 + sizeof(struct ipv6hdr) > end)	/* inner IP headers are >= 20 bytes */
		return -1;
	if (e->v6)
		chlb_put_outer6(l3, e, be, fib->ipv6_src, label);
	else
		chlb_put_outer4(l3, e, be, fib->ipv4_src);
	return 0;
}

/* bench_encap_restore: the frame as it was before chlb_encap_push(), untagged. */
static __always_inline void chlb_bench_restore(struct xdp_md *ctx, const struct chlb_encap *e)
{
	struct chlb_ethhdr *eth;
	void *end;
	int i;

	if (bpf_xdp_adjust_head(ctx, e->v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr)))
		return;
	eth = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if ((void *)(eth + 1) > end)
		return;
	for (i = 0; i < ETH_ALEN; i++)
		eth->dst[i] = if_mac[i];
	eth->proto = bpf_htons(e->inner_proto == IPPROTO_IPIP ? ETH_P_IP : ETH_P_IPV6);
}

/*
 * Send the frame to backend be (id bid) encapsulated (see the top of this
 * file); h is the flow hash. The reason the frame leaves with; *ifindex
 * for a REDIRECT.
 */
static __always_inline int chlb_encap(struct xdp_md *ctx, const struct chlb_pkt *p,
				      const struct chlb_backend *be, __u32 bid, __u32 h,
				      struct chlb_global_stats *gs, __u32 *ifindex)
{
	struct bpf_fib_lookup fib = {};
	struct chlb_encap e = {};
	__u32 label = h & 0xfffff, outer;
	struct chlb_nexthop *nh;
	int rc, reason, i;
	__u64 now = 0;

	e.v6 = !chlb_addr_is_v4(be->addr);
	if (p->family == CHLB_FAMILY_INET6 && !e.v6)
		return CHLB_CNT_DROP_ENCAP;
	if (chlb_encap_source(e.v6, h, &fib) ||
	    chlb_encap_inner(p, (void *)(long)ctx->data_end, &e))
		return CHLB_CNT_DROP_ENCAP;
	label = label ? label : 1;
	outer = e.v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	/* no outer length field holds it (a GRO-merged frame in skb mode) */
	if (e.inner_len + outer > 0xffff)
		return CHLB_CNT_DROP_TOO_BIG;
	nh = chlb_nexthop_of(bid, h);
	if (nh)
		now = bpf_ktime_get_coarse_ns();
	if (nh && chlb_nexthop_fresh(nh, be, e.v6, now)) {
		if (e.inner_len + outer > nh->mtu)
			return chlb_too_big(ctx, p, (int)nh->mtu - (int)outer, gs);
		__builtin_memcpy(fib.smac, nh->smac, 2 * ETH_ALEN);
		fib.ifindex = nh->ifindex;
		rc = BPF_FIB_LKUP_RET_SUCCESS;
	} else {
		rc = chlb_encap_route(ctx, be, &e, label, &fib);
		if (nh && rc == BPF_FIB_LKUP_RET_SUCCESS)
			chlb_nexthop_fill(nh, be, e.v6, &fib, now);
	}
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		reason = fib.ifindex == ctx->ingress_ifindex ? CHLB_CNT_TX : CHLB_CNT_REDIRECT;
	} else if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		/* to the kernel, from the frame's sender, as if received so */
		__builtin_memcpy(fib.smac, p->eth->src, ETH_ALEN);
		for (i = 0; i < ETH_ALEN; i++)
			fib.dmac[i] = if_mac[i];
		reason = CHLB_CNT_PASS_NO_NEIGH;
	} else if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		return chlb_too_big(ctx, p, (int)fib.mtu_result - (int)outer, gs);
	} else {
		return CHLB_CNT_DROP_NO_ROUTE;
	}
	if (chlb_encap_push(ctx, &e, be, &fib, label))
		return CHLB_CNT_DROP_ENCAP;
	if (bench_encap_restore && reason == CHLB_CNT_TX)
		chlb_bench_restore(ctx, &e);
	*ifindex = fib.ifindex;
	return reason;
}

#endif /* CHLB_BPF_ENCAP_H */
