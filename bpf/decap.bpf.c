// SPDX-License-Identifier: GPL-2.0
/*
 * chlb decap: the XDP program of a backend behind an ipip VIP. It strips
 * IPv4-in-IPv4 (protocol 4), IPv6-in-IPv6 (next header 41) and IPv4-in-IPv6
 * (next header 4) addressed to this host and passes the inner packet up
 * the stack as if it had arrived unencapsulated: the outer IP header goes,
 * the Ethernet header (and an 802.1Q tag) is rebuilt in front of the inner
 * one with the inner family's ethertype, and the inner packet's bytes and
 * checksums are left as they are (but for RFC 6040's CE mark). It needs no
 * tunnel device (this kernel has no ipip or ip6_tunnel module) and costs
 * less than one.
 *
 * Everything else is passed unmodified: other traffic, other tunnels
 * (6in4 too), tunnels to other addresses, outer fragments (the kernel
 * reassembles them; see README) and malformed frames. Each frame is
 * counted once, at the single exit, under the reason for its verdict.
 *
 * Shares no map with chlb's load balancer: include/chlb/decap.h.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "chlb/decap.h"

#define DECAP_IP_MF		0x2000
#define DECAP_IP_OFFSET		0x1fff
#define DECAP_NEXTHDR_HOP	0
#define DECAP_NEXTHDR_FRAGMENT	44
#define DECAP_NEXTHDR_DEST	60
/*
 * Extension headers walked before the tunnel's next header: Linux's
 * ip6tnl adds a destination options header (the tunnel encapsulation
 * limit, RFC 2473) by default, a router may add hop-by-hop options.
 */
#define DECAP_EXT_MAX		2
#define DECAP_ECN_MASK		3
#define DECAP_ECN_CE		3
/* Not a counter: the parse goes on. */
#define DECAP_GO_ON		(-1)

#define decap_unlikely(x) __builtin_expect(!!(x), 0)

/*
 * Set by the loader before load, read-only after: the verifier sees the
 * address counts as constants and keeps only the compares they need, and
 * no map lookup stands in the hot path. Its own section, so that its map
 * (pinned as decap_cfg) holds this struct and nothing else.
 */
const volatile struct chlb_decap_cfg decap_cfg SEC(".rodata.cfg") = {};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chlb_decap_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} decap_stats SEC(".maps");

/* struct ethhdr is packed, so clang reads h_proto bytewise; this is not. */
struct decap_eth {
	__u8 macs[2 * ETH_ALEN];
	__be16 proto;
};

struct decap_vlan_eth {
	__u8 macs[2 * ETH_ALEN];
	__be16 tpid;
	__be16 tci;
	__be16 proto;
};

struct decap_ext {
	__u8 nexthdr;
	__u8 len;		/* in 8-byte units, not counting the first 8 */
};

struct decap_pkt {
	void *data;
	void *end;
	void *pos;		/* cursor: the outer, then the inner IP header */
	__u32 tagged;		/* an 802.1Q tag follows the MACs */
	__u32 strip;		/* outer IP header bytes (with IPv6 extensions) */
	__u32 room;		/* bytes the outer header says follow it */
	__u32 kind;		/* CHLB_DECAP_CNT_4IN4, _6IN6, _4IN6 */
	__u8 outer_ecn;
};

/* Ethernet and at most one 802.1Q tag; *proto is the L3 ethertype. */
static __always_inline int decap_eth(struct decap_pkt *p, __be16 *proto)
{
	struct decap_vlan_eth *vh = p->data;
	struct decap_eth *eth = p->data;

	if (decap_unlikely((void *)(eth + 1) > p->end))
		return CHLB_DECAP_CNT_PASS_MALFORMED;
	*proto = eth->proto;
	p->pos = eth + 1;
	if (*proto != bpf_htons(ETH_P_8021Q))
		return DECAP_GO_ON;
	if (decap_unlikely((void *)(vh + 1) > p->end))
		return CHLB_DECAP_CNT_PASS_MALFORMED;
	*proto = vh->proto;
	p->pos = vh + 1;
	p->tagged = 1;
	return DECAP_GO_ON;
}

/* The outer IPv4 destination is one of ours. */
static __always_inline int decap_for_us4(__be32 dst)
{
	__u32 i, n = decap_cfg.n4;

	if (decap_cfg.flags & CHLB_DECAP_F_ANY_DST)
		return 1;
#pragma unroll
	for (i = 0; i < CHLB_DECAP_MAX_ADDRS; i++) {
		if (i >= n)
			break;
		if (decap_cfg.v4[i] == dst)
			return 1;
	}
	return 0;
}

/* a == (d0, d1, d2, d3), word by word, without a branch per word. */
static __always_inline int decap_eq6(const volatile __u32 *a, __u32 d0, __u32 d1, __u32 d2,
				     __u32 d3)
{
	return !((a[0] ^ d0) | (a[1] ^ d1) | (a[2] ^ d2) | (a[3] ^ d3));
}

/* The outer IPv6 destination is one of ours. */
static __always_inline int decap_for_us6(const struct ipv6hdr *ip6)
{
	const __u32 *d = ip6->daddr.in6_u.u6_addr32;
	__u32 d0 = d[0], d1 = d[1], d2 = d[2], d3 = d[3], i, n = decap_cfg.n6;

	if (decap_cfg.flags & CHLB_DECAP_F_ANY_DST)
		return 1;
#pragma unroll
	for (i = 0; i < CHLB_DECAP_MAX_ADDRS; i++)
		if (i < n && decap_eq6(decap_cfg.v6[i], d0, d1, d2, d3))
			return 1;
	return 0;
}

/*
 * An outer IPv4 header of any IHL >= 5 (options are stripped with it). The
 * protocol is read first, so other traffic leaves at once; a tunnel's
 * datagram must then fit in the frame.
 */
static __always_inline int decap_outer4(struct decap_pkt *p)
{
	struct iphdr *ip = p->pos;
	__u32 vihl, hlen, tot;

	if (decap_unlikely((void *)(ip + 1) > p->end))
		return CHLB_DECAP_CNT_PASS_MALFORMED;
	if (ip->protocol != IPPROTO_IPIP)
		return CHLB_DECAP_CNT_PASS_NOT_TUNNEL;
	/* version 4 and IHL >= 5 <=> the first byte is 0x45 .. 0x4f */
	vihl = *(__u8 *)ip;
	hlen = (vihl & 0xf) * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (decap_unlikely(vihl - 0x45 > 0x4f - 0x45 || tot < hlen || p->pos + tot > p->end))
		return CHLB_DECAP_CNT_PASS_MALFORMED;
	if (decap_unlikely(ip->frag_off & bpf_htons(DECAP_IP_MF | DECAP_IP_OFFSET)))
		return CHLB_DECAP_CNT_PASS_FRAGMENT;
	if (!decap_for_us4(ip->daddr))
		return CHLB_DECAP_CNT_PASS_NOT_FOR_US;
	p->outer_ecn = ip->tos & DECAP_ECN_MASK;
	p->room = tot - hlen;
	p->strip = hlen;
	p->pos += hlen;
	p->kind = CHLB_DECAP_CNT_4IN4;
	return DECAP_GO_ON;
}

/* Hop-by-hop and destination options before the tunnel, DECAP_EXT_MAX at most. */
static __always_inline int decap_ext6(struct decap_pkt *p, __u8 *nh)
{
	struct decap_ext *h;
	__u32 i, len;

#pragma unroll
	for (i = 0; i < DECAP_EXT_MAX; i++) {
		if (*nh != DECAP_NEXTHDR_HOP && *nh != DECAP_NEXTHDR_DEST)
			break;
		h = p->pos;
		if (decap_unlikely((void *)(h + 1) > p->end))
			return CHLB_DECAP_CNT_PASS_MALFORMED;
		len = (h->len + 1) * 8;
		if (decap_unlikely(len > p->room))
			return CHLB_DECAP_CNT_PASS_MALFORMED;
		*nh = h->nexthdr;
		p->room -= len;
		p->strip += len;
		p->pos += len;
	}
	return DECAP_GO_ON;
}

/* A fragment header: the packet is a tunnel's fragment, or not a tunnel at all. */
static __always_inline int decap_frag6(struct decap_pkt *p)
{
	struct decap_ext *h = p->pos;

	if (decap_unlikely((void *)(h + 1) > p->end))
		return CHLB_DECAP_CNT_PASS_MALFORMED;
	return h->nexthdr == IPPROTO_IPIP || h->nexthdr == IPPROTO_IPV6 ?
		       CHLB_DECAP_CNT_PASS_FRAGMENT : CHLB_DECAP_CNT_PASS_NOT_TUNNEL;
}

static __always_inline int decap_tunnel_nh(__u8 nh)
{
	return nh == IPPROTO_IPIP || nh == IPPROTO_IPV6;
}

/*
 * An outer IPv6 header, its options walked. As for IPv4, the next header
 * is read first: TCP, UDP and ICMPv6 leave after one compare.
 */
static __always_inline int decap_outer6(struct decap_pkt *p)
{
	struct ipv6hdr *ip6 = p->pos;
	__u8 nh;
	int reason;

	if (decap_unlikely((void *)(ip6 + 1) > p->end))
		return CHLB_DECAP_CNT_PASS_MALFORMED;
	nh = ip6->nexthdr;
	if (!decap_tunnel_nh(nh) && nh != DECAP_NEXTHDR_HOP && nh != DECAP_NEXTHDR_DEST &&
	    nh != DECAP_NEXTHDR_FRAGMENT)
		return CHLB_DECAP_CNT_PASS_NOT_TUNNEL;
	p->room = bpf_ntohs(ip6->payload_len);
	if (decap_unlikely(ip6->version != 6 || (void *)(ip6 + 1) + p->room > p->end))
		return CHLB_DECAP_CNT_PASS_MALFORMED;
	p->pos = ip6 + 1;
	p->strip = sizeof(*ip6);
	reason = decap_ext6(p, &nh);
	if (reason != DECAP_GO_ON)
		return reason;
	if (nh == DECAP_NEXTHDR_FRAGMENT)
		return decap_frag6(p);
	if (!decap_tunnel_nh(nh))
		return CHLB_DECAP_CNT_PASS_NOT_TUNNEL;
	if (!decap_for_us6(ip6))
		return CHLB_DECAP_CNT_PASS_NOT_FOR_US;
	p->outer_ecn = (*((__u8 *)ip6 + 1) >> 4) & DECAP_ECN_MASK;
	p->kind = nh == IPPROTO_IPV6 ? CHLB_DECAP_CNT_6IN6 : CHLB_DECAP_CNT_4IN6;
	return DECAP_GO_ON;
}

/*
 * RFC 1624's incremental update of an IPv4 header checksum for one 16-bit
 * word going from old to new (host order).
 */
static __always_inline void decap_csum_replace(__be16 *check, __u16 old, __u16 new)
{
	__u32 sum = (~bpf_ntohs(*check) & 0xffff) + (~old & 0xffff) + new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	*check = bpf_htons(~sum & 0xffff);
}

/*
 * RFC 6040 at the decapsulator: a congestion mark (CE) on the outer
 * header is carried to an ECN-capable inner packet; on a not-ECT one it
 * cannot be, and the packet is dropped, as the kernel's tunnels do.
 */
static __always_inline int decap_ecn4(struct decap_pkt *p, struct iphdr *ip)
{
	__u16 old;

	if (decap_unlikely(p->outer_ecn == DECAP_ECN_CE)) {
		if (!(ip->tos & DECAP_ECN_MASK))
			return CHLB_DECAP_CNT_DROP_ECN;
		old = *(__u8 *)ip << 8 | ip->tos;
		ip->tos |= DECAP_ECN_CE;
		decap_csum_replace(&ip->check, old, old | DECAP_ECN_CE);
	}
	return DECAP_GO_ON;
}

static __always_inline int decap_ecn6(struct decap_pkt *p, struct ipv6hdr *ip6)
{
	__u8 *tc = (__u8 *)ip6 + 1;	/* the traffic class's ECN bits are 0x30 here */

	if (decap_unlikely(p->outer_ecn == DECAP_ECN_CE)) {
		if (!(*tc & (DECAP_ECN_MASK << 4)))
			return CHLB_DECAP_CNT_DROP_ECN;
		*tc |= DECAP_ECN_CE << 4;
	}
	return DECAP_GO_ON;
}

/*
 * The inner IPv4 header must be whole, and its datagram inside the outer
 * one: tot >= IHL * 4 >= 20 and tot <= room also say the room holds the
 * header.
 */
static __always_inline int decap_inner4(struct decap_pkt *p)
{
	struct iphdr *ip = p->pos;
	__u32 vihl, tot;

	if (decap_unlikely((void *)(ip + 1) > p->end))
		return CHLB_DECAP_CNT_PASS_MALFORMED;
	vihl = *(__u8 *)ip;
	tot = bpf_ntohs(ip->tot_len);
	if (decap_unlikely(vihl - 0x45 > 0x4f - 0x45 || tot < (vihl & 0xf) * 4 || tot > p->room))
		return CHLB_DECAP_CNT_PASS_MALFORMED;
	return decap_ecn4(p, ip);
}

static __always_inline int decap_inner6(struct decap_pkt *p)
{
	struct ipv6hdr *ip6 = p->pos;

	if (decap_unlikely((void *)(ip6 + 1) > p->end))
		return CHLB_DECAP_CNT_PASS_MALFORMED;
	if (decap_unlikely(ip6->version != 6 ||
			   sizeof(*ip6) + bpf_ntohs(ip6->payload_len) > p->room))
		return CHLB_DECAP_CNT_PASS_MALFORMED;
	return decap_ecn6(p, ip6);
}

/*
 * The outer MACs (and tag) copied to just before the inner header, with
 * the inner ethertype; then the front is cut off. The two regions never
 * overlap: the outer IP header (>= 20 bytes) is longer than the L2 one
 * (14 or 18), and the new one lies in the outer header, in bounds.
 */
static __always_inline int decap_strip(struct xdp_md *ctx, struct decap_pkt *p)
{
	__be16 proto = bpf_htons(p->kind == CHLB_DECAP_CNT_6IN6 ? ETH_P_IPV6 : ETH_P_IP);
	struct decap_vlan_eth *vh = p->data, *nvh = p->pos - sizeof(*nvh);
	struct decap_eth *eth = p->data, *neth = p->pos - sizeof(*neth);

	if (p->tagged) {
		__builtin_memcpy(nvh->macs, vh->macs, sizeof(nvh->macs));
		nvh->tpid = vh->tpid;
		nvh->tci = vh->tci;
		nvh->proto = proto;
	} else {
		__builtin_memcpy(neth->macs, eth->macs, sizeof(neth->macs));
		neth->proto = proto;
	}
	if (bpf_xdp_adjust_head(ctx, p->strip))
		return CHLB_DECAP_CNT_PASS_MALFORMED;
	return p->kind;
}

/* The whole frame: its counter (and so its verdict). */
static __always_inline int decap_frame(struct xdp_md *ctx)
{
	struct decap_pkt p = {
		.data = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	__be16 proto;
	int reason;

	reason = decap_eth(&p, &proto);
	if (reason != DECAP_GO_ON)
		return reason;
	if (proto == bpf_htons(ETH_P_IP))
		reason = decap_outer4(&p);
	else if (proto == bpf_htons(ETH_P_IPV6))
		reason = decap_outer6(&p);
	else
		return CHLB_DECAP_CNT_PASS_NOT_TUNNEL;
	if (reason != DECAP_GO_ON)
		return reason;
	reason = p.kind == CHLB_DECAP_CNT_6IN6 ? decap_inner6(&p) : decap_inner4(&p);
	if (reason != DECAP_GO_ON)
		return reason;
	return decap_strip(ctx, &p);
}

SEC("xdp")
int chlb_decap(struct xdp_md *ctx)
{
	struct chlb_decap_stats *st;
	__u32 zero = 0;
	int reason = decap_frame(ctx);

	st = bpf_map_lookup_elem(&decap_stats, &zero);
	if (st && reason >= 0 && reason < CHLB_DECAP_CNT_MAX)
		st->counters[reason]++;
	return reason == CHLB_DECAP_CNT_DROP_ECN ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
