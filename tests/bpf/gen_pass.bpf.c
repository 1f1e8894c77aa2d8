// SPDX-License-Identifier: GPL-2.0
/*
 * XDP_PASS, nothing else. Attached natively to the peer of a veth that
 * receives XDP_TX'd or redirected frames: veth delivers such frames only
 * when the receiving end has an XDP program (it needs its NAPI running).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int gen_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
