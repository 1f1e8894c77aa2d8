// SPDX-License-Identifier: GPL-2.0
/*
 * The data plane seen from userspace: load the XDP object with the limits
 * chosen at attach, find a pinned instance again, publish VIP tables
 * atomically and sum per-CPU counters. See user/dataplane.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane.h"
#include "chlb.skel.h"

/*
 * Inner maps: as struct chlb_table and struct chlb_vip_index_map in
 * bpf/maps.h (the outer maps refuse any other spec). Mappable, so a
 * whole table is written with one memcpy.
 */
static int dp_create_inner(const char *name, __u32 value_size, __u32 n)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_MMAPABLE);
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(__u32), value_size, n, &mo);
	return fd < 0 ? -errno : fd;
}

/* A new, empty slot table of table_size entries; its fd or -errno. */
static int dp_create_table(__u32 table_size)
{
	return dp_create_inner("chlb_table", sizeof(__u32), table_size);
}

static int dp_create_vip_index(__u32 max_vips)
{
	return dp_create_inner("chlb_vip_index", sizeof(struct chlb_vip_slot),
			       chlb_vip_index_size(max_vips));
}

/*
 * The mapping of an array map stores element i at i * round_up(value
 * size, 8), as the kernel lays array elements out: a __u32 table has a
 * stride of 8. Copies n values of vsize bytes in (write) or out (!write).
 */
static int dp_map_copy(int fd, void *buf, __u32 n, size_t vsize, int write)
{
	size_t stride = (vsize + 7) & ~(size_t)7, page = sysconf(_SC_PAGESIZE);
	size_t maplen = ((size_t)n * stride + page - 1) / page * page;
	__u8 *mem, *b = buf;
	__u32 i;

	mem = mmap(NULL, maplen, write ? PROT_READ | PROT_WRITE : PROT_READ,
		   MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		return -errno;
	for (i = 0; i < n; i++) {
		if (write)
			memcpy(mem + i * stride, b + i * vsize, vsize);
		else
			memcpy(b + i * vsize, mem + i * stride, vsize);
	}
	munmap(mem, maplen);
	return 0;
}

static int dp_check_opts(const struct chlb_dp_opts *o)
{
	if (!o->max_vips || !o->max_backends || !o->table_size ||
	    o->table_size > CHLB_MAX_TABLE_SIZE ||
	    o->max_backends >= CHLB_NO_BACKEND)
		return -EINVAL;
	return 0;
}

static int dp_set_sizes(struct chlb *skel, const struct chlb_dp_opts *o)
{
	struct {
		struct bpf_map *map;
		__u32 n;
	} sizes[] = {
		{ skel->maps.chlb_vips, o->max_vips },
		{ skel->maps.chlb_tables, o->max_vips },
		{ skel->maps.chlb_vstats, o->max_vips },
		{ skel->maps.chlb_backends, o->max_backends },
		{ skel->maps.chlb_bstats, o->max_backends },
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
	dp->vip_index_fd = dp->vip_ports_fd = -1;
}

static int dp_ncpus(struct chlb_dp *dp)
{
	dp->ncpus = libbpf_num_possible_cpus();
	return dp->ncpus < 0 ? dp->ncpus : 0;
}

int chlb_dp__from_skel(struct chlb *skel, struct chlb_dp *dp)
{
	dp_init(dp);
	dp->vips_fd = bpf_map__fd(skel->maps.chlb_vips);
	dp->tables_fd = bpf_map__fd(skel->maps.chlb_tables);
	dp->backends_fd = bpf_map__fd(skel->maps.chlb_backends);
	dp->bstats_fd = bpf_map__fd(skel->maps.chlb_bstats);
	dp->vstats_fd = bpf_map__fd(skel->maps.chlb_vstats);
	dp->gstats_fd = bpf_map__fd(skel->maps.chlb_gstats);
	dp->config_fd = bpf_map__fd(skel->maps.chlb_config);
	dp->vip_index_fd = bpf_map__fd(skel->maps.chlb_vip_index);
	dp->vip_ports_fd = bpf_map__fd(skel->maps.chlb_vip_ports);
	dp->max_vips = bpf_map__max_entries(skel->maps.chlb_vips);
	dp->max_backends = bpf_map__max_entries(skel->maps.chlb_backends);
	dp->table_size = skel->rodata->table_size;
	return dp_ncpus(dp);
}

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
	return 0;
}

int chlb_dp__open_pinned(const char *pin_dir, struct chlb_dp *dp)
{
	struct {
		const char *name;
		int *fd;
	} maps[] = {
		{ CHLB_MAP_VIPS, &dp->vips_fd },
		{ CHLB_MAP_TABLES, &dp->tables_fd },
		{ CHLB_MAP_BACKENDS, &dp->backends_fd },
		{ CHLB_MAP_BSTATS, &dp->bstats_fd },
		{ CHLB_MAP_VSTATS, &dp->vstats_fd },
		{ CHLB_MAP_GSTATS, &dp->gstats_fd },
		{ CHLB_MAP_CONFIG, &dp->config_fd },
		{ CHLB_MAP_VIP_INDEX, &dp->vip_index_fd },
		{ CHLB_MAP_VIP_PORTS, &dp->vip_ports_fd },
	};
	size_t i;
	int err;

	dp_init(dp);
	dp->owns_fds = 1;
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		err = dp_open_map(pin_dir, maps[i].name, maps[i].fd);
		if (err)
			goto out;
	}
	err = dp_read_limits(dp);
	if (!err)
		err = dp_ncpus(dp);
out:
	if (err)
		chlb_dp__close(dp);
	return err;
}

void chlb_dp__close(struct chlb_dp *dp)
{
	int *fds[] = { &dp->vips_fd, &dp->tables_fd, &dp->backends_fd,
		       &dp->bstats_fd, &dp->vstats_fd, &dp->gstats_fd,
		       &dp->config_fd, &dp->vip_index_fd, &dp->vip_ports_fd };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (dp->owns_fds && *fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	dp->owns_fds = 0;
}

/* ---- tables ------------------------------------------------------------ */

static int dp_check_slots(const struct chlb_dp *dp, const __u32 *slots)
{
	__u32 i;

	for (i = 0; i < dp->table_size; i++)
		if (slots[i] >= dp->max_backends && slots[i] != CHLB_NO_BACKEND)
			return -EINVAL;
	return 0;
}

/*
 * The new table is complete before the data plane can see it: it becomes
 * visible only through the single update of chlb_tables[vip_id]. The old
 * inner array is freed by the kernel once no program run still uses it.
 */
int chlb_dp__set_table(struct chlb_dp *dp, __u32 vip_id, const __u32 *slots)
{
	int fd, err;

	if (vip_id >= dp->max_vips)
		return -EINVAL;
	err = dp_check_slots(dp, slots);
	if (err)
		return err;
	fd = dp_create_table(dp->table_size);
	if (fd < 0)
		return fd;
	err = dp_map_copy(fd, (void *)slots, dp->table_size, sizeof(*slots), 1);
	if (!err && bpf_map_update_elem(dp->tables_fd, &vip_id, &fd, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

int chlb_dp__get_table(struct chlb_dp *dp, __u32 vip_id, __u32 *slots)
{
	__u32 inner_id;
	int fd, err;

	if (vip_id >= dp->max_vips)
		return -EINVAL;
	if (bpf_map_lookup_elem(dp->tables_fd, &vip_id, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)	/* replaced and freed meanwhile */
		return -errno;
	err = dp_map_copy(fd, slots, dp->table_size, sizeof(*slots), 0);
	close(fd);
	return err;
}

/* Idempotent: a VIP without a table is already clear. */
int chlb_dp__clear_table(struct chlb_dp *dp, __u32 vip_id)
{
	if (vip_id >= dp->max_vips)
		return -EINVAL;
	if (bpf_map_delete_elem(dp->tables_fd, &vip_id) && errno != ENOENT)
		return -errno;
	return 0;
}

/* ---- VIPs ---------------------------------------------------------------- */

/* Put a VIP in the first free slot of its probe sequence. */
static int dp_index_place(struct chlb_vip_slot *slots, __u32 size,
			  const struct chlb_vip_key *key, const struct chlb_vip_info *info)
{
	__u32 h = chlb_vip_hash(key), i, k;

	for (i = 0; i < CHLB_VIP_PROBES; i++) {
		k = (h + i) & (size - 1);
		if (slots[k].key.family)
			continue;
		slots[k].key = *key;
		slots[k].info = *info;
		return 0;
	}
	return -ENOSPC;	/* load <= 1/8 makes this all but impossible */
}

/* The index and port filter of every VIP in chlb_vips, built in memory. */
static int dp_index_build(struct chlb_dp *dp, struct chlb_vip_slot *slots, __u32 size,
			  struct chlb_vip_ports *ports)
{
	struct chlb_vip_key key, *prev = NULL;
	struct chlb_vip_info info;
	int err;

	while (!bpf_map_get_next_key(dp->vips_fd, prev, &key)) {
		if (bpf_map_lookup_elem(dp->vips_fd, &key, &info))
			return -errno;
		err = dp_index_place(slots, size, &key, &info);
		if (err)
			return err;
		chlb_vip_port_set(ports, ntohs(key.port));
		prev = &key;
	}
	return errno == ENOENT ? 0 : -errno;
}

/* Swap a complete new index into chlb_vip_index[0]. */
static int dp_index_publish(struct chlb_dp *dp, struct chlb_vip_slot *slots, __u32 size)
{
	__u32 zero = 0;
	int fd, err;

	fd = dp_create_vip_index(dp->max_vips);
	if (fd < 0)
		return fd;
	err = dp_map_copy(fd, slots, size, sizeof(*slots), 1);
	if (!err && bpf_map_update_elem(dp->vip_index_fd, &zero, &fd, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

/*
 * The filter may only ever claim more ports than the live index holds,
 * never fewer: widen it to old | new, swap the index, then narrow it to
 * new. A frame read in between sees a superset and searches the index.
 */
int chlb_dp__vip_sync(struct chlb_dp *dp)
{
	__u32 size = chlb_vip_index_size(dp->max_vips), zero = 0, i;
	struct chlb_vip_ports *ports = NULL, *wide = NULL;
	struct chlb_vip_slot *slots;
	int err = -ENOMEM;

	slots = calloc(size, sizeof(*slots));
	ports = calloc(1, sizeof(*ports));
	wide = calloc(1, sizeof(*wide));
	if (!slots || !ports || !wide)
		goto out;
	err = dp_index_build(dp, slots, size, ports);
	if (!err && bpf_map_lookup_elem(dp->vip_ports_fd, &zero, wide))
		err = -errno;
	if (err)
		goto out;
	for (i = 0; i < 1024; i++)
		wide->bits[i] |= ports->bits[i];
	ports->synced = 1;
	if (bpf_map_update_elem(dp->vip_ports_fd, &zero, wide, BPF_ANY))
		err = -errno;
	if (!err)
		err = dp_index_publish(dp, slots, size);
	if (!err && bpf_map_update_elem(dp->vip_ports_fd, &zero, ports, BPF_ANY))
		err = -errno;
out:
	free(wide);
	free(ports);
	free(slots);
	return err;
}

int chlb_dp__vip_add(struct chlb_dp *dp, const struct chlb_vip_key *key,
		     const struct chlb_vip_info *info)
{
	int err;

	if (info->id >= dp->max_vips || !key->family)
		return -EINVAL;
	if (bpf_map_update_elem(dp->vips_fd, key, info, BPF_NOEXIST))
		return -errno;
	err = chlb_dp__vip_sync(dp);
	if (err)
		bpf_map_delete_elem(dp->vips_fd, key);
	return err;
}

int chlb_dp__vip_del(struct chlb_dp *dp, const struct chlb_vip_key *key)
{
	if (bpf_map_delete_elem(dp->vips_fd, key))
		return -errno;
	return chlb_dp__vip_sync(dp);
}

/* ---- per-CPU counters -------------------------------------------------- */

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

/* The program counts each frame once, by reason; RX is their sum. */
int chlb_dp__global_stats(struct chlb_dp *dp, struct chlb_global_stats *out)
{
	int i, err;

	err = dp_percpu_sum(dp, dp->gstats_fd, 0, out->counters, CHLB_CNT_MAX);
	if (err)
		return err;
	out->counters[CHLB_CNT_RX] = 0;
	for (i = CHLB_CNT_RX + 1; i < CHLB_CNT_MAX; i++)
		out->counters[CHLB_CNT_RX] += out->counters[i];
	return 0;
}

int chlb_dp__reset_backend_stats(struct chlb_dp *dp, __u32 id)
{
	return dp_percpu_zero(dp, dp->bstats_fd, id, DP_WORDS(struct chlb_backend_stats));
}

int chlb_dp__reset_vip_stats(struct chlb_dp *dp, __u32 vip_id)
{
	return dp_percpu_zero(dp, dp->vstats_fd, vip_id, DP_WORDS(struct chlb_vip_stats));
}
