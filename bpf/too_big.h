/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Method ipip: a packet too big for the egress MTU once encapsulated is
 * answered from XDP, so the client's path-MTU discovery learns the room
 * the tunnel leaves (RFC 1191, RFC 8201). The frame itself becomes the
 * answer: grown in front by the new headers, so the invoking packet's
 * first bytes are already where the quote goes, cut at the end, sent back
 * out the interface it came in on (XDP_TX, counted TX_TOO_BIG) to the MAC
 * it came from.
 *
 *   IPv4, DF set, no options: ICMP type 3 code 4, next-hop MTU = the
 *     egress MTU less the outer header, quoting the IP header and 8 bytes
 *     (RFC 792). From the VIP to the client, TTL 64, TOS 0xc0 (Linux's
 *     internetwork-control precedence for ICMP errors), no DF, ID 0.
 *   IPv6: ICMPv6 type 2 with the same MTU, which may not be below 1280
 *     (RFC 8200: an IPv6 link carries 1280; a tunnel that leaves less
 *     is not one chlb can serve). It quotes CHLB_PTB6_QUOTE bytes: as
 *     much of the invoking packet as keeps the answer at 1280 bytes (RFC
 *     4443 2.4(c)); a too-big IPv6 packet is always longer than that.
 *     Hop limit 64, traffic class and flow label 0.
 *
 * Not answered, dropped and counted DROP_TOO_BIG: ICMP and ICMPv6 (the
 * errors chlb steers to backends: no error answers an error, RFC 1122
 * 3.2.2, RFC 4443 2.4(e)), IPv4 without DF (XDP
 * cannot fragment, and a router would fragment it: RFC 791 -- the client
 * sent it fragmentable, so it must cope with a loss, and a host that
 * clears DF rarely sends full-size packets), IPv4 with options (the quote
 * would vary in length), an MTU left below the family's minimum (68,
 * 1280), and answers over the rate limit: a per-CPU GCRA (token bucket)
 * of CHLB_TOO_BIG_RATE a second with bursts of CHLB_TOO_BIG_BURST (RFC
 * 4443 2.4(f) asks to limit ICMPv6 errors; the same holds for ICMP),
 * counted also as the event TOO_BIG_LIMITED. Checksums are computed here.
 */
#ifndef CHLB_BPF_TOO_BIG_H
#define CHLB_BPF_TOO_BIG_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "chlb/shared.h"
#include "maps.h"
#include "parse.h"
#include "flow.h"

#define CHLB_ICMP_DEST_UNREACH	3
#define CHLB_ICMP_FRAG_NEEDED	4
#define CHLB_ICMPV6_PKT_TOOBIG	2
#define CHLB_IPV4_MIN_MTU	68
#define CHLB_IPV6_MIN_MTU	1280
#define CHLB_ICMP_TOS		0xc0
#define CHLB_ICMP_TTL		64
#define CHLB_IP_DF_BIT		0x4000
/* The ICMP answer's size past the L2 header: IP 20 + ICMP 8 + quote 28. */
#define CHLB_FN4_LEN		56
/* ICMPv6: quoted bytes, so that IPv6 40 + ICMPv6 8 + quote = 1280. */
#define CHLB_PTB6_QUOTE		(CHLB_IPV6_MIN_MTU - 48)
#define CHLB_PTB6_LEN		CHLB_IPV6_MIN_MTU
/* bpf_csum_diff() sums at most this many bytes a call on older kernels. */
#define CHLB_CSUM_CHUNK		512

/*
 * One's complement sum of 32-bit words folded to 16 bits. The sum does
 * not depend on byte order (RFC 1071 2.B): words as loaded from the
 * packet give a checksum to store as it is.
 */
static __always_inline __u16 chlb_csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/*
 * The per-CPU rate limit (GCRA): an answer is due 1 / CHLB_TOO_BIG_RATE s
 * after the previous one (tat, its theoretical arrival time), and may
 * come up to CHLB_TOO_BIG_BURST - 1 intervals early: from idle, a burst
 * of CHLB_TOO_BIG_BURST, then the rate. 0 when over the limit (counted
 * TOO_BIG_LIMITED).
 */
static __always_inline int chlb_too_big_allowed(struct chlb_global_stats *gs)
{
	const __u64 t = 1000000000ULL / CHLB_TOO_BIG_RATE;
	struct chlb_flow_cpu *fc;
	__u32 zero = 0;
	__u64 now, tat;

	fc = bpf_map_lookup_elem(&chlb_flow_cpu, &zero);
	if (!fc)
		return 0;
	now = bpf_ktime_get_ns();
	tat = fc->too_big_tat > now ? fc->too_big_tat : now;
	if (tat - now > (CHLB_TOO_BIG_BURST - 1) * t) {
		chlb_gcount(gs, CHLB_CNT_TOO_BIG_LIMITED);
		return 0;
	}
	fc->too_big_tat = tat + t;
	return 1;
}

/* Where the answer goes back to: the frame's L2 header, read before it moves. */
struct chlb_reply_l2 {
	__u8 peer[ETH_ALEN];	/* the frame's source MAC: the answer's destination */
	__be16 tci;		/* its 802.1Q tag, when l2_len is 18 */
	__u32 l2_len;
};

/* -1 when the L2 header is not in the frame (end: its end). */
static __always_inline int chlb_reply_l2_of(const struct chlb_pkt *p, void *end,
					    struct chlb_reply_l2 *r)
{
	struct chlb_vlan_hdr *vh = (void *)(p->eth + 1);

	if ((void *)(vh + 1) > end)
		return -1;
	r->l2_len = p->l3 - (void *)p->eth;
	r->tci = r->l2_len == sizeof(struct chlb_ethhdr) + sizeof(*vh) ? vh->tci : 0;
	__builtin_memcpy(r->peer, p->eth->src, ETH_ALEN);
	return 0;
}

/*
 * Make the frame the answer's size: grown by grow bytes in front, cut to
 * the L2 header + len. Then the L2 header: back to the peer from if_mac,
 * the tag kept. The L3 start, or NULL; *end: the frame's end, at least
 * len bytes past it.
 */
static __always_inline void *chlb_reply_frame(struct xdp_md *ctx, const struct chlb_reply_l2 *r,
					      int grow, __u32 len, __be16 proto, void **end)
{
	struct chlb_ethhdr *eth;
	struct chlb_vlan_hdr *vh;
	void *data, *l3;
	int i;

	if (bpf_xdp_adjust_head(ctx, -grow))
		return NULL;
	/* the length as a number: the verifier allows no pointer difference */
	if (bpf_xdp_adjust_tail(ctx, (int)(r->l2_len + len) - (int)bpf_xdp_get_buff_len(ctx)))
		return NULL;
	data = (void *)(long)ctx->data;
	*end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > *end)
		return NULL;
	__builtin_memcpy(eth->dst, r->peer, ETH_ALEN);
	for (i = 0; i < ETH_ALEN; i++)
		eth->src[i] = if_mac[i];
	l3 = eth + 1;
	if (r->l2_len != sizeof(*eth)) {
		vh = l3;
		if ((void *)(vh + 1) > *end)
			return NULL;
		eth->proto = bpf_htons(ETH_P_8021Q);
		vh->tci = r->tci;
		vh->encap_proto = proto;
		l3 = vh + 1;
	} else {
		eth->proto = proto;
	}
	return l3;
}

/* ICMP fragmentation needed, the IPv4 frame's own first 28 bytes quoted. */
static __always_inline int chlb_frag_needed4(struct xdp_md *ctx, const struct chlb_pkt *p,
					     __u32 mtu)
{
	const __u32 w0 = bpf_htonl(0x45000000 | CHLB_ICMP_TOS << 16 | CHLB_FN4_LEN);
	const __u32 w2 = bpf_htonl(CHLB_ICMP_TTL << 24 | IPPROTO_ICMP << 16);
	const __u32 i0 = bpf_htonl(CHLB_ICMP_DEST_UNREACH << 24 | CHLB_ICMP_FRAG_NEEDED << 16);
	const __u32 i1 = bpf_htonl(mtu);
	struct chlb_reply_l2 r;
	__u32 *o, *q;
	void *end;
	__u64 sum;
	int i;

	if (chlb_reply_l2_of(p, (void *)(long)ctx->data_end, &r))
		return CHLB_CNT_DROP_TOO_BIG;
	o = chlb_reply_frame(ctx, &r, 28, CHLB_FN4_LEN, bpf_htons(ETH_P_IP), &end);
	if (!o || (void *)o + CHLB_FN4_LEN > end)
		return CHLB_CNT_DROP_TOO_BIG;
	q = o + 7;	/* the invoking header: q[3] the client, q[4] the VIP */
	o[0] = w0;
	o[1] = 0;
	o[2] = w2;
	o[3] = q[4];
	o[4] = q[3];
	((struct iphdr *)o)->check = ~chlb_csum_fold((__u64)w0 + w2 + q[3] + q[4]);
	o[5] = i0;
	o[6] = i1;
	sum = (__u64)i0 + i1;
#pragma unroll
	for (i = 0; i < 7; i++)
		sum += q[i];
	((__u16 *)o)[11] = ~chlb_csum_fold(sum);
	return CHLB_CNT_TX_TOO_BIG;
}

/* ICMPv6 packet too big, the IPv6 frame's first CHLB_PTB6_QUOTE bytes quoted. */
static __always_inline int chlb_ptb6(struct xdp_md *ctx, const struct chlb_pkt *p, __u32 mtu)
{
	const __u32 w0 = bpf_htonl(6u << 28);
	const __u32 w1 = bpf_htonl((CHLB_PTB6_LEN - 40) << 16 | IPPROTO_ICMPV6 << 8 | CHLB_ICMP_TTL);
	const __u32 i0 = bpf_htonl(CHLB_ICMPV6_PKT_TOOBIG << 24);
	const __u32 i1 = bpf_htonl(mtu);
	struct chlb_reply_l2 r;
	__u32 *o, *q;
	void *end;
	__u64 sum;
	int i;

	if (chlb_reply_l2_of(p, (void *)(long)ctx->data_end, &r))
		return CHLB_CNT_DROP_TOO_BIG;
	o = chlb_reply_frame(ctx, &r, 48, CHLB_PTB6_LEN, bpf_htons(ETH_P_IPV6), &end);
	if (!o || (void *)o + CHLB_PTB6_LEN > end)
		return CHLB_CNT_DROP_TOO_BIG;
	q = o + 12;	/* the invoking header: q[2..5] the client, q[6..9] the VIP */
	o[0] = w0;
	o[1] = w1;
	/* the pseudo-header: addresses, upper-layer length, next header */
	sum = (__u64)bpf_htonl(CHLB_PTB6_LEN - 40) + bpf_htonl(IPPROTO_ICMPV6) + i0 + i1;
#pragma unroll
	for (i = 0; i < 4; i++) {
		o[2 + i] = q[6 + i];
		o[6 + i] = q[2 + i];
		sum += (__u64)q[2 + i] + q[6 + i];
	}
	o[10] = i0;
	o[11] = i1;
	sum += (__u32)bpf_csum_diff(NULL, 0, (void *)q, CHLB_CSUM_CHUNK, 0);
	sum += (__u32)bpf_csum_diff(NULL, 0, (void *)q + CHLB_CSUM_CHUNK, CHLB_CSUM_CHUNK, 0);
	sum += (__u32)bpf_csum_diff(NULL, 0, (void *)q + 2 * CHLB_CSUM_CHUNK,
				   CHLB_PTB6_QUOTE - 2 * CHLB_CSUM_CHUNK, 0);
	((__u16 *)o)[21] = ~chlb_csum_fold(sum);
	return CHLB_CNT_TX_TOO_BIG;
}

/*
 * The frame at p would exceed the egress MTU once encapsulated; mtu is
 * what the inner packet may have (the egress MTU less the outer header).
 * Answer it, or the reason it is dropped (see the top of this file).
 */
static __always_inline int chlb_too_big(struct xdp_md *ctx, const struct chlb_pkt *p, int mtu,
					struct chlb_global_stats *gs)
{
	struct iphdr *ip = p->l3;

	if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6)
		return CHLB_CNT_DROP_TOO_BIG;
	if (p->family == CHLB_FAMILY_INET) {
		if (*(__u8 *)ip != 0x45 || !(ip->frag_off & bpf_htons(CHLB_IP_DF_BIT)) ||
		    mtu < CHLB_IPV4_MIN_MTU)
			return CHLB_CNT_DROP_TOO_BIG;
	} else if (mtu < CHLB_IPV6_MIN_MTU) {
		return CHLB_CNT_DROP_TOO_BIG;
	}
	if (!chlb_too_big_allowed(gs))
		return CHLB_CNT_DROP_TOO_BIG;
	if (p->family == CHLB_FAMILY_INET)
		return chlb_frag_needed4(ctx, p, mtu);
	return chlb_ptb6(ctx, p, mtu);
}

#endif /* CHLB_BPF_TOO_BIG_H */
