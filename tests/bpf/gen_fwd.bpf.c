// SPDX-License-Identifier: GPL-2.0
/*
 * Throughput baseline for the e2e bench: a fixed-destination forwarder on
 * the LB. Frames to the configured port/protocol get dst MAC = cfg.dst_mac,
 * src MAC = cfg.src_mac and leave with XDP_TX, the least work any L2 load
 * balancer must do; everything else (ARP, ...) passes.
 */
#include "gen_parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_cfg);
} cfg SEC(".maps");

SEC("xdp")
int gen_fwd(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct gen_cfg *c;
	__u32 zero = 0;
	__be16 dport;
	int proto;

	c = bpf_map_lookup_elem(&cfg, &zero);
	if (!c)
		return XDP_PASS;
	proto = gen_parse_l4(data, data_end, &dport);
	if (proto != c->proto || dport != c->port)
		return XDP_PASS;
	__builtin_memcpy(eth->h_dest, c->dst_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, c->src_mac, ETH_ALEN);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
