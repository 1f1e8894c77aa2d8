// SPDX-License-Identifier: GPL-2.0
/*
 * VIPs: chlb_vips is the record; the port filter and the open-addressed
 * index the XDP program searches are derived from it; see dataplane.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/random.h>
#include <bpf/bpf.h>

#include "dp_internal.h"

/*
 * Seeds a build tries before it keeps VIPs out of the index. At the load
 * of 1/8 the index is sized for, a random seed leaves one of 65536 VIPs
 * out about once in 20 builds; the chance that 8 seeds all do is nil.
 */
#define DP_INDEX_SEEDS 8

struct dp_vip {
	struct chlb_vip_key key;
	struct chlb_vip_info info;
};

/* Every VIP of chlb_vips, read once for all the seeds a build may try. */
static int dp_vips_read(struct chlb_dp *dp, struct dp_vip *v, __u32 *n,
			struct chlb_vip_ports *ports)
{
	struct chlb_vip_key key, *prev = NULL;

	*n = 0;
	while (!bpf_map_get_next_key(dp->vips_fd, prev, &key)) {
		if (*n == dp->max_vips)
			return -E2BIG;	/* the hash map holds no more */
		v[*n].key = key;
		if (bpf_map_lookup_elem(dp->vips_fd, &key, &v[*n].info))
			return -errno;
		chlb_vip_port_set(ports, ntohs(key.port));
		prev = &v[(*n)++].key;
	}
	return errno == ENOENT ? 0 : -errno;
}

/* Put a VIP in the first free slot of its probe sequence; 0 or -ENOSPC. */
static int dp_index_place(struct chlb_vip_slot *slots, __u32 size, __u64 seed,
			  const struct dp_vip *v, __u32 *probe)
{
	__u32 h = chlb_vip_hash(&v->key, seed), i, k;

	for (i = 0; i < CHLB_VIP_PROBES; i++) {
		k = (h + i) & (size - 1);
		if (slots[k].key.family)
			continue;
		slots[k].key = v->key;
		slots[k].info = v->info;
		*probe = i + 1;
		return 0;
	}
	return -ENOSPC;
}

/* The slots of n VIPs under one seed, and the header saying how it went. */
static void dp_index_fill(struct chlb_vip_slot *slots, __u32 size, __u64 seed,
			  const struct dp_vip *v, __u32 n, __u32 tries)
{
	struct chlb_vip_index_hdr *hdr = (struct chlb_vip_index_hdr *)&slots[size];
	__u32 i, probe;

	memset(slots, 0, (size + 1ull) * sizeof(*slots));
	hdr->seed = seed;
	hdr->vips = n;
	hdr->seeds_tried = tries;
	for (i = 0; i < n; i++) {
		if (dp_index_place(slots, size, seed, &v[i], &probe))
			hdr->overflow++;
		else if (probe > hdr->max_probe)
			hdr->max_probe = probe;
	}
}

/*
 * The index of every VIP in chlb_vips, and their ports. A fresh random
 * seed each try, until no VIP is left out; after DP_INDEX_SEEDS tries the
 * last build stands, its overflows served through chlb_vips (shared.h).
 */
static int dp_index_build(struct chlb_dp *dp, struct chlb_vip_slot *slots, __u32 size,
			  struct chlb_vip_ports *ports)
{
	struct dp_vip *v = calloc(dp->max_vips, sizeof(*v));
	__u32 n, tries = 0;
	__u64 seed;
	int err;

	if (!v)
		return -ENOMEM;
	err = dp_vips_read(dp, v, &n, ports);
	while (!err && tries < DP_INDEX_SEEDS) {
		if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
			err = -errno;
			break;
		}
		dp_index_fill(slots, size, seed, v, n, ++tries);
		if (!((struct chlb_vip_index_hdr *)&slots[size])->overflow)
			break;
	}
	free(v);
	return err;
}

/* Swap a complete new index (size slots and the header) into chlb_vip_index[0]. */
static int dp_index_publish(struct chlb_dp *dp, struct chlb_vip_slot *slots, __u32 size)
{
	__u32 zero = 0;
	int fd, err;

	fd = dp_create_vip_index(dp->max_vips);
	if (fd < 0)
		return fd;
	err = dp_map_copy(fd, slots, size + 1, sizeof(*slots), 1);
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

	slots = calloc(size + 1, sizeof(*slots));
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

int chlb_dp__vip_index_hdr(struct chlb_dp *dp, struct chlb_vip_index_hdr *hdr)
{
	__u32 zero = 0, id, k = chlb_vip_index_size(dp->max_vips);
	int fd, err = 0;

	if (bpf_map_lookup_elem(dp->vip_index_fd, &zero, &id))
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &k, hdr))
		err = -errno;
	close(fd);
	return err;
}
