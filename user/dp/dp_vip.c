// SPDX-License-Identifier: GPL-2.0
/*
 * VIPs: chlb_vips is the record; the port filter and the open-addressed
 * index the XDP program searches are derived from it; see dataplane.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "dp_internal.h"

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
