/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The controller's view of the XDP data plane: loading the object with the
 * limits chosen at attach, opening a pinned instance again, swapping a VIP's
 * table atomically, and summing per-CPU counters.
 */
#ifndef CHLB_DATAPLANE_H
#define CHLB_DATAPLANE_H

#include <stddef.h>
#include <linux/types.h>
#include "chlb/shared.h"

struct chlb;	/* the libbpf skeleton, build/chlb.skel.h */

/*
 * How the flow table treats new flows when a bucket is full (bpf/flow.h).
 * The defaults are the policy chosen; the others are for the benches that
 * compare them (tests/bench_xdp.c).
 */
struct chlb_flow_policy {
	__u64 busy_ns;		/* a confirmed flow seen this recently is busy; 0: none (LRU) */
	__u64 closing_ns;	/* the same after a FIN or RST */
	int evict_busy;		/* all ways busy: evict the oldest (1) or refuse (0) */
	__u32 budget_rate;	/* per CPU: budgeted evictions a second; 0: no budget */
	__u32 budget_burst;	/* evictions the budget holds */
	int budget_all;		/* every eviction of a live way is budgeted, not only busy */
};

struct chlb_dp_opts {
	const char *pin_dir;	/* maps pinned (by name) here; NULL: no pinning */
	__u32 max_vips;
	__u32 max_backends;
	__u32 table_size;	/* M, slots per VIP table */
	__u64 seed;		/* cluster seed for the flow hash */
	__u8 if_mac[6];		/* source MAC of forwarded frames */
	__u32 flow_entries;	/* flow table size; 0: off, the stateless path */
	__u32 udp_timeout;	/* seconds; 0: CHLB_DEFAULT_UDP_TIMEOUT */
	int bench_fresh_flows;	/* benches: a new flow per run (bpf/chlb.bpf.c) */
	int bench_encap_restore;	/* benches: ipip frames put back after each run (bpf/encap.h) */
	/*
	 * 1: VIP frames whose destination MAC is not if_mac are passed
	 * (pass_not_for_us); attach sets it unless --dst-mac any or the
	 * interface has no MAC. 0: any destination MAC is forwarded.
	 */
	int dst_mac_check;
	const struct chlb_flow_policy *flow_policy;	/* NULL: the default */
	/* method ipip: outer sources, [0] IPv4, [1] IPv6 (family 0: none) */
	struct chlb_encap_src encap[2];
	/*
	 * method ipip's next-hop cache lifetime (shared.h: chlb_nexthops):
	 * 0: CHLB_NEXTHOP_TTL_NS, < 0: no cache (tests, benches), at most
	 * CHLB_NEXTHOP_MAX_TTL_NS.
	 */
	__s64 nexthop_ttl_ns;
};

/* File descriptors of one instance's maps, from a skeleton or from pins. */
struct chlb_dp {
	int vips_fd;
	int tables_fd;
	int backends_fd;
	int bstats_fd;
	int vstats_fd;
	int gstats_fd;
	int config_fd;
	int vip_index_fd;	/* outer map of the hot path's VIP index */
	int vip_ports_fd;	/* ports some VIP uses: the hot path's filter */
	int flows_fd;		/* the flow table (1 unused bucket when off) */
	int vip_addrs_fd;	/* VIP addresses: fragments and ICMP errors */
	int flow_cpu_fd;	/* the flow table's per-CPU state */
	int nexthops_fd;	/* method ipip's per-CPU next-hop cache */
	int health_fd;		/* VIP id -> its health check (controller only) */
	int journal_fd;		/* undo records (controller only) */
	int journal_head_fd;	/* the journal's state */
	int bhealth_fd;		/* backend id -> last health check (daemon) */
	int daemon_fd;		/* the daemon managing the instance */
	__u32 flow_entries;	/* 0: flow table off */
	__u32 udp_timeout;	/* seconds */
	__u32 max_vips;
	__u32 max_backends;
	__u32 table_size;
	int ncpus;		/* possible CPUs, for per-CPU values */
	int owns_fds;		/* close fds in chlb_dp__close() */
};

/* The maps' memory by kind, for attach's report and bound. */
enum chlb_dp_mem {
	CHLB_DP_MEM_TABLES,
	CHLB_DP_MEM_FLOWS,
	CHLB_DP_MEM_BACKENDS,
	CHLB_DP_MEM_STATS,
	CHLB_DP_MEM_VIPS,
	CHLB_DP_MEM_CTL,
	CHLB_DP_MEM_N,
};
extern const char *const chlb_dp_mem_names[CHLB_DP_MEM_N];
/* The most the maps can pin with o's sizes on ncpus possible CPUs (memory.c). */
void chlb_dp__memory(const struct chlb_dp_opts *o, int ncpus, __u64 mem[CHLB_DP_MEM_N]);

/* Open, size and load the BPF object (not attached). */
int chlb_dp__load(const struct chlb_dp_opts *opts, struct chlb **skel);
/* Fill dp from a loaded skeleton (fds stay owned by the skeleton). */
int chlb_dp__from_skel(struct chlb *skel, struct chlb_dp *dp);
/*
 * Open the maps pinned under pin_dir, checking each one's type, key and
 * value size and the config's ABI version (dp/abi.c). -ENOENT when nothing
 * is attached; -EPROTO on a layout mismatch, with the map and the sizes
 * found and expected described in why (len bytes; may be NULL).
 */
int chlb_dp__open_pinned(const char *pin_dir, struct chlb_dp *dp, char *why, size_t len);
void chlb_dp__close(struct chlb_dp *dp);

/*
 * VIPs. chlb_vips is the authoritative record; the XDP program filters on
 * chlb_vip_ports and searches chlb_vip_index, both derived from chlb_vips
 * by chlb_dp__vip_sync(). Add and delete VIPs through these calls (not by
 * writing vips_fd) so the derived maps follow. vip_add fails with -EEXIST for a known key and
 * leaves chlb_vips as it was on any error; vip_del: -ENOENT if unknown.
 */
int chlb_dp__vip_add(struct chlb_dp *dp, const struct chlb_vip_key *key,
		     const struct chlb_vip_info *info);
int chlb_dp__vip_del(struct chlb_dp *dp, const struct chlb_vip_key *key);
/* Rebuild chlb_vip_index from chlb_vips (after writing vips_fd directly). */
int chlb_dp__vip_sync(struct chlb_dp *dp);
/* The live index's header: its seed, VIPs, overflows; -ENOENT before any sync. */
int chlb_dp__vip_index_hdr(struct chlb_dp *dp, struct chlb_vip_index_hdr *hdr);

/*
 * Publish a complete table for a VIP in one step: a new inner array is
 * created and filled, then swapped into chlb_tables[vip_id]. slots has
 * table_size entries: backend ids or CHLB_NO_BACKEND (-EINVAL for any
 * other id >= max_backends). The kernel waits for an RCU grace period in
 * the swap (about 14 ms on the 2-CPU test VM), so when this returns no
 * program run uses the old table any more: a backend that only the old
 * table named receives no new packet, and its entry may be retired.
 * Memory: the kernel stores array values 8 bytes apart, 8 * table_size.
 */
int chlb_dp__set_table(struct chlb_dp *dp, __u32 vip_id, const __u32 *slots);
/* Read the live table of a VIP; -ENOENT when it has none. */
int chlb_dp__get_table(struct chlb_dp *dp, __u32 vip_id, __u32 *slots);
/* Idempotent: 0 also when the VIP had no table. */
int chlb_dp__clear_table(struct chlb_dp *dp, __u32 vip_id);

/* The undo journal (shared.h): records first, then the head pending. */
int chlb_dp__journal_write(struct chlb_dp *dp, const struct chlb_journal_rec *recs, __u32 n,
			   __u64 seq);
/* The head, and (when pending) its records into recs (chlb_dp__journal_cap()). */
int chlb_dp__journal_read(struct chlb_dp *dp, struct chlb_journal_head *head,
			  struct chlb_journal_rec *recs);
int chlb_dp__journal_done(struct chlb_dp *dp, __u64 seq);
/* Records the journal holds: a VIP twice (removed, added), every backend. */
__u32 chlb_dp__journal_cap(const struct chlb_dp *dp);

/* Per-CPU counters summed over every possible CPU. */
int chlb_dp__backend_stats(struct chlb_dp *dp, __u32 id, struct chlb_backend_stats *out);
int chlb_dp__vip_stats(struct chlb_dp *dp, __u32 vip_id, struct chlb_vip_stats *out);
int chlb_dp__global_stats(struct chlb_dp *dp, struct chlb_global_stats *out);
/*
 * The flow table's pressure: the latest time (CLOCK_MONOTONIC_COARSE ns,
 * 0: never) any CPU refused to record a flow, evicted a busy one or one
 * not yet confirmed (struct chlb_flow_cpu; budget_tat is left 0).
 */
int chlb_dp__flow_pressure(struct chlb_dp *dp, struct chlb_flow_cpu *out);
/* Zero a reused id's counters on every CPU. */
int chlb_dp__reset_backend_stats(struct chlb_dp *dp, __u32 id);
int chlb_dp__reset_vip_stats(struct chlb_dp *dp, __u32 vip_id);

#endif /* CHLB_DATAPLANE_H */
