/* SPDX-License-Identifier: GPL-2.0 */
/*
 * chlb's maps, BPF side. Layouts, names and indexes come from
 * include/chlb/shared.h; sizes here are defaults that the loader overrides
 * with bpf_map__set_max_entries() before load (struct chlb_dp_opts).
 */
#ifndef CHLB_BPF_MAPS_H
#define CHLB_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "chlb/shared.h"

/* VIP (address, port, protocol) -> id, method. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CHLB_DEFAULT_MAX_VIPS);
	__type(key, struct chlb_vip_key);
	__type(value, struct chlb_vip_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_vips SEC(".maps");

/*
 * One slot -> backend id table per VIP. Userspace builds a complete new
 * inner array and swaps it in with one update of the outer slot, so a
 * packet always sees a whole table, old or new. user/dataplane.c creates
 * those arrays with this exact spec: the kernel refuses any other.
 */
struct chlb_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);	/* table_size, set at load */
	/* userspace fills a new table with one memcpy into its mapping */
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, CHLB_DEFAULT_MAX_VIPS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct chlb_table);
} chlb_tables SEC(".maps");

/*
 * VIP addresses (chlb_vip_key with port 0 and protocol 0) -> the id of the
 * VIP whose counters take the address's fragments (shared.h). Read only
 * for fragments and ICMP errors, never on the TCP/UDP path. max_vips
 * entries, set at load.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CHLB_DEFAULT_MAX_VIPS);
	__type(key, struct chlb_vip_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_vip_addrs SEC(".maps");

/* Ports in use by VIPs: the first filter of the hot path. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chlb_vip_ports);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_vip_ports SEC(".maps");

/* The hot path's copy of chlb_vips; see struct chlb_vip_slot. */
struct chlb_vip_index_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);	/* chlb_vip_index_size(max_vips), at load */
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	/* by size: clang leaves a nested map's value type as a forward decl */
	__uint(value_size, sizeof(struct chlb_vip_slot));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct chlb_vip_index_map);
} chlb_vip_index SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CHLB_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct chlb_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CHLB_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct chlb_backend_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_bstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CHLB_DEFAULT_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct chlb_vip_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_vstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chlb_global_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_gstats SEC(".maps");

/*
 * The flow table: five-tuple -> backend, a set-associative cache of
 * CHLB_FLOW_WAYS-way buckets (include/chlb/shared.h). Sized at load (1
 * bucket when the table is off). A plain array: a lookup is one index and
 * a key compare, an insert overwrites a way, no locks and no allocation.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chlb_flow_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_flows SEC(".maps");

/* The flow table's state on each CPU (struct chlb_flow_cpu). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chlb_flow_cpu);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_flow_cpu SEC(".maps");

/*
 * Method ipip's next-hop cache (shared.h, bpf/encap.h): per CPU, so a fill
 * is a plain write no other CPU sees. max_backends * CHLB_NEXTHOP_WAYS
 * entries, set at load.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CHLB_DEFAULT_MAX_BACKENDS * CHLB_NEXTHOP_WAYS);
	__type(key, __u32);
	__type(value, struct chlb_nexthop);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_nexthops SEC(".maps");

/* Controller-only maps: the program never reads them (shared.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CHLB_DEFAULT_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct chlb_health);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_vip_health SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CHLB_DEFAULT_MAX_VIPS + CHLB_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct chlb_journal_rec);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_journal SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chlb_journal_head);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_journal_head SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CHLB_DEFAULT_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct chlb_backend_health);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_bhealth SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chlb_daemon_info);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_daemon SEC(".maps");

/* Userspace's record of the attach parameters; the program never reads it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chlb_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} chlb_config SEC(".maps");

#endif /* CHLB_BPF_MAPS_H */
