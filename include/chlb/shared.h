/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * What the XDP program and userspace must agree on: map key/value layouts,
 * limits, counter indexes and the flow hash. Compiled unchanged by
 * `clang -target bpf` and by gcc for userspace, so it uses only
 * <linux/types.h> and no libc or BPF helpers.
 */
#ifndef CHLB_SHARED_H
#define CHLB_SHARED_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* ---- limits and defaults ---------------------------------------------- */

#define CHLB_NO_BACKEND		0xffffffffu	/* table slot with no owner */
#define CHLB_MIN_WEIGHT		1
#define CHLB_MAX_WEIGHT		256
#define CHLB_MAX_VNODES		10000
#define CHLB_MAX_TABLE_SIZE	(1u << 24)

#define CHLB_DEFAULT_MAX_VIPS		64
#define CHLB_DEFAULT_MAX_BACKENDS	4096	/* all VIPs together */

/*
 * The flow table (chlb_flows): entries at attach, 0 = off (stateless).
 * 32 bytes per entry (a CHLB_FLOW_WAYS-way bucket is 128), so the default
 * is 8 MB.
 */
#define CHLB_DEFAULT_FLOW_ENTRIES	(1u << 18)
#define CHLB_MAX_FLOW_ENTRIES		(1u << 24)
#define CHLB_DEFAULT_UDP_TIMEOUT	30	/* seconds idle before a UDP flow re-hashes */
#define CHLB_MAX_UDP_TIMEOUT		86400
/* A hit rewrites a way's time only when it is this old: few writes to shared lines. */
#define CHLB_FLOW_REFRESH_NS		1000000000ULL
/*
 * The shortest UDP timeout honoured: a way's time lags its flow's last
 * packet by up to CHLB_FLOW_REFRESH_NS, so a flow whose packets come less
 * than the timeout apart is sure never to expire only when the timeout is
 * at least twice that (a packet then sees an age below refresh + gap, or
 * the gap itself when every packet refreshes).
 */
#define CHLB_MIN_UDP_TIMEOUT		2
_Static_assert(CHLB_MIN_UDP_TIMEOUT * 1000000000ULL >= 2 * CHLB_FLOW_REFRESH_NS,
	       "the UDP timeout must cover two refresh periods");
/*
 * Flood resilience (bpf/flow.h): a way is busy while its flow is confirmed
 * (a packet came after the one that recorded it) and its time is at most
 * this old; after a FIN or RST, CHLB_FLOW_CLOSING_NS instead. A new flow
 * never takes a busy way (see struct chlb_flow_way).
 */
#define CHLB_FLOW_BUSY_NS		10000000000ULL
#define CHLB_FLOW_CLOSING_NS		3000000000ULL

/* Map names, pinned under the pin directory (LIBBPF_PIN_BY_NAME). */
#define CHLB_MAP_VIPS		"chlb_vips"
#define CHLB_MAP_TABLES		"chlb_tables"
#define CHLB_MAP_BACKENDS	"chlb_backends"
#define CHLB_MAP_BSTATS		"chlb_bstats"
#define CHLB_MAP_VSTATS		"chlb_vstats"
#define CHLB_MAP_GSTATS		"chlb_gstats"
#define CHLB_MAP_CONFIG		"chlb_config"
#define CHLB_MAP_VIP_INDEX	"chlb_vip_index"
#define CHLB_MAP_VIP_PORTS	"chlb_vip_ports"
#define CHLB_MAP_FLOWS		"chlb_flows"
#define CHLB_MAP_FLOW_CPU	"chlb_flow_cpu"
#define CHLB_MAP_VIP_HEALTH	"chlb_vip_health"
#define CHLB_MAP_JOURNAL	"chlb_journal"
#define CHLB_MAP_JOURNAL_HEAD	"chlb_journal_head"
#define CHLB_MAP_BHEALTH	"chlb_bhealth"
#define CHLB_MAP_DAEMON		"chlb_daemon"
#define CHLB_MAP_VIP_ADDRS	"chlb_vip_addrs"
#define CHLB_MAP_NEXTHOPS	"chlb_nexthops"

/*
 * The layout of the pinned maps, recorded in chlb_config.version at attach.
 * A chlb whose layout differs refuses the pins with a message instead of
 * misreading them. 2: health, journal, netns, daemon, backend health.
 * 3: the VIP index's seeded hash and header entry. 4: the flow table's
 * 32-byte ways with check words, chlb_flow_cpu, the flood counters.
 * 5: method ipip (outer sources in chlb_config), chlb_vip_addrs, the
 * encapsulation / ICMP / fragment counters, chlb_vip_stats.fragments,
 * chlb_flow_cpu.too_big_tat, chlb_nexthops.
 */
#define CHLB_ABI_VERSION	5

enum chlb_family {
	CHLB_FAMILY_INET = 4,
	CHLB_FAMILY_INET6 = 6,
};

enum chlb_method {
	CHLB_METHOD_DSR = 1,	/* MAC rewrite, XDP_TX: backends on the LB's segment */
	/*
	 * Encapsulated in an outer IP header to the backend (4in4, 6in6, 4in6
	 * by the backend's family), next hop from the kernel's FIB (SPEC §11).
	 */
	CHLB_METHOD_IPIP = 2,
};

enum chlb_backend_flags {
	CHLB_BACKEND_F_IN_USE = 1 << 0,
	CHLB_BACKEND_F_DRAINING = 1 << 1,
	CHLB_BACKEND_F_MAC_SET = 1 << 2,	/* MAC given by the user, not resolved */
	/*
	 * Failed its health checks (chlb daemon): owns no slots, like a
	 * draining backend, but its flows re-hash too (gen is bumped when it
	 * goes down), since it cannot answer them.
	 */
	CHLB_BACKEND_F_DOWN = 1 << 3,
};

enum chlb_vip_flags {
	CHLB_VIP_F_PANIC = 1 << 0,	/* every backend down: all kept (fail open) */
	CHLB_VIP_F_MANAGED = 1 << 1,	/* configured by a chlb daemon's source */
};

/*
 * Addresses are 16 bytes in network order everywhere; IPv4 is stored
 * IPv4-mapped (::ffff:a.b.c.d) so one layout serves both families.
 */
#define CHLB_ADDR_LEN 16

/* chlb_vips: HASH, key -> value */
struct chlb_vip_key {
	__u8 addr[CHLB_ADDR_LEN];
	__be16 port;
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;		/* enum chlb_family */
};
_Static_assert(sizeof(struct chlb_vip_key) == 20, "chlb_vip_key ABI");

struct chlb_vip_info {
	__u32 id;		/* index into chlb_tables and chlb_vstats */
	__u32 method;		/* enum chlb_method */
	__u32 flags;
	__u32 pad;
};
_Static_assert(sizeof(struct chlb_vip_info) == 16, "chlb_vip_info ABI");

/*
 * chlb_vip_index: ARRAY_OF_MAPS with one entry, an ARRAY of slots: an
 * open-addressed copy of chlb_vips that the XDP program searches with a
 * few inlined array loads instead of a hash map call (chlb_vips stays the
 * authoritative record). Built whole from chlb_vips and swapped in one
 * step by chlb_dp__vip_sync(). Entries 0 .. size - 1 are slots, entry
 * size is the header (struct chlb_vip_index_hdr): the seed of this
 * build's chlb_vip_hash(). Slot i holds a VIP whose hash is i - k (mod
 * size) for some k < CHLB_VIP_PROBES; family 0 = empty, and an empty slot
 * ends the search.
 *
 * A VIP whose CHLB_VIP_PROBES slots are all taken stays out of the index
 * (an overflow): a search that finds those slots all taken by other VIPs
 * asks chlb_vips, so every VIP up to max_vips is served whatever the keys.
 * Each build draws a random seed and tries a few until no VIP overflows,
 * so no set of VIPs collides at every build.
 */
#define CHLB_VIP_PROBES 8

struct chlb_vip_slot {
	struct chlb_vip_key key;
	struct chlb_vip_info info;
	__u32 pad;
};
_Static_assert(sizeof(struct chlb_vip_slot) == 40, "chlb_vip_slot ABI");

/* The index's last entry; zero where a slot has key.family: never a VIP. */
struct chlb_vip_index_hdr {
	__u64 seed;		/* chlb_vip_hash()'s seed for these slots */
	__u32 vips;		/* VIPs in chlb_vips when built */
	__u32 overflow;		/* of them, left out: found through chlb_vips */
	__u8 zero[4];		/* a slot's key.family lies in here */
	__u32 max_probe;	/* the longest probe sequence, in slots */
	__u32 seeds_tried;	/* until none overflowed, or the last try */
	__u8 pad[12];
};
_Static_assert(sizeof(struct chlb_vip_index_hdr) == sizeof(struct chlb_vip_slot),
	       "chlb_vip_index_hdr ABI");

/* Slots for max_vips VIPs: a power of two, load at most 1/8. */
static __always_inline __u32 chlb_vip_index_size(__u32 max_vips)
{
	__u32 n = 8;

	while (n < max_vips * 8 && n < (1u << 24))
		n <<= 1;
	return n;
}

/* Entries of the index's inner array: the slots and the header. */
static __always_inline __u32 chlb_vip_index_entries(__u32 max_vips)
{
	return chlb_vip_index_size(max_vips) + 1;
}

/*
 * chlb_vip_ports: ARRAY with one entry, a bit per destination port that
 * some VIP uses (any address, protocol, family). The XDP program passes a
 * frame to any other port after one load, without searching for a VIP.
 * Until userspace has synced it (synced == 0) the filter is off.
 */
struct chlb_vip_ports {
	__u64 synced;
	__u64 bits[65536 / 64];
};

static __always_inline int chlb_vip_port_test(const struct chlb_vip_ports *p, __u16 port)
{
	return (p->bits[(port >> 6) & 1023] >> (port & 63)) & 1;
}

static __always_inline void chlb_vip_port_set(struct chlb_vip_ports *p, __u16 port)
{
	p->bits[(port >> 6) & 1023] |= 1ULL << (port & 63);
}

/*
 * chlb_backends: ARRAY indexed by backend id. It is also the authoritative
 * record of each backend's configuration (address, weight, state), which
 * the controller reads back to rebuild rings deterministically. gen counts
 * the lives of the id: the controller keeps it when it clears an entry and
 * bumps it when it reuses the id, so a flow recorded for an earlier backend
 * of that id is seen to be stale.
 */
struct chlb_backend {
	__u8 addr[CHLB_ADDR_LEN];
	__u8 mac[6];
	__u16 weight;
	__u32 vip_id;
	__u32 flags;		/* enum chlb_backend_flags */
	__u32 gen;
	__u32 pad;
};
_Static_assert(sizeof(struct chlb_backend) == 40, "chlb_backend ABI");

#define CHLB_FLOW_WAYS	4	/* struct chlb_flow_bucket: after the flow hash */

/*
 * A VIP's health check, as configured (SPEC §9, §10). The data plane never
 * reads it; it is kept with the VIP so the configuration document round
 * trips. type 0: no checks.
 */
enum chlb_health_type {
	CHLB_HEALTH_NONE = 0,
	CHLB_HEALTH_TCP = 1,
	CHLB_HEALTH_HTTP = 2,
};

#define CHLB_HEALTH_PATH_LEN 128

struct chlb_health {
	__u32 type;		/* enum chlb_health_type */
	__u32 interval_ms;
	__u32 timeout_ms;
	__u16 port;		/* host order */
	__u16 expect;		/* HTTP status expected */
	__u16 rise;		/* successes that bring a backend back */
	__u16 fall;		/* failures that take it down */
	char path[CHLB_HEALTH_PATH_LEN];	/* HTTP GET path, NUL-terminated */
};
_Static_assert(sizeof(struct chlb_health) == 148, "chlb_health ABI");

/*
 * The controller's undo journal (the XDP program never reads it).
 * chlb_journal_head: ARRAY[1]; chlb_journal: ARRAY of 2 * max_vips +
 * max_backends records. Before a transaction writes the model (chlb_vips,
 * chlb_vip_health, chlb_backends), it records every entry it will change
 * as it was, then sets the head pending with one update: the commit of the
 * undo log. When the transaction has published, the head goes idle again.
 * A process that finds the head pending (the writer failed or was killed)
 * restores those entries and re-publishes: the instance is as it was before
 * the interrupted command, and retrying that command succeeds.
 */
enum chlb_journal_state {
	CHLB_JOURNAL_IDLE = 0,
	CHLB_JOURNAL_PENDING = 1,
};

struct chlb_journal_head {
	__u32 state;		/* enum chlb_journal_state */
	__u32 count;		/* records 0..count-1 of chlb_journal */
	__u64 seq;		/* transactions begun on this instance */
};
_Static_assert(sizeof(struct chlb_journal_head) == 16, "chlb_journal_head ABI");

enum chlb_journal_kind {
	CHLB_JREC_VIP = 1,	/* vip_key was vip_info + health, or absent */
	CHLB_JREC_BACKEND = 2,	/* chlb_backends[id] was backend */
};

struct chlb_journal_rec {
	__u32 kind;		/* enum chlb_journal_kind */
	__u32 present;		/* VIP: it existed */
	__u32 id;		/* backend id */
	__u32 pad;
	struct chlb_vip_key vip_key;
	struct chlb_vip_info vip_info;
	struct chlb_health health;
	struct chlb_backend backend;
};
_Static_assert(sizeof(struct chlb_journal_rec) == 240, "chlb_journal_rec ABI");

/*
 * chlb_bhealth: ARRAY indexed by backend id, written by the daemon after
 * each check of a backend (the XDP program never reads it), so `backend
 * list` can show the last result. Valid when gen equals the backend's.
 */
enum chlb_check_result {
	CHLB_CHECK_NONE = 0,		/* not checked (yet) */
	CHLB_CHECK_OK = 1,
	CHLB_CHECK_REFUSED = 2,		/* connection refused */
	CHLB_CHECK_TIMEOUT = 3,
	CHLB_CHECK_HTTP_STATUS = 4,	/* unexpected status: detail */
	CHLB_CHECK_ERROR = 5,		/* other failure: detail is an errno */
	CHLB_CHECK_MAX,
};

struct chlb_backend_health {
	__u32 gen;		/* the backend's gen when written */
	__u32 result;		/* enum chlb_check_result of the last check */
	__u32 detail;		/* HTTP status, or errno */
	__u32 down;		/* 1: taken out by its checks */
	__u64 last_ns;		/* CLOCK_REALTIME of the last check */
};
_Static_assert(sizeof(struct chlb_backend_health) == 24, "chlb_backend_health ABI");

/*
 * chlb_daemon: ARRAY[1], the daemon managing this instance (pid 0: none).
 * A CLI change to a VIP flagged CHLB_VIP_F_MANAGED is refused while that
 * process lives (start_time tells a reused pid apart).
 */
enum chlb_source {
	CHLB_SOURCE_NONE = 0,
	CHLB_SOURCE_FILE = 1,
	CHLB_SOURCE_ETCD = 2,
};

struct chlb_daemon_info {
	__u32 pid;
	__u32 source;		/* enum chlb_source */
	__u64 start_time;	/* the process's start time, /proc/PID/stat field 22 */
	__u64 since_ns;		/* CLOCK_REALTIME when it took the instance */
	char desc[232];		/* the source: file path, etcd URLs and prefix */
};
_Static_assert(sizeof(struct chlb_daemon_info) == 256, "chlb_daemon_info ABI");

/* chlb_bstats: PERCPU_ARRAY indexed by backend id */
struct chlb_backend_stats {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;
};

/* chlb_vstats: PERCPU_ARRAY indexed by VIP id */
struct chlb_vip_stats {
	__u64 packets;
	__u64 bytes;
	__u64 no_backend;
	__u64 fragments;	/* IP fragments to the VIP, dropped (SPEC §4) */
};

/* chlb_gstats: PERCPU_ARRAY with one entry: counters[] by enum chlb_counter */
enum chlb_counter {
	CHLB_CNT_RX,			/* every frame: the sum of the others,
					 * filled in by chlb_dp__global_stats */
	CHLB_CNT_TX,			/* VIP frames forwarded (XDP_TX) */
	CHLB_CNT_PASS_NOT_IP,		/* ARP, LLDP, ... */
	CHLB_CNT_PASS_NOT_VIP,		/* IP, but no VIP matched */
	CHLB_CNT_PASS_OTHER_PROTO,	/* ICMP, ND, ... */
	CHLB_CNT_PASS_FRAGMENT,		/* IPv4 fragments, IPv6 fragment hdr */
	CHLB_CNT_PASS_MALFORMED,	/* truncated or bad headers */
	CHLB_CNT_DROP_NO_BACKEND,	/* VIP with no usable backend */
	CHLB_CNT_PASS_NOT_FOR_US,	/* VIP frame to another MAC than the
					 * interface's (promiscuous, group) */
	/* method ipip (bpf/encap.h) */
	CHLB_CNT_REDIRECT,		/* encapsulated, sent out another
					 * interface (bpf_redirect) */
	CHLB_CNT_PASS_NO_NEIGH,		/* encapsulated, next hop's MAC not
					 * known: passed to the kernel, which
					 * resolves it and forwards */
	CHLB_CNT_DROP_NO_ROUTE,		/* no usable route to the backend */
	CHLB_CNT_DROP_ENCAP,		/* no outer source for the backend's
					 * family, or no room for the header */
	CHLB_CNT_TX_TOO_BIG,		/* too big once encapsulated: answered
					 * with ICMP frag needed / packet too big */
	CHLB_CNT_DROP_TOO_BIG,		/* too big, not answered (no DF, rate
					 * limit, see bpf/too_big.h) */
	CHLB_CNT_DROP_FRAGMENT,		/* an IP fragment to a VIP address */
	/*
	 * Flow table events, counted beside the frame's reason (not in RX).
	 * With the table on, every VIP TCP/UDP frame is a hit or a miss
	 * (an ICMP error steered by its flow reads the table but counts
	 * neither).
	 */
	CHLB_CNT_FLOW_HIT,		/* backend taken from the flow table */
	CHLB_CNT_FLOW_MISS,		/* from the slot table: no entry, SYN,
					 * expired or stale */
	CHLB_CNT_FLOW_INSERT,		/* entries written (misses forwarded) */
	CHLB_CNT_FLOW_EXPIRED,		/* misses: UDP entry idle too long */
	CHLB_CNT_FLOW_STALE,		/* misses: backend removed or replaced */
	/* Flood resilience (bpf/flow.h): what a miss found in its bucket */
	CHLB_CNT_FLOW_REFUSED,		/* every way busy: not recorded, forwarded
					 * by the slot table */
	CHLB_CNT_FLOW_EVICT_BUSY,	/* a busy way taken (bench policies only) */
	CHLB_CNT_FLOW_EVICT_NEW,	/* a way taken whose flow had sent one
					 * packet (a SYN flood pushes these) */
	/* Events of the ICMP paths, counted beside the frame's reason */
	CHLB_CNT_ICMP_STEERED,		/* ICMP errors quoting a VIP flow, sent
					 * to the flow's backend */
	CHLB_CNT_TOO_BIG_LIMITED,	/* too-big answers held back by the
					 * per-CPU rate limit */
	CHLB_CNT_MAX,
};
/* Counters below this one are frame reasons: each frame adds to exactly one. */
#define CHLB_CNT_REASONS CHLB_CNT_FLOW_HIT

struct chlb_global_stats {
	__u64 counters[CHLB_CNT_MAX];
};

enum chlb_config_flags {
	/* VIP frames are forwarded whatever their destination MAC (no check) */
	CHLB_CFG_F_ANY_DST_MAC = 1 << 0,
};

/*
 * chlb_flow_cpu: PERCPU_ARRAY with one entry, the flow table's state on
 * each CPU: the eviction budget of a load-time policy (bpf/flow.h), and
 * when the CPU last refused to record a flow or evicted a flow, busy or
 * not yet confirmed, so `chlb stats` can say the table is under flood.
 * Times are CLOCK_MONOTONIC_COARSE ns, 0: never.
 */
struct chlb_flow_cpu {
	__u64 budget_tat;	/* the budget's theoretical arrival time */
	__u64 refused_ns;
	__u64 evict_busy_ns;
	__u64 evict_new_ns;
	__u64 too_big_tat;	/* the too-big answers' rate limit (bpf/too_big.h) */
};

/*
 * The too-big answers' rate limit (bpf/too_big.h), on each CPU: this many
 * a second, up to CHLB_TOO_BIG_BURST of them at once.
 */
#define CHLB_TOO_BIG_RATE	1000
#define CHLB_TOO_BIG_BURST	100

/*
 * chlb_nexthops (method ipip, bpf/encap.h): PERCPU_ARRAY of max_backends *
 * CHLB_NEXTHOP_WAYS entries, a cache of what bpf_fib_lookup() answered for
 * a backend, entry id * CHLB_NEXTHOP_WAYS + (flow hash & (WAYS - 1)). An
 * entry serves frames of that backend while gen and the outer family are
 * those it was filled for, for nexthop_ttl_ns (a load-time setting,
 * CHLB_NEXTHOP_TTL_NS unless told; 0: no cache): route, neighbour and MTU
 * changes take effect within it. Only a SUCCESS answer is kept. Times are
 * CLOCK_MONOTONIC_COARSE ns, 0: empty. Written by the program only, each
 * CPU its own copy; userspace never needs to clear it (gen tells a reused
 * id's entries).
 */
#define CHLB_NEXTHOP_WAYS	4
#define CHLB_NEXTHOP_TTL_NS	100000000ULL	/* 100 ms */
#define CHLB_NEXTHOP_MAX_TTL_NS	10000000000ULL

struct chlb_nexthop {
	__u64 filled_ns;	/* when filled; 0: empty */
	__u32 gen;		/* the backend's gen it was filled for */
	__u32 ifindex;		/* the route's interface */
	__u8 smac[6];		/* struct bpf_fib_lookup's order: smac, dmac */
	__u8 dmac[6];
	__u16 mtu;		/* the route's MTU, the outer packet's most */
	__u8 v6;		/* the outer header is IPv6 */
	__u8 pad;
};
_Static_assert(sizeof(struct chlb_nexthop) == 32, "chlb_nexthop ABI");

/*
 * Method ipip: the outer source addresses of one family, set at attach
 * (`--encap-src`). The outer source of a flow is addr with its host bits
 * (the last 32-bit word; at most CHLB_ENCAP_SRC_MAX_BITS of them) taken
 * from the flow hash, so a backend's NIC spreads flows over its queues;
 * a /32 (/128) is one address, e.g. the LB's own. family 0: none set, and
 * backends of that family cannot serve ipip VIPs.
 */
#define CHLB_ENCAP_SRC_MAX_BITS	16

struct chlb_encap_src {
	__u8 addr[CHLB_ADDR_LEN];	/* host bits zero; IPv4 mapped */
	__u8 prefix_len;		/* in the family's bits: 0..32, 0..128 */
	__u8 family;			/* enum chlb_family, 0: none */
	__u8 pad[2];
};
_Static_assert(sizeof(struct chlb_encap_src) == 20, "chlb_encap_src ABI");

/* The mask of the host bits varied in the last 32-bit word (host order). */
static __always_inline __u32 chlb_encap_src_mask(const struct chlb_encap_src *s)
{
	__u32 bits = (s->family == CHLB_FAMILY_INET ? 32 : 128) - s->prefix_len;

	if (bits > CHLB_ENCAP_SRC_MAX_BITS)
		bits = CHLB_ENCAP_SRC_MAX_BITS;
	return (1u << bits) - 1;
}

/*
 * chlb_vip_addrs: HASH, the addresses some VIP uses -> the id of the VIP
 * with that address whose counters take its fragments (the lowest id). Key:
 * a chlb_vip_key with port 0 and proto 0. Derived from chlb_vips by
 * chlb_dp__vip_sync(), like the index.
 */

/* chlb_config: ARRAY with one entry, written at attach */
struct chlb_config {
	__u64 seed;
	__u32 vnodes;
	__u32 table_size;
	__u32 max_vips;
	__u32 max_backends;
	__u32 algo;		/* enum chlb_algo in the library header */
	__u32 ifindex;
	__u32 xdp_mode;		/* 1 native, 2 skb */
	__u32 version;		/* CHLB_ABI_VERSION of the chlb that attached */
	__u8 if_mac[6];
	__u8 pad[2];
	__u32 flow_entries;	/* 0: flow table off */
	__u32 udp_timeout;	/* seconds */
	__u32 flow_map_flags;	/* 0: the set-associative flow cache */
	__u32 netns_ino;	/* network namespace of the attach (inode of its nsfs file) */
	__u32 flags;		/* enum chlb_config_flags */
	__u32 reserved;
	struct chlb_encap_src encap[2];	/* method ipip: [0] IPv4, [1] IPv6 */
};
_Static_assert(sizeof(struct chlb_config) == 112, "chlb_config ABI");

/* ---- the flow hash ---------------------------------------------------- */

/*
 * The five-tuple as hashed. 40 bytes = five 64-bit words; the union lets
 * both compilers read it as words without breaking strict aliasing.
 */
struct chlb_flow_key {
	union {
		struct {
			__u8 src[CHLB_ADDR_LEN];
			__u8 dst[CHLB_ADDR_LEN];
			__be16 sport;
			__be16 dport;
			__u8 proto;
			__u8 family;
			__u8 pad[2];
		};
		__u64 words[5];
	};
};
_Static_assert(sizeof(struct chlb_flow_key) == 40, "chlb_flow_key ABI");

#define CHLB_P1 0x9E3779B185EBCA87ULL
#define CHLB_P2 0xC2B2AE3D27D4EB4FULL
#define CHLB_P3 0x165667B19E3779F9ULL

static __always_inline __u64 chlb_rotl64(__u64 x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* murmur3's 64-bit finalizer: every input bit affects every output bit. */
static __always_inline __u64 chlb_mix64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* xxh64's accumulator round: one multiply-rotate-multiply per word. */
static __always_inline __u64 chlb_round64(__u64 acc, __u64 w)
{
	acc += w * CHLB_P2;
	acc = chlb_rotl64(acc, 31);
	return acc * CHLB_P1;
}

/*
 * Seeded hash of a flow key (IPv4 or IPv6 alike), 64 bits: xxh64-style
 * rounds over the five words in two independent lanes (words 0, 2, 4 and
 * 1, 3), so the CPU overlaps their multiplies and the dependency chain is
 * three rounds instead of five; the lanes are joined and finished with
 * fmix64. The seed enters both lanes, so which flows collide depends on it.
 * The top 32 bits pick the slot and the flow cache's bucket
 * (chlb_flow_hash), the low 32 bits are the flow cache's tag.
 */
static __always_inline __u64 chlb_flow_hash64(const struct chlb_flow_key *k, __u64 seed)
{
	__u64 a = seed + CHLB_P3;
	__u64 b = seed ^ CHLB_P1;

	a = chlb_round64(a, k->words[0]);
	b = chlb_round64(b, k->words[1]);
	a = chlb_round64(a, k->words[2]);
	b = chlb_round64(b, k->words[3]);
	a = chlb_round64(a, k->words[4]);
	return chlb_mix64(a ^ chlb_rotl64(b, 27));
}

/* The 32-bit flow hash that picks a VIP's slot: chlb_flow_hash64's top half. */
static __always_inline __u32 chlb_flow_hash(const struct chlb_flow_key *k,
					    __u64 seed)
{
	return (__u32)(chlb_flow_hash64(k, seed) >> 32);
}

/*
 * Map a 32-bit hash onto M slots by multiply-shift: slot s receives exactly
 * floor or ceil(2^32 / M) hash values, the best any mapping can do, with
 * no division and no bias towards low slots as `h % M` would have.
 */
static __always_inline __u32 chlb_hash_to_slot(__u32 h, __u32 m)
{
	return (__u32)(((__u64)h * m) >> 32);
}

/* The smallest hash that lands in slot s: the slot's position on the ring. */
static __always_inline __u32 chlb_slot_position(__u32 s, __u32 m)
{
	return (__u32)((((__u64)s << 32) + m - 1) / m);
}

/* ---- the flow cache's layout (chlb_flows) -------------------------------- */

/*
 * chlb_flows: ARRAY of buckets, CHLB_FLOW_WAYS ways each, indexed by
 * chlb_flow_bucket(chlb_flow_hash(key, seed), buckets). A way is 32 bytes
 * and holds everything about its flow, so a bucket is two cache lines side
 * by side (one 128-byte pair, fetched together by the CPU's adjacent-line
 * prefetch): a lookup reads them, and an insert writes only a line it has
 * just read. (A layout with the four ways' heads in one line and the full
 * keys in the next ones read one line for a new flow but wrote a key into
 * a line not yet fetched: that store miss cost more than the lines saved.)
 *
 * The key is compact but exact: the client's address and port and the
 * VIP's id, which stands for the VIP's address, port and protocol (VIP
 * ids are below 2^16, the most VIPs attach allows). A way records that its
 * flow went to backend id (low CHLB_FLOW_ID_BITS of backend), valid while
 * that backend's entry is in use in the same VIP with the same generation
 * modulo 2^(32 - CHLB_FLOW_ID_BITS); a reused VIP id is caught there too,
 * since the VIP's old backends are gone or of another generation.
 *
 * check binds the record to its key: chlb_flow_check() of the low half of
 * the key's chlb_flow_hash64() and backend. A way is a flow's only when
 * its key fields equal the flow's and its check is right for the backend
 * read with them, so a way torn by two writers (key of one flow, backend
 * of another, or half rewritten) is no flow's, whatever the order its
 * words were read in; bpf/flow.h decides on that one copy.
 *
 * seen: the way's clock (chlb_flow_clock(): CLOCK_MONOTONIC_COARSE in
 * 2^CHLB_FLOW_TIME_SHIFT ns ticks, in bits 2-31) when it was recorded or
 * last refreshed (at most every CHLB_FLOW_REFRESH_NS), and two flags; 0:
 * an empty way. Ages are taken modulo 2^30 ticks (208 days), a time ahead
 * of the reader's clock (a refresh on another CPU) being age 0, so ages up
 * to 104 days are right.
 */
#define CHLB_FLOW_ID_BITS	20	/* backend ids: the most backends attach allows */
#define CHLB_FLOW_ID_MASK	((1u << CHLB_FLOW_ID_BITS) - 1)
#define CHLB_FLOW_TIME_SHIFT	24	/* 16.8 ms ticks */
#define CHLB_FLOW_F_CONFIRMED	1u	/* a packet came after the recording one */
#define CHLB_FLOW_F_CLOSING	2u	/* a FIN or RST came */
#define CHLB_FLOW_F_MASK	3u

struct chlb_flow_way {
	union {
		struct {
			__u8 src[CHLB_ADDR_LEN];	/* the client (IPv4 mapped) */
			union {
				struct {
					__be16 sport;
					__u16 vip;	/* the VIP's id */
				};
				__u32 port_vip;
			};
			__u32 backend;		/* id | gen << CHLB_FLOW_ID_BITS */
			__u32 check;		/* chlb_flow_check(hash, backend) */
			__u32 seen;		/* chlb_flow_clock() | CHLB_FLOW_F_*; 0: empty */
		};
		__u64 words[4];
	};
};
_Static_assert(sizeof(struct chlb_flow_way) == 32, "chlb_flow_way ABI");

struct chlb_flow_bucket {
	struct chlb_flow_way way[CHLB_FLOW_WAYS];
};
_Static_assert(sizeof(struct chlb_flow_bucket) == 128, "chlb_flow_bucket ABI");

/*
 * The bucket of a flow hash among n. The hash is first scrambled by an odd
 * multiplier, so a bucket's flows do not all map to neighbouring slots of
 * the VIP's table (which takes the same hash's top bits).
 */
static __always_inline __u32 chlb_flow_bucket(__u32 h, __u32 n)
{
	return chlb_hash_to_slot(h * 0x9E3779B1u, n);
}

/* A way's backend field: the id and its generation (modulo 2^12). */
static __always_inline __u32 chlb_flow_backend_of(__u32 id, __u32 gen)
{
	return (id & CHLB_FLOW_ID_MASK) | gen << CHLB_FLOW_ID_BITS;
}

/* Does a way's backend field name this generation of the backend? */
static __always_inline int chlb_flow_gen_eq(__u32 backend, __u32 gen)
{
	return backend >> CHLB_FLOW_ID_BITS == (gen << CHLB_FLOW_ID_BITS) >> CHLB_FLOW_ID_BITS;
}

/*
 * A way's check: lo, the low half of its key's 64-bit hash (the high half
 * chose the bucket), XOR its backend field times an odd constant (one to
 * one). A reader computes it from the backend field it read: a mix of two
 * records of the flow fails it unless both named the same backend and
 * generation, and another flow's record fails it unless both keys' hashes
 * agree in all 64 bits.
 */
static __always_inline __u32 chlb_flow_check(__u32 lo, __u32 backend)
{
	return lo ^ (backend * 0x9E3779B1u);
}

/* The compact key of flow k to VIP id vip, in a way otherwise zero. */
static __always_inline void chlb_flow_way_key(const struct chlb_flow_key *k, __u32 vip,
					      struct chlb_flow_way *w)
{
	w->words[0] = k->words[0];
	w->words[1] = k->words[1];
	w->words[2] = 0;
	w->words[3] = 0;
	w->sport = k->sport;
	w->vip = vip;
}

/* A way's clock at ns (CLOCK_MONOTONIC_COARSE), flags clear. */
static __always_inline __u32 chlb_flow_clock(__u64 ns)
{
	return (__u32)(ns >> CHLB_FLOW_TIME_SHIFT) << 2;
}

/* ns as ticks of the way's clock, for comparing with chlb_flow_age(). */
static __always_inline __u32 chlb_flow_ticks(__u64 ns)
{
	return (__u32)(ns >> CHLB_FLOW_TIME_SHIFT);
}

/* Ticks since seen's time at clock; 0 for a time ahead of clock. */
static __always_inline __u32 chlb_flow_age(__u32 seen, __u32 clock)
{
	__u32 a = (clock - (seen & ~CHLB_FLOW_F_MASK)) >> 2;

	return a < (1u << 29) ? a : 0;
}

/*
 * The way of b holding key k (chlb_flow_way_key; lo: the low half of the
 * flow's chlb_flow_hash64), or -1; *w is that way as read and validated.
 * Each way is read once, as four words (volatile: the compiler may not
 * read it again), so callers decide on that copy, never on the map, which
 * another CPU may be rewriting.
 */
static __always_inline int chlb_flow_find(const struct chlb_flow_bucket *b,
					  const struct chlb_flow_way *k, __u32 lo,
					  struct chlb_flow_way *w)
{
	const volatile struct chlb_flow_way *v;
	int i;

	for (i = 0; i < CHLB_FLOW_WAYS; i++) {
		v = &b->way[i];
		w->words[0] = v->words[0];
		w->words[1] = v->words[1];
		w->words[2] = v->words[2];
		w->words[3] = v->words[3];
		if (w->words[0] == k->words[0] && w->words[1] == k->words[1] &&
		    w->port_vip == k->port_vip && w->check == chlb_flow_check(lo, w->backend))
			return i;
	}
	return -1;
}

/*
 * Store an IPv4 address (network order) as ::ffff:a.b.c.d. Word-sized
 * copies, so clang emits four stores for BPF instead of sixteen.
 */
static __always_inline void chlb_addr_from_v4(__u8 *a, __be32 v4)
{
	static const __u8 prefix[12] = { [10] = 0xff, [11] = 0xff };

	__builtin_memcpy(a, prefix, sizeof(prefix));
	__builtin_memcpy(a + 12, &v4, sizeof(v4));
}

/*
 * Home slot of a VIP in chlb_vip_index (before masking), under the index's
 * seed. The key is read as two 64-bit words and a 32-bit tail (port,
 * protocol, family); each is mixed with the seed and multiplied on its own
 * lane before the lanes are joined, so which keys collide depends on the
 * seed. (An earlier, unseeded version folded the words by XOR first: 65536
 * IPv4 VIPs whose address and port bits cancel out shared one home slot
 * at any index size, and 256 addresses x 256 ports overflowed thousands.)
 * Two multiplies deep: this runs for every frame to a VIP's port, VIP or
 * not.
 */
static __always_inline __u32 chlb_vip_hash(const struct chlb_vip_key *k, __u64 seed)
{
	__u64 a0, a1, x;
	__u32 tail;

	__builtin_memcpy(&a0, k->addr, 8);
	__builtin_memcpy(&a1, k->addr + 8, 8);
	__builtin_memcpy(&tail, &k->port, 4);
	x = ((a0 ^ seed) * CHLB_P1) ^ chlb_rotl64((a1 + seed) * CHLB_P2, 23) ^
	    chlb_rotl64(((__u64)tail ^ chlb_rotl64(seed, 32)) * CHLB_P3, 41);
	return (__u32)((x * CHLB_P1) >> 32);
}

#endif /* CHLB_SHARED_H */
