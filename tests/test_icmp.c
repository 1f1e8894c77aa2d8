// SPDX-License-Identifier: GPL-2.0
/*
 * ICMP errors about VIP flows, the fragments policy and IPv6 extension
 * headers, through the real XDP program (loaded with the skeleton, not
 * attached, not pinned; frames run with BPF_PROG_TEST_RUN).
 *
 * The VIPs' tables come from the library's rings (chlb_ring__table), and
 * the backend a frame must reach is computed here independently, as
 * `chlb lookup` does: the shared flow hash of the client -> VIP five-tuple
 * looked up in the ring (chlb_ring__lookup_hash). An ICMP error quoting a
 * backend's reply must reach the backend of the flow turned around, its
 * frame leaving with only the MACs rewritten (method dsr), counted in the
 * VIP's and the backend's packets and as icmp_steered; with the flow table
 * on, the backend recorded for the flow when it differs from the table's.
 * Every global counter is checked after every frame.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <CUnit/Basic.h>

#include "chlb/chlb.h"
#include "chlb/shared.h"	/* the skeleton names its types */
#include "chlb.skel.h"
#include "dp/dataplane.h"
#include "helpers/pkt.h"
#include "helpers/xdp_run.h"
#include "helpers/cu_check.h"
#include "helpers/cu_main.h"

#define SEED		0x5eed0123456789abULL
#define M		251
#define VNODES		50
#define MAX_VIPS	8
#define MAX_BACKENDS	32
#define MAX_BE		4
#define NONE		-1

static const __u8 IF_MAC[6] = { 0x02, 0x1c, 0, 0, 0, 0xfe };
static const __u8 OTHER_MAC[6] = { 0x02, 0x1c, 0, 0, 0, 0x99 };

struct tvip {
	int family;
	const char *addr;
	__u16 port;
	__u8 proto;
	int nbe;
	__u32 first;			/* backend ids first .. first + nbe - 1 */
	struct chlb_ring *ring;
	struct chlb_backend_info be[MAX_BE];	/* canonical order: id first + i */
};

/* Ids are the indexes: VIP 0 is the lowest id at 10.0.0.100 and 2 at 2001:db8::100. */
enum { V4_TCP, V4_UDP, V6_TCP, V6_UDP, V4_OTHER };

static struct tvip vips[] = {
	[V4_TCP] = { 4, "10.0.0.100", 80, IPPROTO_TCP, 3, 0 },
	[V4_UDP] = { 4, "10.0.0.100", 53, IPPROTO_UDP, 2, 4 },
	[V6_TCP] = { 6, "2001:db8::100", 443, IPPROTO_TCP, 3, 8 },
	[V6_UDP] = { 6, "2001:db8::100", 53, IPPROTO_UDP, 2, 12 },
	[V4_OTHER] = { 4, "10.0.0.101", 80, IPPROTO_TCP, 1, 16 },
};
#define NVIPS ((int)(sizeof(vips) / sizeof(vips[0])))

static struct chlb *skel;
static struct chlb_dp dp;
static int prog_fd;

/* ---- set-up: rings, backends, tables, VIPs ---------------------------------- */

static void backend_mac(__u32 id, __u8 *mac)
{
	memcpy(mac, (__u8[6]){ 0x02, 0xbe, 0, 0, 0, (__u8)id }, 6);
}

/* The VIP's table from its ring: slot -> backend id (canonical index + first). */
static int install_table(int v)
{
	__u32 owners[M], s;

	if (chlb_ring__table(vips[v].ring, owners, M))
		return -EINVAL;
	for (s = 0; s < M; s++)
		if (owners[s] != CHLB_NO_BACKEND)
			owners[s] += vips[v].first;
	return chlb_dp__set_table(&dp, v, owners);
}

static int vip_setup(int v)
{
	struct chlb_ring_opts o = { .sz = sizeof(o), .vnodes = VNODES, .table_size = M,
				    .seed = SEED, .max_backends = MAX_BACKENDS };
	struct chlb_vip_info info = { .id = v, .method = CHLB_METHOD_DSR };
	struct tvip *t = &vips[v];
	struct chlb_backend be;
	struct chlb_vip_key key;
	char addr[64];
	__u32 id;
	int i, err;

	err = chlb_ring__new(&o, &t->ring);
	for (i = 0; !err && i < t->nbe; i++) {
		if (t->family == 4)
			snprintf(addr, sizeof(addr), "10.1.%d.%d", v, i + 1);
		else
			snprintf(addr, sizeof(addr), "2001:db8:1:%x::%x", v, i + 1);
		err = chlb_ring__add(t->ring, addr, 1 + i);
	}
	if (err || chlb_ring__backends(t->ring, t->be, MAX_BE) != t->nbe)
		return -EINVAL;
	for (i = 0; i < t->nbe; i++) {
		id = t->first + i;
		memset(&be, 0, sizeof(be));
		memcpy(be.addr, t->be[i].addr.bytes, 16);
		backend_mac(id, be.mac);
		be.weight = 1 + i;
		be.vip_id = v;
		be.flags = CHLB_BACKEND_F_IN_USE | CHLB_BACKEND_F_MAC_SET;
		if (bpf_map_update_elem(dp.backends_fd, &id, &be, BPF_ANY))
			return -errno;
	}
	err = install_table(v);
	if (!err)
		err = pkt_vip_key(t->family, t->addr, t->port, t->proto, &key);
	return err ? err : chlb_dp__vip_add(&dp, &key, &info);
}

static int suite_init(void)
{
	struct chlb_dp_opts opts = {
		.max_vips = MAX_VIPS, .max_backends = MAX_BACKENDS, .table_size = M,
		.seed = SEED, .dst_mac_check = 1, .flow_entries = 4096,
	};
	int v, err;

	memcpy(opts.if_mac, IF_MAC, 6);
	err = chlb_dp__load(&opts, &skel);
	if (!err)
		err = chlb_dp__from_skel(skel, &dp);
	for (v = 0; !err && v < NVIPS; v++)
		err = vip_setup(v);
	if (err) {
		fprintf(stderr, "test_icmp: set-up failed: %s\n", strerror(-err));
		return -1;
	}
	prog_fd = bpf_program__fd(skel->progs.chlb_xdp);
	return 0;
}

static int suite_clean(void)
{
	int v;

	for (v = 0; v < NVIPS; v++)
		chlb_ring__free(vips[v].ring);
	chlb_dp__close(&dp);
	chlb__destroy(skel);
	return 0;
}

/* ---- frames --------------------------------------------------------------- */

#define CLIENT4 "192.168.1.7"
#define CLIENT6 "2001:db8:5::7"
#define ROUTER4 "192.0.2.1"
#define ROUTER6 "2001:db8:ff::1"
#define CPORT 40000

/* A client's packet to VIP v (the flow's direction) or the backend's reply. */
static struct pkt_spec flow_spec(int v, const char *client, __u16 cport, int reply)
{
	const struct tvip *t = &vips[v];
	struct pkt_spec s = { .family = t->family, .proto = t->proto, .src = client,
			      .dst = t->addr, .sport = cport, .dport = t->port,
			      .payload_len = 100 };

	if (reply) {
		s.src = t->addr;
		s.dst = client;
		s.sport = t->port;
		s.dport = cport;
	}
	memcpy(s.dmac, IF_MAC, 6);
	return s;
}

/* The backend id the ring names for the flow of a (client -> VIP) spec. */
static __u32 ring_backend(int v, const struct pkt_spec *fwd)
{
	struct chlb_flow_key key;
	struct chlb_addr a;
	int i;

	if (pkt_flow_key(fwd, &key) ||
	    chlb_ring__lookup_hash(vips[v].ring, chlb_flow_hash(&key, SEED), &a))
		return CHLB_NO_BACKEND;
	for (i = 0; i < vips[v].nbe; i++)
		if (!memcmp(a.bytes, vips[v].be[i].addr.bytes, 16))
			return vips[v].first + i;
	return CHLB_NO_BACKEND;
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = (__u8)v;
}

/*
 * An ICMP (family 4) or ICMPv6 error from a router to dst quoting qlen
 * bytes of quote; its length. Checksums are left 0: chlb reads none.
 */
static __u32 icmp_error(int family, const char *dst, __u8 type, __u8 code, __u16 mtu,
			const __u8 *quote, __u32 qlen, __u8 *f)
{
	__u32 ip = family == 4 ? 20 : 40, off = 14 + ip;

	memset(f, 0, PKT_MAX);
	memcpy(f, IF_MAC, 6);
	memcpy(f + 6, (__u8[6]){ 0x02, 0, 0, 0, 0, 0x01 }, 6);
	put16(f + 12, family == 4 ? 0x0800 : 0x86dd);
	if (family == 4) {
		f[14] = 0x45;
		put16(f + 16, ip + 8 + qlen);
		f[22] = 64;
		f[23] = IPPROTO_ICMP;
		inet_pton(AF_INET, ROUTER4, f + 26);
		inet_pton(AF_INET, dst, f + 30);
	} else {
		f[14] = 0x60;
		put16(f + 18, 8 + qlen);
		f[20] = IPPROTO_ICMPV6;
		f[21] = 64;
		inet_pton(AF_INET6, ROUTER6, f + 22);
		inet_pton(AF_INET6, dst, f + 38);
	}
	f[off] = type;
	f[off + 1] = code;
	put16(f + off + 6, mtu);
	memcpy(f + off + 8, quote, qlen);
	return off + 8 + qlen;
}

/* The IP packet of a spec's frame (after its 14-byte Ethernet header). */
static __u32 ip_packet(const struct pkt_spec *s, __u8 *out)
{
	__u8 f[PKT_MAX];
	ssize_t n = pkt_build(s, f, sizeof(f));

	CU_ASSERT_FATAL(n > 14);
	memcpy(out, f + 14, n - 14);
	return n - 14;
}

/* An error about the backend's reply of the flow (v, client, cport), quoting qlen bytes. */
static __u32 error_about(int v, const char *client, __u16 cport, __u32 qlen, __u8 *f)
{
	struct pkt_spec r = flow_spec(v, client, cport, 1);
	__u8 q[PKT_MAX];
	__u32 n = ip_packet(&r, q);

	if (qlen > n)
		qlen = n;
	if (vips[v].family == 4)
		return icmp_error(4, vips[v].addr, 3, 4, 1400, q, qlen, f);
	return icmp_error(6, vips[v].addr, 2, 0, 1280, q, qlen, f);
}

/* Extension headers (types, each 8 * (len + 1) bytes) put after a frame's IPv6 header. */
static __u32 add_ext(__u8 *f, __u32 len, const __u8 *types, const __u8 *lens, int n)
{
	__u32 at = 14 + 40, total = 0, i;
	__u8 next = f[20], *e;

	for (i = 0; i < (__u32)n; i++)
		total += 8 * (lens[i] + 1u);
	memmove(f + at + total, f + at, len - at);
	memset(f + at, 0, total);
	f[20] = types[0];
	for (e = f + at, i = 0; i < (__u32)n; e += 8 * (lens[i] + 1u), i++) {
		e[0] = i + 1 < (__u32)n ? types[i + 1] : next;
		e[1] = lens[i];
		if (types[i] == 0 || types[i] == 60)
			e[2] = 1;	/* a PadN option over the rest */
	}
	put16(f + 18, (__u16)((f[18] << 8 | f[19]) + total));
	return len + total;
}

/* ---- running a frame and checking everything -------------------------------- */

struct counters {
	struct chlb_global_stats g;
	struct chlb_vip_stats v[NVIPS];
	struct chlb_backend_stats b[MAX_BACKENDS];
};

static void read_counters(struct counters *c)
{
	int i;

	CU_ASSERT_FATAL(chlb_dp__global_stats(&dp, &c->g) == 0);
	for (i = 0; i < NVIPS; i++)
		CU_ASSERT_FATAL(chlb_dp__vip_stats(&dp, i, &c->v[i]) == 0);
	for (i = 0; i < MAX_BACKENDS; i++)
		CU_ASSERT_FATAL(chlb_dp__backend_stats(&dp, i, &c->b[i]) == 0);
}

struct expect {
	const char *desc;
	__u32 verdict;
	int reason;
	int vip;		/* VIP whose packets count the frame, or NONE */
	__u32 bid;		/* XDP_TX: the backend */
	int frag_vip;		/* VIP whose fragments count it, or NONE */
	int steered;		/* an ICMP error sent on: icmp_steered */
	int flow;		/* a TCP/UDP frame with the flow table: hit (1) or miss (2) */
};

static __u64 delta_expected(const struct expect *e, int i)
{
	if (i == CHLB_CNT_RX || i == e->reason)
		return 1;
	if (i == CHLB_CNT_ICMP_STEERED)
		return e->steered;
	if (i == CHLB_CNT_FLOW_HIT)
		return e->flow == 1;
	if (i == CHLB_CNT_FLOW_MISS || i == CHLB_CNT_FLOW_INSERT)
		return e->flow == 2;
	return 0;
}

static void check_counters(const struct expect *e, __u32 len, const struct counters *a,
			   const struct counters *b)
{
	int i, counted;

	for (i = 0; i < CHLB_CNT_MAX; i++)
		CHECK(b->g.counters[i] - a->g.counters[i] == delta_expected(e, i), e->desc);
	for (i = 0; i < NVIPS; i++) {
		counted = i == e->vip;
		CHECK(b->v[i].packets - a->v[i].packets == (__u64)counted, e->desc);
		CHECK(b->v[i].bytes - a->v[i].bytes == (counted ? len : 0), e->desc);
		CHECK(b->v[i].no_backend == a->v[i].no_backend, e->desc);
		CHECK(b->v[i].fragments - a->v[i].fragments == (__u64)(i == e->frag_vip), e->desc);
	}
	for (i = 0; i < MAX_BACKENDS; i++) {
		counted = e->verdict == XDP_TX && (__u32)i == e->bid;
		CHECK(b->b[i].packets - a->b[i].packets == (__u64)counted, e->desc);
		CHECK(b->b[i].bytes - a->b[i].bytes == (counted ? len : 0), e->desc);
		/* with the flow table, a recorded flow is a new one; an error never is */
		CHECK(b->b[i].new_flows - a->b[i].new_flows == (__u64)(counted && e->flow == 2),
		      e->desc);
	}
}

/* Run a frame: verdict, exact output (MACs only, or nothing, changed), counters. */
static void run(const struct expect *e, const __u8 *f, __u32 len)
{
	struct counters *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct xdp_result r;
	__u8 want[PKT_MAX];
	int err;

	CU_ASSERT_FATAL(a && b);
	read_counters(a);
	err = xdp_run(prog_fd, f, len, &r);
	read_counters(b);
	CHECK(err == 0, e->desc);
	memcpy(want, f, len);
	if (e->verdict == XDP_TX) {
		CHECK(e->bid < MAX_BACKENDS, e->desc);
		backend_mac(e->bid, want);
		memcpy(want + 6, IF_MAC, 6);
	}
	CHECK(r.verdict == e->verdict, e->desc);
	CHECK(r.len == len && !memcmp(r.out, want, len), e->desc);
	check_counters(e, len, a, b);
	free(a);
	free(b);
}

static void run_pass(const char *desc, int reason, const __u8 *f, __u32 len)
{
	struct expect e = { desc, XDP_PASS, reason, NONE, CHLB_NO_BACKEND, NONE, 0, 0 };

	run(&e, f, len);
}

/* ---- ICMP errors ---------------------------------------------------------------- */

/* Frag needed / packet too big about each VIP's flows: to the ring's backend. */
static void test_icmp_steered(void)
{
	static const struct { int v; const char *client; __u32 qlen; } t[] = {
		{ V4_TCP, CLIENT4, 28 }, { V4_TCP, "198.51.100.9", 28 },
		{ V4_TCP, CLIENT4, 200 }, { V4_UDP, CLIENT4, 28 }, { V4_UDP, "203.0.113.5", 60 },
		{ V6_TCP, CLIENT6, 48 }, { V6_TCP, "2001:db8:77::1", 48 }, { V6_TCP, CLIENT6, 300 },
		{ V6_UDP, CLIENT6, 48 }, { V4_OTHER, CLIENT4, 28 },
	};
	__u8 f[PKT_MAX];
	size_t i;
	__u16 p;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		for (p = 0; p < 8; p++) {
			struct pkt_spec fwd = flow_spec(t[i].v, t[i].client, CPORT + 7 * p, 0);
			struct expect e = { "ICMP error quoting a VIP flow's reply", XDP_TX,
					    CHLB_CNT_TX, t[i].v, ring_backend(t[i].v, &fwd), NONE,
					    1, 0 };
			__u32 len = error_about(t[i].v, t[i].client, CPORT + 7 * p, t[i].qlen, f);

			run(&e, f, len);
		}
	}
}

/* The other error types (time exceeded, parameter problem, unreachable): the same. */
static void test_icmp_types(void)
{
	static const struct { int v; __u8 type, code; } t[] = {
		{ V4_TCP, 11, 0 }, { V4_UDP, 12, 0 }, { V4_TCP, 3, 1 },
		{ V6_TCP, 1, 4 }, { V6_UDP, 3, 0 }, { V6_TCP, 4, 0 },
	};
	__u8 f[PKT_MAX], q[PKT_MAX];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct pkt_spec r = flow_spec(t[i].v, CLIENT4, 40100, 1);
		struct pkt_spec fwd = flow_spec(t[i].v, CLIENT4, 40100, 0);
		struct expect e = { "time exceeded, parameter problem, unreachable", XDP_TX,
				    CHLB_CNT_TX, t[i].v, 0, NONE, 1, 0 };
		int fam = vips[t[i].v].family;
		__u32 len;

		if (fam == 6) {
			r = flow_spec(t[i].v, CLIENT6, 40100, 1);
			fwd = flow_spec(t[i].v, CLIENT6, 40100, 0);
		}
		e.bid = ring_backend(t[i].v, &fwd);
		ip_packet(&r, q);
		len = icmp_error(fam, vips[t[i].v].addr, t[i].type, t[i].code, 0, q,
				 fam == 4 ? 28 : 48, f);
		run(&e, f, len);
	}
}

/* A quoted IPv6 reply with extension headers: the same backend. */
static void test_icmp_quote_ext(void)
{
	static const __u8 types[] = { 0, 60 }, lens[] = { 0, 1 };
	struct pkt_spec r = flow_spec(V6_TCP, CLIENT6, CPORT, 1);
	struct pkt_spec fwd = flow_spec(V6_TCP, CLIENT6, CPORT, 0);
	struct expect e = { "packet too big quoting a reply with extension headers", XDP_TX,
			    CHLB_CNT_TX, V6_TCP, ring_backend(V6_TCP, &fwd), NONE, 1, 0 };
	__u8 fr[PKT_MAX], f[PKT_MAX];
	ssize_t n = pkt_build(&r, fr, sizeof(fr));
	__u32 len;

	CU_ASSERT_FATAL(n > 0);
	n = add_ext(fr, n, types, lens, 2);
	len = icmp_error(6, vips[V6_TCP].addr, 2, 0, 1280, fr + 14, 40 + 8 + 16 + 8, f);
	run(&e, f, len);
}

/* Errors chlb leaves to the kernel: unmodified, pass_other_proto. */
static void test_icmp_passed(void)
{
	struct pkt_spec echo = { .family = 4, .proto = IPPROTO_ICMP, .src = CLIENT4,
				 .dst = "10.0.0.100" };
	struct pkt_spec other = flow_spec(V4_TCP, CLIENT4, CPORT, 1);
	__u8 f[PKT_MAX], q[PKT_MAX];
	__u32 len;
	ssize_t n;

	memcpy(echo.dmac, IF_MAC, 6);
	n = pkt_build(&echo, f, sizeof(f));
	run_pass("echo request to a VIP address", CHLB_CNT_PASS_OTHER_PROTO, f, n);

	other.sport = 8080;	/* no VIP's port */
	ip_packet(&other, q);
	len = icmp_error(4, "10.0.0.100", 3, 4, 1400, q, 28, f);
	run_pass("error quoting a non-VIP flow", CHLB_CNT_PASS_OTHER_PROTO, f, len);
	len = icmp_error(4, "10.0.0.100", 11, 0, 0, q, 28, f);
	run_pass("time exceeded quoting a non-VIP flow", CHLB_CNT_PASS_OTHER_PROTO, f, len);

	len = error_about(V4_TCP, CLIENT4, CPORT, 24, f);
	run_pass("quote of 4 bytes of TCP", CHLB_CNT_PASS_OTHER_PROTO, f, len);
	len = error_about(V6_TCP, CLIENT6, CPORT, 44, f);
	run_pass("quote of 4 bytes of TCP (IPv6)", CHLB_CNT_PASS_OTHER_PROTO, f, len);

	len = error_about(V4_TCP, CLIENT4, CPORT, 28, f);
	f[14 + 20] = 8;	/* echo request with the same bytes */
	run_pass("echo request carrying a quote", CHLB_CNT_PASS_OTHER_PROTO, f, len);

	len = error_about(V4_TCP, CLIENT4, CPORT, 28, f);
	inet_pton(AF_INET, "10.0.0.99", f + 30);	/* the error to another address */
	run_pass("error to a non-VIP address", CHLB_CNT_PASS_OTHER_PROTO, f, len);

	len = error_about(V4_TCP, CLIENT4, CPORT, 28, f);
	inet_pton(AF_INET, "10.0.0.101", f + 30);	/* another VIP address than the reply's */
	run_pass("error to another VIP's address", CHLB_CNT_PASS_OTHER_PROTO, f, len);

	len = error_about(V4_TCP, CLIENT4, CPORT, 28, f);
	f[14 + 28 + 7] = 0x10;	/* the quoted reply a later fragment: no ports */
	run_pass("quote of a later fragment", CHLB_CNT_PASS_OTHER_PROTO, f, len);

	len = error_about(V4_TCP, CLIENT4, CPORT, 28, f);
	memcpy(f, OTHER_MAC, 6);
	run_pass("VIP flow's error to another MAC", CHLB_CNT_PASS_NOT_FOR_US, f, len);
}

/*
 * The flow table on: a flow recorded on a backend that then stops owning
 * slots (draining) keeps it, and so does an error about it; a flow not
 * recorded goes by the new table, its error too. The errors record
 * nothing (a later first packet of the flow is a miss).
 */
static void test_icmp_flow_table(void)
{
	struct pkt_spec fwd = flow_spec(V4_TCP, CLIENT4, 41000, 0);
	struct pkt_spec fresh = flow_spec(V4_TCP, CLIENT4, 0, 0);
	__u32 old = ring_backend(V4_TCP, &fwd), now, len, i;
	struct expect e;
	__u8 f[PKT_MAX];
	char addr[64];
	ssize_t n;

	fwd.tcp_flags = PKT_TCP_ACK;
	n = pkt_build(&fwd, f, sizeof(f));
	e = (struct expect){ "the flow's first packet: recorded", XDP_TX, CHLB_CNT_TX, V4_TCP,
			     old, NONE, 0, 2 };
	run(&e, f, n);
	chlb_addr_format(&vips[V4_TCP].be[old - vips[V4_TCP].first].addr, addr, sizeof(addr));
	CU_ASSERT_FATAL(chlb_ring__set_state(vips[V4_TCP].ring, addr, CHLB_STATE_DRAINING) == 0);
	CU_ASSERT_FATAL(install_table(V4_TCP) == 0);
	now = ring_backend(V4_TCP, &fwd);
	CU_ASSERT_FATAL(now != old && now != CHLB_NO_BACKEND);

	len = error_about(V4_TCP, CLIENT4, 41000, 28, f);
	e = (struct expect){ "error about a recorded flow: its backend", XDP_TX, CHLB_CNT_TX,
			     V4_TCP, old, NONE, 1, 0 };
	run(&e, f, len);
	n = pkt_build(&fwd, f, sizeof(f));
	e = (struct expect){ "the recorded flow's packet: same backend", XDP_TX, CHLB_CNT_TX,
			     V4_TCP, old, NONE, 0, 1 };
	run(&e, f, n);

	/* a flow the old table gave to the draining backend, never recorded */
	for (i = 0; i < 10000; i++) {
		CU_ASSERT_FATAL(chlb_ring__set_state(vips[V4_TCP].ring, addr,
						     CHLB_STATE_ACTIVE) == 0);
		fresh.sport = 42000 + i;
		if (ring_backend(V4_TCP, &fresh) != old)
			continue;
		CU_ASSERT_FATAL(chlb_ring__set_state(vips[V4_TCP].ring, addr,
						     CHLB_STATE_DRAINING) == 0);
		break;
	}
	CU_ASSERT_FATAL(i < 10000);
	now = ring_backend(V4_TCP, &fresh);
	len = error_about(V4_TCP, CLIENT4, fresh.sport, 28, f);
	e = (struct expect){ "error about an unrecorded flow: the table's backend", XDP_TX,
			     CHLB_CNT_TX, V4_TCP, now, NONE, 1, 0 };
	run(&e, f, len);
	run(&e, f, len);	/* still not recorded, still the table's */
	CU_ASSERT(now != old);

	CU_ASSERT_FATAL(chlb_ring__set_state(vips[V4_TCP].ring, addr, CHLB_STATE_ACTIVE) == 0);
	CU_ASSERT_FATAL(install_table(V4_TCP) == 0);
}

/* ---- fragments ------------------------------------------------------------------ */

static void frag_case(const char *desc, struct pkt_spec s, int frag_vip)
{
	struct expect e = { desc, XDP_DROP, CHLB_CNT_DROP_FRAGMENT, NONE, CHLB_NO_BACKEND,
			    frag_vip, 0, 0 };
	__u8 f[PKT_MAX];
	ssize_t n;

	memcpy(s.dmac, IF_MAC, 6);
	n = pkt_build(&s, f, sizeof(f));
	CU_ASSERT_FATAL(n > 0);
	if (frag_vip == NONE) {
		run_pass(desc, CHLB_CNT_PASS_FRAGMENT, f, n);
		return;
	}
	run(&e, f, n);
}

/* An IPv6 fragment header's offset / M bits (the builder leaves them 0: a first fragment). */
static void frag6_case(const char *desc, struct pkt_spec s, __u16 off_m, int frag_vip)
{
	struct expect e = { desc, XDP_DROP, CHLB_CNT_DROP_FRAGMENT, NONE, CHLB_NO_BACKEND,
			    frag_vip, 0, 0 };
	__u8 f[PKT_MAX];
	ssize_t n;

	s.ext_hdr = 44;
	memcpy(s.dmac, IF_MAC, 6);
	n = pkt_build(&s, f, sizeof(f));
	CU_ASSERT_FATAL(n > 0);
	put16(f + 54 + 2, off_m);
	if (frag_vip == NONE) {
		run_pass(desc, CHLB_CNT_PASS_FRAGMENT, f, n);
		return;
	}
	run(&e, f, n);
}

static void test_fragments(void)
{
	struct pkt_spec u4 = flow_spec(V4_UDP, CLIENT4, CPORT, 0);
	struct pkt_spec t4 = flow_spec(V4_TCP, CLIENT4, CPORT, 0);
	struct pkt_spec u6 = flow_spec(V6_UDP, CLIENT6, CPORT, 0);
	struct pkt_spec t6 = flow_spec(V6_TCP, CLIENT6, CPORT, 0);
	struct pkt_spec s;

	s = u4, s.frag_off = 0x2000;
	frag_case("IPv4 first fragment, UDP VIP: that VIP", s, V4_UDP);
	s = t4, s.frag_off = 0x2000;
	frag_case("IPv4 first fragment, TCP VIP: that VIP", s, V4_TCP);
	s = u4, s.frag_off = 0x2000 | 185;
	frag_case("IPv4 middle fragment: the address's lowest id", s, V4_TCP);
	s = u4, s.frag_off = 370;
	frag_case("IPv4 last fragment: the address's lowest id", s, V4_TCP);
	s = u4, s.frag_off = 0x2000, s.dport = 9999;
	frag_case("IPv4 first fragment, no VIP's port: the address's", s, V4_TCP);
	s = t4, s.frag_off = 0x2000, s.dst = "10.0.0.101";
	frag_case("IPv4 first fragment to the other VIP address", s, V4_OTHER);
	s = t4, s.frag_off = 0x2000 | 1, s.dst = "10.0.0.101";
	frag_case("IPv4 later fragment to the other VIP address", s, V4_OTHER);
	s = u4, s.frag_off = 0x2000, s.dst = "10.0.0.99";
	frag_case("IPv4 fragment to a non-VIP address: passed", s, NONE);
	frag6_case("IPv6 first fragment, UDP VIP", u6, 0x0001, V6_UDP);
	frag6_case("IPv6 first fragment, TCP VIP", t6, 0x0001, V6_TCP);
	frag6_case("IPv6 atomic fragment (offset 0, no M)", u6, 0, V6_UDP);
	frag6_case("IPv6 middle fragment: the address's lowest id", u6, 0x05c9, V6_TCP);
	frag6_case("IPv6 last fragment: the address's lowest id", u6, 0x0b90, V6_TCP);
	s = u6, s.dst = "2001:db8::99";
	frag6_case("IPv6 fragment to a non-VIP address: passed", s, 0x0001, NONE);
}

/* A fragment header after a destination options header is found too. */
static void test_fragment_after_ext(void)
{
	static const __u8 types[] = { 60, 44 }, lens[] = { 0, 0 };
	struct pkt_spec s = flow_spec(V6_UDP, CLIENT6, CPORT, 0);
	struct expect e = { "IPv6 fragment header after destination options", XDP_DROP,
			    CHLB_CNT_DROP_FRAGMENT, NONE, CHLB_NO_BACKEND, V6_UDP, 0, 0 };
	__u8 f[PKT_MAX];
	ssize_t n = pkt_build(&s, f, sizeof(f));

	n = add_ext(f, n, types, lens, 2);
	run(&e, f, n);
}

/* ---- extension headers --------------------------------------------------------- */

static void test_ext_headers(void)
{
	static const struct {
		const char *desc;
		__u8 types[6], lens[6];
		int n;
		int reason;	/* CHLB_CNT_TX: forwarded */
	} t[] = {
		{ "hop-by-hop", { 0 }, { 0 }, 1, CHLB_CNT_TX },
		{ "destination options, 16 bytes", { 60 }, { 1 }, 1, CHLB_CNT_TX },
		{ "routing, segments left 0", { 43 }, { 0 }, 1, CHLB_CNT_TX },
		{ "hop-by-hop, destination options", { 0, 60 }, { 0, 2 }, 2, CHLB_CNT_TX },
		{ "hop-by-hop, routing, two destination options (the limit)",
		  { 0, 43, 60, 60 }, { 0, 0, 0, 3 }, 4, CHLB_CNT_TX },
		/* may hide a fragment header: the fragments policy, the address's VIP */
		{ "five headers: over the limit", { 0, 60, 43, 60, 60 }, { 0 }, 5,
		  CHLB_CNT_DROP_FRAGMENT },
		{ "routing, segments left 1", { 43 }, { 0 }, 1, CHLB_CNT_PASS_OTHER_PROTO },
		{ "hop-by-hop after destination options", { 60, 0 }, { 0 }, 2,
		  CHLB_CNT_PASS_MALFORMED },
		{ "ESP (not walked)", { 50 }, { 0 }, 1, CHLB_CNT_PASS_OTHER_PROTO },
	};
	int v, vv[] = { V6_TCP, V6_UDP };
	__u8 f[PKT_MAX];
	size_t i;
	ssize_t n;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		for (v = 0; v < 2; v++) {
			struct pkt_spec s = flow_spec(vv[v], CLIENT6, 43000 + i, 0);
			struct expect e = { t[i].desc, XDP_TX, CHLB_CNT_TX, vv[v],
					    ring_backend(vv[v], &s), NONE, 0, 2 };

			n = pkt_build(&s, f, sizeof(f));
			n = add_ext(f, n, t[i].types, t[i].lens, t[i].n);
			if (!strcmp(t[i].desc, "routing, segments left 1"))
				f[54 + 3] = 1;
			if (t[i].reason == CHLB_CNT_DROP_FRAGMENT) {
				struct expect d = { t[i].desc, XDP_DROP, CHLB_CNT_DROP_FRAGMENT, NONE,
						    CHLB_NO_BACKEND, V6_TCP, 0, 0 };

				run(&d, f, n);
				continue;
			}
			if (t[i].reason != CHLB_CNT_TX) {
				run_pass(t[i].desc, t[i].reason, f, n);
				continue;
			}
			/* the same flow's packets without headers go to the same backend */
			run(&e, f, n);
			n = pkt_build(&s, f, sizeof(f));
			e.flow = 1;
			run(&e, f, n);
		}
	}
}

/* An extension header longer than the datagram: malformed. */
static void test_ext_truncated(void)
{
	static const __u8 types[] = { 60 }, lens[] = { 1 };
	struct pkt_spec s = flow_spec(V6_TCP, CLIENT6, CPORT, 0);
	__u8 f[PKT_MAX];
	ssize_t n = pkt_build(&s, f, sizeof(f));

	n = add_ext(f, n, types, lens, 1);
	f[54 + 1] = 200;	/* 1608 bytes */
	run_pass("destination options past the datagram", CHLB_CNT_PASS_MALFORMED, f, n);
}

/* A fragment header cut short by the datagram: malformed, not a fragment. */
static void test_frag6_truncated(void)
{
	struct pkt_spec s = flow_spec(V6_UDP, CLIENT6, CPORT, 0);
	__u8 f[PKT_MAX];
	ssize_t n = pkt_build(&s, f, sizeof(f));

	f[14 + 6] = 44;		/* next header: fragment */
	put16(f + 14 + 4, 4);	/* but only 4 bytes of payload */
	run_pass("IPv6 fragment header past the datagram", CHLB_CNT_PASS_MALFORMED, f, n);
}

/* chlb_vip_addrs follows the VIPs: lowest id, deleted with the last VIP of an address. */
static void test_vip_addrs_sync(void)
{
	struct chlb_vip_info info = { .id = 5, .method = CHLB_METHOD_DSR };
	struct chlb_vip_key key, a;
	__u32 id, n = 0;

	CU_ASSERT_FATAL(pkt_vip_key(4, "10.0.0.102", 80, IPPROTO_TCP, &key) == 0);
	CU_ASSERT_FATAL(chlb_dp__vip_add(&dp, &key, &info) == 0);
	a = key;
	a.port = 0;
	a.proto = 0;
	CU_ASSERT(bpf_map_lookup_elem(dp.vip_addrs_fd, &a, &id) == 0 && id == 5);
	CU_ASSERT_FATAL(chlb_dp__vip_del(&dp, &key) == 0);
	CU_ASSERT(bpf_map_lookup_elem(dp.vip_addrs_fd, &a, &id) != 0);
	/* two VIPs at one new address: the lower id, then the other when it goes */
	info.id = 7;
	CU_ASSERT_FATAL(pkt_vip_key(4, "10.0.0.103", 81, IPPROTO_UDP, &key) == 0);
	CU_ASSERT_FATAL(chlb_dp__vip_add(&dp, &key, &info) == 0);
	info.id = 6;
	CU_ASSERT_FATAL(pkt_vip_key(4, "10.0.0.103", 80, IPPROTO_TCP, &key) == 0);
	CU_ASSERT_FATAL(chlb_dp__vip_add(&dp, &key, &info) == 0);
	CU_ASSERT_FATAL(pkt_vip_key(4, "10.0.0.103", 0, 0, &a) == 0);
	CU_ASSERT(bpf_map_lookup_elem(dp.vip_addrs_fd, &a, &id) == 0 && id == 6);
	CU_ASSERT_FATAL(chlb_dp__vip_del(&dp, &key) == 0);
	CU_ASSERT(bpf_map_lookup_elem(dp.vip_addrs_fd, &a, &id) == 0 && id == 7);
	CU_ASSERT_FATAL(pkt_vip_key(4, "10.0.0.103", 81, IPPROTO_UDP, &key) == 0);
	CU_ASSERT_FATAL(chlb_dp__vip_del(&dp, &key) == 0);
	CU_ASSERT(bpf_map_lookup_elem(dp.vip_addrs_fd, &a, &id) != 0);
	CU_ASSERT_FATAL(pkt_vip_key(4, "10.0.0.100", 0, 0, &a) == 0);
	CU_ASSERT(bpf_map_lookup_elem(dp.vip_addrs_fd, &a, &id) == 0 && id == V4_TCP);
	CU_ASSERT_FATAL(pkt_vip_key(6, "2001:db8::100", 0, 0, &a) == 0);
	CU_ASSERT(bpf_map_lookup_elem(dp.vip_addrs_fd, &a, &id) == 0 && id == V6_TCP);
	for (a.family = 0; !bpf_map_get_next_key(dp.vip_addrs_fd, n ? &a : NULL, &a); n++)
		;
	CU_ASSERT_EQUAL(n, 3);	/* 10.0.0.100, 10.0.0.101, 2001:db8::100 */
}

int main(void)
{
	static CU_TestInfo tests[] = {
		{ "ICMP errors about VIP flows: to the flow's backend", test_icmp_steered },
		{ "other error types steered too", test_icmp_types },
		{ "quoted IPv6 extension headers walked", test_icmp_quote_ext },
		{ "other ICMP passed unmodified", test_icmp_passed },
		{ "flow table: the recorded backend, read only", test_icmp_flow_table },
		{ "fragments to VIP addresses dropped, counted per VIP", test_fragments },
		{ "fragment header after an extension header", test_fragment_after_ext },
		{ "extension headers walked up to the limit", test_ext_headers },
		{ "extension header past the datagram", test_ext_truncated },
		{ "fragment header past the datagram", test_frag6_truncated },
		{ "chlb_vip_addrs follows the VIPs", test_vip_addrs_sync },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("icmp, fragments, extension headers", suite_init, suite_clean, tests),
		CU_SUITE_INFO_NULL,
	};

	if (geteuid() != 0) {
		printf("SKIPPED: test_icmp needs root (BPF)\n");
		return 77;
	}
	return cu_main(suites);
}
