// SPDX-License-Identifier: GPL-2.0
/*
 * The decapsulating XDP program (bpf/decap.bpf.c), for real: loaded (not
 * attached, not pinned) and run on frames with BPF_PROG_TEST_RUN. A tunnel
 * frame is built here from a plain frame (tests/helpers/pkt.c) by putting
 * an outer header, with its checksum (helpers/csum.c), between its Ethernet
 * header and its IP header; decapsulated, the output must be that plain
 * frame again, byte for byte (its Ethernet addresses, tag and the inner
 * ethertype in front of the untouched inner packet), whose checksums are
 * checked once more by the tests' own computation. Everything the program
 * does not strip must leave unmodified. Every counter is checked after
 * every frame: exactly the expected one moved, by one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <CUnit/Basic.h>

#include "dp/decap.h"	/* before the skeleton: it names struct chlb_decap_cfg */
#include "decap.skel.h"
#include "helpers/csum.h"
#include "helpers/pkt.h"
#include "helpers/xdp_run.h"
#include "helpers/cu_check.h"
#include "helpers/cu_main.h"

/* This host's addresses: what the program's configuration lists. */
#define HOST4	"10.1.0.2"
#define HOST4B	"10.1.0.3"
#define HOST6	"2001:db8:b::2"
#define OTHER4	"10.1.0.99"
#define OTHER6	"2001:db8:b::99"
#define LB4	"192.0.2.1"	/* the encapsulating side */
#define LB6	"2001:db8:ffff::1"

static struct decap *skel;	/* the suite's program: this host's addresses */
static int prog_fd, stats_fd;	/* the program frames are run through */

/* This host's configuration: two IPv4 addresses, one IPv6 one. */
static void host_cfg(struct chlb_decap_cfg *cfg, __u32 flags)
{
	*cfg = (struct chlb_decap_cfg){ .version = CHLB_DECAP_ABI_VERSION, .flags = flags,
					.n4 = 2, .n6 = 1 };
	inet_pton(AF_INET, HOST4, &cfg->v4[0]);
	inet_pton(AF_INET, HOST4B, &cfg->v4[1]);
	inet_pton(AF_INET6, HOST6, cfg->v6[0]);
}

/* Run frames through s from now on. */
static void use(struct decap *s)
{
	prog_fd = bpf_program__fd(s->progs.chlb_decap);
	stats_fd = bpf_map__fd(s->maps.decap_stats);
}

static int suite_init(void)
{
	struct chlb_decap_cfg cfg;
	int err;

	host_cfg(&cfg, 0);
	err = chlb_decap__load(NULL, &cfg, &skel);
	if (err) {
		fprintf(stderr, "test_decap: cannot load: %s\n", strerror(-err));
		return -1;
	}
	use(skel);
	return 0;
}

static int suite_clean(void)
{
	decap__destroy(skel);
	return 0;
}

/* ---- checksums (the tests' own: helpers/csum.c) ------------------------ */

/*
 * The packet at ip (IPv4 or IPv6, TCP or UDP, no extension headers) has a
 * valid IP header checksum and a valid transport checksum.
 */
static int sums_ok(const __u8 *ip)
{
	int v4 = ip[0] >> 4 == 4;
	size_t hlen = v4 ? (ip[0] & 0xf) * 4 : 40;
	size_t l4len = v4 ? get16(ip + 2) - hlen : get16(ip + 4);
	__u8 proto = v4 ? ip[9] : ip[6];
	__u32 sum;

	if (v4 && csum_fold(csum_add(0, ip, hlen)) != 0xffff)
		return 0;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 1;
	sum = v4 ? csum_add(0, ip + 12, 8) : csum_add(0, ip + 8, 32);
	sum += proto + (__u32)l4len;
	return csum_fold(csum_add(sum, ip + hlen, l4len)) == 0xffff;
}

/* ---- building tunnel frames ---------------------------------------------- */

struct outer {
	int family;		/* 0: no tunnel, the plain frame itself; 4 or 6 */
	const char *dst;	/* outer destination (NULL: HOST4 / HOST6) */
	__u8 proto;		/* 0: 4 for an IPv4 inner packet, 41 for IPv6 */
	__u8 opt_len;		/* IPv4 option bytes */
	__u16 frag_off;		/* IPv4 */
	__u8 ecn;		/* outer ECN bits */
	__u8 ext;		/* IPv6: destination options headers (8 bytes each) first */
	__u8 hbh;		/* IPv6: a hop-by-hop header before those */
	__u8 frag6;		/* IPv6: a fragment header first */
};

/* The types of the extension headers o asks for, in order; returns how many. */
static size_t ext_types6(const struct outer *o, __u8 *types)
{
	size_t n = 0, i;

	if (o->hbh)
		types[n++] = 0;
	for (i = 0; i < o->ext; i++)
		types[n++] = 60;
	if (o->frag6)
		types[n++] = 44;
	return n;
}

/*
 * Extension headers before the tunnel's next header, 8 bytes each: options
 * headers hold a tunnel encapsulation limit option (RFC 2473: type 4, limit
 * 4) and a PadN; a fragment header says offset 0, more fragments. Returns
 * their length; *first: the IPv6 header's next header.
 */
static size_t put_ext6(const struct outer *o, __u8 *p, __u8 last, __u8 *first)
{
	static const __u8 opts[6] = { 4, 1, 4, 1, 1, 0 };
	__u8 types[8];
	size_t n = ext_types6(o, types), i;

	*first = n ? types[0] : last;
	for (i = 0; i < n; i++) {
		__u8 *h = p + 8 * i;

		h[0] = i + 1 < n ? types[i + 1] : last;
		if (types[i] == 44) {
			memset(h + 1, 0, 7);
			h[3] = 1;
		} else {
			h[1] = 0;
			memcpy(h + 2, opts, sizeof(opts));
		}
	}
	return 8 * n;
}

/* The outer IP header for an inner packet of ip_len bytes; returns its length. */
static size_t put_outer(const struct outer *o, __u8 *p, size_t ip_len, int inner_v6)
{
	__u8 proto = o->proto ? o->proto : inner_v6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
	size_t hlen;

	if (o->family == 4) {
		hlen = 20 + o->opt_len;
		memset(p, 0, hlen);
		p[0] = 0x40 | hlen / 4;
		p[1] = o->ecn;
		put16(p + 2, hlen + ip_len);
		put16(p + 4, 0x4242);
		put16(p + 6, o->frag_off);
		p[8] = 64;
		p[9] = proto;
		inet_pton(AF_INET, LB4, p + 12);
		inet_pton(AF_INET, o->dst ? o->dst : HOST4, p + 16);
		memset(p + 20, 1, o->opt_len);	/* NOP options */
		csum_ip4(p);
		return hlen;
	}
	memset(p, 0, 40);
	p[0] = 0x60;
	p[1] = o->ecn << 4;
	hlen = 40 + put_ext6(o, p + 40, proto, &p[6]);
	put16(p + 4, hlen - 40 + ip_len);
	p[7] = 64;
	inet_pton(AF_INET6, LB6, p + 8);
	inet_pton(AF_INET6, o->dst ? o->dst : HOST6, p + 24);
	return hlen;
}

/* The plain frame's L2 header length: Ethernet, and a tag if it has one. */
static size_t l2_len(const __u8 *f)
{
	return f[12] == 0x81 && f[13] == 0x00 ? 18 : 14;
}

/* The tunnel frame carrying plain's IP packet: same MACs (and tag), outer IP inserted. */
static __u32 encap(const struct outer *o, const __u8 *plain, __u32 len, __u8 *f)
{
	size_t l2 = l2_len(plain), hlen;
	int inner_v6 = plain[l2 - 2] == 0x86;

	memcpy(f, plain, l2 - 2);
	put16(f + l2 - 2, o->family == 4 ? ETH_P_IP : ETH_P_IPV6);
	hlen = put_outer(o, f + l2, len - l2, inner_v6);
	memcpy(f + l2 + hlen, plain + l2, len - l2);
	return len + hlen;
}

/* ---- running and checking -------------------------------------------- */

static void read_stats(struct chlb_decap_stats *s)
{
	CU_ASSERT_EQUAL_FATAL(chlb_decap__stats(stats_fd, s), 0);
}

/*
 * Run f; the verdict must be verdict, the output want (want_len bytes),
 * and the only counter that moved, by one, reason.
 */
static void check_run(const char *desc, const __u8 *f, __u32 len, __u32 verdict, int reason,
		      const __u8 *want, __u32 want_len)
{
	struct chlb_decap_stats a, b;
	struct xdp_result r;
	int i, err;

	read_stats(&a);
	err = xdp_run(prog_fd, f, len, &r);
	CHECK(err == 0, desc);
	if (err)
		return;
	read_stats(&b);
	CHECK(r.verdict == verdict, desc);
	if (verdict != XDP_DROP) {
		CHECK(r.len == want_len, desc);
		CHECK(r.len == want_len && !memcmp(r.out, want, want_len), desc);
	}
	for (i = 0; i < CHLB_DECAP_CNT_MAX; i++)
		CHECK(b.counters[i] - a.counters[i] == (__u64)(i == reason), desc);
}

struct dcase {
	const char *desc;
	struct pkt_spec in;	/* the plain frame: inner packet, or the whole frame */
	struct outer out;
	/* frame surgery after encapsulation */
	void (*mutate)(__u8 *f, __u32 *len);
	__u32 verdict;
	int reason;
};

static int decapsulated(int reason)
{
	return reason == CHLB_DECAP_CNT_4IN4 || reason == CHLB_DECAP_CNT_6IN6 ||
	       reason == CHLB_DECAP_CNT_4IN6;
}

static void run_dcase(const struct dcase *c)
{
	__u8 plain[PKT_MAX], f[PKT_MAX + 128];
	__u32 plen, len;
	ssize_t n;

	n = pkt_build(&c->in, plain, sizeof(plain));
	CHECK(n > 0, c->desc);
	if (n <= 0)
		return;
	plen = n;
	len = c->out.family ? encap(&c->out, plain, plen, f) : plen;
	if (!c->out.family)
		memcpy(f, plain, plen);
	if (c->mutate)
		c->mutate(f, &len);
	if (decapsulated(c->reason)) {
		CHECK(sums_ok(plain + l2_len(plain)), c->desc);
		check_run(c->desc, f, len, c->verdict, c->reason, plain, plen);
	} else {
		check_run(c->desc, f, len, c->verdict, c->reason, f, len);
	}
}

#define CLIENT4 .src = "198.51.100.7", .sport = 40000
#define CLIENT6 .src = "2001:db8:c::7", .sport = 40000
#define TCP4(p) .family = 4, .proto = IPPROTO_TCP, CLIENT4, .dst = "10.9.0.1", .dport = p
#define UDP4(p) .family = 4, .proto = IPPROTO_UDP, CLIENT4, .dst = "10.9.0.1", .dport = p
#define TCP6(p) .family = 6, .proto = IPPROTO_TCP, CLIENT6, .dst = "2001:db8:9::1", .dport = p
#define UDP6(p) .family = 6, .proto = IPPROTO_UDP, CLIENT6, .dst = "2001:db8:9::1", .dport = p
#define O4 .family = 4
#define O6 .family = 6

/* Frame surgery; offsets are for untagged frames with 20/40-byte outer headers. */
static void outer_ihl_4(__u8 *f, __u32 *len) { (void)len; f[14] = 0x44; }
static void outer_version_5(__u8 *f, __u32 *len) { (void)len; f[14] = 0x55; }
static void outer_totlen_long(__u8 *f, __u32 *len) { put16(f + 16, *len - 14 + 1); }
static void outer_cut_12(__u8 *f, __u32 *len) { (void)f; *len = 14 + 12; }
static void outer6_cut_30(__u8 *f, __u32 *len) { (void)f; *len = 14 + 30; }
static void outer6_paylen_long(__u8 *f, __u32 *len) { put16(f + 18, *len - 54 + 1); }
static void outer6_version_4(__u8 *f, __u32 *len) { (void)len; f[14] = 0x40; }
static void inner4_version_6(__u8 *f, __u32 *len) { (void)len; f[34] = 0x65; }
static void inner4_ihl_4(__u8 *f, __u32 *len) { (void)len; f[34] = 0x44; }
static void inner4_totlen_long(__u8 *f, __u32 *len) { put16(f + 36, *len - 34 + 1); }
static void inner6_paylen_long(__u8 *f, __u32 *len) { put16(f + 58, *len - 94 + 1); }
static void inner6_version_4(__u8 *f, __u32 *len) { (void)len; f[54] = 0x40; }

/* An outer datagram that holds only the first 10 bytes of the inner header. */
static void inner4_cut_10(__u8 *f, __u32 *len)
{
	*len = 14 + 20 + 10;
	put16(f + 16, 30);
	csum_ip4(f + 14);
}

/* The same for IPv6 in IPv6: 30 of the inner header's 40 bytes. */
static void inner6_cut_30(__u8 *f, __u32 *len)
{
	*len = 14 + 40 + 30;
	put16(f + 18, 30);
}

/* IPv4 in IPv6 cut inside the inner header. */
static void inner4in6_cut_19(__u8 *f, __u32 *len)
{
	*len = 14 + 40 + 19;
	put16(f + 18, 19);
}

static const struct dcase cases[] = {
	/* the three kinds, both transports */
	{ "IPv4 in IPv4, TCP", { TCP4(80), .payload_len = 100 }, { O4 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_4IN4 },
	{ "IPv4 in IPv4, UDP", { UDP4(53), .payload_len = 30 }, { O4 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_4IN4 },
	{ "IPv4 in IPv4, TCP SYN", { TCP4(80), .tcp_flags = PKT_TCP_SYN }, { O4 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_4IN4 },
	{ "IPv4 in IPv4 to the second IPv4 address", { TCP4(80) }, { O4, .dst = HOST4B }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_4IN4 },
	{ "IPv6 in IPv6, TCP", { TCP6(443), .payload_len = 200 }, { O6 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_6IN6 },
	{ "IPv6 in IPv6, UDP", { UDP6(53), .payload_len = 12 }, { O6 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_6IN6 },
	{ "IPv4 in IPv6, TCP", { TCP4(80), .payload_len = 64 }, { O6 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_4IN6 },
	{ "IPv4 in IPv6, UDP", { UDP4(53) }, { O6 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_4IN6 },
	{ "IPv4 in IPv4, full-size inner packet", { TCP4(80), .payload_len = 1460 }, { O4 },
	  NULL, XDP_PASS, CHLB_DECAP_CNT_4IN4 },
	/* L2: a tag is kept in the rebuilt header */
	{ "VLAN-tagged IPv4 in IPv4", { TCP4(80), .vlan = 42 }, { O4 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_4IN4 },
	{ "VLAN-tagged IPv6 in IPv6", { UDP6(53), .vlan = 4094 }, { O6 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_6IN6 },
	{ "VLAN-tagged IPv4 in IPv6", { UDP4(53), .vlan = 7 }, { O6 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_4IN6 },
	/* outer options and extension headers go with the outer header */
	{ "outer IPv4 options, IHL 6", { TCP4(80) }, { O4, .opt_len = 4 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_4IN4 },
	{ "outer IPv4 options, IHL 15", { UDP4(53) }, { O4, .opt_len = 40 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_4IN4 },
	{ "outer IPv4 options, IHL 15, IPv6 inner: 6in4 is not stripped", { UDP6(53) },
	  { O4, .opt_len = 40 }, NULL, XDP_PASS, CHLB_DECAP_CNT_PASS_NOT_TUNNEL },
	{ "outer DF set is not a fragment", { TCP4(80) }, { O4, .frag_off = 0x4000 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_4IN4 },
	{ "IPv6 in IPv6 after a destination options header (ip6tnl's encap limit)",
	  { TCP6(443) }, { O6, .ext = 1 }, NULL, XDP_PASS, CHLB_DECAP_CNT_6IN6 },
	{ "IPv4 in IPv6 after hop-by-hop and destination options", { UDP4(53) },
	  { O6, .ext = 1, .hbh = 1 }, NULL, XDP_PASS, CHLB_DECAP_CNT_4IN6 },
	{ "three extension headers: more than the program walks", { UDP6(53) },
	  { O6, .ext = 2, .hbh = 1 }, NULL, XDP_PASS, CHLB_DECAP_CNT_PASS_NOT_TUNNEL },
	/* not for this host */
	{ "IPv4 in IPv4 to another address", { TCP4(80) }, { O4, .dst = OTHER4 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_PASS_NOT_FOR_US },
	{ "IPv6 in IPv6 to another address", { TCP6(443) }, { O6, .dst = OTHER6 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_PASS_NOT_FOR_US },
	{ "IPv4 in IPv6 to another address", { UDP4(53) }, { O6, .dst = OTHER6 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_PASS_NOT_FOR_US },
	{ "IPv4 in IPv4 to the IPv4-mapped form of an IPv6 address", { TCP4(80) },
	  { O6, .dst = "::ffff:10.1.0.2" }, NULL, XDP_PASS, CHLB_DECAP_CNT_PASS_NOT_FOR_US },
	/* not tunnels */
	{ "plain TCP over IPv4", { TCP4(80) }, {}, NULL, XDP_PASS,
	  CHLB_DECAP_CNT_PASS_NOT_TUNNEL },
	{ "plain UDP over IPv6", { UDP6(53) }, {}, NULL, XDP_PASS,
	  CHLB_DECAP_CNT_PASS_NOT_TUNNEL },
	{ "ICMP echo to this host", { .family = 4, .proto = IPPROTO_ICMP, CLIENT4, .dst = HOST4 },
	  {}, NULL, XDP_PASS, CHLB_DECAP_CNT_PASS_NOT_TUNNEL },
	{ "IPv6 neighbour solicitation", { .family = 6, .proto = IPPROTO_ICMPV6, CLIENT6,
	  .dst = HOST6 }, {}, NULL, XDP_PASS, CHLB_DECAP_CNT_PASS_NOT_TUNNEL },
	{ "IPv6 TCP after a destination options header", { TCP6(443), .ext_hdr = 60 }, {},
	  NULL, XDP_PASS, CHLB_DECAP_CNT_PASS_NOT_TUNNEL },
	{ "IPv6 UDP fragment", { UDP6(53), .ext_hdr = 44 }, {}, NULL, XDP_PASS,
	  CHLB_DECAP_CNT_PASS_NOT_TUNNEL },
	{ "IPv4 UDP fragment", { UDP4(53), .frag_off = 0x2000 }, {}, NULL, XDP_PASS,
	  CHLB_DECAP_CNT_PASS_NOT_TUNNEL },
	{ "GRE (47) in IPv4", { TCP4(80) }, { O4, .proto = 47 }, NULL, XDP_PASS,
	  CHLB_DECAP_CNT_PASS_NOT_TUNNEL },
	{ "IPv6 in IPv4 (6in4, sit)", { TCP6(443) }, { O4 }, NULL, XDP_PASS,
	  CHLB_DECAP_CNT_PASS_NOT_TUNNEL },
	/* outer fragments: the kernel's to reassemble */
	{ "outer IPv4 fragment, MF set", { UDP4(53) }, { O4, .frag_off = 0x2000 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_PASS_FRAGMENT },
	{ "outer IPv4 fragment, offset != 0", { UDP4(53) }, { O4, .frag_off = 0x0010 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_PASS_FRAGMENT },
	{ "outer IPv4 fragment, MF and offset, DF", { TCP4(80) }, { O4, .frag_off = 0x6001 },
	  NULL, XDP_PASS, CHLB_DECAP_CNT_PASS_FRAGMENT },
	{ "outer IPv6 fragment of IPv6 in IPv6", { TCP6(443) }, { O6, .frag6 = 1 }, NULL,
	  XDP_PASS, CHLB_DECAP_CNT_PASS_FRAGMENT },
	{ "outer IPv6 fragment of IPv4 in IPv6, after options", { UDP4(53) },
	  { O6, .ext = 1, .frag6 = 1 }, NULL, XDP_PASS, CHLB_DECAP_CNT_PASS_FRAGMENT },
	{ "outer fragment to another address", { UDP4(53) },
	  { O4, .dst = OTHER4, .frag_off = 0x2000 }, NULL, XDP_PASS,
	  CHLB_DECAP_CNT_PASS_FRAGMENT },
	/* malformed: outer */
	{ "outer IHL 4", { TCP4(80) }, { O4 }, outer_ihl_4, XDP_PASS,
	  CHLB_DECAP_CNT_PASS_MALFORMED },
	{ "outer IPv4 version field 5", { TCP4(80) }, { O4 }, outer_version_5, XDP_PASS,
	  CHLB_DECAP_CNT_PASS_MALFORMED },
	{ "outer total length past the frame", { TCP4(80) }, { O4 }, outer_totlen_long,
	  XDP_PASS, CHLB_DECAP_CNT_PASS_MALFORMED },
	{ "frame cut inside the outer IPv4 header", { TCP4(80) }, { O4 }, outer_cut_12,
	  XDP_PASS, CHLB_DECAP_CNT_PASS_MALFORMED },
	{ "frame cut inside the outer IPv6 header", { TCP6(443) }, { O6 }, outer6_cut_30,
	  XDP_PASS, CHLB_DECAP_CNT_PASS_MALFORMED },
	{ "outer IPv6 payload length past the frame", { TCP6(443) }, { O6 },
	  outer6_paylen_long, XDP_PASS, CHLB_DECAP_CNT_PASS_MALFORMED },
	{ "outer IPv6 version field 4", { TCP6(443) }, { O6 }, outer6_version_4, XDP_PASS,
	  CHLB_DECAP_CNT_PASS_MALFORMED },
	/* malformed: inner */
	{ "inner IPv4 header cut short (10 of 20 bytes)", { TCP4(80) }, { O4 }, inner4_cut_10,
	  XDP_PASS, CHLB_DECAP_CNT_PASS_MALFORMED },
	{ "inner IPv6 header cut short (30 of 40 bytes)", { TCP6(443) }, { O6 }, inner6_cut_30,
	  XDP_PASS, CHLB_DECAP_CNT_PASS_MALFORMED },
	{ "inner IPv4 in IPv6 cut short (19 of 20 bytes)", { UDP4(53) }, { O6 },
	  inner4in6_cut_19, XDP_PASS, CHLB_DECAP_CNT_PASS_MALFORMED },
	{ "inner IPv4 version field 6", { TCP4(80) }, { O4 }, inner4_version_6, XDP_PASS,
	  CHLB_DECAP_CNT_PASS_MALFORMED },
	{ "inner IPv4 IHL 4", { TCP4(80) }, { O4 }, inner4_ihl_4, XDP_PASS,
	  CHLB_DECAP_CNT_PASS_MALFORMED },
	{ "inner IPv4 total length past the outer datagram", { TCP4(80) }, { O4 },
	  inner4_totlen_long, XDP_PASS, CHLB_DECAP_CNT_PASS_MALFORMED },
	{ "inner IPv6 payload length past the outer datagram", { TCP6(443) }, { O6 },
	  inner6_paylen_long, XDP_PASS, CHLB_DECAP_CNT_PASS_MALFORMED },
	{ "inner IPv6 version field 4", { TCP6(443) }, { O6 }, inner6_version_4, XDP_PASS,
	  CHLB_DECAP_CNT_PASS_MALFORMED },
};

static void test_fixtures(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_dcase(&cases[i]);
}

/*
 * Ethernet padding after a short outer datagram: its bytes are in the
 * frame, not in the outer datagram, so the inner packet ends where the
 * outer says. Decapsulated, the padding stays at the end of the frame and
 * the stack trims it by the inner length, as it trims any padding.
 */
static void test_padding(void)
{
	struct pkt_spec s = { UDP4(53) };
	struct outer o = { O4 };
	__u8 plain[PKT_MAX], f[PKT_MAX + 128], want[PKT_MAX];
	__u32 plen, len;

	plen = pkt_build(&s, plain, sizeof(plain));
	len = encap(&o, plain, plen, f);
	memset(f + len, 0, 6);
	memcpy(want, plain, plen);
	memset(want + plen, 0, 6);
	check_run("outer datagram followed by 6 bytes of padding", f, len + 6, XDP_PASS,
		  CHLB_DECAP_CNT_4IN4, want, plen + 6);
}

/* The inner packet's ECN field set, its IPv4 header checksum recomputed here. */
static void set_inner_ecn(__u8 *plain, __u8 ecn)
{
	__u8 *ip = plain + l2_len(plain);

	if (ip[0] >> 4 == 4) {
		ip[1] = (ip[1] & ~3) | ecn;
		csum_ip4(ip);
	} else {
		ip[1] = (ip[1] & ~0x30) | ecn << 4;
	}
}

/*
 * RFC 6040 at the decapsulator: outer CE on an ECN-capable inner packet
 * marks it CE (and only then is the inner header changed: its IPv4 checksum
 * is checked against this file's computation); outer CE on a not-ECT inner
 * packet drops it; other outer marks leave the inner packet as it is.
 */
static void test_ecn(void)
{
	static const struct {
		const char *desc;
		struct pkt_spec in;
		int outer;
		__u8 outer_ecn, inner_ecn, want_ecn;
		__u32 verdict;
		int reason;
	} t[] = {
		{ "4in4: outer CE, inner ECT(0): inner marked CE", { TCP4(80) }, 4, 3, 2, 3,
		  XDP_PASS, CHLB_DECAP_CNT_4IN4 },
		{ "4in4: outer CE, inner ECT(1): inner marked CE", { UDP4(53) }, 4, 3, 1, 3,
		  XDP_PASS, CHLB_DECAP_CNT_4IN4 },
		{ "4in4: outer CE, inner CE: unchanged", { TCP4(80) }, 4, 3, 3, 3,
		  XDP_PASS, CHLB_DECAP_CNT_4IN4 },
		{ "4in4: outer CE, inner not-ECT: dropped", { TCP4(80) }, 4, 3, 0, 0,
		  XDP_DROP, CHLB_DECAP_CNT_DROP_ECN },
		{ "4in4: outer ECT(0), inner not-ECT: unchanged", { TCP4(80) }, 4, 2, 0, 0,
		  XDP_PASS, CHLB_DECAP_CNT_4IN4 },
		{ "4in4: outer not-ECT, inner ECT(0): unchanged", { TCP4(80) }, 4, 0, 2, 2,
		  XDP_PASS, CHLB_DECAP_CNT_4IN4 },
		{ "6in6: outer CE, inner ECT(1): inner marked CE", { TCP6(443) }, 6, 3, 1, 3,
		  XDP_PASS, CHLB_DECAP_CNT_6IN6 },
		{ "6in6: outer CE, inner not-ECT: dropped", { UDP6(53) }, 6, 3, 0, 0,
		  XDP_DROP, CHLB_DECAP_CNT_DROP_ECN },
		{ "4in6: outer CE, inner ECT(0): inner marked CE", { UDP4(53) }, 6, 3, 2, 3,
		  XDP_PASS, CHLB_DECAP_CNT_4IN6 },
		{ "4in6: outer ECT(1), inner ECT(0): unchanged", { UDP4(53) }, 6, 1, 2, 2,
		  XDP_PASS, CHLB_DECAP_CNT_4IN6 },
	};
	__u8 plain[PKT_MAX], f[PKT_MAX + 128];
	struct outer o = {};
	__u32 plen, len;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		plen = pkt_build(&t[i].in, plain, sizeof(plain));
		set_inner_ecn(plain, t[i].inner_ecn);
		o.family = t[i].outer;
		o.ecn = t[i].outer_ecn;
		len = encap(&o, plain, plen, f);
		set_inner_ecn(plain, t[i].want_ecn);
		CHECK(sums_ok(plain + l2_len(plain)), t[i].desc);
		check_run(t[i].desc, f, len, t[i].verdict, t[i].reason, plain, plen);
	}
}

/*
 * Every truncation of a tunnel frame: passed unmodified and counted
 * malformed, never read or written past its end. The kernel refuses
 * frames shorter than an Ethernet header.
 */
static void truncations(const char *desc, const struct pkt_spec *s, const struct outer *o)
{
	__u8 plain[PKT_MAX], f[PKT_MAX + 128];
	__u32 plen, len, cut;

	plen = pkt_build(s, plain, sizeof(plain));
	len = encap(o, plain, plen, f);
	for (cut = 14; cut < len; cut++)
		check_run(desc, f, cut, XDP_PASS, CHLB_DECAP_CNT_PASS_MALFORMED, f, cut);
	check_run(desc, f, len, XDP_PASS, o->family == 4 ? CHLB_DECAP_CNT_4IN4 :
		  s->family == 6 ? CHLB_DECAP_CNT_6IN6 : CHLB_DECAP_CNT_4IN6, plain, plen);
}

static void test_truncation(void)
{
	struct pkt_spec t4 = { TCP4(80), .payload_len = 10 }, u6 = { UDP6(53) };
	struct outer o4 = { O4, .opt_len = 8 }, o6 = { O6, .ext = 1 };

	truncations("4in4 with options, every truncation", &t4, &o4);
	truncations("6in6 with options, every truncation", &u6, &o6);
	truncations("4in6, every truncation", &t4, &o6);
}

/* Run cases through a program loaded with cfg, then back to the suite's. */
static void run_with(const struct chlb_decap_cfg *cfg, const struct dcase *t, size_t n)
{
	struct decap *s = NULL;
	size_t i;

	CU_ASSERT_EQUAL_FATAL(chlb_decap__load(NULL, cfg, &s), 0);
	use(s);
	for (i = 0; i < n; i++)
		run_dcase(&t[i]);
	use(skel);
	decap__destroy(s);
}

/*
 * decap attach --dst any: every tunnel is stripped whatever its outer
 * destination; not-tunnels and fragments keep their reasons. With no
 * address at all, nothing is for us.
 */
static void test_any_dst(void)
{
	static const struct dcase any[] = {
		{ "any: IPv4 in IPv4 to another address", { TCP4(80) }, { O4, .dst = OTHER4 },
		  NULL, XDP_PASS, CHLB_DECAP_CNT_4IN4 },
		{ "any: IPv6 in IPv6 to another address", { TCP6(443) }, { O6, .dst = OTHER6 },
		  NULL, XDP_PASS, CHLB_DECAP_CNT_6IN6 },
		{ "any: IPv4 in IPv6 to another address", { UDP4(53) }, { O6, .dst = OTHER6 },
		  NULL, XDP_PASS, CHLB_DECAP_CNT_4IN6 },
		{ "any: plain TCP", { TCP4(80) }, {}, NULL, XDP_PASS,
		  CHLB_DECAP_CNT_PASS_NOT_TUNNEL },
		{ "any: an outer fragment", { UDP4(53) }, { O4, .dst = OTHER4, .frag_off = 0x2000 },
		  NULL, XDP_PASS, CHLB_DECAP_CNT_PASS_FRAGMENT },
	};
	static const struct dcase none[] = {
		{ "no addresses: IPv4 in IPv4 to this host", { TCP4(80) }, { O4 }, NULL,
		  XDP_PASS, CHLB_DECAP_CNT_PASS_NOT_FOR_US },
		{ "no addresses: IPv6 in IPv6 to this host", { TCP6(443) }, { O6 }, NULL,
		  XDP_PASS, CHLB_DECAP_CNT_PASS_NOT_FOR_US },
	};
	struct chlb_decap_cfg cfg, empty = { .version = CHLB_DECAP_ABI_VERSION };

	host_cfg(&cfg, CHLB_DECAP_F_ANY_DST);
	run_with(&cfg, any, sizeof(any) / sizeof(any[0]));
	run_with(&empty, none, sizeof(none) / sizeof(none[0]));
}

/* Eight addresses of each family: the last of each still matches. */
static void test_full_lists(void)
{
	struct chlb_decap_cfg cfg = { .version = CHLB_DECAP_ABI_VERSION, .n4 = 8, .n6 = 8 };
	static const struct dcase t[] = {
		{ "8th IPv4 address", { TCP4(80) }, { O4, .dst = "10.1.1.8" }, NULL, XDP_PASS,
		  CHLB_DECAP_CNT_4IN4 },
		{ "8th IPv6 address", { UDP4(53) }, { O6, .dst = "2001:db8:1::8" }, NULL,
		  XDP_PASS, CHLB_DECAP_CNT_4IN6 },
		{ "an address past the list", { UDP6(53) }, { O6, .dst = "2001:db8:1::9" }, NULL,
		  XDP_PASS, CHLB_DECAP_CNT_PASS_NOT_FOR_US },
		{ "the suite's host address, not in this list", { UDP6(53) }, { O6 }, NULL,
		  XDP_PASS, CHLB_DECAP_CNT_PASS_NOT_FOR_US },
	};
	char a[64];
	__u32 i;

	for (i = 0; i < 8; i++) {
		snprintf(a, sizeof(a), "10.1.1.%u", i + 1);
		inet_pton(AF_INET, a, &cfg.v4[i]);
		snprintf(a, sizeof(a), "2001:db8:1::%u", i + 1);
		inet_pton(AF_INET6, a, cfg.v6[i]);
	}
	run_with(&cfg, t, sizeof(t) / sizeof(t[0]));
}

/*
 * The configuration cannot change under a running program: its map is
 * read-only once loaded, and reads back as it was given.
 */
static void test_cfg_frozen(void)
{
	int fd = bpf_map__fd(skel->maps.rodata_cfg);
	struct chlb_decap_cfg want, got;
	__u32 zero = 0;

	host_cfg(&want, 0);
	CU_ASSERT_EQUAL(bpf_map__value_size(skel->maps.rodata_cfg), sizeof(want));
	CU_ASSERT_EQUAL_FATAL(bpf_map_lookup_elem(fd, &zero, &got), 0);
	CU_ASSERT_EQUAL(memcmp(&got, &want, sizeof(got)), 0);
	got.flags = CHLB_DECAP_F_ANY_DST;
	CU_ASSERT_NOT_EQUAL(bpf_map_update_elem(fd, &zero, &got, BPF_ANY), 0);
}

/* An interface's own addresses: lo has 127.0.0.1 and ::1 (where IPv6 is on). */
static void test_own_addrs(void)
{
	struct chlb_decap_cfg cfg = {};
	struct chlb_err e = {};
	__be32 lo4 = htonl(INADDR_LOOPBACK);

	CU_ASSERT_EQUAL_FATAL(chlb_decap__own_addrs("lo", &cfg, &e), 0);
	CU_ASSERT(cfg.n4 >= 1 && cfg.v4[0] == lo4);
	CU_ASSERT_EQUAL(chlb_decap__own_addrs("chlbnodev0", &cfg, &e), -EADDRNOTAVAIL);
	CU_ASSERT(strstr(e.msg, "chlbnodev0 has no IPv4 or IPv6 address") != NULL);
}

/* The test's own outer header builder against the checksum rule it relies on. */
static void test_builder(void)
{
	struct pkt_spec s = { TCP4(80) };
	struct outer o = { O4, .opt_len = 12 };
	__u8 plain[PKT_MAX], f[PKT_MAX + 128];
	__u32 plen, len;

	plen = pkt_build(&s, plain, sizeof(plain));
	len = encap(&o, plain, plen, f);
	CU_ASSERT_EQUAL(len, plen + 32);
	CU_ASSERT_EQUAL(csum_fold(csum_add(0, f + 14, 32)), 0xffff);
	CU_ASSERT_EQUAL(get16(f + 16), 32 + plen - 14);
	CU_ASSERT(sums_ok(f + 14 + 32));
	CU_ASSERT_EQUAL(memcmp(f + 46, plain + 14, plen - 14), 0);
}

int main(void)
{
	static CU_TestInfo tests[] = {
		{ "fixture table", test_fixtures },
		{ "Ethernet padding", test_padding },
		{ "ECN (RFC 6040)", test_ecn },
		{ "truncations 14..len", test_truncation },
		{ "--dst any, and no addresses", test_any_dst },
		{ "eight addresses a family", test_full_lists },
		{ "the configuration is read-only", test_cfg_frozen },
		{ "an interface's own addresses", test_own_addrs },
		{ "the test's tunnel builder", test_builder },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("decap", suite_init, suite_clean, tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
