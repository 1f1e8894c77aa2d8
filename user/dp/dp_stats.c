// SPDX-License-Identifier: GPL-2.0
/* Per-CPU counters, summed over every possible CPU; see dataplane.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "dataplane.h"

/* Sum n __u64 counters of entry key over every possible CPU. */
static int dp_percpu_sum(struct chlb_dp *dp, int fd, __u32 key, __u64 *out, size_t n)
{
	__u64 *vals;
	size_t i;
	int cpu, err = 0;

	vals = calloc((size_t)dp->ncpus * n, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, vals)) {
		err = -errno;
		goto out;
	}
	memset(out, 0, n * sizeof(*out));
	for (cpu = 0; cpu < dp->ncpus; cpu++)
		for (i = 0; i < n; i++)
			out[i] += vals[(size_t)cpu * n + i];
out:
	free(vals);
	return err;
}

static int dp_percpu_zero(struct chlb_dp *dp, int fd, __u32 key, size_t n)
{
	__u64 *vals;
	int err = 0;

	vals = calloc((size_t)dp->ncpus * n, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_update_elem(fd, &key, vals, BPF_EXIST))
		err = -errno;
	free(vals);
	return err;
}

#define DP_WORDS(s) (sizeof(s) / sizeof(__u64))

int chlb_dp__backend_stats(struct chlb_dp *dp, __u32 id, struct chlb_backend_stats *out)
{
	return dp_percpu_sum(dp, dp->bstats_fd, id, (__u64 *)out, DP_WORDS(*out));
}

int chlb_dp__vip_stats(struct chlb_dp *dp, __u32 vip_id, struct chlb_vip_stats *out)
{
	return dp_percpu_sum(dp, dp->vstats_fd, vip_id, (__u64 *)out, DP_WORDS(*out));
}

/*
 * The program counts each frame once, by reason; RX is their sum. The
 * flow table's counters after the reasons are events, not in RX.
 */
int chlb_dp__global_stats(struct chlb_dp *dp, struct chlb_global_stats *out)
{
	int i, err;

	err = dp_percpu_sum(dp, dp->gstats_fd, 0, out->counters, CHLB_CNT_MAX);
	if (err)
		return err;
	out->counters[CHLB_CNT_RX] = 0;
	for (i = CHLB_CNT_RX + 1; i < CHLB_CNT_REASONS; i++)
		out->counters[CHLB_CNT_RX] += out->counters[i];
	return 0;
}

int chlb_dp__flow_pressure(struct chlb_dp *dp, struct chlb_flow_cpu *out)
{
	struct chlb_flow_cpu *vals;
	__u32 zero = 0;
	int cpu, err = 0;

	vals = calloc(dp->ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(dp->flow_cpu_fd, &zero, vals))
		err = -errno;
	for (cpu = 0; !err && cpu < dp->ncpus; cpu++) {
		if (vals[cpu].refused_ns > out->refused_ns)
			out->refused_ns = vals[cpu].refused_ns;
		if (vals[cpu].evict_busy_ns > out->evict_busy_ns)
			out->evict_busy_ns = vals[cpu].evict_busy_ns;
		if (vals[cpu].evict_new_ns > out->evict_new_ns)
			out->evict_new_ns = vals[cpu].evict_new_ns;
	}
	free(vals);
	return err;
}

int chlb_dp__reset_backend_stats(struct chlb_dp *dp, __u32 id)
{
	return dp_percpu_zero(dp, dp->bstats_fd, id, DP_WORDS(struct chlb_backend_stats));
}

int chlb_dp__reset_vip_stats(struct chlb_dp *dp, __u32 vip_id)
{
	return dp_percpu_zero(dp, dp->vstats_fd, vip_id, DP_WORDS(struct chlb_vip_stats));
}
