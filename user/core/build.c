// SPDX-License-Identifier: GPL-2.0
/*
 * A VIP's table from the model. The ring is built in one batch from the
 * VIP's backends sorted by address, which is the ring's own canonical
 * order: the i-th backend the ring reports is the i-th member, so its id
 * is carried through without looking addresses up again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "build.h"

struct member {
	struct chlb_addr addr;
	__u32 id;
};

static int cmp_member(const void *a, const void *b)
{
	return chlb_addr_cmp(&((const struct member *)a)->addr,
			     &((const struct member *)b)->addr);
}

/* The VIP's backends as (address, id), sorted by address; returns count. */
static int members(const struct model *m, __u32 vip_id, struct member **out)
{
	struct member *v;
	__u32 id;
	int n = 0;

	v = calloc(m->max_backends, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (id = 0; id < m->max_backends; id++) {
		if (!model_in_vip(m, id, vip_id))
			continue;
		memcpy(v[n].addr.bytes, m->backends[id].addr, CHLB_ADDR_LEN);
		v[n++].id = id;
	}
	qsort(v, n, sizeof(*v), cmp_member);
	*out = v;
	return n;
}

static void ring_change(const struct chlb_backend *b, const struct member *mb,
			struct chlb_change *ch)
{
	ch->op = CHLB_CHANGE_ADD;
	ch->addr = mb->addr;
	ch->weight = b->weight;
	/* down owns no slots as draining does; its flows re-hash by gen instead */
	ch->state = b->flags & (CHLB_BACKEND_F_DRAINING | CHLB_BACKEND_F_DOWN) ?
			    CHLB_STATE_DRAINING : CHLB_STATE_ACTIVE;
}

int build_ring(const struct model *m, __u32 vip_id, struct chlb_ring **ring, __u32 **ids,
	       struct chlb_err *e)
{
	struct chlb_ring_opts opts = {
		.sz = sizeof(opts), .vnodes = m->cfg.vnodes, .table_size = m->table_size,
		.seed = m->cfg.seed, .algo = m->cfg.algo, .max_backends = m->max_backends,
	};
	struct chlb_change *ch = NULL;
	struct member *mb = NULL;
	int i, n, err;

	*ring = NULL;
	*ids = NULL;
	n = err = members(m, vip_id, &mb);
	if (n < 0)
		goto out;
	ch = calloc(n ? n : 1, sizeof(*ch));
	*ids = calloc(n ? n : 1, sizeof(**ids));
	err = ch && *ids ? chlb_ring__new(&opts, ring) : -ENOMEM;
	for (i = 0; !err && i < n; i++) {
		ring_change(&m->backends[mb[i].id], &mb[i], &ch[i]);
		(*ids)[i] = mb[i].id;
	}
	if (!err && n)
		err = chlb_ring__update(*ring, ch, n);
out:
	if (err < 0) {
		err_fail(e, err, "cannot build the ring of VIP %u: %s", vip_id, chlb_strerror(err));
		chlb_ring__free(*ring);
		free(*ids);
		*ring = NULL;
		*ids = NULL;
	}
	free(ch);
	free(mb);
	return err < 0 ? err : 0;
}

static void fill_empty(__u32 *slots, __u32 n)
{
	__u32 s;

	for (s = 0; s < n; s++)
		slots[s] = CHLB_NO_BACKEND;
}

int build_table(const struct model *m, __u32 vip_id, __u32 *slots, struct chlb_err *e)
{
	struct chlb_ring *ring;
	__u32 *ids, s;
	int err;

	err = build_ring(m, vip_id, &ring, &ids, e);
	if (err)
		return err;
	err = chlb_ring__table(ring, slots, m->table_size);
	if (err == -CHLB_ERR_NO_BACKENDS) {
		fill_empty(slots, m->table_size);	/* none, or every one draining */
		err = 0;
	}
	for (s = 0; !err && s < m->table_size; s++)
		if (slots[s] != CHLB_NO_BACKEND)
			slots[s] = ids[slots[s]];
	if (err)
		err_fail(e, err, "cannot compute the table of VIP %u: %s", vip_id,
			 chlb_strerror(err));
	chlb_ring__free(ring);
	free(ids);
	return err;
}

/*
 * The library's checksum (chlb_ring__checksum) over the same table: one
 * xxh64-style round per slot with the owner's address digest, so the
 * live table of a host and the ring of another agree when their tables do.
 */
__u64 build_checksum(const struct model *m, const __u32 *slots)
{
	__u64 acc = CHLB_P3 + m->table_size, dig = 0;
	__u32 s, last = CHLB_NO_BACKEND;

	for (s = 0; s < m->table_size; s++) {
		__u32 id = slots[s];

		if (id != last)	/* runs of one owner are common: hash once */
			dig = id < m->max_backends ?
				      XXH3_64bits(m->backends[id].addr, CHLB_ADDR_LEN) : 0;
		last = id;
		acc = chlb_round64(acc, dig);
	}
	return chlb_mix64(acc);
}
