// SPDX-License-Identifier: GPL-2.0
/*
 * Backend-side packet counter for the testbed: counts the frames whose
 * L4 destination port and protocol match cfg[0] (the VIP's), so tests can
 * compare what each backend received with `chlb stats`. Everything else
 * passes. With cfg.drop set (throughput bench) matching frames are
 * dropped after counting, so the backend's stack is not the bottleneck.
 */
#include "gen_parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_cfg);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("xdp")
int gen_count(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct gen_cfg *c;
	__u32 zero = 0;
	__be16 dport;
	__u64 *n;
	int proto;

	c = bpf_map_lookup_elem(&cfg, &zero);
	n = bpf_map_lookup_elem(&counts, &zero);
	if (!c || !n)
		return XDP_PASS;
	proto = gen_parse_l4(data, data_end, &dport);
	if (proto != c->proto || dport != c->port)
		return XDP_PASS;
	*n += 1;
	return c->drop ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
