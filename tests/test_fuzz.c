// SPDX-License-Identifier: GPL-2.0
/*
 * A million random and mutated frames through the XDP program.
 *
 * In a network namespace of its own, the test attaches chlb to a veth
 * (down: nothing but the test's frames reaches the program) through the
 * real command code, three times: flow table on with --dst-mac own, then
 * flow table off with --dst-mac any, both method dsr; then method ipip
 * (flow table on, --dst-mac own) in the same namespace routed by
 * helpers/ipip_net, frames run as received on IPIP_IF0, the backends
 * behind its gateway (IPv4 VIPs on IPv4 backends, IPv6 on IPv6, and one
 * IPv4 VIP on IPv6 backends). It configures VIPs (IPv4/IPv6, TCP/UDP,
 * one with no backend, one whose only backend drains) and, in rounds,
 * changes their backends through the CLI. Each round sends frames through
 * the pinned program with BPF_PROG_TEST_RUN from two threads and judges
 * every one against an independent prediction:
 *
 * - a reference parser written here from the documented rules (at most
 *   one 802.1Q tag; IPv4 with any IHL, whole datagram in the frame; IPv6
 *   with up to 4 hop-by-hop (first only), destination options and routing
 *   (segments left 0) headers before TCP or UDP; the L4 header inside the
 *   datagram) says whether the frame is for a VIP, and if not, the
 *   reason it is passed; fragments to a VIP address are dropped and
 *   counted in a VIP's fragments (the first fragment's VIP, else the
 *   address's lowest id); ICMP/ICMPv6 errors to a VIP address quoting a
 *   reply of a VIP flow are predicted as that flow's frames (the quoted
 *   tuple turned around);
 * - for a VIP frame, the test's own library rings (chlb_ring__*, built
 *   with the attach's seed, vnodes, table size and the backends' weights
 *   and states) and the shared flow hash name the backend, or none.
 *
 * A frame not for a VIP must come back unmodified with XDP_PASS; a VIP
 * frame with XDP_TX, destination MAC the predicted backend's, source MAC
 * the interface's and every other byte as sent, or XDP_DROP when the VIP
 * has no usable backend. With method ipip a forwarded frame must instead
 * leave with XDP_TX to the gateway's MAC, its tag kept, with one outer
 * header (protocol / next header 4 or 41) to the predicted backend from
 * the --encap-src range, then the input's IP packet byte for byte. Some
 * UDP frames are big: one too big once encapsulated (the backends of
 * 10.0.0.100:53/udp sit behind the 10.6/16 route, MTU 1400) must come back
 * as the frag-needed / packet-too-big answer to its sender naming the
 * MTU left, or be dropped (over the rate limit; always when not
 * answerable: no DF, IPv4 options), tx_too_big + drop_too_big counting
 * them all; the ipip counters of other outcomes (redirect, no neighbour,
 * no route, encap) must stay 0. After each round the program's counters (global
 * reasons, per VIP, per backend) must equal the predicted tallies.
 *
 * The flow table: its map is cleared before each round (the backends
 * change between rounds, and a recorded flow rightly keeps its old
 * backend), so within a round a flow-table hit and the slot table agree:
 * every TCP and UDP frame, SYN or not, is checked on the same prediction.
 *
 * Replay: the seed is printed; CHLB_FUZZ_SEED=HEX runs the same frames and
 * changes again, CHLB_FUZZ_FRAMES=N sets the total (default 1572864, a
 * third per instance).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <linux/bpf.h>
#include <CUnit/Basic.h>

#include "chlb/chlb.h"
#include "cli/cli.h"
#include "cli/commands.h"
#include "dp/dataplane.h"
#include "helpers/cli_cmd.h"
#include "helpers/cu_main.h"
#include "helpers/ipip_net.h"
#include "helpers/pin_dir.h"

#define PIN_PREFIX	"chlb-fuzz-"
#define DEV		"chlbfz0"
#define PEER		"chlbfz1"
#define SEED_ENV	"CHLB_FUZZ_SEED"
#define FRAMES_ENV	"CHLB_FUZZ_FRAMES"
#define FRAMES_DEFAULT	1572864u	/* the three instances together */
#define ROUNDS		8		/* per instance */
#define THREADS		2
#define TABLE_SIZE	4093
#define VNODES		40
#define MAX_BACKENDS	4096		/* attach's default: the rings' limit too */
#define MAX_BE		16		/* backends a VIP ever has here */
#define FRAME_MAX	1600
#define OUT_MAX		(FRAME_MAX + 64)	/* an encapsulated frame: 40 bytes more */
#define SHOWN_MAX	4		/* failures printed in full per thread */

static const __u8 if_mac[6] = { 0x02, 0xf2, 0x00, 0x00, 0x00, 0x01 };

/* Outcome classes: the program's reasons, predicted. */
enum { C_TX, C_DROP, C_NOT_FOR_US, C_NOT_VIP, C_OTHER_PROTO, C_FRAGMENT, C_MALFORMED,
       C_NOT_IP, C_DROP_FRAG, C_TOO_BIG, C_DROP_TOO_BIG, C_N };

static const struct { const char *name; int counter; } classes[C_N] = {
	[C_TX] = { "tx", CHLB_CNT_TX },
	[C_DROP] = { "drop_no_backend", CHLB_CNT_DROP_NO_BACKEND },
	[C_NOT_FOR_US] = { "pass_not_for_us", CHLB_CNT_PASS_NOT_FOR_US },
	[C_NOT_VIP] = { "pass_not_vip", CHLB_CNT_PASS_NOT_VIP },
	[C_OTHER_PROTO] = { "pass_other_proto", CHLB_CNT_PASS_OTHER_PROTO },
	[C_FRAGMENT] = { "pass_fragment", CHLB_CNT_PASS_FRAGMENT },
	[C_MALFORMED] = { "pass_malformed", CHLB_CNT_PASS_MALFORMED },
	[C_NOT_IP] = { "pass_not_ip", CHLB_CNT_PASS_NOT_IP },
	[C_DROP_FRAG] = { "drop_fragment", CHLB_CNT_DROP_FRAGMENT },
	/* ipip: answered (tx_too_big) or over the rate limit (drop_too_big): checked as a sum */
	[C_TOO_BIG] = { "too_big answerable", -1 },
	[C_DROP_TOO_BIG] = { "drop_too_big", -1 },
};

/* What the generator put in frames, to show what was covered. */
enum { F_VLAN1, F_VLAN2, F_QINQ, F_IPOPT, F_EXTHDR, F_FRAG, F_ICMP, F_TRUNC, F_LENBAD,
       F_FLIP, F_PAD, F_RANDOM, F_GROUP_MAC, F_OTHER_MAC, F_N };

static const char *const feature_names[F_N] = {
	"one tag", "two tags", "an 802.1ad (0x88a8) tag", "IPv4 options",
	"IPv6 extension headers", "fragments", "ICMP/ICMPv6", "truncated", "bad length field",
	"bytes flipped", "trailing padding", "random bytes", "broadcast/multicast MAC",
	"another host's MAC",
};

struct fbackend {
	char addr[48];
	struct chlb_addr ca;
	__u8 mac[6];
	unsigned int weight;
	int draining;
	int present;
	__u32 id;		/* in chlb_backends, found by MAC after each change */
};

struct fvip {
	const char *text;	/* as on the command line */
	int family;
	__u8 proto;
	const char *addr;
	__u16 port;
	int nbackends;		/* at set-up */
	int drain_all;		/* its backends drain: no usable backend */
	/* at set-up */
	__u8 a[16];		/* address, IPv4-mapped */
	__u32 id;
	struct chlb_ring *ring;
	struct fbackend be[MAX_BE];
	int nbe;
};

#define VIP(t, fam, pr, ad, po, n, d) { .text = t, .family = fam, .proto = pr, .addr = ad, \
					.port = po, .nbackends = n, .drain_all = d }

static struct fvip vips[] = {
	VIP("10.0.0.100:80/tcp", 4, IPPROTO_TCP, "10.0.0.100", 80, 5, 0),
	VIP("10.0.0.100:53/udp", 4, IPPROTO_UDP, "10.0.0.100", 53, 3, 0),
	VIP("[2001:db8::100]:443/tcp", 6, IPPROTO_TCP, "2001:db8::100", 443, 4, 0),
	VIP("[2001:db8::100]:53/udp", 6, IPPROTO_UDP, "2001:db8::100", 53, 2, 0),
	VIP("10.0.0.101:80/tcp", 4, IPPROTO_TCP, "10.0.0.101", 80, 0, 0),	/* no backend */
	VIP("[2001:db8::101]:8080/udp", 6, IPPROTO_UDP, "2001:db8::101", 8080, 1, 1),
	VIP("10.0.0.102:443/udp", 4, IPPROTO_UDP, "10.0.0.102", 443, 1, 0),
};
#define NVIPS ((int)(sizeof(vips) / sizeof(vips[0])))

/* One attach: its options and state. */
struct inst {
	const char *name;
	const char *flow_table;	/* --flow-table */
	const char *dst_mac;	/* --dst-mac */
	int mac_check;
	int ipip;		/* VIPs of method ipip, frames in on IPIP_IF0 */
	char pin_dir[128];
	int prog_fd;
	struct chlb_dp dp;
};

static struct inst insts[] = {
	{ .name = "flow table on, --dst-mac own", .flow_table = "4096", .dst_mac = "own",
	  .mac_check = 1 },
	{ .name = "flow table off, --dst-mac any", .flow_table = "off", .dst_mac = "any" },
	{ .name = "method ipip, flow table on, --dst-mac own", .flow_table = "4096",
	  .dst_mac = "own", .mac_check = 1, .ipip = 1 },
};
#define NINSTS ((int)(sizeof(insts) / sizeof(insts[0])))

/*
 * Method ipip: the attach's outer source ranges, and the VIP whose backends
 * are IPv6 (IPv4-in-IPv6); the others' backends are of their own family.
 * The backends sit behind IPIP_IF0's gateway (10.1/16, 2001:db8:b::/48).
 */
#define ENCAP_NET4	"192.0.2.128"
#define ENCAP_LEN4	25
#define ENCAP_NET6	"2001:db8:1::100"
#define ENCAP_LEN6	120
#define VIP_4IN6	6
#define VIP_MTU		1	/* its backends via 10.6/16, route MTU IPIP_MTU_ROUTE4 */
static int ipip_mode;		/* the instance being set up */
static __u8 encap_net4[4], encap_net6[16];
static struct ipip_net ipnet;

static __u64 fuzz_seed;		/* everything random derives from it */
static __u64 lb_seed;		/* the attach's --seed */
static __u32 frames_total = FRAMES_DEFAULT;

/* Source addresses and ports drawn from small pools, so flows repeat. */
#define POOL 32
#define POOL_PORTS 4
static __u8 pool4[POOL][4], pool6[POOL][16];
static __u16 pool_ports[POOL_PORTS];

/* ---- randomness ----------------------------------------------------------- */

struct rng {
	__u64 s;
};

static __u64 rnext(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1DULL;
}

static __u32 rbelow(struct rng *r, __u32 n)
{
	return (__u32)(((rnext(r) >> 32) * n) >> 32);
}

static int rpct(struct rng *r, __u32 pct)
{
	return rbelow(r, 100) < pct;
}

static void rbytes(struct rng *r, __u8 *p, __u32 n)
{
	while (n--)
		*p++ = (__u8)rnext(r);
}

/* A stream of its own for each (instance, round, thread): replayable. */
static void rng_init(struct rng *r, __u64 a, __u64 b, __u64 c)
{
	r->s = chlb_mix64(fuzz_seed ^ chlb_mix64(a * CHLB_P1 + b * CHLB_P2 + c + 1)) | 1;
}

/* ---- the model: VIPs, backends, rings ---------------------------------------- */

static void backend_init(struct fvip *v, int i, struct fbackend *b)
{
	int vi = (int)(v - vips);

	memset(b, 0, sizeof(*b));
	if (ipip_mode && vi == VIP_MTU)
		snprintf(b->addr, sizeof(b->addr), "10.6.%d.%d", vi, i + 1);
	else if (v->family == 4 && !(ipip_mode && vi == VIP_4IN6))
		snprintf(b->addr, sizeof(b->addr), "10.1.%d.%d", vi, i + 1);
	else if (ipip_mode)	/* routed via IPIP_IF0's gateway */
		snprintf(b->addr, sizeof(b->addr), "2001:db8:b:%x::%x", vi, i + 1);
	else
		snprintf(b->addr, sizeof(b->addr), "2001:db8:1:%x::%x", vi, i + 1);
	chlb_addr_parse(b->addr, &b->ca);
	memcpy(b->mac, (__u8[6]){ 0x02, 0xbe, 0, (__u8)vi, 0, (__u8)(i + 1) }, 6);
	b->weight = 1 + i % 4;
	b->draining = v->drain_all;
	b->present = 1;
}

static int ring_new(struct chlb_ring **ring)
{
	struct chlb_ring_opts o = { .sz = sizeof(o), .vnodes = VNODES, .table_size = TABLE_SIZE,
				    .seed = lb_seed, .algo = CHLB_ALGO_RING,
				    .max_backends = MAX_BACKENDS };

	return chlb_ring__new(&o, ring);
}

/* Add backend i of v through the CLI and to the test's ring. */
static int backend_add(struct fvip *v, int i)
{
	struct fbackend *b = &v->be[i];
	char w[8], mac[24];
	int err;

	snprintf(w, sizeof(w), "%u", b->weight);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", b->mac[0], b->mac[1],
		 b->mac[2], b->mac[3], b->mac[4], b->mac[5]);
	if (ipip_mode)	/* the next hop's MAC comes from the FIB */
		err = cli_cmd_quiet(do_backend, "add", v->text, b->addr, "--weight", w, NULL);
	else
		err = cli_cmd_quiet(do_backend, "add", v->text, b->addr, "--weight", w, "--mac",
				    mac, NULL);
	if (!err && b->draining)
		err = cli_cmd_quiet(do_backend, "set", v->text, b->addr, "--drain", NULL);
	if (!err)
		err = chlb_ring__add(v->ring, b->addr, b->weight);
	if (!err && b->draining)
		err = chlb_ring__set_state(v->ring, b->addr, CHLB_STATE_DRAINING);
	return err;
}

static int vip_setup(struct fvip *v)
{
	struct chlb_addr a;
	int i, err;

	chlb_addr_parse(v->addr, &a);
	memcpy(v->a, a.bytes, 16);
	if (ipip_mode)
		err = cli_cmd_quiet(do_vip, "add", v->text, "--method", "ipip", NULL);
	else
		err = cli_cmd_quiet(do_vip, "add", v->text, NULL);
	if (!err)
		err = ring_new(&v->ring);
	for (v->nbe = 0; !err && v->nbe < v->nbackends; v->nbe++) {
		backend_init(v, v->nbe, &v->be[v->nbe]);
		err = backend_add(v, v->nbe);
	}
	for (i = 0; !err && i < v->nbe; i++)
		v->be[i].present = 1;
	return err;
}

static void vips_free(void)
{
	int i;

	for (i = 0; i < NVIPS; i++) {
		chlb_ring__free(vips[i].ring);
		vips[i].ring = NULL;
		vips[i].nbe = 0;
	}
}

/* Ids of the VIPs (chlb_vips) and backends (chlb_backends, by VIP and address). */
static int read_ids(struct inst *in)
{
	struct chlb_backend be;
	struct chlb_vip_info info;
	struct chlb_vip_key key;
	__u32 id;
	int i, j;

	for (i = 0; i < NVIPS; i++) {
		memset(&key, 0, sizeof(key));
		memcpy(key.addr, vips[i].a, 16);
		key.port = htons(vips[i].port);
		key.proto = vips[i].proto;
		key.family = vips[i].family == 4 ? CHLB_FAMILY_INET : CHLB_FAMILY_INET6;
		if (bpf_map_lookup_elem(in->dp.vips_fd, &key, &info))
			return -errno;
		vips[i].id = info.id;
	}
	for (id = 0; id < in->dp.max_backends; id++) {
		if (bpf_map_lookup_elem(in->dp.backends_fd, &id, &be))
			return -errno;
		if (!(be.flags & CHLB_BACKEND_F_IN_USE))
			continue;
		for (i = 0; i < NVIPS; i++)
			for (j = 0; j < vips[i].nbe; j++)
				if (vips[i].be[j].present && be.vip_id == vips[i].id &&
				    !memcmp(vips[i].be[j].ca.bytes, be.addr, 16))
					vips[i].be[j].id = id;
	}
	return 0;
}

/* ---- between rounds: a few backend changes, mirrored in the rings --------- */

static int pick_present(struct rng *r, struct fvip *v)
{
	int i, n = 0, k;

	for (i = 0; i < v->nbe; i++)
		n += v->be[i].present;
	if (!n)
		return -1;
	k = rbelow(r, n);
	for (i = 0; i < v->nbe; i++)
		if (v->be[i].present && !k--)
			return i;
	return -1;
}

static int change_weight(struct fvip *v, struct fbackend *b, unsigned int w)
{
	char ws[8];

	snprintf(ws, sizeof(ws), "%u", w);
	b->weight = w;
	return cli_cmd_quiet(do_backend, "set", v->text, b->addr, "--weight", ws, NULL) ||
	       chlb_ring__set_weight(v->ring, b->addr, w);
}

static int change_drain(struct fvip *v, struct fbackend *b)
{
	b->draining = !b->draining;
	return cli_cmd_quiet(do_backend, "set", v->text, b->addr, b->draining ? "--drain" : "--undrain",
		   NULL) ||
	       chlb_ring__set_state(v->ring, b->addr,
				    b->draining ? CHLB_STATE_DRAINING : CHLB_STATE_ACTIVE);
}

static int change_del(struct fvip *v, struct fbackend *b)
{
	b->present = 0;
	return cli_cmd_quiet(do_backend, "del", v->text, b->addr, NULL) ||
	       chlb_ring__remove(v->ring, b->addr);
}

/* One random change to a VIP that has backends (never VIP 4, the empty one). */
static int change_one(struct rng *r)
{
	static const int changeable[] = { 0, 1, 2, 3, 6 };
	struct fvip *v = &vips[changeable[rbelow(r, 5)]];
	int op = rbelow(r, 4), i = pick_present(r, v);

	if (op == 0 && v->nbe < MAX_BE) {
		backend_init(v, v->nbe, &v->be[v->nbe]);
		return backend_add(v, v->nbe++);
	}
	if (i < 0)
		return 0;
	if (op == 1)
		return change_weight(v, &v->be[i], 1 + rbelow(r, 8));
	if (op == 2)
		return change_drain(v, &v->be[i]);
	return pick_present(r, v) >= 0 && v->nbe > 1 ? change_del(v, &v->be[i]) : 0;
}

/* Every entry of the flow map zeroed: recorded flows of earlier rounds gone. */
static int flows_clear(struct inst *in)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), k;
	void *zero;
	int err = 0;

	if (bpf_obj_get_info_by_fd(in->dp.flows_fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_ARRAY && info.type != BPF_MAP_TYPE_PERCPU_ARRAY)
		return -ENOTSUP;	/* a new layout: teach this test to clear it */
	zero = calloc(in->dp.ncpus, (info.value_size + 7) & ~7u);
	if (!zero)
		return -ENOMEM;
	for (k = 0; !err && k < info.max_entries; k++)
		if (bpf_map_update_elem(in->dp.flows_fd, &k, zero, BPF_ANY))
			err = -errno;
	free(zero);
	return err;
}

/* ---- frames ----------------------------------------------------------------- */

struct frame {
	__u8 b[FRAME_MAX];
	__u32 len;
	__u32 l3, l4;		/* offsets, for the mutations (0: none) */
	int family;
	__u8 proto;
	__u32 features;		/* 1 << F_* */
};

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = (__u8)v;
}

static __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/* Destination MAC (mostly ours), source MAC, 0..2 tags, the ethertype. */
static __u32 gen_l2(struct rng *r, struct frame *f, __u16 ethertype)
{
	__u32 p = rbelow(r, 100), off = 12, tags, i;

	if (p < 80) {
		memcpy(f->b, if_mac, 6);
	} else if (p < 90) {
		static const __u8 group[3][6] = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
						  { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb },
						  { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 } };
		memcpy(f->b, group[rbelow(r, 3)], 6);
		f->features |= 1 << F_GROUP_MAC;
	} else {
		rbytes(r, f->b, 6);
		f->b[0] &= 0xfe;	/* unicast, another host's */
		f->features |= memcmp(f->b, if_mac, 6) ? 1 << F_OTHER_MAC : 0;
	}
	rbytes(r, f->b + 6, 6);
	f->b[6] = (f->b[6] & 0xfe) | 0x02;
	p = rbelow(r, 100);
	tags = p < 70 ? 0 : p < 85 ? 1 : 2;
	for (i = 0; i < tags; i++) {
		/* 802.1ad outer tag on a quarter of the double-tagged frames and some single ones */
		int ad = (tags == 2 && i == 0 && rpct(r, 50)) || (tags == 1 && rpct(r, 20));

		put16(f->b + off, ad ? 0x88a8 : 0x8100);
		put16(f->b + off + 2, (__u16)rnext(r));
		f->features |= 1 << (ad ? F_QINQ : tags == 2 ? F_VLAN2 : F_VLAN1);
		off += 4;
	}
	put16(f->b + off, ethertype);
	return off + 2;
}

/* The ones' complement checksum of an IPv4 header (chlb does not check it). */
static void ipv4_csum(__u8 *h, __u32 hl)
{
	__u32 sum = 0, i;

	h[10] = h[11] = 0;
	for (i = 0; i < hl; i += 2)
		sum += get16(h + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(h + 10, (__u16)~sum);
}

/* IPv4 header at f->len: options sometimes, fragment bits sometimes. */
static void gen_ipv4(struct rng *r, struct frame *f, const __u8 *src, const __u8 *dst,
		     __u8 proto, __u32 l4len)
{
	__u32 opt = rpct(r, 15) ? 4 * (1 + rbelow(r, 10)) : 0, hl = 20 + opt, p;
	__u8 *h = f->b + f->len;
	__u16 frag = 0;

	p = rbelow(r, 100);
	if (p >= 85 && p < 92)
		frag = 0x4000;		/* DF: not a fragment */
	else if (p >= 92)
		frag = (p & 1 ? 0x2000 : 0) | (p & 2 || !(p & 1) ? 1 + rbelow(r, 0x1fff) : 0);
	h[0] = 0x40 | hl / 4;
	h[1] = (__u8)rnext(r);
	put16(h + 2, (__u16)(hl + l4len));
	put16(h + 4, (__u16)rnext(r));
	put16(h + 6, frag | (rpct(r, 5) ? 0x8000 : 0));	/* the reserved bit now and then */
	h[8] = 1 + rbelow(r, 255);
	h[9] = proto;
	memcpy(h + 12, src, 4);
	memcpy(h + 16, dst, 4);
	rbytes(r, h + 20, opt);
	ipv4_csum(h, hl);
	f->features |= (opt ? 1 << F_IPOPT : 0) | (frag & 0x3fff ? 1 << F_FRAG : 0);
	f->l3 = f->len;
	f->len += hl;
}

/* IPv6 header at f->len, sometimes a chain of 8-byte extension headers. */
static void gen_ipv6(struct rng *r, struct frame *f, const __u8 *src, const __u8 *dst,
		     __u8 proto, __u32 l4len)
{
	static const __u8 ext[] = { 0, 43, 44, 60, 135, 139, 140, 253 };
	__u32 next = rpct(r, 15) ? 1 + rbelow(r, 5) : 0, i;	/* the walk stops at 4 */
	__u8 *h = f->b + f->len, types[5];

	for (i = 0; i < next; i++)
		types[i] = ext[rbelow(r, sizeof(ext))];
	rbytes(r, h, 4);
	h[0] = 0x60 | (h[0] & 0x0f);
	put16(h + 4, (__u16)(8 * next + l4len));
	h[6] = next ? types[0] : proto;
	h[7] = 1 + rbelow(r, 255);
	memcpy(h + 8, src, 16);
	memcpy(h + 24, dst, 16);
	for (i = 0; i < next; i++) {
		__u8 *e = h + 40 + 8 * i;

		e[0] = i + 1 < next ? types[i + 1] : proto;
		e[1] = 0;	/* 8 bytes */
		rbytes(r, e + 2, 6);
		if (types[i] == 43 && rpct(r, 70))
			e[3] = 0;	/* segments left 0: walked */
		f->features |= types[i] == 44 ? 1 << F_FRAG : 0;
	}
	f->features |= next ? 1 << F_EXTHDR : 0;
	f->l3 = f->len;
	f->len += 40 + 8 * next;
}

static __u8 tcp_flags(struct rng *r)
{
	static const __u8 common[] = { 0x02, 0x10, 0x12, 0x18, 0x11, 0x04, 0x14, 0x06, 0x01 };
	__u32 p = rbelow(r, 100);

	if (p < 30)
		return 0x02;	/* SYN */
	if (p < 90)
		return common[rbelow(r, sizeof(common))];
	return (__u8)rnext(r);
}

/* The L4 header and payload into l4; its length. */
static __u32 gen_l4(struct rng *r, __u8 *l4, __u8 proto, __u16 sport, __u16 dport)
{
	__u32 pay = rpct(r, 50) ? rbelow(r, 32) : rbelow(r, 300), hl;

	if (proto == IPPROTO_TCP) {
		hl = rpct(r, 80) ? 20 : 20 + 4 * rbelow(r, 11);
		rbytes(r, l4, hl + pay);
		put16(l4, sport);
		put16(l4 + 2, dport);
		l4[12] = (__u8)(hl / 4 << 4);
		l4[13] = tcp_flags(r);
		return hl + pay;
	}
	if (proto == IPPROTO_UDP) {
		if (rpct(r, 4))	/* big: some too big for ipip's tunnel */
			pay = 1300 + rbelow(r, 181);
		rbytes(r, l4, 8 + pay);
		put16(l4, sport);
		put16(l4 + 2, dport);
		put16(l4 + 4, (__u16)(8 + pay));
		return 8 + pay;
	}
	/* ICMP, ICMPv6 (errors quoting anything, echo, ND) and other protocols */
	rbytes(r, l4, 8 + pay);
	if (proto == IPPROTO_ICMP)
		l4[0] = (const __u8[]){ 0, 3, 8, 11, 12, 5 }[rbelow(r, 6)];
	else if (proto == IPPROTO_ICMPV6)
		l4[0] = (const __u8[]){ 1, 2, 3, 4, 128, 129, 135, 136 }[rbelow(r, 8)];
	return 8 + pay;
}

/* The frame's addresses, ports and protocol: mostly at or near a VIP. */
struct target {
	int family;
	__u8 proto;
	__u8 src[16], dst[16];	/* IPv4: the first 4 bytes */
	__u16 sport, dport;
};

static void gen_source(struct rng *r, struct target *t)
{
	if (rpct(r, 60))
		memcpy(t->src, t->family == 4 ? pool4[rbelow(r, POOL)] : pool6[rbelow(r, POOL)],
		       t->family == 4 ? 4 : 16);
	else
		rbytes(r, t->src, 16);
	t->sport = rpct(r, 50) ? pool_ports[rbelow(r, POOL_PORTS)] : (__u16)rnext(r);
}

/* Another address: the VIP's neighbour, an IPv4 VIP as IPv6-mapped, random. */
static void other_dst(struct rng *r, struct target *t, const struct fvip *v)
{
	__u32 p = rbelow(r, 3);

	if (t->family == 4) {
		memcpy(t->dst, v->a + 12, 4);
		t->dst[3] ^= p == 2 ? (__u8)rnext(r) | 1 : 1;
		if (p == 1)
			rbytes(r, t->dst, 4);
		return;
	}
	memcpy(t->dst, v->a, 16);
	if (p == 0)
		t->dst[15] ^= 2;
	else if (p == 1)
		memcpy(t->dst, vips[0].a, 16);	/* ::ffff:10.0.0.100, an IPv4 VIP's */
	else
		rbytes(r, t->dst, 16);
}

static void gen_target(struct rng *r, struct target *t, __u32 *proto_ctr)
{
	const struct fvip *v = &vips[rbelow(r, NVIPS)];
	__u32 p = rbelow(r, 100);

	t->family = v->family;
	t->proto = v->proto;
	t->dport = v->port;
	memcpy(t->dst, v->family == 4 ? v->a + 12 : v->a, v->family == 4 ? 4 : 16);
	if (p >= 50 && p < 60)
		t->dport = rpct(r, 50) ? vips[rbelow(r, NVIPS)].port : (__u16)rnext(r);
	else if (p >= 60 && p < 70)
		other_dst(r, t, v);
	else if (p >= 70 && p < 85)
		t->proto = (__u8)(*proto_ctr)++;	/* every protocol number, in turn */
	else if (p >= 85 && p < 93)
		t->proto = v->family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	else if (p >= 93)
		t->family = 10 - t->family;	/* the other family: addresses random */
	if (t->family != v->family)
		rbytes(r, t->dst, 16);
	gen_source(r, t);
}

/*
 * An ICMP error quoting a reply from the frame's destination (mostly),
 * from a VIP's port (mostly): often a VIP flow's. The quote is 8 bytes of
 * L4 or more, its IP length often more than quoted, IPv6 sometimes with
 * extension headers. Its length.
 */
static __u32 gen_icmp_quote(struct rng *r, __u8 *l4, const struct target *t)
{
	const struct fvip *v = &vips[rbelow(r, NVIPS)];
	__u32 ql4 = 8 + (rpct(r, 50) ? 0 : rbelow(r, 40)), n = 0, qh, i, alen;
	__u8 *q = l4 + 8, qproto = rpct(r, 80) ? v->proto : (__u8)rnext(r);

	rbytes(r, l4, 8);
	l4[0] = t->family == 4 ? (const __u8[]){ 3, 11, 12 }[rbelow(r, 3)] : 1 + rbelow(r, 4);
	alen = t->family == 4 ? 4 : 16;
	if (t->family == 6 && rpct(r, 25))
		n = 1 + rbelow(r, 2);
	qh = t->family == 4 ? 20 : 40 + 8 * n;
	memset(q, 0, qh);
	if (t->family == 4) {
		q[0] = 0x45;
		put16(q + 2, (__u16)(qh + ql4 + (rpct(r, 50) ? 0 : rbelow(r, 1400))));
		put16(q + 6, rpct(r, 90) ? 0x4000 : (__u16)rnext(r));
		q[8] = 64;
		q[9] = qproto;
	} else {
		q[0] = 0x60;
		put16(q + 4, (__u16)(qh - 40 + ql4 + (rpct(r, 50) ? 0 : rbelow(r, 1400))));
		q[6] = n ? (rpct(r, 50) ? 60 : 0) : qproto;
		q[7] = 64;
		for (i = 0; i < n; i++)
			q[40 + 8 * i] = i + 1 < n ? 60 : qproto;
	}
	memcpy(q + (t->family == 4 ? 12 : 8), t->dst, alen);	/* the reply's source */
	if (rpct(r, 15))
		rbytes(r, q + (t->family == 4 ? 12 : 8), alen);
	rbytes(r, q + (t->family == 4 ? 16 : 24), alen);		/* the client */
	rbytes(r, q + qh, ql4);
	put16(q + qh, rpct(r, 80) ? v->port : (__u16)rnext(r));
	return 8 + qh + ql4;
}

/* A well-formed frame (before mutations) to a target. */
static void gen_ip_frame(struct rng *r, struct frame *f, __u32 *proto_ctr)
{
	struct target t;
	__u8 l4[1500];
	__u32 l4len;

	gen_target(r, &t, proto_ctr);
	if (t.proto == (t.family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6) && rpct(r, 60))
		l4len = gen_icmp_quote(r, l4, &t);
	else
		l4len = gen_l4(r, l4, t.proto, t.sport, t.dport);
	f->len = gen_l2(r, f, t.family == 4 ? 0x0800 : 0x86dd);
	if (t.family == 4)
		gen_ipv4(r, f, t.src, t.dst, t.proto, l4len);
	else
		gen_ipv6(r, f, t.src, t.dst, t.proto, l4len);
	f->l4 = f->len;
	memcpy(f->b + f->len, l4, l4len);
	f->len += l4len;
	f->family = t.family;
	f->proto = t.proto;
	f->features |= t.proto == IPPROTO_ICMP || t.proto == IPPROTO_ICMPV6 ? 1 << F_ICMP : 0;
}

/* Random bytes after an Ethernet header, the ethertype often IP or a tag. */
static void gen_random_frame(struct rng *r, struct frame *f)
{
	static const __u16 types[] = { 0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, 0x88cc };

	f->len = 14 + rbelow(r, 1500);
	rbytes(r, f->b, f->len);
	if (rpct(r, 70))
		memcpy(f->b, if_mac, 6);
	if (rpct(r, 75))
		put16(f->b + 12, types[rbelow(r, sizeof(types) / sizeof(types[0]))]);
	if (rpct(r, 50) && f->len > 14)
		f->b[14] = get16(f->b + 12) == 0x86dd ? 0x60 | (f->b[14] & 15) : 0x45;
	f->features |= 1 << F_RANDOM;
}

/* A length field of the frame's headers set to a random value. */
static void bad_length(struct rng *r, struct frame *f)
{
	__u8 *l3 = f->b + f->l3, *l4 = f->b + f->l4;
	__u32 p = rbelow(r, 4);

	if (f->l4 + 14 > f->len)
		return;
	if (p == 0 && f->family == 4)
		put16(l3 + 2, (__u16)(get16(l3 + 2) + (int)rbelow(r, 9) - 4));
	else if (p == 0)
		put16(l3 + 4, (__u16)(get16(l3 + 4) + (int)rbelow(r, 9) - 4));
	else if (p == 1 && f->family == 4)
		l3[0] = rpct(r, 50) ? (__u8)(0x40 | rbelow(r, 16)) : (__u8)rnext(r);
	else if (p == 1)
		l3[0] = (__u8)rnext(r);
	else if (p == 2 && f->proto == IPPROTO_UDP)
		put16(l4 + 4, rpct(r, 50) ? (__u16)rbelow(r, 16) : (__u16)rnext(r));
	else if (p == 2 || p == 3)
		l4[12] = (__u8)(rbelow(r, 16) << 4 | (l4[12] & 15));
	f->features |= 1 << F_LENBAD;
}

static void mutate(struct rng *r, struct frame *f)
{
	__u32 p = rbelow(r, 100), n, i;

	if (p < 55)
		return;
	if (p < 65 || p >= 95) {
		f->len = 14 + rbelow(r, f->len - 14 + 1);
		f->features |= 1 << F_TRUNC;
	}
	if (p >= 65 && p < 72 && f->len + 64 <= FRAME_MAX) {
		n = 1 + rbelow(r, 64);
		rbytes(r, f->b + f->len, n);
		f->len += n;
		f->features |= 1 << F_PAD;
	}
	if (p >= 72 && p < 82 && f->l3)
		bad_length(r, f);
	if (p >= 82) {
		for (n = 1 + rbelow(r, 4), i = 0; i < n; i++)
			f->b[rbelow(r, f->len)] = (__u8)rnext(r);
		f->features |= 1 << F_FLIP;
	}
}

static void gen_frame(struct rng *r, struct frame *f, __u32 *proto_ctr)
{
	f->l3 = f->l4 = 0;
	f->features = 0;
	f->family = 0;
	f->proto = 0;
	if (rpct(r, 8))
		gen_random_frame(r, f);
	else
		gen_ip_frame(r, f, proto_ctr);
	mutate(r, f);
}

/* ---- the reference parser and prediction ------------------------------------- */

struct expect {
	int cls;		/* C_* */
	int vip;		/* VIP counted, or -1 */
	int be;			/* index in vips[vip].be for C_TX */
	int family;		/* of a parsed IP frame, 0 otherwise */
	__u8 proto;		/* its L4 protocol */
	__u32 room;		/* ipip, too big: the MTU the answer names */
};

/* L4 of a parsed datagram: TCP/UDP with its header inside it, else a reason. */
static int ref_l4(const __u8 *f, __u32 len, __u32 l4, __u32 l4len, struct chlb_flow_key *k)
{
	if (k->proto == IPPROTO_TCP) {
		if (l4 + 20 > len || f[l4 + 12] >> 4 < 5 || (f[l4 + 12] >> 4) * 4u > l4len)
			return C_MALFORMED;
	} else if (k->proto == IPPROTO_UDP) {
		if (l4 + 8 > len || get16(f + l4 + 4) < 8 || get16(f + l4 + 4) > l4len)
			return C_MALFORMED;
	} else {
		return C_OTHER_PROTO;
	}
	memcpy(&k->sport, f + l4, 2);		/* network order, as hashed */
	memcpy(&k->dport, f + l4 + 2, 2);
	return -1;
}

/* Is nh one of the IPv6 extension headers the program walks? */
static int ref_ext_walked(__u8 nh)
{
	return nh == 0 || nh == 60 || nh == 43;
}

/*
 * The IPv6 extension header walk (bpf/parse.h, chlb_ipv6_ext): from off
 * with *nh the first header and *l4len the bytes left in the datagram, at
 * most 4 headers; -1 done (*nh, *off, *l4len past them), else the class
 * (a longer chain may hide a fragment header: handled as a fragment).
 */
static int ref_ext(const __u8 *f, __u32 len, __u32 *off, __u32 *l4len, __u8 *nh)
{
	__u32 i, hl;

	for (i = 0; i < 4 && ref_ext_walked(*nh); i++) {
		if (*off + 8 > len)
			return C_MALFORMED;
		hl = (f[*off + 1] + 1) * 8u;
		if (hl > *l4len || (i && *nh == 0))
			return C_MALFORMED;
		if (*nh == 43 && f[*off + 3])
			return C_OTHER_PROTO;
		*nh = f[*off];
		*off += hl;
		*l4len -= hl;
	}
	return ref_ext_walked(*nh) ? C_FRAGMENT : -1;
}

/* What the reference parser found, beside the flow key. */
struct ref_pkt {
	__u32 l3, l4;		/* offsets: IP header; L4 (or the IPv6 fragment header) */
	__u32 dgram_end;	/* offset of the datagram's end */
	int frag;		/* a fragment */
};

/* The IPv4 header at off: -1 (key filled) or the class. */
static int ref_ipv4(const __u8 *f, __u32 len, __u32 off, struct chlb_flow_key *k,
		    struct ref_pkt *rp, __u32 *l4len)
{
	__u32 hl, tot;

	if (off + 20 > len || f[off] < 0x45 || f[off] > 0x4f)
		return C_MALFORMED;
	hl = (f[off] & 15) * 4u;
	tot = get16(f + off + 2);
	if (tot < hl || off + tot > len)
		return C_MALFORMED;
	k->proto = f[off + 9];
	k->family = CHLB_FAMILY_INET;
	k->src[10] = k->src[11] = k->dst[10] = k->dst[11] = 0xff;
	memcpy(k->src + 12, f + off + 12, 4);
	memcpy(k->dst + 12, f + off + 16, 4);
	rp->l4 = off + hl;
	rp->dgram_end = off + tot;
	rp->frag = (get16(f + off + 6) & 0x3fff) != 0;
	*l4len = tot - hl;
	return rp->frag ? C_FRAGMENT : -1;
}

static int ref_ipv6(const __u8 *f, __u32 len, __u32 off, struct chlb_flow_key *k,
		    struct ref_pkt *rp, __u32 *l4len)
{
	__u32 pos = off + 40;
	int c;

	if (off + 40 > len || f[off] >> 4 != 6)
		return C_MALFORMED;
	*l4len = get16(f + off + 4);
	if (off + 40 + *l4len > len)
		return C_MALFORMED;
	k->family = CHLB_FAMILY_INET6;
	memcpy(k->src, f + off + 8, 16);
	memcpy(k->dst, f + off + 24, 16);
	rp->dgram_end = off + 40 + *l4len;
	k->proto = f[off + 6];
	c = ref_ext(f, len, &pos, l4len, &k->proto);
	rp->l4 = pos;
	if (c >= 0)
		return c;
	rp->frag = k->proto == 44;
	if (rp->frag && *l4len < 8)
		return C_MALFORMED;	/* a fragment header cut short by the datagram */
	return rp->frag ? C_FRAGMENT : -1;
}

/*
 * Ethernet, one optional 802.1Q tag, IPv4 or IPv6: -1 and the flow key's
 * fields when the frame is TCP/UDP the program would look a VIP up for,
 * else the class it is passed as (C_FRAGMENT, C_OTHER_PROTO: rp says
 * where its headers are, k has its addresses and protocol).
 */
static int ref_parse(const __u8 *f, __u32 len, struct chlb_flow_key *k, struct expect *e,
		     struct ref_pkt *rp)
{
	__u32 off = 14, l4len = 0;
	__u16 et = get16(f + 12);
	int c;

	if (et == 0x8100) {
		if (len < 18)
			return C_MALFORMED;
		et = get16(f + 16);
		off = 18;
	}
	memset(k, 0, sizeof(*k));
	memset(rp, 0, sizeof(*rp));
	rp->l3 = off;
	if (et == 0x0800)
		c = ref_ipv4(f, len, off, k, rp, &l4len);
	else if (et == 0x86dd)
		c = ref_ipv6(f, len, off, k, rp, &l4len);
	else
		return C_NOT_IP;
	if (c >= 0)
		return c;
	e->family = k->family == CHLB_FAMILY_INET ? 4 : 6;
	e->proto = k->proto;
	return ref_l4(f, len, rp->l4, l4len, k);
}

/* The VIP a parsed key is for, or -1. */
static int vip_of(const struct chlb_flow_key *k)
{
	int i;

	for (i = 0; i < NVIPS; i++)
		if (!memcmp(k->dst, vips[i].a, 16) && k->dport == htons(vips[i].port) &&
		    k->proto == vips[i].proto &&
		    k->family == (vips[i].family == 4 ? CHLB_FAMILY_INET : CHLB_FAMILY_INET6))
			return i;
	return -1;
}

/* The VIP with the lowest id at a key's destination address (chlb_vip_addrs), or -1. */
static int vip_of_addr(const struct chlb_flow_key *k)
{
	int i, best = -1;

	for (i = 0; i < NVIPS; i++)
		if (!memcmp(k->dst, vips[i].a, 16) &&
		    k->family == (vips[i].family == 4 ? CHLB_FAMILY_INET : CHLB_FAMILY_INET6) &&
		    (best < 0 || vips[i].id < vips[best].id))
			best = i;
	return best;
}

/* A fragment to a VIP address: the VIP its counters go to (chlb_frag_vip_key). */
static int ref_frag_vip(const __u8 *f, __u32 len, const struct ref_pkt *rp,
			struct chlb_flow_key *k, int addr_vip)
{
	__u32 l4 = rp->l4;
	__u8 proto = k->proto;
	int v;

	if (k->family == CHLB_FAMILY_INET) {
		if (get16(f + rp->l3 + 6) & 0x1fff)
			return addr_vip;
	} else {
		/* not at a fragment header: a chain longer than the walk's limit */
		if (proto != 44 || l4 + 8 > len || get16(f + l4 + 2) & 0xfff8)
			return addr_vip;
		proto = f[l4];
		l4 += 8;
	}
	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || (int)rp->dgram_end - (int)l4 < 4 ||
	    l4 + 4 > len)
		return addr_vip;
	k->proto = proto;
	memcpy(&k->dport, f + l4 + 2, 2);
	v = vip_of(k);
	return v >= 0 ? v : addr_vip;
}

/*
 * An ICMP error (bpf/icmp.h) quoting a TCP/UDP reply from the outer
 * destination: 1 and k the quoted flow turned around, else 0.
 */
static int ref_icmp(const __u8 *f, __u32 len, const struct ref_pkt *rp, struct chlb_flow_key *k)
{
	__u32 ic = rp->l4, q = ic + 8, qh, ql, l4;
	int v4 = k->family == CHLB_FAMILY_INET, quote = (int)rp->dgram_end - (int)q, lim;
	__u8 proto, src[16], dst[16];

	if (k->proto != (v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6) || ic + 8 > len)
		return 0;
	if (v4 ? f[ic] != 3 && f[ic] != 11 && f[ic] != 12 : f[ic] < 1 || f[ic] > 4)
		return 0;
	memset(src, 0, 16);
	memset(dst, 0, 16);
	if (v4) {
		if (q + 20 > len || f[q] < 0x45 || f[q] > 0x4f || get16(f + q + 6) & 0x1fff)
			return 0;
		qh = (f[q] & 15) * 4u;
		lim = get16(f + q + 2) < quote ? get16(f + q + 2) : quote;
		if ((int)qh + 8 > lim)
			return 0;
		l4 = q + qh;
		proto = f[q + 9];
		src[10] = src[11] = dst[10] = dst[11] = 0xff;
		memcpy(src + 12, f + q + 12, 4);
		memcpy(dst + 12, f + q + 16, 4);
	} else {
		if (q + 40 > len || f[q] >> 4 != 6 || quote < 40)
			return 0;
		ql = get16(f + q + 4) < (__u32)quote - 40 ? get16(f + q + 4) : (__u32)quote - 40;
		l4 = q + 40;
		proto = f[q + 6];
		if (ref_ext(f, len, &l4, &ql, &proto) >= 0 || ql < 8)
			return 0;
		memcpy(src, f + q + 8, 16);
		memcpy(dst, f + q + 24, 16);
	}
	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || l4 + 8 > len ||
	    memcmp(src, k->dst, 16))
		return 0;
	memcpy(k->src, dst, 16);
	memcpy(&k->sport, f + l4 + 2, 2);
	memcpy(&k->dport, f + l4, 2);
	k->proto = proto;
	return 1;
}

/* The backend class of a VIP frame (or steered error) with key k. */
static void predict_backend(const struct chlb_flow_key *k, struct expect *e)
{
	struct chlb_addr a;
	int i;

	e->cls = C_DROP;
	if (chlb_ring__lookup_hash(vips[e->vip].ring, chlb_flow_hash(k, lb_seed), &a))
		return;
	for (i = 0; i < vips[e->vip].nbe; i++)
		if (vips[e->vip].be[i].present && !memcmp(a.bytes, vips[e->vip].be[i].ca.bytes, 16))
			e->be = i;
	e->cls = C_TX;
}

/* A frame the parser passes as a fragment or other protocol. */
static void predict_not_tcp_udp(const struct inst *in, const __u8 *f, __u32 len,
				const struct ref_pkt *rp, struct chlb_flow_key *k,
				struct expect *e)
{
	int addr_vip = vip_of_addr(k);

	if (addr_vip < 0)
		return;
	if (e->cls == C_FRAGMENT) {
		if (in->mac_check && memcmp(f, if_mac, 6)) {
			e->cls = C_NOT_FOR_US;
			return;
		}
		e->cls = C_DROP_FRAG;
		e->vip = ref_frag_vip(f, len, rp, k, addr_vip);
		return;
	}
	if (!ref_icmp(f, len, rp, k) || (e->vip = vip_of(k)) < 0)
		return;
	if (in->mac_check && memcmp(f, if_mac, 6)) {
		e->cls = C_NOT_FOR_US;
		e->vip = -1;
		return;
	}
	predict_backend(k, e);
}

/*
 * Method ipip (bpf/too_big.h): the IP packet and the outer header over the
 * backend's route MTU is answered (IPv4 with DF and no options, IPv6,
 * not a steered ICMP error) or, over the rate limit, dropped; the rest of
 * those too big are dropped.
 */
static void predict_too_big(const __u8 *f, const struct ref_pkt *rp, int icmp,
			    struct expect *e)
{
	const struct fbackend *b = &vips[e->vip].be[e->be];
	const __u8 *ip = f + rp->l3;
	int v4 = ip[0] >> 4 == 4, outer = chlb_addr_is_v4(&b->ca) ? 20 : 40;
	__u32 ilen = v4 ? get16(ip + 2) : 40u + get16(ip + 4);
	__u32 mtu = b->ca.bytes[12] == 10 && b->ca.bytes[13] == 6 && outer == 20 ? IPIP_MTU_ROUTE4
										  : IPIP_MTU;

	if (ilen + outer <= mtu)
		return;
	e->room = mtu - outer;
	e->cls = !icmp && (v4 ? ip[0] == 0x45 && get16(ip + 6) & 0x4000 : 1) ? C_TOO_BIG
									   : C_DROP_TOO_BIG;
}

/* What the program must do with a frame, from the parser and the rings. */
static void predict(const struct inst *in, const __u8 *f, __u32 len, struct expect *e)
{
	struct chlb_flow_key k;
	struct ref_pkt rp;
	int c;

	memset(e, 0, sizeof(*e));
	e->vip = e->be = -1;
	c = ref_parse(f, len, &k, e, &rp);
	e->cls = c >= 0 ? c : C_NOT_VIP;
	if (c == C_FRAGMENT || c == C_OTHER_PROTO) {
		predict_not_tcp_udp(in, f, len, &rp, &k, e);
	} else if (c >= 0 || (e->vip = vip_of(&k)) < 0) {
		return;
	} else if (in->mac_check && memcmp(f, if_mac, 6)) {
		e->cls = C_NOT_FOR_US;
		e->vip = -1;	/* passed before the VIP's counters */
		return;
	} else {
		predict_backend(&k, e);
	}
	if (in->ipip && e->cls == C_TX && e->be >= 0)
		predict_too_big(f, &rp, c == C_OTHER_PROTO, e);
}

/* ---- running and judging frames -------------------------------------------- */

struct tally {
	__u64 frames, bad;
	__u64 cls[C_N];
	__u64 features[F_N];
	__u64 vip_packets[NVIPS], vip_bytes[NVIPS], vip_drops[NVIPS], vip_frags[NVIPS];
	__u64 be_packets[NVIPS][MAX_BE], be_bytes[NVIPS][MAX_BE];
	__u64 encap[3];		/* ipip: 4in4, 6in6, 4in6 frames judged */
	__u8 protos[2][32];	/* L4 protocol numbers reached, IPv4 and IPv6 */
	__u8 sent[2][32];	/* protocol numbers of the IP frames built */
};

struct worker {
	pthread_t tid;
	struct inst *in;
	int round, thread;
	__u32 frames;
	int err;
	struct tally t;
};

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

/* The answer to a packet too big for the tunnel: back to its sender, ICMP(v6). */
static const char *judge_too_big(const struct expect *e, const struct frame *f, const __u8 *out,
				 __u32 out_len)
{
	__u32 l2 = get16(f->b + 12) == 0x8100 ? 18 : 14;
	const __u8 *o = out + l2;
	int v4 = f->b[l2] >> 4 == 4;

	if (out_len != l2 + (v4 ? 56 : 1280))
		return "too big: the answer's length";
	if (memcmp(out, f->b + 6, 6))
		return "too big: the answer is not to the sender's MAC";
	if (v4)
		return o[9] != IPPROTO_ICMP || o[20] != 3 || o[21] != 4 ||
		       memcmp(o + 12, f->b + l2 + 16, 4) || memcmp(o + 16, f->b + l2 + 12, 4) ||
		       get16(o + 26) != e->room ? "too big: not the frag-needed answer" : NULL;
	return o[6] != IPPROTO_ICMPV6 || o[40] != 2 || memcmp(o + 8, f->b + l2 + 24, 16) ||
	       memcmp(o + 24, f->b + l2 + 8, 16) || get16(o + 44) || get16(o + 46) != e->room
	       ? "too big: not the packet-too-big answer" : NULL;
}

static const char *judge(const struct expect *e, const struct frame *f, const __u8 *out,
			 __u32 out_len, __u32 verdict)
{
	__u32 want = e->cls == C_TX ? XDP_TX : e->cls == C_DROP || e->cls == C_DROP_FRAG ||
					   e->cls == C_DROP_TOO_BIG || e->cls == C_TOO_BIG ? XDP_DROP
										   : XDP_PASS;

	if (e->cls == C_TOO_BIG && verdict == XDP_TX)
		return judge_too_big(e, f, out, out_len);

	if (e->cls == C_TX && e->be < 0)
		return "the ring names a backend the test does not know";
	if (verdict != want)
		return "verdict";
	if (out_len != f->len)
		return "length";
	if (e->cls != C_TX)
		return memcmp(out, f->b, f->len) ? "frame modified" : NULL;
	if (memcmp(out, vips[e->vip].be[e->be].mac, 6))
		return "destination MAC is not the predicted backend's";
	if (memcmp(out + 6, if_mac, 6))
		return "source MAC is not the interface's";
	return memcmp(out + 12, f->b + 12, f->len - 12) ? "bytes after the MACs changed" : NULL;
}

/* The first plen bits of a and net agree. */
static int in_prefix(const __u8 *a, const __u8 *net, int plen)
{
	int full = plen / 8, rest = plen % 8;

	return !memcmp(a, net, full) &&
	       (!rest || !((a[full] ^ net[full]) & (0xff00 >> rest)));
}

/* The outer IPv4 header's checksum verifies (its ID may be random). */
static int ipv4_csum_ok(const __u8 *h)
{
	__u32 sum = 0, i;

	for (i = 0; i < 20; i += 2)
		sum += get16(h + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/*
 * Method ipip, a frame forwarded to backend e->be: out of IPIP_IF0 to its
 * gateway (XDP_TX), the L2 header's tag kept, an outer header to the
 * backend from the configured range, then the input's IP packet (and any
 * trailing padding) byte for byte.
 */
static const char *judge_encap(const struct expect *e, const struct frame *f, const __u8 *out,
			       __u32 out_len, __u32 verdict)
{
	const struct fbackend *b = e->be >= 0 ? &vips[e->vip].be[e->be] : NULL;
	__u32 l2 = get16(f->b + 12) == 0x8100 ? 18 : 14, ilen;
	int outer6 = b && !chlb_addr_is_v4(&b->ca), hl = outer6 ? 40 : 20;
	const __u8 *in = f->b + l2, *o = out + l2;
	int inner6 = in[0] >> 4 == 6;

	if (!b)
		return "the ring names a backend the test does not know";
	if (verdict != XDP_TX)
		return "verdict";
	if (out_len != f->len + hl)
		return "length (not the input plus one outer header)";
	if (memcmp(out, ipip_gw0_mac, 6) || memcmp(out + 6, ipip_if0_mac, 6))
		return "MACs are not the gateway's and IPIP_IF0's";
	if (memcmp(out + 12, f->b + 12, l2 - 14) || get16(out + l2 - 2) != (outer6 ? 0x86dd : 0x0800))
		return "L2 header: tag changed or ethertype not the outer family's";
	if (memcmp(o + hl, in, f->len - l2))
		return "the payload after the outer header is not the input's IP packet";
	ilen = inner6 ? 40u + get16(in + 4) : get16(in + 2);
	if (!outer6)
		return o[0] != 0x45 || o[9] != 4 || inner6 ? "outer IPv4 header: version, IHL, protocol"
		       : get16(o + 2) != ilen + 20 ? "outer IPv4 total length"
		       : !ipv4_csum_ok(o) ? "outer IPv4 checksum"
		       : memcmp(o + 16, b->ca.bytes + 12, 4) ? "outer destination is not the backend's"
		       : !in_prefix(o + 12, encap_net4, ENCAP_LEN4) ? "outer source out of range"
		       : NULL;
	return o[0] >> 4 != 6 || o[6] != (inner6 ? 41 : 4) ? "outer IPv6 header: version, next header"
	       : get16(o + 4) != ilen ? "outer IPv6 payload length"
	       : memcmp(o + 24, b->ca.bytes, 16) ? "outer destination is not the backend's"
	       : !in_prefix(o + 8, encap_net6, ENCAP_LEN6) ? "outer source out of range"
	       : NULL;
}

static void show_failure(const struct worker *w, __u32 i, const struct frame *f,
			 const struct expect *e, __u32 verdict, const char *why)
{
	__u32 b;

	pthread_mutex_lock(&print_lock);
	fprintf(stderr, "\n    FAIL %s=%016llx %s round %d thread %d frame %u: %s; expected %s "
		"(VIP %d backend %d), got verdict %u\n    frame (%u bytes):",
		SEED_ENV, (unsigned long long)fuzz_seed, w->in->name, w->round, w->thread, i, why,
		classes[e->cls].name, e->vip, e->be, verdict, f->len);
	for (b = 0; b < f->len && b < 160; b++)
		fprintf(stderr, "%s%02x", b % 32 ? "" : "\n      ", f->b[b]);
	fprintf(stderr, "\n");
	pthread_mutex_unlock(&print_lock);
}

static void tally_frame(struct tally *t, const struct frame *f, const struct expect *e)
{
	int i;

	t->frames++;
	t->cls[e->cls]++;
	for (i = 0; i < F_N; i++)
		t->features[i] += f->features >> i & 1;
	if (e->family)
		t->protos[e->family == 6][e->proto >> 3] |= 1 << (e->proto & 7);
	if (f->family)
		t->sent[f->family == 6][f->proto >> 3] |= 1 << (f->proto & 7);
	if (e->cls == C_DROP_FRAG)
		t->vip_frags[e->vip]++;
	if (e->cls != C_TX && e->cls != C_DROP && e->cls != C_TOO_BIG && e->cls != C_DROP_TOO_BIG)
		return;
	t->vip_packets[e->vip]++;
	t->vip_bytes[e->vip] += f->len;
	t->vip_drops[e->vip] += e->cls == C_DROP;
	if (e->cls == C_TX) {
		t->be_packets[e->vip][e->be]++;
		t->be_bytes[e->vip][e->be] += f->len;
	}
}

/* Through the program as received on ifindex (0: the test run's default). */
static int run_frame(int prog_fd, __u32 ifindex, const struct frame *f, __u8 *out,
		     __u32 *out_len, __u32 *verdict)
{
	struct xdp_md ctx = { .data_end = f->len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b, .data_size_in = f->len,
		    .data_out = out, .data_size_out = OUT_MAX, .repeat = 1);

	if (ifindex) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	*verdict = o.retval;
	*out_len = o.data_size_out;
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct frame *f = malloc(sizeof(*f));
	__u8 *out = malloc(OUT_MAX);
	__u32 i, verdict = 0, out_len = 0, proto_ctr = w->thread * 128, shown = 0;
	struct expect e;
	const char *why;
	struct rng r;

	rng_init(&r, w->in - insts, w->round, w->thread);
	for (i = 0; f && out && i < w->frames && !w->err; i++) {
		gen_frame(&r, f, &proto_ctr);
		predict(w->in, f->b, f->len, &e);
		w->err = run_frame(w->in->prog_fd, w->in->ipip ? ipnet.if0 : 0, f, out, &out_len,
				   &verdict);
		why = w->err ? "BPF_PROG_TEST_RUN failed"
		      : w->in->ipip && e.cls == C_TX ? judge_encap(&e, f, out, out_len, verdict)
		      : judge(&e, f, out, out_len, verdict);
		tally_frame(&w->t, f, &e);
		if (w->in->ipip && e.cls == C_TX && e.be >= 0)
			w->t.encap[vips[e.vip].family == 6 ? 1
				   : chlb_addr_is_v4(&vips[e.vip].be[e.be].ca) ? 0 : 2]++;
		if (why && shown++ < SHOWN_MAX)
			show_failure(w, i, f, &e, verdict, why);
		w->t.bad += !!why;
	}
	if (!f || !out)
		w->err = -ENOMEM;
	free(out);
	free(f);
	return NULL;
}

/* ---- a round: frames from every thread, then the counters ------------------ */

struct counters {
	struct chlb_global_stats g;
	struct chlb_vip_stats v[NVIPS];
	struct chlb_backend_stats b[NVIPS][MAX_BE];
};

static int read_counters(struct inst *in, struct counters *c)
{
	int i, j, err = chlb_dp__global_stats(&in->dp, &c->g);

	memset(c->b, 0, sizeof(c->b));
	for (i = 0; !err && i < NVIPS; i++) {
		err = chlb_dp__vip_stats(&in->dp, vips[i].id, &c->v[i]);
		for (j = 0; !err && j < vips[i].nbe; j++)
			if (vips[i].be[j].present)
				err = chlb_dp__backend_stats(&in->dp, vips[i].be[j].id, &c->b[i][j]);
	}
	return err;
}

static const int ipip_unused[] = { CHLB_CNT_REDIRECT, CHLB_CNT_PASS_NO_NEIGH,
				   CHLB_CNT_DROP_NO_ROUTE, CHLB_CNT_DROP_ENCAP };

/* The program's counters moved exactly as the predictions of the round. */
static void check_counters(const struct counters *a, const struct counters *b,
			   const struct tally *t)
{
#define D(cnt) (b->g.counters[cnt] - a->g.counters[cnt])
	__u64 wrong = 0;
	int c, i, j;

	for (c = 0; c < C_N; c++)
		wrong += classes[c].counter >= 0 &&
			 b->g.counters[classes[c].counter] - a->g.counters[classes[c].counter] !=
			 t->cls[c];
	/* too big: answered or dropped, the rate limit decides; certain drops dropped */
	wrong += D(CHLB_CNT_TX_TOO_BIG) + D(CHLB_CNT_DROP_TOO_BIG) !=
		 t->cls[C_TOO_BIG] + t->cls[C_DROP_TOO_BIG];
	wrong += D(CHLB_CNT_DROP_TOO_BIG) < t->cls[C_DROP_TOO_BIG];
	wrong += b->g.counters[CHLB_CNT_RX] - a->g.counters[CHLB_CNT_RX] != t->frames;
	/* ipip's other outcomes: every backend's route is on IPIP_IF0 and resolved */
	for (c = 0; c < (int)(sizeof(ipip_unused) / sizeof(ipip_unused[0])); c++)
		wrong += b->g.counters[ipip_unused[c]] != a->g.counters[ipip_unused[c]];
	for (i = 0; i < NVIPS; i++) {
		wrong += b->v[i].packets - a->v[i].packets != t->vip_packets[i];
		wrong += b->v[i].bytes - a->v[i].bytes != t->vip_bytes[i];
		wrong += b->v[i].no_backend - a->v[i].no_backend != t->vip_drops[i];
		wrong += b->v[i].fragments - a->v[i].fragments != t->vip_frags[i];
		for (j = 0; j < vips[i].nbe; j++)
			wrong += b->b[i][j].packets - a->b[i][j].packets != t->be_packets[i][j] ||
				 b->b[i][j].bytes - a->b[i][j].bytes != t->be_bytes[i][j];
	}
#undef D
	if (wrong)
		fprintf(stderr, "\n    %llu counters differ from the predicted tallies",
			(unsigned long long)wrong);
	CU_ASSERT_EQUAL(wrong, 0);
}

static void tally_add(struct tally *sum, const struct tally *t)
{
	const __u64 *src = (const __u64 *)t;
	__u64 *dst = (__u64 *)sum;
	size_t i, n = offsetof(struct tally, protos) / sizeof(__u64);
	int f;

	for (i = 0; i < n; i++)
		dst[i] += src[i];
	for (f = 0; f < 2; f++)
		for (i = 0; i < 32; i++) {
			sum->protos[f][i] |= t->protos[f][i];
			sum->sent[f][i] |= t->sent[f][i];
		}
}

static void run_round(struct inst *in, int round, __u32 frames, struct tally *sum)
{
	struct counters *before = calloc(1, sizeof(*before)), *after = calloc(1, sizeof(*after));
	struct worker w[THREADS];
	struct tally t = { 0 };
	int i;

	CU_ASSERT_FATAL(before && after);
	CU_ASSERT_FATAL(read_counters(in, before) == 0);
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .in = in, .round = round, .thread = i,
					.frames = frames / THREADS };
		CU_ASSERT_FATAL(pthread_create(&w[i].tid, NULL, worker_main, &w[i]) == 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(w[i].tid, NULL);
		CU_ASSERT_EQUAL(w[i].err, 0);
		tally_add(&t, &w[i].t);
	}
	CU_ASSERT_FATAL(read_counters(in, after) == 0);
	check_counters(before, after, &t);
	CU_ASSERT_EQUAL(t.bad, 0);
	tally_add(sum, &t);
	free(before);
	free(after);
}

/* ---- an instance: attach, VIPs, rounds, detach -------------------------------- */

static struct inst *cur;

static int inst_init(struct inst *in)
{
	char seed[24], table[16], vnodes[16], prog[160];
	int i, err;

	pin_dir_remove_stale(PIN_PREFIX);
	snprintf(in->pin_dir, sizeof(in->pin_dir), "/sys/fs/bpf/" PIN_PREFIX "%d", getpid());
	pin_dir_remove(in->pin_dir);
	cli.pin_dir = in->pin_dir;
	snprintf(seed, sizeof(seed), "%llx", (unsigned long long)lb_seed);
	snprintf(table, sizeof(table), "%d", TABLE_SIZE);
	snprintf(vnodes, sizeof(vnodes), "%d", VNODES);
	in->prog_fd = -1;
	ipip_mode = in->ipip;
	/* ipip: attached to DEV too (down: no stray frames), run as if in on IPIP_IF0 */
	err = cli_cmd_quiet(do_attach, DEV, "--xdp-mode", "skb", "--seed", seed, "--table-size", table,
		  "--vnodes", vnodes, "--flow-table", in->flow_table, "--dst-mac", in->dst_mac,
		  "--encap-src", ENCAP_NET4 "/25", "--encap-src", ENCAP_NET6 "/120", NULL);
	for (i = 0; !err && i < NVIPS; i++)
		err = vip_setup(&vips[i]);
	snprintf(prog, sizeof(prog), "%s/prog", in->pin_dir);
	in->prog_fd = err ? -1 : bpf_obj_get(prog);
	if (!err && in->prog_fd >= 0)
		err = chlb_dp__open_pinned(in->pin_dir, &in->dp, NULL, 0);
	if (err || in->prog_fd < 0) {
		fprintf(stderr, "test_fuzz: set-up of '%s' failed\n", in->name);
		return -1;
	}
	cur = in;
	return 0;
}

static int inst_clean(struct inst *in)
{
	if (in->prog_fd >= 0)
		close(in->prog_fd);
	chlb_dp__close(&in->dp);
	if (in->pin_dir[0])
		cli_cmd_quiet(do_detach, NULL);
	pin_dir_remove(in->pin_dir);
	vips_free();
	in->prog_fd = -1;
	return 0;
}

static int init_a(void) { return inst_init(&insts[0]); }
static int init_b(void) { return inst_init(&insts[1]); }
static int init_c(void) { return inst_init(&insts[2]); }
static int clean_a(void) { return inst_clean(&insts[0]); }
static int clean_b(void) { return inst_clean(&insts[1]); }
static int clean_c(void) { return inst_clean(&insts[2]); }

/* Of the 256 protocol numbers, how many a bitmap holds. */
static int proto_count(const __u8 *bits)
{
	int i, n = 0;

	for (i = 0; i < 256; i++)
		n += bits[i >> 3] >> (i & 7) & 1;
	return n;
}

static void print_tally(const struct tally *t, double secs)
{
	int i;

	printf("\n    %llu frames in %.1f s (%.0f frames/s, %d threads), %llu wrong\n",
	       (unsigned long long)t->frames, secs, t->frames / secs, THREADS,
	       (unsigned long long)t->bad);
	for (i = 0; i < C_N; i++)
		printf("      %-18s %9llu\n", classes[i].name, (unsigned long long)t->cls[i]);
	printf("    frames with:");
	for (i = 0; i < F_N; i++)
		printf("%s %s %llu", i ? "," : "", feature_names[i],
		       (unsigned long long)t->features[i]);
	printf("\n    IP protocol numbers sent: IPv4 %d/256, IPv6 %d/256; reaching the L4 "
	       "parser: IPv4 %d, IPv6 %d (44 is the IPv6 fragment header)\n",
	       proto_count(t->sent[0]), proto_count(t->sent[1]), proto_count(t->protos[0]),
	       proto_count(t->protos[1]));
	CU_ASSERT(proto_count(t->sent[0]) == 256 && proto_count(t->sent[1]) == 256);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_rounds(void)
{
	struct chlb_global_stats g;
	struct tally sum = { 0 };
	__u32 per_round = frames_total / NINSTS / ROUNDS;
	double t0 = now_s();
	struct rng r;
	int round, n;

	CU_ASSERT_FATAL(cur != NULL);
	rng_init(&r, cur - insts, 1000, 0);
	for (round = 0; round < ROUNDS; round++) {
		for (n = round ? 1 + rbelow(&r, 3) : 0; n > 0; n--)
			CU_ASSERT_FATAL(change_one(&r) == 0);
		CU_ASSERT_FATAL(read_ids(cur) == 0);
		if (cur->dp.flow_entries)
			CU_ASSERT_FATAL(flows_clear(cur) == 0);
		run_round(cur, round, per_round, &sum);
	}
	print_tally(&sum, now_s() - t0);
	CU_ASSERT(chlb_dp__global_stats(&cur->dp, &g) == 0);
	printf("    flow table: %llu hits, %llu misses, %llu inserts\n",
	       (unsigned long long)g.counters[CHLB_CNT_FLOW_HIT],
	       (unsigned long long)g.counters[CHLB_CNT_FLOW_MISS],
	       (unsigned long long)g.counters[CHLB_CNT_FLOW_INSERT]);
	printf("    ICMP errors steered to a VIP flow's backend: %llu\n",
	       (unsigned long long)g.counters[CHLB_CNT_ICMP_STEERED]);
	CU_ASSERT(g.counters[CHLB_CNT_ICMP_STEERED] > 0 && sum.cls[C_DROP_FRAG] > 0);
	if (cur->ipip) {
		printf("    encapsulations checked: 4in4 %llu, 6in6 %llu, 4in6 %llu\n",
		       (unsigned long long)sum.encap[0], (unsigned long long)sum.encap[1],
		       (unsigned long long)sum.encap[2]);
		printf("    too big for the tunnel: %llu answered, %llu dropped (%llu over the rate "
		       "limit)\n", (unsigned long long)g.counters[CHLB_CNT_TX_TOO_BIG],
		       (unsigned long long)g.counters[CHLB_CNT_DROP_TOO_BIG],
		       (unsigned long long)g.counters[CHLB_CNT_TOO_BIG_LIMITED]);
		CU_ASSERT(sum.encap[0] > 0 && sum.encap[1] > 0 && sum.encap[2] > 0);
		CU_ASSERT(g.counters[CHLB_CNT_TX_TOO_BIG] > 0 && sum.cls[C_DROP_TOO_BIG] > 0);
	}
	CU_ASSERT(sum.cls[C_TX] > 0 && sum.cls[C_DROP] > 0);
	CU_ASSERT(cur->mac_check ? sum.cls[C_NOT_FOR_US] > 0 : sum.cls[C_NOT_FOR_US] == 0);
	CU_ASSERT(!cur->dp.flow_entries || g.counters[CHLB_CNT_FLOW_HIT] > 0);
}

/* ---- main ------------------------------------------------------------------- */

static int read_env(void)
{
	const char *s = getenv(SEED_ENV), *n = getenv(FRAMES_ENV);
	char *end;

	if (s) {
		fuzz_seed = strtoull(s, &end, 16);
		if (!*s || *end)
			return -EINVAL;
	} else if (getrandom(&fuzz_seed, sizeof(fuzz_seed), 0) != sizeof(fuzz_seed)) {
		return -errno;
	}
	if (n) {
		frames_total = strtoul(n, &end, 10);
		if (!*n || *end || frames_total < NINSTS * ROUNDS * THREADS)
			return -EINVAL;
	}
	return 0;
}

/* Pools of sources, the attach's seed: all from fuzz_seed. */
static void derive(void)
{
	struct rng r;
	int i;

	rng_init(&r, 77, 77, 77);
	lb_seed = rnext(&r);
	for (i = 0; i < POOL; i++) {
		rbytes(&r, pool4[i], 4);
		rbytes(&r, pool6[i], 16);
	}
	for (i = 0; i < POOL_PORTS; i++)
		pool_ports[i] = 1024 + rbelow(&r, 64000);
}

/*
 * Our own namespace, routed for method ipip (ipip_net.h), and a veth pair
 * left down that chlb attaches to: no frame but ours reaches chlb.
 */
static int make_netns(void)
{
	char why[160];
	int skip;

	if (ipip_net_setup(&ipnet, &skip, why, sizeof(why))) {
		fprintf(stderr, "test_fuzz: %s\n", why);
		return -EIO;
	}
	if (inet_pton(AF_INET, ENCAP_NET4, encap_net4) != 1 ||
	    inet_pton(AF_INET6, ENCAP_NET6, encap_net6) != 1)
		return -EINVAL;
	if (system("ip link add " DEV " address 02:f2:00:00:00:01 type veth peer name " PEER))
		return -EIO;
	return 0;
}

int main(void)
{
	static CU_TestInfo tests[] = {
		{ "random and mutated frames against the prediction", test_rounds },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("fuzz, flow table on, --dst-mac own", init_a, clean_a, tests),
		CU_SUITE("fuzz, flow table off, --dst-mac any", init_b, clean_b, tests),
		CU_SUITE("fuzz, method ipip, flow table on, --dst-mac own", init_c, clean_c, tests),
		CU_SUITE_INFO_NULL,
	};

	if (geteuid() != 0) {
		printf("SKIPPED: test_fuzz needs root (BPF, bpffs, a network namespace)\n");
		return 77;
	}
	if (read_env()) {
		fprintf(stderr, "test_fuzz: %s=HEX, %s=N (>= %d)\n", SEED_ENV, FRAMES_ENV,
			NINSTS * ROUNDS * THREADS);
		return 2;
	}
	derive();
	if (make_netns()) {
		fprintf(stderr, "test_fuzz: cannot make a network namespace with a veth\n");
		return 1;
	}
	cli_cmd_quiet_libs();
	printf("test_fuzz: %s=%016llx, %u frames\n", SEED_ENV, (unsigned long long)fuzz_seed,
	       frames_total);
	return cu_main(suites);
}
