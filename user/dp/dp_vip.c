// SPDX-License-Identifier: GPL-2.0
/*
 * VIPs: chlb_vips is the record; the port filter, the open-addressed
 * index the XDP program searches and the VIP addresses (chlb_vip_addrs)
 * are derived from it; see dataplane.h.
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
static int dp_index_build(struct chlb_vip_slot *slots, __u32 size, const struct dp_vip *v,
			  __u32 n)
{
	__u32 tries = 0;
	__u64 seed;

	while (tries < DP_INDEX_SEEDS) {
		if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
			return -errno;
		dp_index_fill(slots, size, seed, v, n, ++tries);
		if (!((struct chlb_vip_index_hdr *)&slots[size])->overflow)
			break;
	}
	return 0;
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

/* The chlb_vip_addrs key of a VIP's address: port 0, protocol 0. */
static struct chlb_vip_key dp_addr_key(const struct chlb_vip_key *k)
{
	struct chlb_vip_key a = { .family = k->family };

	memcpy(a.addr, k->addr, sizeof(a.addr));
	return a;
}

/* chlb_vip_addrs keys (or struct dp_vip by their keys) */
static int dp_addr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct chlb_vip_key));
}

/* by key, then id */
static int dp_addr_id_cmp(const void *a, const void *b)
{
	const struct dp_vip *x = a, *y = b;
	int c = dp_addr_cmp(&x->key, &y->key);

	return c ? c : (x->info.id > y->info.id) - (x->info.id < y->info.id);
}

/*
 * The addresses of n VIPs, each with the lowest id among its VIPs, sorted
 * by key; *na of them.
 */
static void dp_addrs_of(const struct dp_vip *v, __u32 n, struct dp_vip *a, __u32 *na)
{
	__u32 i, k = 0;

	for (i = 0; i < n; i++) {
		a[i].key = dp_addr_key(&v[i].key);
		a[i].info.id = v[i].info.id;
	}
	qsort(a, n, sizeof(*a), dp_addr_id_cmp);
	for (i = 0; i < n; i++)
		if (!k || dp_addr_cmp(&a[k - 1].key, &a[i].key))
			a[k++] = a[i];
	*na = k;
}

/*
 * chlb_vip_addrs made equal to the addresses a (sorted) in two steps:
 * new and changed entries written, then gone ones deleted. The XDP program
 * reads it only for fragments and ICMP errors; chlb_dp__vip_sync() writes
 * before the index swap and deletes after it, so an address is there
 * while an index that may still be read has a VIP at it.
 */
static int dp_addrs_write(struct chlb_dp *dp, const struct dp_vip *a, __u32 na)
{
	__u32 i, id;

	for (i = 0; i < na; i++) {
		if (!bpf_map_lookup_elem(dp->vip_addrs_fd, &a[i].key, &id) && id == a[i].info.id)
			continue;
		if (bpf_map_update_elem(dp->vip_addrs_fd, &a[i].key, &a[i].info.id, BPF_ANY))
			return -errno;
	}
	return 0;
}

static int dp_addrs_prune(struct chlb_dp *dp, const struct dp_vip *a, __u32 na)
{
	struct chlb_vip_key *gone, *prev = NULL, key, cur;
	__u32 n = 0, i;
	int err = 0;

	/* collected first: deleting during the walk would lose its position */
	gone = calloc(dp->max_vips, sizeof(*gone));
	if (!gone)
		return -ENOMEM;
	while (!bpf_map_get_next_key(dp->vip_addrs_fd, prev, &key)) {
		if (!bsearch(&key, a, na, sizeof(*a), dp_addr_cmp) && n < dp->max_vips)
			gone[n++] = key;
		cur = key;
		prev = &cur;
	}
	if (errno != ENOENT)
		err = -errno;
	for (i = 0; !err && i < n; i++)
		if (bpf_map_delete_elem(dp->vip_addrs_fd, &gone[i]) && errno != ENOENT)
			err = -errno;
	free(gone);
	return err;
}

/* Every VIP, their index and ports and their addresses from chlb_vips. */
static int dp_vip_derive(struct chlb_dp *dp, struct chlb_vip_slot *slots, __u32 size,
			 struct chlb_vip_ports *ports, struct dp_vip *a, __u32 *na)
{
	struct dp_vip *v = calloc(dp->max_vips, sizeof(*v));
	__u32 n;
	int err;

	if (!v)
		return -ENOMEM;
	err = dp_vips_read(dp, v, &n, ports);
	if (!err)
		err = dp_index_build(slots, size, v, n);
	if (!err)
		dp_addrs_of(v, n, a, na);
	free(v);
	return err;
}

/*
 * The filter may only ever claim more ports than the live index holds,
 * never fewer: widen it to old | new, swap the index, then narrow it to
 * new. A frame read in between sees a superset and searches the index.
 * The addresses follow the same order (dp_addrs_write()).
 */
int chlb_dp__vip_sync(struct chlb_dp *dp)
{
	__u32 size = chlb_vip_index_size(dp->max_vips), zero = 0, i, na = 0;
	struct chlb_vip_ports *ports = NULL, *wide = NULL;
	struct chlb_vip_slot *slots;
	struct dp_vip *addrs;
	int err = -ENOMEM;

	slots = calloc(size + 1, sizeof(*slots));
	ports = calloc(1, sizeof(*ports));
	wide = calloc(1, sizeof(*wide));
	addrs = calloc(dp->max_vips, sizeof(*addrs));
	if (!slots || !ports || !wide || !addrs)
		goto out;
	err = dp_vip_derive(dp, slots, size, ports, addrs, &na);
	if (!err)
		err = dp_addrs_write(dp, addrs, na);
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
	if (!err)
		err = dp_addrs_prune(dp, addrs, na);
out:
	free(addrs);
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
