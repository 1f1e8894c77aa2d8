// SPDX-License-Identifier: GPL-2.0
/*
 * From backend entries to a data-plane table: the VIP's ring is rebuilt
 * with the library in one batch, its owners (canonical address order) are
 * mapped to backend ids, and the whole table is swapped in one step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "state.h"

struct addr_id {
	struct chlb_addr addr;
	__u32 id;
};

static int cmp_addr_id(const void *a, const void *b)
{
	return chlb_addr_cmp(&((const struct addr_id *)a)->addr,
			     &((const struct addr_id *)b)->addr);
}

/* The VIP's backends as (address, id), sorted by address; returns count. */
static int vip_members(struct state *st, __u32 vip_id, struct addr_id **out)
{
	struct addr_id *m;
	__u32 id;
	int n = 0;

	m = calloc(st->dp.max_backends, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (id = 0; id < st->dp.max_backends; id++) {
		const struct chlb_backend *b = &st->backends[id];

		if (!(b->flags & CHLB_BACKEND_F_IN_USE) || b->vip_id != vip_id)
			continue;
		memcpy(m[n].addr.bytes, b->addr, CHLB_ADDR_LEN);
		m[n++].id = id;
	}
	qsort(m, n, sizeof(*m), cmp_addr_id);
	*out = m;
	return n;
}

int state_vip_ring(struct state *st, __u32 vip_id, struct chlb_ring **ring)
{
	struct chlb_ring_opts opts = {
		.sz = sizeof(opts),
		.vnodes = st->cfg.vnodes,
		.table_size = st->cfg.table_size,
		.seed = st->cfg.seed,
		.algo = st->cfg.algo,
		.max_backends = st->dp.max_backends,
	};
	struct chlb_change *ch = NULL;
	struct addr_id *m = NULL;
	int i, n, err;

	*ring = NULL;
	n = vip_members(st, vip_id, &m);
	if (n < 0)
		return n;
	ch = calloc(n ? n : 1, sizeof(*ch));
	err = ch ? chlb_ring__new(&opts, ring) : -ENOMEM;
	if (err)
		goto out;
	for (i = 0; i < n; i++) {
		const struct chlb_backend *b = &st->backends[m[i].id];

		ch[i].op = CHLB_CHANGE_ADD;
		ch[i].addr = m[i].addr;
		ch[i].weight = b->weight;
		ch[i].state = b->flags & CHLB_BACKEND_F_DRAINING ? CHLB_STATE_DRAINING :
								   CHLB_STATE_ACTIVE;
	}
	err = n ? chlb_ring__update(*ring, ch, n) : 0;
out:
	if (err) {
		cli_err(err, "cannot build the ring of VIP %u: %s", vip_id, chlb_strerror(err));
		chlb_ring__free(*ring);
		*ring = NULL;
	}
	free(ch);
	free(m);
	return err;
}

static void fill_empty(__u32 *slots, __u32 m)
{
	__u32 s;

	for (s = 0; s < m; s++)
		slots[s] = CHLB_NO_BACKEND;
}

int state_ring_slots(struct state *st, __u32 vip_id, struct chlb_ring *ring, __u32 *slots)
{
	__u32 m = st->cfg.table_size, s, *ids = NULL;
	struct chlb_backend_info *info = NULL;
	struct addr_id *members = NULL, *hit;
	int i, n, nm = 0, err;

	n = chlb_ring__num_backends(ring);
	if (n <= 0) {
		fill_empty(slots, m);
		return n;
	}
	info = calloc(n, sizeof(*info));
	ids = calloc(n, sizeof(*ids));
	err = info && ids ? vip_members(st, vip_id, &members) : -ENOMEM;
	if (err < 0)
		goto out;
	nm = err;
	err = chlb_ring__backends(ring, info, n);
	if (err < 0)
		goto out;
	for (i = 0; i < n; i++) {
		struct addr_id key = { .addr = info[i].addr };

		hit = bsearch(&key, members, nm, sizeof(key), cmp_addr_id);
		if (!hit) {
			err = -EIO;
			goto out;
		}
		ids[i] = hit->id;
	}
	err = chlb_ring__table(ring, slots, m);
	if (err == -CHLB_ERR_NO_BACKENDS) {
		fill_empty(slots, m);	/* every backend draining */
		err = 0;
	}
	if (err < 0)
		goto out;
	for (s = 0; s < m; s++)
		if (slots[s] != CHLB_NO_BACKEND)
			slots[s] = ids[slots[s]];
	err = 0;
out:
	if (err)
		cli_err(err, "cannot compute the table of VIP %u: %s", vip_id, chlb_strerror(err));
	free(members);
	free(ids);
	free(info);
	return err;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

int state_apply(struct state *st, __u32 vip_id)
{
	struct chlb_ring *ring = NULL;
	struct timespec t0;
	double t_ring = 0, t_slots = 0;
	__u32 *slots;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	slots = calloc(st->cfg.table_size, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	err = state_vip_ring(st, vip_id, &ring);
	t_ring = ms_since(&t0);
	if (!err)
		err = state_ring_slots(st, vip_id, ring, slots);
	t_slots = ms_since(&t0);
	if (!err) {
		err = chlb_dp__set_table(&st->dp, vip_id, slots);
		if (err)
			cli_err(err, "cannot swap the table of VIP %u: %s", vip_id,
				strerror(-err));
	}
	cli_debug("chlb: VIP %u: ring %.1f ms, table %.1f ms, swap %.1f ms\n", vip_id, t_ring,
		  t_slots - t_ring, ms_since(&t0) - t_slots);
	chlb_ring__free(ring);
	free(slots);
	return err;
}
