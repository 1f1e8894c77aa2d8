/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Frame builders for tests and benches: Ethernet (+ optional 802.1Q),
 * IPv4 (with options, fragment bits) or IPv6 (with one extension header),
 * then TCP, UDP, ICMP echo or an ICMPv6 neighbour solicitation, with
 * correct IPv4, TCP, UDP and ICMP checksums. And ARP requests.
 */
#ifndef CHLB_TEST_PKT_H
#define CHLB_TEST_PKT_H

#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>
#include "chlb/shared.h"

#define PKT_MAX 1600

struct pkt_spec {
	int family;		/* 4 or 6 */
	__u8 proto;		/* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6 */
	const char *src;	/* textual addresses, family's form */
	const char *dst;
	__u16 sport;		/* host order */
	__u16 dport;
	__u8 tcp_flags;		/* TH_SYN etc.; 0 means ACK */
	__u16 vlan;		/* VLAN id; 0: untagged */
	__u8 ip_opt_len;	/* IPv4 option bytes, multiple of 4, <= 40 */
	__u16 frag_off;		/* IPv4 frag_off field, host order */
	__u8 ext_hdr;		/* IPv6: one 8-byte header of this type first */
	__u16 payload_len;	/* bytes after the L4 header */
	__u8 smac[6];		/* all zero: 02:00:00:00:00:01 */
	__u8 dmac[6];		/* all zero: 02:00:00:00:00:02 */
};

#define PKT_TCP_SYN 0x02
#define PKT_TCP_ACK 0x10

/* Build the frame into buf; its length, or -errno (bad spec, too small). */
ssize_t pkt_build(const struct pkt_spec *s, __u8 *buf, size_t cap);
/* An ARP request who-has tip tell sip (IPv4 text). */
ssize_t pkt_build_arp(const char *sip, const char *tip, __u8 *buf, size_t cap);
/* The five-tuple of a TCP/UDP spec as the data plane hashes it. */
int pkt_flow_key(const struct pkt_spec *s, struct chlb_flow_key *key);
/* A VIP key for addr/port/proto of a family (4 or 6). */
int pkt_vip_key(int family, const char *addr, __u16 port, __u8 proto,
		struct chlb_vip_key *key);

#endif /* CHLB_TEST_PKT_H */
