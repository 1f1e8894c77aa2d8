// SPDX-License-Identifier: GPL-2.0
/*
 * Opening an instance's pinned maps with their layout checked. libbpf's
 * own reuse check sees sizes only at load; a chlb of another layout
 * reading these pins would misread every entry, so each map's type, key
 * and value size and the config's ABI version are compared first.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "dp_internal.h"

struct dp_map_spec {
	const char *name;
	__u32 type;
	__u32 key_size;
	__u32 value_size;
	size_t fd_off;		/* offsetof the fd in struct chlb_dp */
};

#define MAP(n, t, k, v, f) { n, BPF_MAP_TYPE_##t, k, v, offsetof(struct chlb_dp, f) }

static const struct dp_map_spec dp_maps[] = {
	/* the config first: its version explains any mismatch that follows */
	MAP(CHLB_MAP_CONFIG, ARRAY, 4, sizeof(struct chlb_config), config_fd),
	MAP(CHLB_MAP_VIPS, HASH, sizeof(struct chlb_vip_key), sizeof(struct chlb_vip_info),
	    vips_fd),
	MAP(CHLB_MAP_TABLES, ARRAY_OF_MAPS, 4, 4, tables_fd),
	MAP(CHLB_MAP_BACKENDS, ARRAY, 4, sizeof(struct chlb_backend), backends_fd),
	MAP(CHLB_MAP_BSTATS, PERCPU_ARRAY, 4, sizeof(struct chlb_backend_stats), bstats_fd),
	MAP(CHLB_MAP_VSTATS, PERCPU_ARRAY, 4, sizeof(struct chlb_vip_stats), vstats_fd),
	MAP(CHLB_MAP_GSTATS, PERCPU_ARRAY, 4, sizeof(struct chlb_global_stats), gstats_fd),
	MAP(CHLB_MAP_VIP_INDEX, ARRAY_OF_MAPS, 4, 4, vip_index_fd),
	MAP(CHLB_MAP_VIP_PORTS, ARRAY, 4, sizeof(struct chlb_vip_ports), vip_ports_fd),
	MAP(CHLB_MAP_VIP_ADDRS, HASH, sizeof(struct chlb_vip_key), 4, vip_addrs_fd),
	MAP(CHLB_MAP_FLOWS, ARRAY, 4, sizeof(struct chlb_flow_bucket), flows_fd),
	MAP(CHLB_MAP_FLOW_CPU, PERCPU_ARRAY, 4, sizeof(struct chlb_flow_cpu), flow_cpu_fd),
	MAP(CHLB_MAP_NEXTHOPS, PERCPU_ARRAY, 4, sizeof(struct chlb_nexthop), nexthops_fd),
	MAP(CHLB_MAP_VIP_HEALTH, ARRAY, 4, sizeof(struct chlb_health), health_fd),
	MAP(CHLB_MAP_JOURNAL, ARRAY, 4, sizeof(struct chlb_journal_rec), journal_fd),
	MAP(CHLB_MAP_JOURNAL_HEAD, ARRAY, 4, sizeof(struct chlb_journal_head), journal_head_fd),
	MAP(CHLB_MAP_BHEALTH, ARRAY, 4, sizeof(struct chlb_backend_health), bhealth_fd),
	MAP(CHLB_MAP_DAEMON, ARRAY, 4, sizeof(struct chlb_daemon_info), daemon_fd),
};

static int dp_open_map(const char *pin_dir, const char *name, int *fd)
{
	char path[PATH_MAX];
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	*fd = bpf_obj_get(path);
	return *fd < 0 ? -errno : 0;
}

static int dp_check_map(int fd, const struct dp_map_spec *m, char *why, size_t len)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -errno;
	if (info.type == m->type && info.key_size == m->key_size &&
	    info.value_size == m->value_size)
		return 0;
	if (why)
		snprintf(why, len, "map %s is type %u, key %u, value %u bytes; this chlb expects "
			 "type %u, key %u, value %u", m->name, info.type, info.key_size,
			 info.value_size, m->type, m->key_size, m->value_size);
	return -EPROTO;
}

static int dp_check_version(int config_fd, char *why, size_t len)
{
	struct chlb_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(config_fd, &zero, &cfg))
		return -errno;
	if (cfg.version == CHLB_ABI_VERSION)
		return 0;
	if (why)
		snprintf(why, len, "the pins have layout version %u; this chlb uses %u",
			 cfg.version, CHLB_ABI_VERSION);
	return -EPROTO;
}

/*
 * -ENOENT only when the config itself is missing (nothing attached); a
 * missing later map is a damaged instance, reported as such.
 */
int dp_abi_open(const char *pin_dir, struct chlb_dp *dp, char *why, size_t len)
{
	size_t i;
	int err, *fd;

	for (i = 0; i < sizeof(dp_maps) / sizeof(dp_maps[0]); i++) {
		fd = (int *)((char *)dp + dp_maps[i].fd_off);
		err = dp_open_map(pin_dir, dp_maps[i].name, fd);
		if (err == -ENOENT && i > 0) {
			if (why)
				snprintf(why, len, "map %s is missing", dp_maps[i].name);
			return -EPROTO;
		}
		if (!err)
			err = dp_check_map(*fd, &dp_maps[i], why, len);
		if (!err && i == 0)
			err = dp_check_version(*fd, why, len);
		if (err)
			return err;
	}
	return 0;
}
