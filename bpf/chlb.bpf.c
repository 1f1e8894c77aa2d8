// SPDX-License-Identifier: GPL-2.0
/* Placeholder: the data plane issue fills this in. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "chlb/shared.h"

SEC("xdp")
int chlb_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
