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
#define CHLB_NEXTHDR_FRAGMENT 44

/* struct vlan_hdr lives in a kernel-internal header, not in uapi. */
struct chlb_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* Failure branches: keeps the reason codes out of the fall-through path. */
#define chlb_unlikely(x) __builtin_expect(!!(x), 0)

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
	__u8 proto;
	__u8 family;		/* enum chlb_family */
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
	if (chlb_unlikely(ip->frag_off & bpf_htons(CHLB_IP_MF | CHLB_IP_OFFSET)))
		return CHLB_CNT_PASS_FRAGMENT;
	p->l3 = ip;
	p->proto = ip->protocol;
	p->family = CHLB_FAMILY_INET;
	c->l4_len = tot - hlen;
	c->pos += hlen;
	return 0;
}

/*
 * IPv6 whose next header is the transport header itself. Extension and
 * fragment headers are passed to the kernel: chlb does not walk them.
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
	if (chlb_unlikely(ip6->nexthdr == CHLB_NEXTHDR_FRAGMENT))
		return CHLB_CNT_PASS_FRAGMENT;
	p->l3 = ip6;
	p->proto = ip6->nexthdr;
	p->family = CHLB_FAMILY_INET6;
	c->l4_len = bpf_ntohs(ip6->payload_len);
	c->pos = ip6 + 1;
	return 0;
}

/*
 * TCP or UDP; anything else (ICMP, ND, extension headers) passes. Only the
 * destination port is read here: the rest waits until a VIP matched. The
 * header must lie inside the datagram, not only the frame: bytes past the
 * IP length (Ethernet padding) are no header.
 */
static __always_inline int chlb_parse_l4(struct chlb_cursor *c,
					 struct chlb_pkt *p)
{
	struct tcphdr *th = c->pos;
	struct udphdr *uh = c->pos;

	p->l4 = c->pos;
	if (p->proto == IPPROTO_TCP) {
		if (chlb_unlikely((void *)(th + 1) > c->end || th->doff < 5 ||
				  th->doff * 4 > c->l4_len))
			return CHLB_CNT_PASS_MALFORMED;
		p->dport = th->dest;
		return 0;
	}
	if (p->proto == IPPROTO_UDP) {
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

/* The destination as a VIP key (IPv4 mapped, as userspace stores it). */
static __always_inline void chlb_vip_key_of(const struct chlb_pkt *p,
					    struct chlb_vip_key *vk)
{
	struct ipv6hdr *ip6 = p->l3;
	struct iphdr *ip = p->l3;

	if (p->family == CHLB_FAMILY_INET)
		chlb_addr_from_v4(vk->addr, ip->daddr);
	else
		__builtin_memcpy(vk->addr, &ip6->daddr, CHLB_ADDR_LEN);
	vk->port = p->dport;
	vk->proto = p->proto;
	vk->family = p->family;
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
