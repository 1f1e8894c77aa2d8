// SPDX-License-Identifier: GPL-2.0
/* The model of an instance, read from its maps; see model.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "model.h"

static int cmp_vip_id(const void *a, const void *b)
{
	const struct model_vip *x = a, *y = b;

	return (x->info.id > y->info.id) - (x->info.id < y->info.id);
}

/* All VIPs with their health, sorted by id: listings are stable. */
static int read_vips(struct chlb_dp *dp, struct model *m)
{
	struct chlb_vip_key key, *prev = NULL;
	struct model_vip *v;

	while (!bpf_map_get_next_key(dp->vips_fd, prev, &key)) {
		if ((__u32)m->nvips >= m->max_vips)
			return -EUCLEAN;
		v = &m->vips[m->nvips];
		v->key = key;
		if (bpf_map_lookup_elem(dp->vips_fd, &key, &v->info))
			return errno == ENOENT ? -EAGAIN : -errno;
		if (v->info.id >= m->max_vips)
			return -EUCLEAN;
		if (bpf_map_lookup_elem(dp->health_fd, &v->info.id, &v->health))
			return -errno;
		prev = &v->key;
		m->nvips++;
	}
	if (errno != ENOENT)
		return -errno;
	qsort(m->vips, m->nvips, sizeof(*m->vips), cmp_vip_id);
	return 0;
}

/* One batched syscall round for the whole array: keeps commands fast. */
static int read_backends(struct chlb_dp *dp, struct model *m)
{
	__u32 n = m->max_backends, done = 0, batch, count, *keys;
	int err = 0;

	keys = calloc(n, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	while (done < n) {
		count = n - done;
		err = bpf_map_lookup_batch(dp->backends_fd, done ? &batch : NULL, &batch,
					   keys + done, m->backends + done, &count, NULL);
		done += count;
		if (err && errno == ENOENT) {
			err = 0;
			break;
		}
		if (err) {
			err = -errno;
			break;
		}
	}
	free(keys);
	return err;
}

static int model_alloc(struct model *m)
{
	m->vips = calloc(m->max_vips, sizeof(*m->vips));
	m->backends = calloc(m->max_backends, sizeof(*m->backends));
	return m->vips && m->backends ? 0 : -ENOMEM;
}

int model_read(struct chlb_dp *dp, struct model *m)
{
	__u32 zero = 0;
	int err;

	memset(m, 0, sizeof(*m));
	if (bpf_map_lookup_elem(dp->config_fd, &zero, &m->cfg))
		return -errno;
	m->max_vips = dp->max_vips;
	m->max_backends = dp->max_backends;
	m->table_size = dp->table_size;
	err = model_alloc(m);
	if (!err)
		err = read_vips(dp, m);
	if (!err)
		err = read_backends(dp, m);
	if (err)
		model_free(m);
	return err;
}

int model_copy(struct model *dst, const struct model *src)
{
	int err;

	*dst = *src;
	dst->vips = NULL;
	dst->backends = NULL;
	err = model_alloc(dst);
	if (err) {
		model_free(dst);
		return err;
	}
	memcpy(dst->vips, src->vips, src->max_vips * sizeof(*src->vips));
	memcpy(dst->backends, src->backends, src->max_backends * sizeof(*src->backends));
	return 0;
}

void model_free(struct model *m)
{
	free(m->vips);
	free(m->backends);
	m->vips = NULL;
	m->backends = NULL;
	m->nvips = 0;
}

struct model_vip *model_find_vip(const struct model *m, const struct chlb_vip_key *key)
{
	int i;

	for (i = 0; i < m->nvips; i++)
		if (!memcmp(&m->vips[i].key, key, sizeof(*key)))
			return &m->vips[i];
	return NULL;
}

struct model_vip *model_vip_by_id(const struct model *m, __u32 id)
{
	int i;

	for (i = 0; i < m->nvips; i++)
		if (m->vips[i].info.id == id)
			return &m->vips[i];
	return NULL;
}

bool model_in_vip(const struct model *m, __u32 id, __u32 vip_id)
{
	return backend_in_use(&m->backends[id]) && m->backends[id].vip_id == vip_id;
}

int model_find_backend(const struct model *m, __u32 vip_id, const struct chlb_addr *addr)
{
	__u32 id;

	for (id = 0; id < m->max_backends; id++)
		if (model_in_vip(m, id, vip_id) &&
		    !memcmp(m->backends[id].addr, addr->bytes, CHLB_ADDR_LEN))
			return id;
	return -ENOENT;
}

int model_count_backends(const struct model *m, __u32 vip_id)
{
	__u32 id;
	int n = 0;

	for (id = 0; id < m->max_backends; id++)
		n += model_in_vip(m, id, vip_id);
	return n;
}

int model_put_vip(struct model *m, const struct model_vip *v)
{
	if ((__u32)m->nvips >= m->max_vips)
		return -ENOSPC;
	m->vips[m->nvips++] = *v;
	qsort(m->vips, m->nvips, sizeof(*m->vips), cmp_vip_id);
	return 0;
}

void model_remove_vip(struct model *m, const struct chlb_vip_key *key)
{
	struct model_vip *v = model_find_vip(m, key);

	if (!v)
		return;
	memmove(v, v + 1, (m->vips + m->nvips - (v + 1)) * sizeof(*v));
	m->nvips--;
}

void model_drop_orphans(struct model *m)
{
	__u32 id;

	for (id = 0; id < m->max_backends; id++)
		if (backend_in_use(&m->backends[id]) &&
		    !model_vip_by_id(m, m->backends[id].vip_id))
			m->backends[id].flags = 0;
}
