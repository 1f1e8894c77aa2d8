// SPDX-License-Identifier: GPL-2.0
/*
 * What an instance's maps can pin at most, from the sizes chosen at attach,
 * as the kernel allocates them: array values 8-byte aligned, per-CPU values
 * once a possible CPU. attach prints it and refuses sizes above a bound.
 */
#include "dp_internal.h"

const char *const chlb_dp_mem_names[CHLB_DP_MEM_N] = {
	"tables", "flow table", "backends", "per-CPU maps", "VIP maps", "controller maps",
};

static __u64 round8(__u64 n)
{
	return (n + 7) & ~7ull;
}

void chlb_dp__memory(const struct chlb_dp_opts *o, int ncpus, __u64 mem[CHLB_DP_MEM_N])
{
	__u64 flows = o->flow_entries ? o->flow_entries : 1;
	__u64 buckets = (flows + CHLB_FLOW_WAYS - 1) / CHLB_FLOW_WAYS;

	/* every VIP's table of __u32 slots, plus the one being swapped in */
	mem[CHLB_DP_MEM_TABLES] = (o->max_vips + 1ull) * o->table_size * 8;
	mem[CHLB_DP_MEM_FLOWS] = buckets * sizeof(struct chlb_flow_bucket);
	mem[CHLB_DP_MEM_BACKENDS] = o->max_backends * round8(sizeof(struct chlb_backend));
	/* the counters, the flow table's state, ipip's next-hop cache */
	mem[CHLB_DP_MEM_STATS] = (__u64)ncpus *
		(o->max_backends * round8(sizeof(struct chlb_backend_stats)) +
		 o->max_backends * CHLB_NEXTHOP_WAYS * sizeof(struct chlb_nexthop) +
		 o->max_vips * round8(sizeof(struct chlb_vip_stats)) +
		 round8(sizeof(struct chlb_global_stats)) + round8(sizeof(struct chlb_flow_cpu)));
	/* the VIP hash and the VIP addresses' (preallocated, ~48 bytes a bucket
	 * and element header), two copies of the index during a swap, the port
	 * filter */
	mem[CHLB_DP_MEM_VIPS] = o->max_vips * (round8(sizeof(struct chlb_vip_key)) +
					       round8(sizeof(struct chlb_vip_info)) + 48) +
				o->max_vips * (round8(sizeof(struct chlb_vip_key)) + 8 + 48) +
				2ull * chlb_vip_index_entries(o->max_vips) *
					sizeof(struct chlb_vip_slot) +
				sizeof(struct chlb_vip_ports);
	/* health checks and their results, the undo journal (as dp_set_sizes) */
	mem[CHLB_DP_MEM_CTL] = o->max_vips * round8(sizeof(struct chlb_health)) +
			       o->max_backends * round8(sizeof(struct chlb_backend_health)) +
			       (2ull * o->max_vips + o->max_backends) *
				       sizeof(struct chlb_journal_rec) +
			       sizeof(struct chlb_daemon_info);
}
