// SPDX-License-Identifier: GPL-2.0
/*
 * The trivial XDP program: the benchmark's floor, and what the testbed
 * attaches to peer veths (native XDP_TX on veth only delivers to a peer
 * that has an XDP program). Keep it exactly this small.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
