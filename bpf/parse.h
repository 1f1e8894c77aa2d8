/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Header parsing for the XDP program. Each helper checks its own bounds
 * (`if (hdr + 1 > end)`), advances the cursor and returns 0 to go on or
 * the enum chlb_counter reason the frame is passed for.
 */
#ifndef CHLB_BPF_PARSE_H
#define CHLB_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "chlb/shared.h"

#define CHLB_IP_MF	0x2000
#define CHLB_IP_OFFSET	0x1fff

/* IPv6 next header values of the extension headers chlb knows */
#define CHLB_NEXTHDR_HOP	0
#define CHLB_NEXTHDR_ROUTING	43
#define CHLB_NEXTHDR_FRAGMENT	44
#define CHLB_NEXTHDR_DEST	60
#define CHLB_IP6_FRAG_OFFSET	0xfff8	/* the fragment header's offset bits */

/*
 * The IPv6 extension headers walked before the transport header, at most.
 * Hosts send one or two (hop-by-hop for a router alert or jumbogram, a
 * destination options header); four keeps the unrolled walk short. A
 * longer chain is handled as a fragment (it may hide a fragment header):
 * dropped when to a VIP address, else passed (chlb_ipv6_ext()).
 */
#define CHLB_IPV6_EXT_MAX	4

/* struct vlan_hdr lives in a kernel-internal header, not in uapi. */
struct chlb_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* Failure branches: keeps the reason codes out of the fall-through path. */
#define chlb_unlikely(x) __builtin_expect(!!(x), 0)
#define chlb_likely(x) __builtin_expect(!!(x), 1)

struct chlb_cursor {
	void *pos;
	void *end;
	__u32 l4_len;	/* bytes the IP header says follow it */
};

/* struct ethhdr is packed, so clang reads h_proto bytewise; this is not. */
struct chlb_ethhdr {
	__u8 dst[ETH_ALEN];
	__u8 src[ETH_ALEN];
	__be16 proto;
};

/*
 * What the data path needs from a parsed frame. The flow key is built only
 * once the frame is known to be for a VIP, to keep the pass path short.
 */
struct chlb_pkt {
	struct chlb_ethhdr *eth;
	void *l3;
	void *l4;		/* a whole TCP or UDP header */
	__be16 dport;
	__u8 family;		/* enum chlb_family */
	__u64 proto;		/* after the IP headers; see chlb_parse_l4() */
};

/* Ethernet and at most one 802.1Q tag; *proto is the L3 ethertype. */
static __always_inline int chlb_parse_eth(struct chlb_cursor *c,
					  struct chlb_pkt *p, __be16 *proto)
{
	struct chlb_ethhdr *eth = c->pos;
	struct chlb_vlan_hdr *vh;

	if (chlb_unlikely((void *)(eth + 1) > c->end))
		return CHLB_CNT_PASS_MALFORMED;
	p->eth = eth;
	*proto = eth->proto;
	c->pos = eth + 1;
	if (*proto != bpf_htons(ETH_P_8021Q))
		return 0;
	vh = c->pos;
	if (chlb_unlikely((void *)(vh + 1) > c->end))
		return CHLB_CNT_PASS_MALFORMED;
	*proto = vh->encap_proto;
	c->pos = vh + 1;
	return 0;
}

/*
 * IPv4 with any IHL >= 5 (options skipped). The datagram must fit in the
 * frame: a truncated frame is malformed, never forwarded in pieces.
 */
static __always_inline int chlb_parse_ipv4(struct chlb_cursor *c,
					   struct chlb_pkt *p)
{
	struct iphdr *ip = c->pos;
	__u32 vihl, hlen, tot;

	if (chlb_unlikely((void *)(ip + 1) > c->end))
		return CHLB_CNT_PASS_MALFORMED;
	/* version 4 and IHL >= 5 <=> the first byte is 0x45 .. 0x4f */
	vihl = *(__u8 *)ip;
	hlen = (vihl & 0xf) * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (chlb_unlikely(vihl - 0x45 > 0x4f - 0x45 || tot < hlen || c->pos + tot > c->end))
		return CHLB_CNT_PASS_MALFORMED;
	p->l3 = ip;
	p->proto = ip->protocol;
	p->family = CHLB_FAMILY_INET;
	if (chlb_unlikely(ip->frag_off & bpf_htons(CHLB_IP_MF | CHLB_IP_OFFSET))) {
		/* for the fragments policy: chlb_vip_addr_of(), chlb_frag_vip_key() */
		p->l4 = c->pos + hlen;
		return CHLB_CNT_PASS_FRAGMENT;
	}
	c->l4_len = tot - hlen;
	c->pos += hlen;
	return 0;
}

static __always_inline int chlb_ipv6_ext_walked(__u8 nh)
{
	return nh == CHLB_NEXTHDR_HOP || nh == CHLB_NEXTHDR_DEST || nh == CHLB_NEXTHDR_ROUTING;
}

/*
 * Walk the IPv6 extension headers at c->pos, *nh the type of the first:
 * hop-by-hop options (only first, RFC 8200 4.1), destination options and
 * routing headers whose segments left is 0 (the packet is at its final
 * destination, the address in the IPv6 header), at most
 * CHLB_IPV6_EXT_MAX of them. c->pos and c->l4_len move past them and *nh
 * becomes the header after them: 0 then, whatever *nh is (the transport
 * header, a fragment header with c->pos at it, anything else). A routing
 * header with segments left: the packet is not at its destination yet,
 * PASS_OTHER_PROTO. More headers than the limit may hide a fragment
 * header further on: PASS_FRAGMENT, so the fragments policy covers it (a
 * VIP address's are dropped: the LB's kernel must not see them). A header
 * past the frame or the datagram (c->l4_len), a hop-by-hop header further
 * in: PASS_MALFORMED.
 * The quoted packet of an ICMPv6 error is walked with it too (icmp.h).
 */
static __always_inline int chlb_ipv6_ext(struct chlb_cursor *c, __u8 *nh)
{
	__u8 *h;
	__u32 len;
	int i;

#pragma unroll
	for (i = 0; i < CHLB_IPV6_EXT_MAX; i++) {
		if (!chlb_ipv6_ext_walked(*nh))
			return 0;
		h = c->pos;
		if ((void *)(h + 8) > c->end)
			return CHLB_CNT_PASS_MALFORMED;
		len = (h[1] + 1) * 8;
		if (len > c->l4_len || (i && *nh == CHLB_NEXTHDR_HOP))
			return CHLB_CNT_PASS_MALFORMED;
		if (*nh == CHLB_NEXTHDR_ROUTING && h[3])
			return CHLB_CNT_PASS_OTHER_PROTO;
		*nh = h[0];
		c->pos += len;
		c->l4_len -= len;
	}
	return chlb_ipv6_ext_walked(*nh) ? CHLB_CNT_PASS_FRAGMENT : 0;
}

/* The rest of chlb_parse_ipv6(), out of the TCP/UDP path's way. */
static __always_inline int chlb_parse_ipv6_ext(struct chlb_cursor *c, struct chlb_pkt *p)
{
	__u8 nh = p->proto;
	__u64 proto;
	int reason;

	reason = chlb_ipv6_ext(c, &nh);
	/*
	 * 64 bits, opaque to clang: where this path meets the others (8-bit
	 * loads, zero-extended by the load itself), an 8-bit value would be
	 * masked into a new register for each compare, and the verifier does
	 * not link the copies: it would not know that a frame checked as UDP
	 * is not TCP further on, and reject chlb_flow_kind()'s read of the TCP
	 * flags.
	 */
	proto = nh;
	asm volatile("" : "+r"(proto));
	p->proto = proto;
	p->l4 = c->pos;		/* at the fragment header, or whatever stopped the walk */
	if (reason)
		return reason;
	if (nh != CHLB_NEXTHDR_FRAGMENT)
		return 0;
	/* a fragment header cut short by the datagram is no fragment header */
	return c->l4_len < 8 ? CHLB_CNT_PASS_MALFORMED : CHLB_CNT_PASS_FRAGMENT;
}

/*
 * IPv6, its extension headers walked (chlb_ipv6_ext()) when the next
 * header is not the transport header itself; p->proto is the header after
 * them. A fragment header, wherever in the chain: PASS_FRAGMENT with p->l4
 * at it (the fragments policy, chlb_frag_vip_key()).
 */
static __always_inline int chlb_parse_ipv6(struct chlb_cursor *c,
					   struct chlb_pkt *p)
{
	struct ipv6hdr *ip6 = c->pos;

	if (chlb_unlikely((void *)(ip6 + 1) > c->end))
		return CHLB_CNT_PASS_MALFORMED;
	if (chlb_unlikely(ip6->version != 6 ||
			  (void *)(ip6 + 1) + bpf_ntohs(ip6->payload_len) > c->end))
		return CHLB_CNT_PASS_MALFORMED;
	p->l3 = ip6;
	p->proto = ip6->nexthdr;
	p->family = CHLB_FAMILY_INET6;
	c->l4_len = bpf_ntohs(ip6->payload_len);
	c->pos = ip6 + 1;
	if (chlb_likely(p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP))
		return 0;
	return chlb_parse_ipv6_ext(c, p);
}

/*
 * TCP or UDP; anything else (ICMP, ND, other headers) passes. Only the
 * destination port is read here: the rest waits until a VIP matched. The
 * header must lie inside the datagram, not only the frame: bytes past the
 * IP length (Ethernet padding) are no header.
 */
static __always_inline int chlb_parse_l4(struct chlb_cursor *c,
					 struct chlb_pkt *p)
{
	struct tcphdr *th = c->pos;
	struct udphdr *uh = c->pos;
	__u64 proto = p->proto;

	p->l4 = c->pos;
	if (proto == IPPROTO_TCP) {
		if (chlb_unlikely((void *)(th + 1) > c->end || th->doff < 5 ||
				  th->doff * 4 > c->l4_len))
			return CHLB_CNT_PASS_MALFORMED;
		p->dport = th->dest;
		return 0;
	}
	if (proto == IPPROTO_UDP) {
		if (chlb_unlikely((void *)(uh + 1) > c->end ||
				  bpf_ntohs(uh->len) < sizeof(*uh) ||
				  bpf_ntohs(uh->len) > c->l4_len))
			return CHLB_CNT_PASS_MALFORMED;
		p->dport = uh->dest;
		return 0;
	}
	return CHLB_CNT_PASS_OTHER_PROTO;
}

/* The whole frame: 0 when it is TCP/UDP over IP, else the pass reason. */
static __always_inline int chlb_parse(void *data, void *end,
				      struct chlb_pkt *p)
{
	struct chlb_cursor c = { .pos = data, .end = end };
	__be16 proto;
	int reason;

	reason = chlb_parse_eth(&c, p, &proto);
	if (reason)
		return reason;
	if (proto == bpf_htons(ETH_P_IP))
		reason = chlb_parse_ipv4(&c, p);
	else if (proto == bpf_htons(ETH_P_IPV6))
		reason = chlb_parse_ipv6(&c, p);
	else
		return CHLB_CNT_PASS_NOT_IP;
	if (reason)
		return reason;
	return chlb_parse_l4(&c, p);
}

/*
 * The destination address as chlb_vip_addrs keys it: port 0, protocol 0
 * (IPv4 mapped, as userspace stores it).
 */
static __always_inline void chlb_vip_addr_of(const struct chlb_pkt *p,
					     struct chlb_vip_key *vk)
{
	struct ipv6hdr *ip6 = p->l3;
	struct iphdr *ip = p->l3;

	if (p->family == CHLB_FAMILY_INET)
		chlb_addr_from_v4(vk->addr, ip->daddr);
	else
		__builtin_memcpy(vk->addr, &ip6->daddr, CHLB_ADDR_LEN);
	vk->port = 0;
	vk->proto = 0;
	vk->family = p->family;
}

/* The destination as a VIP key. */
static __always_inline void chlb_vip_key_of(const struct chlb_pkt *p,
					    struct chlb_vip_key *vk)
{
	chlb_vip_addr_of(p, vk);
	vk->port = p->dport;
	vk->proto = p->proto;
}

/*
 * A fragment's VIP key, its address already in vk: 1 with the port and
 * protocol filled in when it is the first fragment of a TCP or UDP
 * datagram and its destination port lies in the frame and the fragment;
 * 0 otherwise (later fragments carry no ports). p is as chlb_parse() left
 * it for PASS_FRAGMENT: p->l4 after the IPv4 header, or at the IPv6
 * fragment header.
 */
static __always_inline int chlb_frag_vip_key(const struct chlb_pkt *p, void *end,
					     struct chlb_vip_key *vk)
{
	struct ipv6hdr *ip6 = p->l3;
	struct iphdr *ip = p->l3;
	__u8 *l4 = p->l4, proto;
	int left;	/* bytes of the fragment from l4 on */

	if (p->family == CHLB_FAMILY_INET) {
		if (ip->frag_off & bpf_htons(CHLB_IP_OFFSET))
			return 0;
		proto = ip->protocol;
		left = bpf_ntohs(ip->tot_len) - (int)((void *)l4 - (void *)ip);
	} else {
		/* p->proto: not a fragment header after a chain over the walk's limit */
		if (p->proto != CHLB_NEXTHDR_FRAGMENT || (void *)(l4 + 8) > end ||
		    *(__be16 *)(l4 + 2) & bpf_htons(CHLB_IP6_FRAG_OFFSET))
			return 0;
		proto = l4[0];
		left = (int)sizeof(*ip6) + bpf_ntohs(ip6->payload_len) -
		       (int)((void *)l4 - (void *)ip6) - 8;
		l4 += 8;
	}
	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || left < 4 ||
	    (void *)(l4 + 4) > end)
		return 0;
	vk->port = *(__be16 *)(l4 + 2);	/* TCP and UDP alike */
	vk->proto = proto;
	return 1;
}

/* The five-tuple, once the frame is known to be for a VIP. */
static __always_inline void chlb_flow_key_of(const struct chlb_pkt *p,
					     const struct chlb_vip_key *vk,
					     struct chlb_flow_key *k)
{
	struct ipv6hdr *ip6 = p->l3;
	struct iphdr *ip = p->l3;

	if (p->family == CHLB_FAMILY_INET)
		chlb_addr_from_v4(k->src, ip->saddr);
	else
		__builtin_memcpy(k->src, &ip6->saddr, CHLB_ADDR_LEN);
	__builtin_memcpy(k->dst, vk->addr, CHLB_ADDR_LEN);
	/* source port: the first field of both TCP and UDP headers */
	k->sport = ((const struct udphdr *)p->l4)->source;
	k->dport = p->dport;
	k->proto = p->proto;
	k->family = p->family;
	k->pad[0] = 0;
	k->pad[1] = 0;
}

#endif /* CHLB_BPF_PARSE_H */
