// SPDX-License-Identifier: GPL-2.0
/*
 * For tests/bench_xdp.c: what bench_encap_restore (bpf/encap.h) adds to an
 * ipip run, twice over. One bpf_xdp_adjust_head() cuts outer bytes off
 * the front, the L2 header's destination and type are written, a second
 * call puts the bytes back (the buffer is the same for every run), XDP_TX.
 * The restore is one such call and the writes: half of this beyond
 * XDP_PASS. Keep it exactly this small.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 outer = 20;

SEC("xdp")
int xdp_head_pair(struct xdp_md *ctx)
{
	struct ethhdr *eth;
	void *end;

	if (bpf_xdp_adjust_head(ctx, outer))
		return XDP_ABORTED;
	eth = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if ((void *)(eth + 1) > end)
		return XDP_ABORTED;
	__builtin_memset(eth->h_dest, 0x02, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
	if (bpf_xdp_adjust_head(ctx, -(int)outer))
		return XDP_ABORTED;
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
