/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tiny parser shared by the testbed's helper XDP programs (gen_*.bpf.c):
 * find the L4 header of an IPv4/IPv6 TCP or UDP frame. Not the product's
 * parser (bpf/), only what the testbed's counters and forwarders need.
 */
#ifndef GEN_PARSE_H
#define GEN_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Config shared by gen_fwd and gen_count, one ARRAY entry. */
struct gen_cfg {
	__u8 dst_mac[6];	/* gen_fwd: where to send */
	__u8 src_mac[6];	/* gen_fwd: our own MAC */
	__be16 port;		/* match: L4 destination port */
	__u8 proto;		/* match: IPPROTO_TCP or IPPROTO_UDP */
	__u8 drop;		/* gen_count: drop what matched (bench) */
};

/*
 * Returns the L4 protocol and sets *dport, or -1 for anything else. The
 * ports sit at the same offsets in TCP and UDP, so a udphdr serves both.
 */
static __always_inline int gen_parse_l4(void *data, void *data_end, __be16 *dport)
{
	struct ethhdr *eth = data;
	struct udphdr *l4;
	int proto;

	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > data_end || ip->ihl < 5)
			return -1;
		proto = ip->protocol;
		l4 = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		proto = ip6->nexthdr;
		l4 = (void *)(ip6 + 1);
	} else {
		return -1;
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return -1;
	if ((void *)(l4 + 1) > data_end)
		return -1;
	*dport = l4->dest;
	return proto;
}

#endif /* GEN_PARSE_H */
