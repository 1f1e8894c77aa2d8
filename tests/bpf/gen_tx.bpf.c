// SPDX-License-Identifier: GPL-2.0
/*
 * Traffic generator for the e2e bench, run by tests/traffic/xdpgen.c with
 * BPF_PROG_TEST_RUN and BPF_F_TEST_XDP_LIVE_FRAMES against the client's
 * veth: each run gives the template UDP frame a new source port (so a load
 * balancer spreads the flows) and transmits it with XDP_TX.
 */
#include "gen_parse.h"

__u32 next_port;	/* .bss: one generator runs on one CPU at a time */

SEC("xdp")
int gen_tx(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > data_end)
		return XDP_ABORTED;
	/* Ports 1024..65535; UDP checksum is 0 (none) in the template. */
	udp->source = bpf_htons(1024 + next_port++ % 64512);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
