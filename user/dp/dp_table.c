// SPDX-License-Identifier: GPL-2.0
/* Slot tables: published whole, one outer-map update each; see dataplane.h. */
#include <errno.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "dp_internal.h"

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
