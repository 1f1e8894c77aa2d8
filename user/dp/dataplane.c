// SPDX-License-Identifier: GPL-2.0
/*
 * The data plane seen from userspace: load the XDP object with the limits
 * chosen at attach, or find a pinned instance again. Tables, VIPs and
 * counters are in dp_table.c, dp_vip.c and dp_stats.c. See dataplane.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dp_internal.h"
#include "chlb/shared.h"	/* the skeleton names its types */
#include "chlb.skel.h"

/*
 * UDP timeouts below CHLB_MIN_UDP_TIMEOUT cannot be honoured, and a flow
 * table way holds a backend id below 2^CHLB_FLOW_ID_BITS and a 16-bit VIP
 * id (shared.h).
 */
static int dp_check_opts(const struct chlb_dp_opts *o)
{
	if (!o->max_vips || !o->max_backends || !o->table_size ||
	    o->table_size > CHLB_MAX_TABLE_SIZE || o->max_vips > 65536 ||
	    o->max_backends > (1u << CHLB_FLOW_ID_BITS) || o->flow_entries > CHLB_MAX_FLOW_ENTRIES ||
	    o->udp_timeout > CHLB_MAX_UDP_TIMEOUT ||
	    (o->udp_timeout && o->udp_timeout < CHLB_MIN_UDP_TIMEOUT) ||
	    o->nexthop_ttl_ns > (__s64)CHLB_NEXTHOP_MAX_TTL_NS)
		return -EINVAL;
	return 0;
}

/* The flood policy chosen (bpf/flow.h): busy ways are never evicted. */
static const struct chlb_flow_policy dp_flow_policy = {
	.busy_ns = CHLB_FLOW_BUSY_NS,
	.closing_ns = CHLB_FLOW_CLOSING_NS,
};

static void dp_set_flow_policy(struct chlb *skel, const struct chlb_flow_policy *p)
{
	if (!p)
		p = &dp_flow_policy;
	skel->rodata->flow_busy_ns = p->busy_ns;
	skel->rodata->flow_closing_ns = p->closing_ns;
	skel->rodata->flow_evict_busy = !!p->evict_busy;
	skel->rodata->flow_budget_ns = p->budget_rate ? 1000000000ULL / p->budget_rate : 0;
	skel->rodata->flow_budget_burst_ns = skel->rodata->flow_budget_ns *
					     (p->budget_burst ? p->budget_burst - 1 : 0);
	skel->rodata->flow_budget_all = !!p->budget_all;
}

/*
 * The flow cache's buckets: the entries asked for, rounded up to whole
 * CHLB_FLOW_WAYS-way buckets. Off: one bucket, never used.
 */
static __u32 dp_flow_buckets(const struct chlb_dp_opts *o)
{
	__u32 n = o->flow_entries ? o->flow_entries : 1;

	return (n + CHLB_FLOW_WAYS - 1) / CHLB_FLOW_WAYS;
}

static int dp_set_sizes(struct chlb *skel, const struct chlb_dp_opts *o)
{
	struct {
		struct bpf_map *map;
		__u32 n;
	} sizes[] = {
		{ skel->maps.chlb_vips, o->max_vips },
		{ skel->maps.chlb_vip_addrs, o->max_vips },
		{ skel->maps.chlb_tables, o->max_vips },
		{ skel->maps.chlb_vstats, o->max_vips },
		{ skel->maps.chlb_backends, o->max_backends },
		{ skel->maps.chlb_bstats, o->max_backends },
		{ skel->maps.chlb_nexthops, o->max_backends * CHLB_NEXTHOP_WAYS },
		{ skel->maps.chlb_flows, dp_flow_buckets(o) },
		{ skel->maps.chlb_vip_health, o->max_vips },
		{ skel->maps.chlb_journal, 2 * o->max_vips + o->max_backends },
		{ skel->maps.chlb_bhealth, o->max_backends },
	};
	size_t i;
	int err;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		err = bpf_map__set_max_entries(sizes[i].map, sizes[i].n);
		if (err)
			return err;
	}
	return 0;
}

static __u32 dp_udp_timeout(const struct chlb_dp_opts *o)
{
	return o->udp_timeout ? o->udp_timeout : CHLB_DEFAULT_UDP_TIMEOUT;
}

/*
 * The inner map template gets its size from a real map of the final spec:
 * libbpf 1.1's bpf_map__set_max_entries() crashes on bpf_map__inner_map()
 * (it dereferences the inner map's NULL object). *fd stays ours to close.
 */
static int dp_set_templates(struct chlb *skel, const struct chlb_dp_opts *o, int fd[2])
{
	int err;

	fd[0] = dp_create_table(o->table_size);
	if (fd[0] < 0)
		return fd[0];
	err = bpf_map__set_inner_map_fd(skel->maps.chlb_tables, fd[0]);
	if (err)
		return err;
	fd[1] = dp_create_vip_index(o->max_vips);
	if (fd[1] < 0)
		return fd[1];
	return bpf_map__set_inner_map_fd(skel->maps.chlb_vip_index, fd[1]);
}

/* Tests load without pins so they never touch /sys/fs/bpf. */
static int dp_clear_pins(struct chlb *skel)
{
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, skel->obj) {
		err = bpf_map__set_pin_path(map, NULL);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Record what the data plane was built with, keeping the fields only the
 * controller knows (vnodes, algorithm, interface) as they are.
 */
static int dp_write_config(struct chlb *skel, const struct chlb_dp_opts *o)
{
	int fd = bpf_map__fd(skel->maps.chlb_config);
	struct chlb_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		return -errno;
	cfg.seed = o->seed;
	cfg.table_size = o->table_size;
	cfg.max_vips = o->max_vips;
	cfg.max_backends = o->max_backends;
	memcpy(cfg.if_mac, o->if_mac, sizeof(cfg.if_mac));
	cfg.flow_entries = o->flow_entries ? dp_flow_buckets(o) * CHLB_FLOW_WAYS : 0;
	cfg.udp_timeout = dp_udp_timeout(o);
	cfg.flow_map_flags = 0;
	cfg.flags = o->dst_mac_check ? 0 : CHLB_CFG_F_ANY_DST_MAC;
	memcpy(cfg.encap, o->encap, sizeof(cfg.encap));
	cfg.version = CHLB_ABI_VERSION;
	if (bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY))
		return -errno;
	return 0;
}

int chlb_dp__load(const struct chlb_dp_opts *opts, struct chlb **skelp)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = opts->pin_dir);
	int tmpl_fd[2] = { -1, -1 };
	struct chlb *skel;
	int err;

	*skelp = NULL;
	err = dp_check_opts(opts);
	if (err)
		return err;
	skel = chlb__open_opts(&oo);
	if (!skel)
		return -errno;
	err = opts->pin_dir ? 0 : dp_clear_pins(skel);
	if (!err)
		err = dp_set_sizes(skel, opts);
	if (!err)
		err = dp_set_templates(skel, opts, tmpl_fd);
	if (err)
		goto out;
	skel->rodata->seed = opts->seed;
	skel->rodata->table_size = opts->table_size;
	skel->rodata->max_backends = opts->max_backends;
	skel->rodata->vip_index_mask = chlb_vip_index_size(opts->max_vips) - 1;
	memcpy((void *)skel->rodata->if_mac, opts->if_mac, sizeof(opts->if_mac));
	skel->rodata->dst_mac_check = !!opts->dst_mac_check;
	skel->rodata->flow_table = !!opts->flow_entries;
	skel->rodata->flow_buckets = dp_flow_buckets(opts);
	skel->rodata->udp_timeout_ns = dp_udp_timeout(opts) * 1000000000ULL;
	skel->rodata->bench_fresh_flows = !!opts->bench_fresh_flows;
	skel->rodata->bench_encap_restore = !!opts->bench_encap_restore;
	memcpy((void *)skel->rodata->encap_src, opts->encap, sizeof(opts->encap));
	skel->rodata->nexthop_ttl_ns = opts->nexthop_ttl_ns < 0 ? 0 :
				       opts->nexthop_ttl_ns ? (__u64)opts->nexthop_ttl_ns :
							      CHLB_NEXTHOP_TTL_NS;
	dp_set_flow_policy(skel, opts->flow_policy);
	err = chlb__load(skel);
	if (!err)
		err = dp_write_config(skel, opts);
out:
	if (tmpl_fd[0] >= 0)
		close(tmpl_fd[0]);
	if (tmpl_fd[1] >= 0)
		close(tmpl_fd[1]);
	if (err)
		chlb__destroy(skel);
	else
		*skelp = skel;
	return err;
}

static void dp_init(struct chlb_dp *dp)
{
	memset(dp, 0, sizeof(*dp));
	dp->vips_fd = dp->tables_fd = dp->backends_fd = -1;
	dp->bstats_fd = dp->vstats_fd = dp->gstats_fd = dp->config_fd = -1;
	dp->vip_index_fd = dp->vip_ports_fd = dp->flows_fd = dp->flow_cpu_fd = -1;
	dp->health_fd = dp->journal_fd = dp->journal_head_fd = -1;
	dp->vip_addrs_fd = dp->nexthops_fd = -1;
	dp->bhealth_fd = dp->daemon_fd = -1;
}

static int dp_ncpus(struct chlb_dp *dp)
{
	dp->ncpus = libbpf_num_possible_cpus();
	return dp->ncpus < 0 ? dp->ncpus : 0;
}

int chlb_dp__from_skel(struct chlb *skel, struct chlb_dp *dp)
{
	dp_init(dp);
	if (!skel->rodata)	/* libbpf could not map it: not loaded as expected */
		return -EINVAL;
	dp->vips_fd = bpf_map__fd(skel->maps.chlb_vips);
	dp->tables_fd = bpf_map__fd(skel->maps.chlb_tables);
	dp->backends_fd = bpf_map__fd(skel->maps.chlb_backends);
	dp->bstats_fd = bpf_map__fd(skel->maps.chlb_bstats);
	dp->vstats_fd = bpf_map__fd(skel->maps.chlb_vstats);
	dp->gstats_fd = bpf_map__fd(skel->maps.chlb_gstats);
	dp->config_fd = bpf_map__fd(skel->maps.chlb_config);
	dp->vip_index_fd = bpf_map__fd(skel->maps.chlb_vip_index);
	dp->vip_ports_fd = bpf_map__fd(skel->maps.chlb_vip_ports);
	dp->flows_fd = bpf_map__fd(skel->maps.chlb_flows);
	dp->vip_addrs_fd = bpf_map__fd(skel->maps.chlb_vip_addrs);
	dp->flow_cpu_fd = bpf_map__fd(skel->maps.chlb_flow_cpu);
	dp->nexthops_fd = bpf_map__fd(skel->maps.chlb_nexthops);
	dp->health_fd = bpf_map__fd(skel->maps.chlb_vip_health);
	dp->journal_fd = bpf_map__fd(skel->maps.chlb_journal);
	dp->journal_head_fd = bpf_map__fd(skel->maps.chlb_journal_head);
	dp->bhealth_fd = bpf_map__fd(skel->maps.chlb_bhealth);
	dp->daemon_fd = bpf_map__fd(skel->maps.chlb_daemon);
	dp->flow_entries = skel->rodata->flow_table ?
			   bpf_map__max_entries(skel->maps.chlb_flows) * CHLB_FLOW_WAYS : 0;
	dp->udp_timeout = skel->rodata->udp_timeout_ns / 1000000000ULL;
	dp->max_vips = bpf_map__max_entries(skel->maps.chlb_vips);
	dp->max_backends = bpf_map__max_entries(skel->maps.chlb_backends);
	dp->table_size = skel->rodata->table_size;
	return dp_ncpus(dp);
}

static int dp_read_limits(struct chlb_dp *dp)
{
	struct chlb_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(dp->config_fd, &zero, &cfg))
		return -errno;
	if (!cfg.table_size || !cfg.max_vips || !cfg.max_backends)
		return -EINVAL;
	dp->table_size = cfg.table_size;
	dp->max_vips = cfg.max_vips;
	dp->max_backends = cfg.max_backends;
	dp->flow_entries = cfg.flow_entries;
	dp->udp_timeout = cfg.udp_timeout;
	return 0;
}

int chlb_dp__open_pinned(const char *pin_dir, struct chlb_dp *dp, char *why, size_t len)
{
	int err;

	dp_init(dp);
	dp->owns_fds = 1;
	err = dp_abi_open(pin_dir, dp, why, len);
	if (!err)
		err = dp_read_limits(dp);
	if (!err)
		err = dp_ncpus(dp);
	if (err)
		chlb_dp__close(dp);
	return err;
}

void chlb_dp__close(struct chlb_dp *dp)
{
	int *fds[] = { &dp->vips_fd, &dp->tables_fd, &dp->backends_fd,
		       &dp->bstats_fd, &dp->vstats_fd, &dp->gstats_fd,
		       &dp->config_fd, &dp->vip_index_fd, &dp->vip_ports_fd, &dp->vip_addrs_fd,
		       &dp->flows_fd, &dp->flow_cpu_fd, &dp->nexthops_fd, &dp->health_fd,
		       &dp->journal_fd,
		       &dp->journal_head_fd, &dp->bhealth_fd, &dp->daemon_fd };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (dp->owns_fds && *fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	dp->owns_fds = 0;
}

