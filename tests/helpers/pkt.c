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

#include "pkt.h"

static const __u8 def_smac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const __u8 def_dmac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* Ones' complement sum of big-endian 16-bit words. */
static __u32 csum_add(__u32 sum, const void *data, size_t len)
{
	const __u8 *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (__u32)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (__u32)p[len - 1] << 8;
	return sum;
}

static __be16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((__u16)~sum);
}

static int mac_is_zero(const __u8 *mac)
{
	static const __u8 zero[6];

	return !memcmp(mac, zero, 6);
}

/* Ethernet (+ 802.1Q) header; returns its length. */
static size_t put_eth(const struct pkt_spec *s, __u8 *buf, __u16 ethertype)
{
	struct ethhdr *eth = (struct ethhdr *)buf;
	size_t off = sizeof(*eth);

	memcpy(eth->h_dest, mac_is_zero(s->dmac) ? def_dmac : s->dmac, 6);
	memcpy(eth->h_source, mac_is_zero(s->smac) ? def_smac : s->smac, 6);
	eth->h_proto = htons(ethertype);
	if (s->vlan) {
		__be16 tag[2] = { htons(s->vlan & 0x0fff), htons(ethertype) };

		eth->h_proto = htons(ETH_P_8021Q);
		memcpy(buf + off, tag, sizeof(tag));
		off += sizeof(tag);
	}
	return off;
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

/* The transport header; its checksum is filled in later. */
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
	__u32 sum = 0;

	*check = 0;
	if (s->proto != IPPROTO_ICMP) {
		sum = csum_add(sum, saddr, alen);
		sum = csum_add(sum, daddr, alen);
		sum += s->proto + (__u32)len;
	}
	sum = csum_add(sum, l4, len);
	*check = csum_fold(sum);
	if (s->proto == IPPROTO_UDP && !*check)
		*check = 0xffff;
}

static ssize_t build_ipv4(const struct pkt_spec *s, __u8 *buf, size_t cap)
{
	size_t off = put_eth(s, buf, ETH_P_IP);
	struct iphdr *ip = (struct iphdr *)(buf + off);
	size_t hlen = sizeof(*ip) + s->ip_opt_len;
	size_t l4len = l4_hdr_len(s->proto) + s->payload_len;

	if (s->ip_opt_len % 4 || s->ip_opt_len > 40 || off + hlen + l4len > cap)
		return -EINVAL;
	memset(ip, 0, hlen);
	if (inet_pton(AF_INET, s->src, &ip->saddr) != 1 ||
	    inet_pton(AF_INET, s->dst, &ip->daddr) != 1)
		return -EINVAL;
	ip->version = 4;
	ip->ihl = hlen / 4;
	ip->tot_len = htons(hlen + l4len);
	ip->id = htons(0x1234);
	ip->frag_off = htons(s->frag_off);
	ip->ttl = 64;
	ip->protocol = s->proto;
	memset(ip + 1, 1, s->ip_opt_len);	/* NOP options */
	ip->check = csum_fold(csum_add(0, ip, hlen));
	put_l4(s, buf + off + hlen, l4len, NULL);
	fill_l4_csum(s, buf + off + hlen, l4len, &ip->saddr, &ip->daddr, 4);
	return off + hlen + l4len;
}

static ssize_t build_ipv6(const struct pkt_spec *s, __u8 *buf, size_t cap)
{
	size_t off = put_eth(s, buf, ETH_P_IPV6);
	struct ipv6hdr *ip6 = (struct ipv6hdr *)(buf + off);
	size_t ext = s->ext_hdr ? 8 : 0;
	size_t l4len = l4_hdr_len(s->proto) + s->payload_len;
	__u8 *l4 = buf + off + sizeof(*ip6) + ext;

	if (off + sizeof(*ip6) + ext + l4len > cap)
		return -EINVAL;
	memset(ip6, 0, sizeof(*ip6) + ext);
	if (inet_pton(AF_INET6, s->src, &ip6->saddr) != 1 ||
	    inet_pton(AF_INET6, s->dst, &ip6->daddr) != 1)
		return -EINVAL;
	ip6->version = 6;
	ip6->payload_len = htons(ext + l4len);
	ip6->nexthdr = s->ext_hdr ? s->ext_hdr : s->proto;
	ip6->hop_limit = 64;
	if (ext)
		((__u8 *)(ip6 + 1))[0] = s->proto;	/* next header, length 0 */
	put_l4(s, l4, l4len, (const __u8 *)&ip6->daddr);
	fill_l4_csum(s, l4, l4len, &ip6->saddr, &ip6->daddr, 16);
	return off + sizeof(*ip6) + ext + l4len;
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
	size_t off = put_eth(&eth, buf, ETH_P_ARP);
	struct arphdr *arp = (struct arphdr *)(buf + off);
	__u8 *p = (__u8 *)(arp + 1);	/* sha, sip, tha, tip */

	if (cap < off + sizeof(*arp) + 20)
		return -ENOSPC;
	arp->ar_hrd = htons(ARPHRD_ETHER);
	arp->ar_pro = htons(ETH_P_IP);
	arp->ar_hln = 6;
	arp->ar_pln = 4;
	arp->ar_op = htons(ARPOP_REQUEST);
	memcpy(p, def_smac, 6);
	memset(p + 10, 0, 6);
	if (inet_pton(AF_INET, sip, p + 6) != 1 || inet_pton(AF_INET, tip, p + 16) != 1)
		return -EINVAL;
	return off + sizeof(*arp) + 20;
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
