// SPDX-License-Identifier: GPL-2.0
/* Frame builders for tests and benches; see pkt.h. */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_arp.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>

#include "csum.h"
#include "pkt.h"

static const __u8 def_smac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const __u8 def_dmac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

static int mac_is_zero(const __u8 *mac)
{
	static const __u8 zero[6];

	return !memcmp(mac, zero, 6);
}

/* Ethernet (+ 802.1Q) header; returns its length. Byte copies only:
 * headers inside a frame buffer are not naturally aligned. */
static size_t put_eth(const struct pkt_spec *s, __u8 *buf, __u16 ethertype)
{
	__be16 type = htons(ethertype);
	size_t off = 12;

	memcpy(buf, mac_is_zero(s->dmac) ? def_dmac : s->dmac, 6);
	memcpy(buf + 6, mac_is_zero(s->smac) ? def_smac : s->smac, 6);
	if (s->vlan) {
		__be16 tag[2] = { htons(ETH_P_8021Q), htons(s->vlan & 0x0fff) };

		memcpy(buf + off, tag, sizeof(tag));
		off += sizeof(tag);
	}
	memcpy(buf + off, &type, 2);
	return off + 2;
}

static size_t l4_hdr_len(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return sizeof(struct tcphdr);
	case IPPROTO_UDP:
		return sizeof(struct udphdr);
	case IPPROTO_ICMPV6:
		return 24;	/* neighbour solicitation with its target */
	default:
		return 8;	/* ICMP echo and anything else */
	}
}

/* The transport header and payload into an aligned scratch buffer. */
static void put_l4(const struct pkt_spec *s, __u8 *l4, size_t len, const __u8 *dst6)
{
	struct tcphdr *th = (struct tcphdr *)l4;
	struct udphdr *uh = (struct udphdr *)l4;
	__u8 flags = s->tcp_flags ? s->tcp_flags : PKT_TCP_ACK;

	if (s->proto == IPPROTO_TCP) {
		th->source = htons(s->sport);
		th->dest = htons(s->dport);
		th->seq = htonl(1000);
		th->ack_seq = htonl(flags & PKT_TCP_ACK ? 2000 : 0);
		th->doff = 5;
		l4[13] = flags;
		th->window = htons(65535);
	} else if (s->proto == IPPROTO_UDP) {
		uh->source = htons(s->sport);
		uh->dest = htons(s->dport);
		uh->len = htons(len);
	} else if (s->proto == IPPROTO_ICMPV6) {
		l4[0] = 135;	/* neighbour solicitation */
		memcpy(l4 + 8, dst6, 16);
	} else {
		l4[0] = ICMP_ECHO;
		l4[5] = 1;	/* id 1, sequence 0 */
	}
	memset(l4 + l4_hdr_len(s->proto), 0xab, len - l4_hdr_len(s->proto));
}

static __be16 *l4_csum_field(__u8 proto, __u8 *l4)
{
	switch (proto) {
	case IPPROTO_TCP:
		return &((struct tcphdr *)l4)->check;
	case IPPROTO_UDP:
		return &((struct udphdr *)l4)->check;
	default:
		return (__be16 *)(l4 + 2);	/* ICMP and ICMPv6 */
	}
}

/* Pseudo-header sum: addresses, protocol and length (no pseudo for ICMP). */
static void fill_l4_csum(const struct pkt_spec *s, __u8 *l4, size_t len,
			 const void *saddr, const void *daddr, size_t alen)
{
	__be16 *check = l4_csum_field(s->proto, l4);
	__u32 pseudo = 0;

	if (s->proto != IPPROTO_ICMP) {
		pseudo = csum_add(pseudo, saddr, alen);
		pseudo = csum_add(pseudo, daddr, alen);
		pseudo += s->proto + (__u32)len;
	}
	csum_fill(l4, len, (__u8 *)check, pseudo);
	if (s->proto == IPPROTO_UDP && !*check)
		*check = 0xffff;
}

/* Aligned scratch for one datagram's L4 part. */
union l4buf {
	struct tcphdr tcp;
	struct udphdr udp;
	__u8 bytes[PKT_MAX];
};

static ssize_t build_ipv4(const struct pkt_spec *s, __u8 *buf, size_t cap)
{
	size_t off = put_eth(s, buf, ETH_P_IP);
	size_t hlen = sizeof(struct iphdr) + s->ip_opt_len;
	size_t l4len = l4_hdr_len(s->proto) + s->payload_len;
	struct {
		struct iphdr ip;
		__u8 opts[40];
	} h;
	union l4buf l4;

	if (s->ip_opt_len % 4 || s->ip_opt_len > 40 || off + hlen + l4len > cap)
		return -EINVAL;
	memset(&h, 0, sizeof(h));
	memset(&l4, 0, sizeof(l4));
	if (inet_pton(AF_INET, s->src, &h.ip.saddr) != 1 ||
	    inet_pton(AF_INET, s->dst, &h.ip.daddr) != 1)
		return -EINVAL;
	h.ip.version = 4;
	h.ip.ihl = hlen / 4;
	h.ip.tot_len = htons(hlen + l4len);
	h.ip.id = htons(0x1234);
	h.ip.frag_off = htons(s->frag_off);
	h.ip.ttl = 64;
	h.ip.protocol = s->proto;
	memset(h.opts, 1, s->ip_opt_len);	/* NOP options */
	csum_ip4((__u8 *)&h.ip);
	put_l4(s, l4.bytes, l4len, NULL);
	fill_l4_csum(s, l4.bytes, l4len, &h.ip.saddr, &h.ip.daddr, 4);
	memcpy(buf + off, &h, hlen);
	memcpy(buf + off + hlen, l4.bytes, l4len);
	return off + hlen + l4len;
}

static ssize_t build_ipv6(const struct pkt_spec *s, __u8 *buf, size_t cap)
{
	size_t off = put_eth(s, buf, ETH_P_IPV6);
	size_t ext = s->ext_hdr ? 8 : 0;
	size_t l4len = l4_hdr_len(s->proto) + s->payload_len;
	struct {
		struct ipv6hdr ip6;
		__u8 ext[8];
	} h;
	union l4buf l4;

	if (off + sizeof(h.ip6) + ext + l4len > cap)
		return -EINVAL;
	memset(&h, 0, sizeof(h));
	memset(&l4, 0, sizeof(l4));
	if (inet_pton(AF_INET6, s->src, &h.ip6.saddr) != 1 ||
	    inet_pton(AF_INET6, s->dst, &h.ip6.daddr) != 1)
		return -EINVAL;
	h.ip6.version = 6;
	h.ip6.payload_len = htons(ext + l4len);
	h.ip6.nexthdr = s->ext_hdr ? s->ext_hdr : s->proto;
	h.ip6.hop_limit = 64;
	h.ext[0] = s->proto;	/* next header; length 0 = 8 bytes */
	put_l4(s, l4.bytes, l4len, (const __u8 *)&h.ip6.daddr);
	fill_l4_csum(s, l4.bytes, l4len, &h.ip6.saddr, &h.ip6.daddr, 16);
	memcpy(buf + off, &h, sizeof(h.ip6) + ext);
	memcpy(buf + off + sizeof(h.ip6) + ext, l4.bytes, l4len);
	return off + sizeof(h.ip6) + ext + l4len;
}

ssize_t pkt_build(const struct pkt_spec *s, __u8 *buf, size_t cap)
{
	if (cap < 18 + 40 + 8 + 24)
		return -ENOSPC;
	memset(buf, 0, cap);
	if (s->family == 4)
		return build_ipv4(s, buf, cap);
	if (s->family == 6)
		return build_ipv6(s, buf, cap);
	return -EAFNOSUPPORT;
}

ssize_t pkt_build_arp(const char *sip, const char *tip, __u8 *buf, size_t cap)
{
	static const struct pkt_spec eth = { .dmac = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	struct {
		struct arphdr h;
		__u8 sha[6], sip[4], tha[6], tip[4];
	} __attribute__((packed)) arp;
	size_t off;

	if (cap < 14 + sizeof(arp))
		return -ENOSPC;
	memset(&arp, 0, sizeof(arp));
	arp.h.ar_hrd = htons(ARPHRD_ETHER);
	arp.h.ar_pro = htons(ETH_P_IP);
	arp.h.ar_hln = 6;
	arp.h.ar_pln = 4;
	arp.h.ar_op = htons(ARPOP_REQUEST);
	memcpy(arp.sha, def_smac, 6);
	if (inet_pton(AF_INET, sip, arp.sip) != 1 || inet_pton(AF_INET, tip, arp.tip) != 1)
		return -EINVAL;
	off = put_eth(&eth, buf, ETH_P_ARP);
	memcpy(buf + off, &arp, sizeof(arp));
	return off + sizeof(arp);
}

/* An address as the data plane keys it: IPv6 as is, IPv4 mapped. */
static int pkt_addr(int family, const char *text, __u8 *out)
{
	__be32 v4;

	if (family == 6)
		return inet_pton(AF_INET6, text, out) == 1 ? 0 : -EINVAL;
	if (family != 4 || inet_pton(AF_INET, text, &v4) != 1)
		return -EINVAL;
	chlb_addr_from_v4(out, v4);
	return 0;
}

int pkt_flow_key(const struct pkt_spec *s, struct chlb_flow_key *key)
{
	memset(key, 0, sizeof(*key));
	if (pkt_addr(s->family, s->src, key->src) || pkt_addr(s->family, s->dst, key->dst))
		return -EINVAL;
	key->sport = htons(s->sport);
	key->dport = htons(s->dport);
	key->proto = s->proto;
	key->family = s->family == 4 ? CHLB_FAMILY_INET : CHLB_FAMILY_INET6;
	return 0;
}

int pkt_vip_key(int family, const char *addr, __u16 port, __u8 proto,
		struct chlb_vip_key *key)
{
	memset(key, 0, sizeof(*key));
	if (pkt_addr(family, addr, key->addr))
		return -EINVAL;
	key->port = htons(port);
	key->proto = proto;
	key->family = family == 4 ? CHLB_FAMILY_INET : CHLB_FAMILY_INET6;
	return 0;
}
