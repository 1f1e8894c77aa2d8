/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ICMP and ICMPv6 errors about VIP flows (SPEC §4). A router on the path
 * of a backend's direct reply (source the VIP, from the VIP's port)
 * answers "fragmentation needed", "packet too big", "time exceeded", ...
 * to the VIP: the frame reaches the LB, whose kernel knows nothing of the
 * connection. It belongs to the backend that owns the flow, so PMTU
 * discovery works there. The error quotes the reply's IP header and at
 * least 8 bytes of its transport header (RFC 792, RFC 4443): turned
 * around, that is the client -> VIP flow the data path hashes, and any LB
 * node with the same tables finds the same backend.
 *
 * This file only reads frames; the steering (lookups, counters, sending)
 * is chlb_icmp_steer() in chlb.bpf.c.
 */
#ifndef CHLB_BPF_ICMP_H
#define CHLB_BPF_ICMP_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "chlb/shared.h"
#include "parse.h"

#define CHLB_ICMP_HDR_LEN	8	/* type, code, checksum, 4 bytes of the type's */
#define CHLB_ICMP_QUOTED_L4	8	/* ports, then length or sequence number */

/*
 * Errors that quote the offending packet: ICMP destination unreachable
 * (3, with frag needed), time exceeded (11), parameter problem (12);
 * ICMPv6 destination unreachable (1), packet too big (2), time exceeded
 * (3), parameter problem (4). Echo, redirects, ND and the rest: no.
 */
static __always_inline int chlb_icmp_is_error(const struct chlb_pkt *p, void *end)
{
	const __u8 *ic = p->l4;

	if (p->family == CHLB_FAMILY_INET ? p->proto != IPPROTO_ICMP : p->proto != IPPROTO_ICMPV6)
		return 0;
	if ((void *)(ic + CHLB_ICMP_HDR_LEN) > end)
		return 0;
	if (p->family == CHLB_FAMILY_INET)
		return ic[0] == 3 || ic[0] == 11 || ic[0] == 12;
	return ic[0] >= 1 && ic[0] <= 4;
}

/*
 * Bytes of the outer datagram from the quote on (after the ICMP header),
 * negative when the datagram ends before it. chlb_parse() checked that the
 * datagram lies in the frame.
 */
static __always_inline int chlb_icmp_quote_len(const struct chlb_pkt *p)
{
	struct ipv6hdr *ip6 = p->l3;
	struct iphdr *ip = p->l3;
	int dgram = p->family == CHLB_FAMILY_INET ? bpf_ntohs(ip->tot_len)
						  : (int)sizeof(*ip6) + bpf_ntohs(ip6->payload_len);

	return dgram - (int)(p->l4 - p->l3) - CHLB_ICMP_HDR_LEN;
}

/*
 * A quoted IPv4 packet at q, len bytes of it quoted: its transport header
 * in *l4 when it is a whole header and a first (or only) fragment; the
 * quoted IP length may exceed what is quoted, but not be shorter than the
 * headers read. 0 or -1.
 */
static __always_inline int chlb_icmp_quote4(__u8 *q, void *end, int len, __u8 **l4)
{
	struct iphdr *ip = (struct iphdr *)q;
	__u32 vihl, hlen;
	int tot;

	if ((void *)(ip + 1) > end)
		return -1;
	vihl = q[0];
	hlen = (vihl & 0xf) * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (vihl - 0x45 > 0x4f - 0x45 || (ip->frag_off & bpf_htons(CHLB_IP_OFFSET)))
		return -1;
	if (tot < len)
		len = tot;
	if ((int)hlen + CHLB_ICMP_QUOTED_L4 > len)
		return -1;
	*l4 = q + hlen;
	return 0;
}

/*
 * A quoted IPv6 packet at q: its extension headers walked as the data
 * path walks them (chlb_ipv6_ext()), *proto and *l4 the transport header
 * after them; len and the quoted payload length bound the walk. 0 or -1.
 */
static __always_inline int chlb_icmp_quote6(__u8 *q, void *end, int len, __u8 *proto,
					    __u8 **l4)
{
	struct ipv6hdr *ip6 = (struct ipv6hdr *)q;
	struct chlb_cursor c = { .pos = ip6 + 1, .end = end };
	int plen;

	if ((void *)(ip6 + 1) > end || ip6->version != 6 || len < (int)sizeof(*ip6))
		return -1;
	plen = bpf_ntohs(ip6->payload_len);
	len -= sizeof(*ip6);
	c.l4_len = plen < len ? plen : len;
	*proto = ip6->nexthdr;
	if (chlb_ipv6_ext(&c, proto) || c.l4_len < CHLB_ICMP_QUOTED_L4)
		return -1;
	*l4 = c.pos;
	return 0;
}

/* Two addresses, both 8-byte aligned (a key's first field). */
static __always_inline int chlb_addr_eq(const __u8 *a, const __u8 *b)
{
	__u64 a0, a1, b0, b1;

	__builtin_memcpy(&a0, __builtin_assume_aligned(a, 8), 8);
	__builtin_memcpy(&a1, __builtin_assume_aligned(a + 8, 8), 8);
	__builtin_memcpy(&b0, __builtin_assume_aligned(b, 8), 8);
	__builtin_memcpy(&b1, __builtin_assume_aligned(b + 8, 8), 8);
	return a0 == b0 && a1 == b1;
}

/*
 * The flow an ICMP error (chlb_icmp_is_error()) quotes, vk holding the
 * outer destination (chlb_vip_addr_of()), when the quote is a TCP or UDP
 * packet from that address: 0, vk the quoted source as a VIP key (address,
 * source port, protocol), k the flow turned around
 * (client -> VIP, as the data path hashes it). -1 otherwise: another
 * protocol, another source, a later IPv4 fragment or any quoted IPv6
 * fragment header (a first IPv4 fragment has its ports: steered), a quote
 * too short for 8 bytes of transport header.
 */
static __always_inline int chlb_icmp_flow(const struct chlb_pkt *p, void *end,
					  struct chlb_vip_key *vk, struct chlb_flow_key *k)
{
	__u8 *q = (__u8 *)p->l4 + CHLB_ICMP_HDR_LEN, *l4, proto;
	struct ipv6hdr *ip6 = (struct ipv6hdr *)q;
	struct iphdr *ip = (struct iphdr *)q;
	int len = chlb_icmp_quote_len(p);

	if (p->family == CHLB_FAMILY_INET) {
		if (chlb_icmp_quote4(q, end, len, &l4))
			return -1;
		proto = ip->protocol;
		chlb_addr_from_v4(k->dst, ip->saddr);
		chlb_addr_from_v4(k->src, ip->daddr);
	} else {
		if (chlb_icmp_quote6(q, end, len, &proto, &l4))
			return -1;
		__builtin_memcpy(k->dst, &ip6->saddr, CHLB_ADDR_LEN);
		__builtin_memcpy(k->src, &ip6->daddr, CHLB_ADDR_LEN);
	}
	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) ||
	    (void *)(l4 + CHLB_ICMP_QUOTED_L4) > end)
		return -1;
	/* the reply came from the outer destination, the VIP address */
	if (!chlb_addr_eq(k->dst, vk->addr))
		return -1;
	k->sport = *(__be16 *)(l4 + 2);
	k->dport = *(__be16 *)l4;
	k->proto = proto;
	k->family = p->family;
	k->pad[0] = 0;
	k->pad[1] = 0;
	vk->port = k->dport;
	vk->proto = proto;
	return 0;
}

#endif /* CHLB_BPF_ICMP_H */
