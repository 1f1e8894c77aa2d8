// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark baseline for the flow table: the kernel's own cost of a new
 * flow in an LRU hash shaped like chlb_flows (same key, value and flags),
 * without anything else chlb does. Each run inserts a fresh key (a
 * counter in the source address); with lookup_first the insert follows a
 * missing lookup, as chlb's does. tests/bench_xdp.c sizes the map.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "chlb/shared.h"

const volatile __u32 lookup_first = 0;
__u64 next_src = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct chlb_flow_key);
	__type(value, struct chlb_flow_way);
} flows SEC(".maps");

SEC("xdp")
int lru_insert(struct xdp_md *ctx)
{
	struct chlb_flow_key k = { .sport = 1, .dport = 80, .proto = 6, .family = 2 };
	struct chlb_flow_way f = { .backend = 1 };

	/* one program run at a time (the bench's single thread) */
	k.words[0] = ++next_src;
	if (lookup_first && bpf_map_lookup_elem(&flows, &k))
		return XDP_PASS;
	if (bpf_map_update_elem(&flows, &k, &f, BPF_ANY))
		return XDP_DROP;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
