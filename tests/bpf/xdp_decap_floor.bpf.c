// SPDX-License-Identifier: GPL-2.0
/*
 * The floor under any decapsulating XDP program, for tests/bench_decap.c:
 * the two things it cannot do without, each alone beside XDP_PASS. One
 * per-CPU counter increment, and one bpf_xdp_adjust_head() that cuts an
 * outer IPv4 header off the front. Keep them exactly this small.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} floor_counter SEC(".maps");

SEC("xdp")
int floor_count(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&floor_counter, &zero);

	if (n)
		(*n)++;
	return XDP_PASS;
}

SEC("xdp")
int floor_strip(struct xdp_md *ctx)
{
	bpf_xdp_adjust_head(ctx, 20);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
