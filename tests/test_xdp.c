// SPDX-License-Identifier: GPL-2.0
/*
 * The XDP program, for real: it is loaded (not attached, not pinned) and
 * frames are run through it with BPF_PROG_TEST_RUN. Each fixture row is an
 * input frame, the expected verdict and counter reason, and for forwarded
 * frames the VIP whose table decides the backend. The expected backend is
 * computed here from chlb_flow_hash() and the table this test installed;
 * the expected output is the input with only the MACs rewritten (XDP_TX)
 * or the input unchanged (XDP_PASS, XDP_DROP). The suite's instance
 * checks the destination MAC (attach's --dst-mac own): its frames are
 * addressed to IF_MAC unless a case says otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <CUnit/Basic.h>

#include "chlb/shared.h"	/* the skeleton names its types */
#include "chlb.skel.h"
#include "dp/dataplane.h"
#include "dp/dp_internal.h"
#include "helpers/pin_dir.h"
#include "helpers/pkt.h"
#include "helpers/xdp_run.h"
#include "helpers/cu_check.h"
#include "helpers/cu_main.h"

#define SEED		0x0123456789abcdefULL
#define M		251	/* prime: not a power of two on purpose */
#define MAX_VIPS	8
#define MAX_BACKENDS	16
#define NO_VIP		-1

static const __u8 IF_MAC[6] = { 0x02, 0x1b, 0, 0, 0, 0xfe };
static const __u8 OTHER_MAC[6] = { 0x02, 0x1b, 0, 0, 0, 0x99 };	/* another host's */
static const __u8 BCAST_MAC[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const __u8 MCAST4_MAC[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x64 };
static const __u8 MCAST6_MAC[6] = { 0x33, 0x33, 0x00, 0x00, 0x01, 0x00 };

struct vip_def {
	int family;
	const char *addr;
	__u16 port;
	__u8 proto;
	__u32 first;		/* backend ids first .. first + n - 1 */
	__u32 n;
	int has_table;
};

enum { V4_TCP, V4_UDP, V6_TCP, V6_UDP, V4_EMPTY, V4_NO_TABLE, V4_UNUSED_BE };

static const struct vip_def vips[] = {
	[V4_TCP] = { 4, "10.0.0.100", 80, IPPROTO_TCP, 0, 3, 1 },
	[V4_UDP] = { 4, "10.0.0.100", 53, IPPROTO_UDP, 3, 2, 1 },
	[V6_TCP] = { 6, "2001:db8::100", 443, IPPROTO_TCP, 5, 2, 1 },
	[V6_UDP] = { 6, "2001:db8::100", 53, IPPROTO_UDP, 7, 1, 1 },
	[V4_EMPTY] = { 4, "10.0.0.200", 80, IPPROTO_TCP, 0, 0, 1 },
	[V4_NO_TABLE] = { 4, "10.0.0.201", 80, IPPROTO_TCP, 0, 0, 0 },
	[V4_UNUSED_BE] = { 4, "10.0.0.202", 80, IPPROTO_TCP, 8, 1, 1 },
};
#define NVIPS (sizeof(vips) / sizeof(vips[0]))
#define UNUSED_BACKEND 8	/* present in chlb_backends, not in use */

static struct chlb *skel;
static struct chlb_dp dp;
static int prog_fd;
static __u32 tables[NVIPS][M];

/* ---- fixture set-up -------------------------------------------------------- */

static void backend_mac(__u32 id, __u8 *mac)
{
	static const __u8 base[6] = { 0x02, 0xbe, 0, 0, 0, 0 };

	memcpy(mac, base, 6);
	mac[5] = id;
}

static int add_backends(void)
{
	struct chlb_backend be;
	__u32 v, i, id;

	for (v = 0; v < NVIPS; v++) {
		for (i = 0; i < vips[v].n; i++) {
			id = vips[v].first + i;
			memset(&be, 0, sizeof(be));
			backend_mac(id, be.mac);
			be.weight = 1;
			be.vip_id = v;
			be.flags = id == UNUSED_BACKEND ? 0 : CHLB_BACKEND_F_IN_USE;
			if (bpf_map_update_elem(dp.backends_fd, &id, &be, BPF_ANY))
				return -errno;
		}
	}
	return 0;
}

/* Spread a VIP's backends over its table in an irregular pattern. */
static void fill_table(__u32 v)
{
	__u32 s;

	for (s = 0; s < M; s++)
		tables[v][s] = vips[v].n ? vips[v].first + (s * 7 + s / 5) % vips[v].n
					 : CHLB_NO_BACKEND;
}

static int add_vips(void)
{
	struct chlb_vip_info info = { .method = CHLB_METHOD_DSR };
	struct chlb_vip_key key;
	__u32 v;
	int err;

	for (v = 0; v < NVIPS; v++) {
		pkt_vip_key(vips[v].family, vips[v].addr, vips[v].port, vips[v].proto, &key);
		info.id = v;
		fill_table(v);
		err = vips[v].has_table ? chlb_dp__set_table(&dp, v, tables[v]) : 0;
		if (!err)
			err = chlb_dp__vip_add(&dp, &key, &info);
		if (err)
			return err;
	}
	return 0;
}

static int suite_init(void)
{
	struct chlb_dp_opts opts = {
		.max_vips = MAX_VIPS, .max_backends = MAX_BACKENDS,
		.table_size = M, .seed = SEED, .dst_mac_check = 1,
	};
	int err;

	memcpy(opts.if_mac, IF_MAC, 6);
	err = chlb_dp__load(&opts, &skel);
	if (!err)
		err = chlb_dp__from_skel(skel, &dp);
	if (!err)
		err = add_backends();
	if (!err)
		err = add_vips();
	if (err) {
		fprintf(stderr, "test_xdp: set-up failed: %s\n", strerror(-err));
		return -1;
	}
	prog_fd = bpf_program__fd(skel->progs.chlb_xdp);
	return 0;
}

static int suite_clean(void)
{
	chlb_dp__close(&dp);
	chlb__destroy(skel);
	return 0;
}

/* ---- checking one frame ---------------------------------------------------- */

struct counters {
	struct chlb_global_stats g;
	struct chlb_vip_stats v;
	struct chlb_backend_stats b;
};

static void read_counters(int vip, __u32 bid, struct counters *c)
{
	memset(c, 0, sizeof(*c));
	CU_ASSERT_EQUAL_FATAL(chlb_dp__global_stats(&dp, &c->g), 0);
	if (vip != NO_VIP)
		CU_ASSERT_EQUAL_FATAL(chlb_dp__vip_stats(&dp, vip, &c->v), 0);
	if (bid < MAX_BACKENDS)
		CU_ASSERT_EQUAL_FATAL(chlb_dp__backend_stats(&dp, bid, &c->b), 0);
}

/* The backend the program must pick for a TCP/UDP spec to VIP v. */
static __u32 expected_backend(const struct pkt_spec *s, int v)
{
	struct chlb_flow_key key;

	if (pkt_flow_key(s, &key))
		return CHLB_NO_BACKEND;
	return tables[v][chlb_hash_to_slot(chlb_flow_hash(&key, SEED), M)];
}

struct expect {
	const char *desc;
	__u32 verdict;
	int reason;		/* enum chlb_counter */
	int vip;		/* VIP counted, or NO_VIP */
	__u32 bid;		/* backend for XDP_TX, else CHLB_NO_BACKEND */
	int new_flow;
};

static void check_output(const struct expect *e, const __u8 *in, __u32 len,
			 const struct xdp_result *r)
{
	__u8 mac[6];

	CHECK(r->verdict == e->verdict, e->desc);
	CHECK(r->len == len, e->desc);
	if (e->verdict != XDP_TX) {
		CHECK(!memcmp(r->out, in, len), e->desc);
		return;
	}
	backend_mac(e->bid, mac);
	CHECK(!memcmp(r->out, mac, 6), e->desc);
	CHECK(!memcmp(r->out + 6, IF_MAC, 6), e->desc);
	CHECK(!memcmp(r->out + 12, in + 12, len - 12), e->desc);
}

static void check_counters(const struct expect *e, __u32 len, const struct counters *a,
			   const struct counters *b)
{
	int i, tx = e->verdict == XDP_TX, drop = e->verdict == XDP_DROP;

	for (i = 0; i < CHLB_CNT_MAX; i++)
		CHECK(b->g.counters[i] - a->g.counters[i] ==
		      (__u64)(i == CHLB_CNT_RX || i == e->reason), e->desc);
	if (e->vip != NO_VIP) {
		CHECK(b->v.packets - a->v.packets == 1, e->desc);
		CHECK(b->v.bytes - a->v.bytes == len, e->desc);
		CHECK(b->v.no_backend - a->v.no_backend == (__u64)drop, e->desc);
	}
	if (tx) {
		CHECK(b->b.packets - a->b.packets == 1, e->desc);
		CHECK(b->b.bytes - a->b.bytes == len, e->desc);
		CHECK(b->b.new_flows - a->b.new_flows == (__u64)e->new_flow, e->desc);
	}
}

/* Run one frame and check verdict, output bytes and every counter. */
static void check_frame(const struct expect *e, const __u8 *in, __u32 len)
{
	struct counters before, after;
	struct xdp_result r;
	int err;

	read_counters(e->vip, e->bid, &before);
	err = xdp_run(prog_fd, in, len, &r);
	CHECK(err == 0, e->desc);
	if (err)
		return;
	read_counters(e->vip, e->bid, &after);
	check_output(e, in, len, &r);
	check_counters(e, len, &before, &after);
}

/* ---- the fixture table ----------------------------------------------------- */

#define CLIENT4 .src = "192.168.1.7", .sport = 40000
#define CLIENT6 .src = "2001:db8:1::7", .sport = 40000
#define TCP4(a, p) .family = 4, .proto = IPPROTO_TCP, CLIENT4, .dst = a, .dport = p
#define UDP4(a, p) .family = 4, .proto = IPPROTO_UDP, CLIENT4, .dst = a, .dport = p
#define TCP6(a, p) .family = 6, .proto = IPPROTO_TCP, CLIENT6, .dst = a, .dport = p
#define UDP6(a, p) .family = 6, .proto = IPPROTO_UDP, CLIENT6, .dst = a, .dport = p

/* Frame surgery for malformed inputs; offsets are for untagged frames. */
static void ip_version_5(__u8 *f, __u32 *len) { (void)len; f[14] = 0x55; }
static void ip_ihl_4(__u8 *f, __u32 *len) { (void)len; f[14] = 0x44; }
static void ip_totlen_long(__u8 *f, __u32 *len) { f[16] = 0; f[17] = *len - 14 + 1; }
static void tcp_doff_4(__u8 *f, __u32 *len) { (void)len; f[14 + 20 + 12] = 0x40; }
static void ip6_paylen_long(__u8 *f, __u32 *len) { f[18] = 0; f[19] = *len - 54 + 1; }
static void lldp(__u8 *f, __u32 *len) { (void)len; f[12] = 0x88; f[13] = 0xcc; }
/* The L4 header only in the frame's trailing bytes (padding), not the datagram. */
static void ip_totlen_no_l4(__u8 *f, __u32 *len) { (void)len; f[16] = 0; f[17] = 20; }
static void tcp_doff_6(__u8 *f, __u32 *len) { (void)len; f[14 + 20 + 12] = 0x60; }
static void udp_len_long(__u8 *f, __u32 *len) { f[14 + 20 + 4] = 0; f[14 + 20 + 5] = *len - 33; }
static void udp_len_7(__u8 *f, __u32 *len) { (void)len; f[14 + 20 + 4] = 0; f[14 + 20 + 5] = 7; }
static void ip6_paylen_0(__u8 *f, __u32 *len) { (void)len; f[18] = 0; f[19] = 0; }

/* Tag control on a tagged frame: priority 7 and VLAN 4095; priority 5, VLAN 0. */
static void tci_pcp7_vid4095(__u8 *f, __u32 *len) { (void)len; f[14] = 0xef; f[15] = 0xff; }
static void tci_priority_only(__u8 *f, __u32 *len) { (void)len; f[14] = 0xa0; f[15] = 0; }
/* An 802.1ad service tag (TPID 0x88a8) where the 802.1Q tag was. */
static void s_tag(__u8 *f, __u32 *len) { (void)len; f[12] = 0x88; f[13] = 0xa8; }

/* A second 802.1Q tag (QinQ): chlb reads one tag only. */
static void second_tag(__u8 *f, __u32 *len)
{
	memmove(f + 16, f + 12, *len - 12);
	*len += 4;
}

struct xdp_case {
	const char *desc;
	struct pkt_spec spec;
	int arp;
	void (*mutate)(__u8 *f, __u32 *len);
	__u32 verdict;
	int reason;
	int vip;		/* VIP whose table decides, or NO_VIP */
};

static const struct xdp_case cases[] = {
	{ "TCP to IPv4 VIP", { TCP4("10.0.0.100", 80), .payload_len = 100 }, 0, NULL,
	  XDP_TX, CHLB_CNT_TX, V4_TCP },
	{ "TCP SYN to IPv4 VIP", { TCP4("10.0.0.100", 80), .tcp_flags = PKT_TCP_SYN }, 0, NULL,
	  XDP_TX, CHLB_CNT_TX, V4_TCP },
	{ "TCP SYN-ACK to IPv4 VIP", { TCP4("10.0.0.100", 80),
	  .tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK }, 0, NULL, XDP_TX, CHLB_CNT_TX, V4_TCP },
	{ "UDP to IPv4 VIP", { UDP4("10.0.0.100", 53), .payload_len = 30 }, 0, NULL,
	  XDP_TX, CHLB_CNT_TX, V4_UDP },
	{ "TCP to IPv6 VIP", { TCP6("2001:db8::100", 443), .payload_len = 10 }, 0, NULL,
	  XDP_TX, CHLB_CNT_TX, V6_TCP },
	{ "UDP to IPv6 VIP", { UDP6("2001:db8::100", 53) }, 0, NULL,
	  XDP_TX, CHLB_CNT_TX, V6_UDP },
	{ "VLAN-tagged TCP to IPv4 VIP", { TCP4("10.0.0.100", 80), .vlan = 42 }, 0, NULL,
	  XDP_TX, CHLB_CNT_TX, V4_TCP },
	{ "VLAN-tagged UDP to IPv6 VIP", { UDP6("2001:db8::100", 53), .vlan = 4094 }, 0, NULL,
	  XDP_TX, CHLB_CNT_TX, V6_UDP },
	/* the VLAN plays no part in the match; the tag leaves as it came (check_output) */
	{ "VLAN 4095, priority 7: forwarded, tag kept", { TCP4("10.0.0.100", 80), .vlan = 1 },
	  0, tci_pcp7_vid4095, XDP_TX, CHLB_CNT_TX, V4_TCP },
	{ "priority tag (VLAN 0): forwarded, tag kept", { UDP4("10.0.0.100", 53), .vlan = 1 },
	  0, tci_priority_only, XDP_TX, CHLB_CNT_TX, V4_UDP },
	{ "802.1ad service tag", { TCP4("10.0.0.100", 80), .vlan = 7 }, 0, s_tag,
	  XDP_PASS, CHLB_CNT_PASS_NOT_IP, NO_VIP },
	{ "IPv4 DF set is not a fragment", { TCP4("10.0.0.100", 80), .frag_off = 0x4000 },
	  0, NULL, XDP_TX, CHLB_CNT_TX, V4_TCP },
	{ "IPv4 options, IHL 6", { TCP4("10.0.0.100", 80), .ip_opt_len = 4 }, 0, NULL,
	  XDP_TX, CHLB_CNT_TX, V4_TCP },
	{ "IPv4 options, IHL 15", { UDP4("10.0.0.100", 53), .ip_opt_len = 40 }, 0, NULL,
	  XDP_TX, CHLB_CNT_TX, V4_UDP },
	{ "other IPv4 address", { TCP4("10.0.0.99", 80) }, 0, NULL,
	  XDP_PASS, CHLB_CNT_PASS_NOT_VIP, NO_VIP },
	{ "other port", { TCP4("10.0.0.100", 8080) }, 0, NULL,
	  XDP_PASS, CHLB_CNT_PASS_NOT_VIP, NO_VIP },
	{ "UDP to a TCP VIP's port", { UDP4("10.0.0.100", 80) }, 0, NULL,
	  XDP_PASS, CHLB_CNT_PASS_NOT_VIP, NO_VIP },
	{ "other IPv6 address", { TCP6("2001:db8::101", 443) }, 0, NULL,
	  XDP_PASS, CHLB_CNT_PASS_NOT_VIP, NO_VIP },
	{ "IPv6 to the v4-mapped form of an IPv4 VIP", { TCP6("::ffff:10.0.0.100", 80) },
	  0, NULL, XDP_PASS, CHLB_CNT_PASS_NOT_VIP, NO_VIP },
	{ "ICMP echo to a VIP address", { .family = 4, .proto = IPPROTO_ICMP, CLIENT4,
	  .dst = "10.0.0.100" }, 0, NULL, XDP_PASS, CHLB_CNT_PASS_OTHER_PROTO, NO_VIP },
	{ "IPv6 ND neighbour solicitation", { .family = 6, .proto = IPPROTO_ICMPV6,
	  CLIENT6, .dst = "2001:db8::100" }, 0, NULL,
	  XDP_PASS, CHLB_CNT_PASS_OTHER_PROTO, NO_VIP },
	{ "ARP request for a VIP", { .family = 0 }, 1, NULL,
	  XDP_PASS, CHLB_CNT_PASS_NOT_IP, NO_VIP },
	{ "LLDP ethertype", { TCP4("10.0.0.100", 80) }, 0, lldp,
	  XDP_PASS, CHLB_CNT_PASS_NOT_IP, NO_VIP },
	{ "two 802.1Q tags", { TCP4("10.0.0.100", 80), .vlan = 7 }, 0, second_tag,
	  XDP_PASS, CHLB_CNT_PASS_NOT_IP, NO_VIP },
	/* fragments to a VIP address are dropped (per-VIP counts: test_icmp) */
	{ "IPv4 fragment, MF set", { UDP4("10.0.0.100", 53), .frag_off = 0x2000 }, 0, NULL,
	  XDP_DROP, CHLB_CNT_DROP_FRAGMENT, NO_VIP },
	{ "IPv4 fragment, offset != 0", { UDP4("10.0.0.100", 53), .frag_off = 0x0010 },
	  0, NULL, XDP_DROP, CHLB_CNT_DROP_FRAGMENT, NO_VIP },
	{ "IPv4 fragment, MF and offset", { TCP4("10.0.0.100", 80), .frag_off = 0x2001 },
	  0, NULL, XDP_DROP, CHLB_CNT_DROP_FRAGMENT, NO_VIP },
	{ "IPv4 fragment to a VIP address, another port", { TCP4("10.0.0.100", 8080),
	  .frag_off = 0x2000 }, 0, NULL, XDP_DROP, CHLB_CNT_DROP_FRAGMENT, NO_VIP },
	{ "IPv6 fragment header", { UDP6("2001:db8::100", 53), .ext_hdr = 44 }, 0, NULL,
	  XDP_DROP, CHLB_CNT_DROP_FRAGMENT, NO_VIP },
	{ "IPv4 fragment to another address", { UDP4("10.0.0.99", 53), .frag_off = 0x2000 },
	  0, NULL, XDP_PASS, CHLB_CNT_PASS_FRAGMENT, NO_VIP },
	{ "IPv6 fragment header to another address", { UDP6("2001:db8::101", 53),
	  .ext_hdr = 44 }, 0, NULL, XDP_PASS, CHLB_CNT_PASS_FRAGMENT, NO_VIP },
	/* extension headers are walked (more cases in test_icmp) */
	{ "IPv6 destination options header", { TCP6("2001:db8::100", 443), .ext_hdr = 60 },
	  0, NULL, XDP_TX, CHLB_CNT_TX, V6_TCP },
	{ "IPv6 routing header, segments left 0", { TCP6("2001:db8::100", 443),
	  .ext_hdr = 43 }, 0, NULL, XDP_TX, CHLB_CNT_TX, V6_TCP },
	{ "IPv6 mobility header (not walked)", { TCP6("2001:db8::100", 443), .ext_hdr = 135 },
	  0, NULL, XDP_PASS, CHLB_CNT_PASS_OTHER_PROTO, NO_VIP },
	{ "IPv4 version field 5", { TCP4("10.0.0.100", 80) }, 0, ip_version_5,
	  XDP_PASS, CHLB_CNT_PASS_MALFORMED, NO_VIP },
	{ "IPv4 IHL 4", { TCP4("10.0.0.100", 80) }, 0, ip_ihl_4,
	  XDP_PASS, CHLB_CNT_PASS_MALFORMED, NO_VIP },
	{ "IPv4 total length past the frame", { TCP4("10.0.0.100", 80) }, 0, ip_totlen_long,
	  XDP_PASS, CHLB_CNT_PASS_MALFORMED, NO_VIP },
	{ "IPv4 total length without the TCP header", { TCP4("10.0.0.100", 80) }, 0,
	  ip_totlen_no_l4, XDP_PASS, CHLB_CNT_PASS_MALFORMED, NO_VIP },
	{ "IPv6 payload length 0 before a UDP header", { UDP6("2001:db8::100", 53) }, 0,
	  ip6_paylen_0, XDP_PASS, CHLB_CNT_PASS_MALFORMED, NO_VIP },
	{ "TCP data offset past the datagram", { TCP4("10.0.0.100", 80) }, 0, tcp_doff_6,
	  XDP_PASS, CHLB_CNT_PASS_MALFORMED, NO_VIP },
	{ "UDP length past the datagram", { UDP4("10.0.0.100", 53), .payload_len = 4 }, 0,
	  udp_len_long, XDP_PASS, CHLB_CNT_PASS_MALFORMED, NO_VIP },
	{ "UDP length 7", { UDP4("10.0.0.100", 53), .payload_len = 4 }, 0, udp_len_7,
	  XDP_PASS, CHLB_CNT_PASS_MALFORMED, NO_VIP },
	{ "TCP data offset 4", { TCP4("10.0.0.100", 80) }, 0, tcp_doff_4,
	  XDP_PASS, CHLB_CNT_PASS_MALFORMED, NO_VIP },
	{ "IPv6 payload length past the frame", { UDP6("2001:db8::100", 53) }, 0,
	  ip6_paylen_long, XDP_PASS, CHLB_CNT_PASS_MALFORMED, NO_VIP },
	{ "VIP with zero backends", { TCP4("10.0.0.200", 80) }, 0, NULL,
	  XDP_DROP, CHLB_CNT_DROP_NO_BACKEND, V4_EMPTY },
	{ "VIP without a table", { TCP4("10.0.0.201", 80) }, 0, NULL,
	  XDP_DROP, CHLB_CNT_DROP_NO_BACKEND, V4_NO_TABLE },
	{ "VIP whose backend is not in use", { TCP4("10.0.0.202", 80) }, 0, NULL,
	  XDP_DROP, CHLB_CNT_DROP_NO_BACKEND, V4_UNUSED_BE },
};

/* The case's frame, addressed to dmac (IF_MAC when NULL). */
static int build_case_to(const struct xdp_case *c, const __u8 *dmac, __u8 *f, __u32 *len)
{
	struct pkt_spec s = c->spec;
	ssize_t n;

	memcpy(s.dmac, dmac ? dmac : IF_MAC, 6);
	n = c->arp ? pkt_build_arp("10.0.0.1", "10.0.0.100", f, PKT_MAX)
		   : pkt_build(&s, f, PKT_MAX);
	if (n < 0)
		return n;
	*len = n;
	if (c->mutate)
		c->mutate(f, len);
	return 0;
}

static int build_case(const struct xdp_case *c, __u8 *f, __u32 *len)
{
	return build_case_to(c, NULL, f, len);
}

/* Run a case's frame, addressed to dmac (IF_MAC when NULL), and check it. */
static void run_case_to(const struct xdp_case *c, const __u8 *dmac)
{
	struct expect e = { c->desc, c->verdict, c->reason, c->vip, CHLB_NO_BACKEND, 0 };
	__u8 f[PKT_MAX];
	__u32 len;

	CHECK(build_case_to(c, dmac, f, &len) == 0, c->desc);
	if (c->verdict == XDP_TX) {
		e.bid = expected_backend(&c->spec, c->vip);
		e.new_flow = c->spec.proto == IPPROTO_TCP &&
			     c->spec.tcp_flags == PKT_TCP_SYN;
		CHECK(e.bid < MAX_BACKENDS, c->desc);
	}
	check_frame(&e, f, len);
}

static void run_case(const struct xdp_case *c)
{
	run_case_to(c, NULL);
}

static void test_fixtures(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/*
 * The suite's instance checks destination MACs (--dst-mac own): a VIP frame
 * to another MAC (another host's seen in promiscuous mode, broadcast,
 * multicast) is passed unmodified, counted as pass_not_for_us only (not in
 * the VIP's counters). The MAC is looked at once a VIP matched: other
 * frames keep their reason.
 */
static void test_dst_mac(void)
{
	static const struct {
		struct xdp_case c;
		const __u8 *dmac;
	} t[] = {
		{ { "VIP frame to another host's MAC", { TCP4("10.0.0.100", 80) }, 0, NULL,
		    XDP_PASS, CHLB_CNT_PASS_NOT_FOR_US, NO_VIP }, OTHER_MAC },
		{ { "VIP frame to the broadcast MAC", { UDP4("10.0.0.100", 53) }, 0, NULL,
		    XDP_PASS, CHLB_CNT_PASS_NOT_FOR_US, NO_VIP }, BCAST_MAC },
		{ { "VIP frame to an IPv4 multicast MAC", { UDP4("10.0.0.100", 53) }, 0, NULL,
		    XDP_PASS, CHLB_CNT_PASS_NOT_FOR_US, NO_VIP }, MCAST4_MAC },
		{ { "IPv6 VIP frame to a 33:33 MAC", { TCP6("2001:db8::100", 443) }, 0, NULL,
		    XDP_PASS, CHLB_CNT_PASS_NOT_FOR_US, NO_VIP }, MCAST6_MAC },
		{ { "tagged VIP frame to another host's MAC", { TCP6("2001:db8::100", 443),
		    .vlan = 42 }, 0, NULL, XDP_PASS, CHLB_CNT_PASS_NOT_FOR_US, NO_VIP }, OTHER_MAC },
		{ { "VIP without backends, to another MAC: passed, no drop counted",
		    { TCP4("10.0.0.200", 80) }, 0, NULL, XDP_PASS, CHLB_CNT_PASS_NOT_FOR_US,
		    NO_VIP }, OTHER_MAC },
		{ { "non-VIP frame to another MAC keeps its reason", { TCP4("10.0.0.99", 80) }, 0,
		    NULL, XDP_PASS, CHLB_CNT_PASS_NOT_VIP, NO_VIP }, OTHER_MAC },
		{ { "VIP address's fragment to another MAC: passed, not for us",
		    { UDP4("10.0.0.100", 53), .frag_off = 0x2000 }, 0, NULL, XDP_PASS,
		    CHLB_CNT_PASS_NOT_FOR_US, NO_VIP }, BCAST_MAC },
		{ { "other fragment to another MAC keeps its reason", { UDP4("10.0.0.99", 53),
		    .frag_off = 0x2000 }, 0, NULL, XDP_PASS, CHLB_CNT_PASS_FRAGMENT, NO_VIP },
		  BCAST_MAC },
		{ { "VIP frame to the interface's MAC", { TCP4("10.0.0.100", 80) }, 0, NULL,
		    XDP_TX, CHLB_CNT_TX, V4_TCP }, IF_MAC },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		run_case_to(&t[i].c, t[i].dmac);
}

/*
 * --dst-mac any (dst_mac_check 0): VIP frames are forwarded whatever their
 * destination MAC, and the source MAC still becomes the interface's.
 */
static void test_dst_mac_any(void)
{
	struct chlb_dp_opts opts = { .max_vips = 4, .max_backends = 4, .table_size = 5,
				     .if_mac = { 0x02, 0x1b, 0, 0, 0, 0xfe } };
	static const __u8 *const macs[] = { IF_MAC, OTHER_MAC, BCAST_MAC, MCAST4_MAC };
	struct chlb_vip_info info = { .id = 1, .method = CHLB_METHOD_DSR };
	struct chlb_backend be = { .flags = CHLB_BACKEND_F_IN_USE, .mac = { 2, 0, 0, 0, 0, 7 } };
	struct pkt_spec s = { TCP4("10.0.0.100", 80) };
	__u32 slots[5] = { 2, 2, 2, 2, 2 }, two = 2;
	struct chlb_global_stats g;
	struct chlb_vip_key key;
	struct xdp_result r;
	struct chlb *sk = NULL;
	struct chlb_config cfg;
	struct chlb_dp d;
	__u8 f[PKT_MAX];
	__u32 zero = 0;
	size_t i;
	ssize_t n;

	CU_ASSERT_FATAL(chlb_dp__load(&opts, &sk) == 0);
	CU_ASSERT_FATAL(chlb_dp__from_skel(sk, &d) == 0);
	CU_ASSERT_FATAL(bpf_map_lookup_elem(d.config_fd, &zero, &cfg) == 0);
	CU_ASSERT(cfg.flags & CHLB_CFG_F_ANY_DST_MAC);
	pkt_vip_key(4, "10.0.0.100", 80, IPPROTO_TCP, &key);
	CU_ASSERT_FATAL(bpf_map_update_elem(d.backends_fd, &two, &be, BPF_ANY) == 0);
	CU_ASSERT_FATAL(chlb_dp__set_table(&d, 1, slots) == 0);
	CU_ASSERT_FATAL(chlb_dp__vip_add(&d, &key, &info) == 0);
	for (i = 0; i < sizeof(macs) / sizeof(macs[0]); i++) {
		memcpy(s.dmac, macs[i], 6);
		n = pkt_build(&s, f, sizeof(f));
		CU_ASSERT_FATAL(n > 0 && xdp_run(bpf_program__fd(sk->progs.chlb_xdp), f, n, &r) == 0);
		CU_ASSERT_EQUAL(r.verdict, XDP_TX);
		CU_ASSERT(!memcmp(r.out, be.mac, 6) && !memcmp(r.out + 6, IF_MAC, 6));
	}
	CU_ASSERT_FATAL(chlb_dp__global_stats(&d, &g) == 0);
	CU_ASSERT_EQUAL(g.counters[CHLB_CNT_TX], 4);
	CU_ASSERT_EQUAL(g.counters[CHLB_CNT_PASS_NOT_FOR_US], 0);
	chlb__destroy(sk);
}

/* IHL 6 .. 15: options are skipped and the frame forwarded. */
static void test_ipv4_options(void)
{
	struct xdp_case c = { "IPv4 options", { TCP4("10.0.0.100", 80), .payload_len = 9 },
			      0, NULL, XDP_TX, CHLB_CNT_TX, V4_TCP };
	int ihl;

	for (ihl = 6; ihl <= 15; ihl++) {
		c.spec.ip_opt_len = (ihl - 5) * 4;
		c.spec.sport = 1000 + ihl;
		run_case(&c);
	}
}

/*
 * Every truncation of valid VIP frames passes unmodified as malformed; the
 * whole frame is forwarded. The kernel itself refuses test runs of frames
 * shorter than an Ethernet header (-EINVAL): they never reach XDP.
 */
static void truncations_of(const struct xdp_case *c)
{
	struct expect pass = { c->desc, XDP_PASS, CHLB_CNT_PASS_MALFORMED, NO_VIP,
			       CHLB_NO_BACKEND, 0 };
	struct xdp_result r;
	__u8 f[PKT_MAX];
	__u32 len, l;

	CU_ASSERT_FATAL(build_case(c, f, &len) == 0);
	CU_ASSERT(len >= 74);
	for (l = 0; l < 14; l++)
		CHECK(xdp_run(prog_fd, f, l, &r) == -EINVAL, c->desc);
	for (l = 14; l < len; l++)
		check_frame(&pass, f, l);
	run_case(c);
}

static void test_truncation(void)
{
	static const struct xdp_case full[] = {
		{ "truncated TCP/IPv4", { TCP4("10.0.0.100", 80), .payload_len = 20 }, 0, NULL,
		  XDP_TX, CHLB_CNT_TX, V4_TCP },
		{ "truncated TCP/IPv6", { TCP6("2001:db8::100", 443) }, 0, NULL,
		  XDP_TX, CHLB_CNT_TX, V6_TCP },
		{ "truncated UDP/IPv4 with VLAN and options", { UDP4("10.0.0.100", 53),
		  .vlan = 9, .ip_opt_len = 8, .payload_len = 20 }, 0, NULL,
		  XDP_TX, CHLB_CNT_TX, V4_UDP },
		{ "truncated UDP/IPv6 with VLAN", { UDP6("2001:db8::100", 53), .vlan = 9,
		  .payload_len = 8 }, 0, NULL, XDP_TX, CHLB_CNT_TX, V6_UDP },
	};
	size_t i;

	for (i = 0; i < sizeof(full) / sizeof(full[0]); i++)
		truncations_of(&full[i]);
}

/* ---- many flows: backend choice and exact counters ------------------------ */

static __u64 rng_state = 0x9e3779b97f4a7c15ULL;

static __u32 rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (__u32)(rng_state >> 16);
}

struct tally {
	__u64 packets[MAX_BACKENDS];
	__u64 bytes[MAX_BACKENDS];
	__u64 syns[MAX_BACKENDS];
};

/* Run n random flows to VIP v; count where each must go. */
static void run_flows(int v, int n, struct tally *t)
{
	struct pkt_spec s = { .family = vips[v].family, .proto = vips[v].proto,
			      .dst = vips[v].addr, .dport = vips[v].port,
			      .dmac = { 0x02, 0x1b, 0, 0, 0, 0xfe } };
	char src[64];
	struct xdp_result r;
	__u8 f[PKT_MAX], mac[6];
	__u32 bid;
	ssize_t len;
	int i, ok = 1;

	for (i = 0; i < n; i++) {
		__u32 a = rnd();

		if (s.family == 4)
			snprintf(src, sizeof(src), "%u.%u.%u.%u", 1 + a % 223, a >> 8 & 255,
				 a >> 16 & 255, a >> 24);
		else
			snprintf(src, sizeof(src), "2001:db8:%x::%x:%x", a & 0xffff, a >> 16, i);
		s.src = src;
		s.sport = 1024 + rnd() % 64000;
		s.tcp_flags = rnd() % 2 ? PKT_TCP_SYN : PKT_TCP_ACK;
		s.payload_len = rnd() % 200;
		len = pkt_build(&s, f, sizeof(f));
		bid = expected_backend(&s, v);
		CU_ASSERT_FATAL(len > 0 && bid < MAX_BACKENDS);
		CU_ASSERT_FATAL(xdp_run(prog_fd, f, len, &r) == 0);
		backend_mac(bid, mac);
		ok &= r.verdict == XDP_TX && !memcmp(r.out, mac, 6);
		t->packets[bid]++;
		t->bytes[bid] += len;
		t->syns[bid] += s.proto == IPPROTO_TCP && s.tcp_flags == PKT_TCP_SYN;
	}
	CU_ASSERT(ok);
}

static void test_counters_many_flows(void)
{
	struct chlb_backend_stats before[MAX_BACKENDS], after[MAX_BACKENDS];
	struct chlb_global_stats g0, g1;
	struct tally t = { 0 };
	__u64 total = 0;
	__u32 id;

	CU_ASSERT_FATAL(chlb_dp__global_stats(&dp, &g0) == 0);
	for (id = 0; id < MAX_BACKENDS; id++)
		CU_ASSERT_FATAL(chlb_dp__backend_stats(&dp, id, &before[id]) == 0);
	run_flows(V4_TCP, 3000, &t);
	run_flows(V4_UDP, 1000, &t);
	run_flows(V6_TCP, 2000, &t);
	run_flows(V6_UDP, 500, &t);
	for (id = 0; id < MAX_BACKENDS; id++) {
		CU_ASSERT_FATAL(chlb_dp__backend_stats(&dp, id, &after[id]) == 0);
		CU_ASSERT_EQUAL(after[id].packets - before[id].packets, t.packets[id]);
		CU_ASSERT_EQUAL(after[id].bytes - before[id].bytes, t.bytes[id]);
		CU_ASSERT_EQUAL(after[id].new_flows - before[id].new_flows, t.syns[id]);
		total += t.packets[id];
	}
	/* every backend of a multi-backend VIP got some of the flows */
	for (id = 0; id < 7; id++)
		CU_ASSERT(t.packets[id] > 0);
	CU_ASSERT_FATAL(chlb_dp__global_stats(&dp, &g1) == 0);
	CU_ASSERT_EQUAL(total, 6500);
	CU_ASSERT_EQUAL(g1.counters[CHLB_CNT_TX] - g0.counters[CHLB_CNT_TX], total);
	CU_ASSERT_EQUAL(g1.counters[CHLB_CNT_RX] - g0.counters[CHLB_CNT_RX], total);
}

/* ---- the dataplane API ----------------------------------------------------- */

static void test_table_api(void)
{
	__u32 got[M], bad[M];

	CU_ASSERT_EQUAL(chlb_dp__get_table(&dp, V4_TCP, got), 0);
	CU_ASSERT(!memcmp(got, tables[V4_TCP], sizeof(got)));
	CU_ASSERT_EQUAL(chlb_dp__get_table(&dp, V4_NO_TABLE, got), -ENOENT);
	CU_ASSERT_EQUAL(chlb_dp__get_table(&dp, MAX_VIPS, got), -EINVAL);
	memcpy(bad, tables[V4_TCP], sizeof(bad));
	bad[M - 1] = MAX_BACKENDS;
	CU_ASSERT_EQUAL(chlb_dp__set_table(&dp, V4_TCP, bad), -EINVAL);
	CU_ASSERT_EQUAL(chlb_dp__set_table(&dp, MAX_VIPS, tables[V4_TCP]), -EINVAL);
	/* a rejected table changed nothing */
	CU_ASSERT_EQUAL(chlb_dp__get_table(&dp, V4_TCP, got), 0);
	CU_ASSERT(!memcmp(got, tables[V4_TCP], sizeof(got)));
	CU_ASSERT_EQUAL(chlb_dp__clear_table(&dp, V4_NO_TABLE), 0);
}

/* Clearing a table makes its VIP drop; setting it again restores it. */
static void test_clear_table(void)
{
	const struct xdp_case *tcp4 = &cases[0];
	struct xdp_case drop = *tcp4;
	__u32 got[M];

	drop.desc = "VIP after clear_table";
	drop.verdict = XDP_DROP;
	drop.reason = CHLB_CNT_DROP_NO_BACKEND;
	CU_ASSERT_FATAL(chlb_dp__clear_table(&dp, V4_TCP) == 0);
	CU_ASSERT_EQUAL(chlb_dp__get_table(&dp, V4_TCP, got), -ENOENT);
	run_case(&drop);
	CU_ASSERT_FATAL(chlb_dp__set_table(&dp, V4_TCP, tables[V4_TCP]) == 0);
	run_case(tcp4);
}

static void test_vip_add_del(void)
{
	struct chlb_vip_info info = { .id = V4_TCP, .method = CHLB_METHOD_DSR };
	struct xdp_case gone = cases[0];
	struct chlb_vip_key key, unknown;

	gone.desc = "deleted VIP";
	gone.verdict = XDP_PASS;
	gone.reason = CHLB_CNT_PASS_NOT_VIP;
	gone.vip = NO_VIP;
	pkt_vip_key(4, "10.0.0.100", 80, IPPROTO_TCP, &key);
	pkt_vip_key(4, "10.9.9.9", 80, IPPROTO_TCP, &unknown);
	CU_ASSERT_EQUAL(chlb_dp__vip_add(&dp, &key, &info), -EEXIST);
	CU_ASSERT_EQUAL(chlb_dp__vip_del(&dp, &unknown), -ENOENT);
	info.id = MAX_VIPS;
	CU_ASSERT_EQUAL(chlb_dp__vip_add(&dp, &unknown, &info), -EINVAL);
	CU_ASSERT_FATAL(chlb_dp__vip_del(&dp, &key) == 0);
	run_case(&gone);
	info.id = V4_TCP;
	CU_ASSERT_FATAL(chlb_dp__vip_add(&dp, &key, &info) == 0);
	run_case(&cases[0]);
	/* the other VIPs were untouched by the index rebuilds */
	run_case(&cases[3]);
	run_case(&cases[4]);
}

/*
 * Many VIPs on one port and address family fill the index's probe
 * sequences; each must still be found, and non-VIPs still passed.
 */
static void test_vip_index_full(void)
{
	struct chlb_dp_opts opts = { .max_vips = 64, .max_backends = 4, .table_size = 7 };
	struct chlb_vip_info info = { .method = CHLB_METHOD_DSR };
	struct chlb_backend be = { .flags = CHLB_BACKEND_F_IN_USE };
	struct pkt_spec s = { TCP4("", 80) };
	__u32 slots[7] = { 1, 1, 1, 1, 1, 1, 1 }, one = 1;
	struct chlb_vip_key key;
	struct xdp_result r;
	struct chlb *sk = NULL;
	struct chlb_dp d;
	__u8 f[PKT_MAX];
	char addr[32];
	int i, fd, ok = 1;

	CU_ASSERT_FATAL(chlb_dp__load(&opts, &sk) == 0);
	CU_ASSERT_FATAL(chlb_dp__from_skel(sk, &d) == 0);
	fd = bpf_program__fd(sk->progs.chlb_xdp);
	CU_ASSERT_FATAL(bpf_map_update_elem(d.backends_fd, &one, &be, BPF_ANY) == 0);
	for (i = 0; i < 64; i++) {
		snprintf(addr, sizeof(addr), "172.16.0.%d", i);
		pkt_vip_key(4, addr, 80, IPPROTO_TCP, &key);
		info.id = i;
		CU_ASSERT_FATAL(chlb_dp__set_table(&d, i, slots) == 0);
		CU_ASSERT_FATAL(chlb_dp__vip_add(&d, &key, &info) == 0);
	}
	for (i = 0; i < 128; i++) {
		snprintf(addr, sizeof(addr), "172.16.0.%d", i);
		s.dst = addr;
		CU_ASSERT_FATAL(xdp_run(fd, f, pkt_build(&s, f, sizeof(f)), &r) == 0);
		ok &= r.verdict == (i < 64 ? XDP_TX : XDP_PASS);
	}
	CU_ASSERT(ok);
	chlb__destroy(sk);
}

/* ---- the VIP index: seeded, sized, any VIP set up to the limit ----------- */

/* The unseeded hash of chlb's VIP index before ABI 3: words folded by XOR. */
static __u32 old_vip_hash(const struct chlb_vip_key *k)
{
	__u64 a0, a1;
	__u32 tail;

	memcpy(&a0, k->addr, 8);
	memcpy(&a1, k->addr + 8, 8);
	memcpy(&tail, &k->port, 4);
	return (__u32)(((a0 ^ chlb_rotl64(a1, 29) ^ ((__u64)tail << 7)) * CHLB_P1) >> 32);
}

static __u64 old_fold(const struct chlb_vip_key *k)
{
	__u64 a1;
	__u32 tail;

	memcpy(&a1, k->addr + 8, 8);
	memcpy(&tail, &k->port, 4);
	return chlb_rotl64(a1, 29) ^ ((__u64)tail << 7);
}

/*
 * n IPv4 TCP VIPs (one port per address in 10.0.0.0/8) whose address and
 * port bits cancel in the old fold: they all had one home slot, whatever
 * the index size, so the 9th failed with ENOSPC. The number found.
 */
static int adversarial_vips(struct chlb_vip_key *keys, int n)
{
	struct chlb_vip_key t, k;
	__u64 need;
	__u32 a;
	__u16 port;
	int got = 0;

	pkt_vip_key(4, "10.0.0.0", 80, IPPROTO_TCP, &t);
	for (a = 0x0a000000; got < n && a < 0x0b000000; a++) {
		k = t;
		k.port = 0;
		*(__be32 *)(k.addr + 12) = htonl(a);
		need = old_fold(&t) ^ old_fold(&k);
		if (need & ~(0xffffULL << 7))
			continue;	/* no port makes this address collide */
		port = (__u16)(need >> 7);
		memcpy(&k.port, &port, 2);
		if (old_vip_hash(&k) == old_vip_hash(&t))
			keys[got++] = k;
	}
	return got;
}

/* A TCP frame to a VIP key's address and port, to the interface's MAC. */
static ssize_t frame_to(const struct chlb_vip_key *k, __u16 port_xor, __u8 *f)
{
	char dst[INET_ADDRSTRLEN];
	struct pkt_spec s = { TCP4(dst, ntohs(k->port) ^ port_xor) };

	inet_ntop(AF_INET, k->addr + 12, dst, sizeof(dst));
	memcpy(s.dmac, IF_MAC, 6);
	return pkt_build(&s, f, PKT_MAX);
}

/* Every key is a VIP (no table: XDP_DROP); port ^ 1 on its address is not. */
static int all_found(int fd, const struct chlb_vip_key *keys, int n)
{
	struct xdp_result r;
	__u8 f[PKT_MAX];
	int i, bad = 0;

	for (i = 0; i < n; i++) {
		bad += xdp_run(fd, f, frame_to(&keys[i], 0, f), &r) || r.verdict != XDP_DROP;
		bad += xdp_run(fd, f, frame_to(&keys[i], 1, f), &r) || r.verdict != XDP_PASS;
	}
	return bad;
}

static double secs_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec - t0->tv_sec + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * --max-vips 65536 (the CLI's limit) filled with VIPs that all collided
 * under the old hash: one build of the index takes them all, every one is
 * found and nothing else is; one more is refused by chlb_vips, the limit.
 */
static void test_vip_index_limit(void)
{
	enum { N = 65536 };
	struct chlb_dp_opts opts = { .max_vips = N, .max_backends = 4, .table_size = 3 };
	struct chlb_vip_info info = { .method = CHLB_METHOD_DSR };
	struct chlb_vip_key *keys = calloc(N, sizeof(*keys)), extra;
	struct chlb_vip_index_hdr hdr;
	struct timespec t0;
	struct chlb *sk = NULL;
	struct chlb_dp d;
	int i;

	CU_ASSERT_FATAL(keys && adversarial_vips(keys, N) == N);	/* all 10/8 holds */
	pkt_vip_key(4, "11.0.0.1", 80, IPPROTO_TCP, &extra);
	CU_ASSERT_FATAL(chlb_dp__load(&opts, &sk) == 0);
	CU_ASSERT_FATAL(chlb_dp__from_skel(sk, &d) == 0);
	for (i = 0; i < N; i++) {
		info.id = i;
		CU_ASSERT_FATAL(bpf_map_update_elem(d.vips_fd, &keys[i], &info, BPF_NOEXIST) == 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CU_ASSERT_FATAL(chlb_dp__vip_sync(&d) == 0);
	CU_ASSERT_FATAL(chlb_dp__vip_index_hdr(&d, &hdr) == 0);
	printf("\n    %d VIPs of one old home slot: index built in %.0f ms, %u slots, %u seed(s) "
	       "tried, %u overflowed, longest probe %u slots\n",
	       N, secs_since(&t0) * 1000, chlb_vip_index_size(N), hdr.seeds_tried, hdr.overflow,
	       hdr.max_probe);
	CU_ASSERT(hdr.vips == N && hdr.max_probe <= CHLB_VIP_PROBES);
	CU_ASSERT_EQUAL(all_found(bpf_program__fd(sk->progs.chlb_xdp), keys, N), 0);
	info.id = 0;
	CU_ASSERT_EQUAL(chlb_dp__vip_add(&d, &extra, &info), -E2BIG);
	chlb__destroy(sk);
	free(keys);
}

/*
 * The same keys one `vip add` at a time (each rebuilds the index) up to a
 * limit of 256; the 257th is refused by the limit, not by the index.
 */
static void test_vip_add_to_limit(void)
{
	enum { N = 256 };
	struct chlb_dp_opts opts = { .max_vips = N, .max_backends = 4, .table_size = 3 };
	struct chlb_vip_info info = { .method = CHLB_METHOD_DSR };
	struct chlb_vip_key keys[N + 1];
	struct chlb_vip_index_hdr hdr;
	struct chlb *sk = NULL;
	struct chlb_dp d;
	__u64 seed = 0;
	int i, err = 0, seeds = 0;

	CU_ASSERT_FATAL(adversarial_vips(keys, N + 1) == N + 1);
	CU_ASSERT_FATAL(chlb_dp__load(&opts, &sk) == 0);
	CU_ASSERT_FATAL(chlb_dp__from_skel(sk, &d) == 0);
	for (i = 0; i < N && !err; i++) {
		info.id = i;
		err = chlb_dp__vip_add(&d, &keys[i], &info);
		CU_ASSERT_EQUAL(err, 0);
		CU_ASSERT_FATAL(chlb_dp__vip_index_hdr(&d, &hdr) == 0);
		seeds += hdr.seed != seed;	/* every build draws its own */
		seed = hdr.seed;
	}
	CU_ASSERT_EQUAL(seeds, N);
	info.id = 0;
	CU_ASSERT_EQUAL(chlb_dp__vip_add(&d, &keys[N], &info), -E2BIG);
	CU_ASSERT_EQUAL(all_found(bpf_program__fd(sk->progs.chlb_xdp), keys, N), 0);
	chlb__destroy(sk);
}

/*
 * A VIP left out of the index (its CHLB_VIP_PROBES slots all taken) is
 * found through chlb_vips; a non-VIP with the same full probe sequence,
 * or an empty home slot, is passed. The index is built by hand here: a
 * random seed practically never leaves one out.
 */
static void test_vip_index_overflow(void)
{
	struct chlb_dp_opts opts = { .max_vips = 16, .max_backends = 4, .table_size = 3 };
	__u32 size = chlb_vip_index_size(16), h, i, zero = 0, three = 3, slots3[3] = { 3, 3, 3 };
	struct chlb_vip_slot *slots = calloc(size + 1, sizeof(*slots));
	struct chlb_vip_index_hdr *hdr = (struct chlb_vip_index_hdr *)&slots[size], got;
	struct chlb_vip_info info = { .id = 3, .method = CHLB_METHOD_DSR };
	struct chlb_backend be = { .flags = CHLB_BACKEND_F_IN_USE, .mac = { 2, 0, 0, 0, 0, 3 } };
	struct chlb_vip_key left_out, twin, lone;
	struct xdp_result r;
	struct chlb *sk = NULL;
	struct chlb_dp d;
	__u8 f[PKT_MAX];
	char addr[32];
	int fd, prog, n;

	CU_ASSERT_FATAL(slots && chlb_dp__load(&opts, &sk) == 0);
	CU_ASSERT_FATAL(chlb_dp__from_skel(sk, &d) == 0);
	prog = bpf_program__fd(sk->progs.chlb_xdp);
	hdr->seed = 0x5eedULL;
	pkt_vip_key(4, "10.0.0.100", 80, IPPROTO_TCP, &left_out);
	h = chlb_vip_hash(&left_out, hdr->seed);
	/* other VIPs of the same home slot in all its slots, then a non-VIP */
	for (i = 0, n = 0; n <= CHLB_VIP_PROBES && i < 1000000; i++) {
		snprintf(addr, sizeof(addr), "10.1.%u.%u", i >> 8 & 255, i & 255);
		pkt_vip_key(4, addr, 80, IPPROTO_TCP, &twin);
		if ((chlb_vip_hash(&twin, hdr->seed) ^ h) & (size - 1))
			continue;
		if (n < CHLB_VIP_PROBES) {
			slots[(h + n) & (size - 1)].key = twin;
			slots[(h + n) & (size - 1)].info = (struct chlb_vip_info){ .id = 4 + n };
		}
		n++;
	}
	CU_ASSERT_FATAL(n == CHLB_VIP_PROBES + 1);
	for (i = 0; i < 1000000; i++) {	/* and one whose home slot is empty */
		snprintf(addr, sizeof(addr), "10.2.%u.%u", i >> 8 & 255, i & 255);
		pkt_vip_key(4, addr, 80, IPPROTO_TCP, &lone);
		if (!slots[chlb_vip_hash(&lone, hdr->seed) & (size - 1)].key.family)
			break;
	}
	hdr->vips = CHLB_VIP_PROBES + 1;
	hdr->overflow = 1;
	CU_ASSERT_FATAL(bpf_map_update_elem(d.backends_fd, &three, &be, BPF_ANY) == 0);
	CU_ASSERT_FATAL(chlb_dp__set_table(&d, 3, slots3) == 0);
	CU_ASSERT_FATAL(bpf_map_update_elem(d.vips_fd, &left_out, &info, BPF_NOEXIST) == 0);
	fd = dp_create_vip_index(16);
	CU_ASSERT_FATAL(fd >= 0 && dp_map_copy(fd, slots, size + 1, sizeof(*slots), 1) == 0);
	CU_ASSERT_FATAL(bpf_map_update_elem(d.vip_index_fd, &zero, &fd, BPF_ANY) == 0);
	close(fd);
	CU_ASSERT(chlb_dp__vip_index_hdr(&d, &got) == 0 && got.seed == 0x5eedULL &&
		  got.overflow == 1);
	CU_ASSERT(xdp_run(prog, f, frame_to(&left_out, 0, f), &r) == 0 && r.verdict == XDP_TX &&
		  r.out[5] == 3);
	CU_ASSERT(xdp_run(prog, f, frame_to(&slots[(h + 5) & (size - 1)].key, 0, f), &r) == 0 &&
		  r.verdict == XDP_DROP);	/* in the index; no table */
	CU_ASSERT(xdp_run(prog, f, frame_to(&twin, 0, f), &r) == 0 && r.verdict == XDP_PASS);
	CU_ASSERT(xdp_run(prog, f, frame_to(&lone, 0, f), &r) == 0 && r.verdict == XDP_PASS);
	chlb__destroy(sk);
	free(slots);
}

/* Before any index exists, the program answers from chlb_vips itself. */
static void test_vip_hash_fallback(void)
{
	struct chlb_dp_opts opts = { .max_vips = 4, .max_backends = 4, .table_size = 3 };
	struct chlb_vip_info info = { .id = 2, .method = CHLB_METHOD_DSR };
	struct chlb_backend be = { .flags = CHLB_BACKEND_F_IN_USE };
	struct pkt_spec s = { UDP6("2001:db8::5", 53) };
	__u32 slots[3] = { 3, 3, 3 }, three = 3;
	struct chlb_vip_key key;
	struct xdp_result r;
	struct chlb *sk = NULL;
	struct chlb_dp d;
	__u8 f[PKT_MAX];
	int fd;

	CU_ASSERT_FATAL(chlb_dp__load(&opts, &sk) == 0);
	CU_ASSERT_FATAL(chlb_dp__from_skel(sk, &d) == 0);
	fd = bpf_program__fd(sk->progs.chlb_xdp);
	be.mac[0] = 0x42;
	pkt_vip_key(6, "2001:db8::5", 53, IPPROTO_UDP, &key);
	CU_ASSERT_FATAL(bpf_map_update_elem(d.backends_fd, &three, &be, BPF_ANY) == 0);
	CU_ASSERT_FATAL(chlb_dp__set_table(&d, 2, slots) == 0);
	CU_ASSERT_FATAL(bpf_map_update_elem(d.vips_fd, &key, &info, BPF_NOEXIST) == 0);
	CU_ASSERT_FATAL(xdp_run(fd, f, pkt_build(&s, f, sizeof(f)), &r) == 0);
	CU_ASSERT_EQUAL(r.verdict, XDP_TX);
	CU_ASSERT_EQUAL(r.out[0], 0x42);
	CU_ASSERT_FATAL(chlb_dp__vip_sync(&d) == 0);
	CU_ASSERT_FATAL(xdp_run(fd, f, pkt_build(&s, f, sizeof(f)), &r) == 0);
	CU_ASSERT_EQUAL(r.verdict, XDP_TX);
	chlb__destroy(sk);
}

/* ---- the frame builders' checksums -------------------------------------- */

/* Ones' complement sum of big-endian words, folded: 0xffff when valid. */
static __u16 csum_check(const __u8 *p, size_t n, __u32 sum)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* Sum of the pseudo-header (addresses, protocol, L4 length). */
static __u32 pseudo_sum(const __u8 *saddr, size_t alen, __u8 proto, size_t l4len)
{
	__u32 sum = proto + (__u32)l4len;
	size_t i;

	for (i = 0; i < 2 * alen; i += 2)
		sum += saddr[i] << 8 | saddr[i + 1];
	return sum;
}

/* Every builder output verifies: IPv4 header, TCP, UDP, ICMP, ICMPv6. */
static void test_builder_checksums(void)
{
	static const struct pkt_spec specs[] = {
		{ TCP4("10.0.0.100", 80), .payload_len = 33 },
		{ UDP4("10.0.0.100", 53), .payload_len = 7, .ip_opt_len = 12, .vlan = 5 },
		{ .family = 4, .proto = IPPROTO_ICMP, CLIENT4, .dst = "10.0.0.100" },
		{ TCP6("2001:db8::100", 443), .payload_len = 1 },
		{ UDP6("2001:db8::100", 53), .payload_len = 100 },
		{ .family = 6, .proto = IPPROTO_ICMPV6, CLIENT6, .dst = "2001:db8::100" },
	};
	size_t i, l3, hlen, l4len;
	__u8 f[PKT_MAX];
	ssize_t n;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		n = pkt_build(&specs[i], f, sizeof(f));
		CU_ASSERT_FATAL(n > 0);
		l3 = specs[i].vlan ? 18 : 14;
		if (specs[i].family == 4) {
			hlen = (f[l3] & 0xf) * 4;
			l4len = n - l3 - hlen;
			CU_ASSERT_EQUAL(csum_check(f + l3, hlen, 0), 0xffff);
			CU_ASSERT_EQUAL(csum_check(f + l3 + hlen, l4len, specs[i].proto == IPPROTO_ICMP ? 0 :
				pseudo_sum(f + l3 + 12, 4, specs[i].proto, l4len)), 0xffff);
		} else {
			l4len = n - l3 - 40;
			CU_ASSERT_EQUAL(csum_check(f + l3 + 40, l4len,
				pseudo_sum(f + l3 + 8, 16, specs[i].proto, l4len)), 0xffff);
		}
	}
}

/* ---- pinned state -------------------------------------------------------- */

#define PIN_PREFIX "chlb-test-dp-"	/* + pid, under /sys/fs/bpf */

/* Run one TCP frame to 10.0.0.100:80 through a program; its verdict. */
static __u32 verdict_of(int fd, __u8 *mac5)
{
	struct pkt_spec s = { TCP4("10.0.0.100", 80) };
	struct xdp_result r;
	__u8 f[PKT_MAX];

	if (xdp_run(fd, f, pkt_build(&s, f, sizeof(f)), &r))
		return ~0u;
	*mac5 = r.out[5];
	return r.verdict;
}

/*
 * Maps pinned by name are found again by chlb_dp__open_pinned() and by a
 * second load, which reuses them: the state outlives the loader.
 */
static void test_pinned(void)
{
	struct chlb_dp_opts opts = { .max_vips = 3, .max_backends = 5, .table_size = 11,
				     .seed = 77, .if_mac = { 2, 0, 0, 0, 0, 9 } };
	struct chlb_vip_info info = { .id = 2, .method = CHLB_METHOD_DSR };
	struct chlb_backend be = { .flags = CHLB_BACKEND_F_IN_USE, .mac = { 2, 0, 0, 0, 0, 4 } };
	__u32 slots[11] = { 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4 }, four = 4, zero = 0;
	struct chlb *a = NULL, *b = NULL;
	struct chlb_config cfg;
	struct chlb_vip_key key;
	struct chlb_dp pd;
	char dir[64], missing[80];
	__u8 mac5 = 0;

	pin_dir_remove_stale(PIN_PREFIX);
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/" PIN_PREFIX "%d", (int)getpid());
	snprintf(missing, sizeof(missing), "%s-missing", dir);
	pin_dir_remove(dir);
	opts.pin_dir = dir;
	CU_ASSERT_EQUAL(chlb_dp__open_pinned(dir, &pd, NULL, 0), -ENOENT);
	CU_ASSERT_FATAL(chlb_dp__load(&opts, &a) == 0);
	CU_ASSERT_FATAL(chlb_dp__open_pinned(dir, &pd, NULL, 0) == 0);
	CU_ASSERT(pd.table_size == 11 && pd.max_vips == 3 && pd.max_backends == 5);
	CU_ASSERT(pd.owns_fds && pd.ncpus > 0);
	CU_ASSERT_FATAL(bpf_map_lookup_elem(pd.config_fd, &zero, &cfg) == 0);
	CU_ASSERT(cfg.seed == 77 && cfg.if_mac[5] == 9);
	/* state written through the pins drives the loaded program */
	pkt_vip_key(4, "10.0.0.100", 80, IPPROTO_TCP, &key);
	CU_ASSERT(bpf_map_update_elem(pd.backends_fd, &four, &be, BPF_ANY) == 0);
	CU_ASSERT(chlb_dp__set_table(&pd, 2, slots) == 0);
	CU_ASSERT(chlb_dp__vip_add(&pd, &key, &info) == 0);
	CU_ASSERT_EQUAL(verdict_of(bpf_program__fd(a->progs.chlb_xdp), &mac5), XDP_TX);
	CU_ASSERT_EQUAL(mac5, 4);
	/* a second load reuses the pinned maps, VIP, table and all */
	chlb__destroy(a);
	CU_ASSERT_FATAL(chlb_dp__load(&opts, &b) == 0);
	CU_ASSERT_EQUAL(verdict_of(bpf_program__fd(b->progs.chlb_xdp), &mac5), XDP_TX);
	CU_ASSERT_EQUAL(mac5, 4);
	chlb__destroy(b);
	chlb_dp__close(&pd);
	CU_ASSERT_EQUAL(pd.vips_fd, -1);
	pin_dir_remove(dir);
	CU_ASSERT_EQUAL(access(dir, F_OK), -1);
	CU_ASSERT_EQUAL(chlb_dp__open_pinned(missing, &pd, NULL, 0), -ENOENT);
}

static void test_bad_opts(void)
{
	struct chlb_dp_opts opts = { .max_vips = 4, .max_backends = 4, .table_size = 0 };
	struct chlb *sk = (struct chlb *)&opts;

	CU_ASSERT_EQUAL(chlb_dp__load(&opts, &sk), -EINVAL);
	CU_ASSERT_PTR_NULL(sk);
	opts.table_size = CHLB_MAX_TABLE_SIZE + 1;
	CU_ASSERT_EQUAL(chlb_dp__load(&opts, &sk), -EINVAL);
	opts.table_size = 5;
	opts.max_vips = 0;
	CU_ASSERT_EQUAL(chlb_dp__load(&opts, &sk), -EINVAL);
}

int main(void)
{
	static CU_TestInfo tests[] = {
		{ "fixture table", test_fixtures },
		{ "destination MAC: the interface's only", test_dst_mac },
		{ "destination MAC: any (--dst-mac any)", test_dst_mac_any },
		{ "IPv4 options IHL 6..15", test_ipv4_options },
		{ "truncations 0..len", test_truncation },
		{ "counters after 6500 random flows", test_counters_many_flows },
		{ "table get/set/validation", test_table_api },
		{ "clear table drops, set restores", test_clear_table },
		{ "VIP add/del keeps the index right", test_vip_add_del },
		{ "64 VIPs in the index", test_vip_index_full },
		{ "hash map fallback before an index", test_vip_hash_fallback },
		{ "65536 VIPs of one old home slot, --max-vips 65536", test_vip_index_limit },
		{ "vip add one by one up to the limit", test_vip_add_to_limit },
		{ "a VIP left out of the index is found", test_vip_index_overflow },
		{ "bad load options", test_bad_opts },
		{ "pinned maps found again", test_pinned },
		{ "frame builders' checksums", test_builder_checksums },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("xdp", suite_init, suite_clean, tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
