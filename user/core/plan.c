// SPDX-License-Identifier: GPL-2.0
/*
 * What a transaction would do, without doing it: per VIP the backends
 * added, removed and changed, the share of the live table that would move
 * to another backend (compared by address: ids may be reused), and the
 * balance of the table it would publish.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "config.h"
#include "txn_internal.h"

static int state_of(const struct chlb_backend *b)
{
	return b->flags & CHLB_BACKEND_F_DRAINING ? CHLB_STATE_DRAINING : CHLB_STATE_ACTIVE;
}

static void plan_entry(struct plan_vip *pv, char what, const struct chlb_backend *old,
		       const struct chlb_backend *new)
{
	struct plan_backend *pb = &pv->backends[pv->nbackends++];
	const struct chlb_backend *any = new ? new : old;

	memcpy(pb->addr.bytes, any->addr, CHLB_ADDR_LEN);
	pb->what = what;
	pb->weight[0] = old ? old->weight : 0;
	pb->weight[1] = new ? new->weight : 0;
	pb->state[0] = old ? state_of(old) : -1;
	pb->state[1] = new ? state_of(new) : -1;
	pb->mac_changed = old && new && memcmp(old->mac, new->mac, 6);
}

/* The backends of one VIP (by id before, id_new after) that differ. */
static void plan_backends(const struct txn *t, __u32 id_old, __u32 id_new, bool had, bool has,
			  struct plan_vip *pv)
{
	const struct model *cur = &t->cur, *tgt = &t->tgt;
	struct chlb_addr a;
	__u32 id;
	int j;

	for (id = 0; id < cur->max_backends; id++) {
		if (!had || !model_in_vip(cur, id, id_old))
			continue;
		memcpy(a.bytes, cur->backends[id].addr, CHLB_ADDR_LEN);
		j = has ? model_find_backend(tgt, id_new, &a) : -1;
		if (j < 0)
			plan_entry(pv, '-', &cur->backends[id], NULL);
		else if (memcmp(&cur->backends[id], &tgt->backends[j], sizeof(cur->backends[id])))
			plan_entry(pv, '~', &cur->backends[id], &tgt->backends[j]);
	}
	for (id = 0; id < tgt->max_backends; id++) {
		if (!has || !model_in_vip(tgt, id, id_new))
			continue;
		memcpy(a.bytes, tgt->backends[id].addr, CHLB_ADDR_LEN);
		if (!had || model_find_backend(cur, id_old, &a) < 0)
			plan_entry(pv, '+', NULL, &tgt->backends[id]);
	}
}

/*
 * Slots whose owner (by address) differs; and the new table's balance: the
 * largest share of a serving backend over its fair share (by weight).
 */
static void plan_shares(const struct txn *t, const __u32 *old, const __u32 *new,
			struct plan_vip *pv, __u32 *count)
{
	const struct model *cur = &t->cur, *tgt = &t->tgt;
	__u32 m = tgt->table_size, s, id, moved = 0;
	double weights = 0, max = 0;

	memset(count, 0, tgt->max_backends * sizeof(*count));
	for (s = 0; s < m; s++) {
		bool o = old[s] < cur->max_backends, n = new[s] < tgt->max_backends;

		if (o != n || (o && memcmp(cur->backends[old[s]].addr, tgt->backends[new[s]].addr,
					   CHLB_ADDR_LEN)))
			moved++;
		if (n)
			count[new[s]]++;
	}
	for (id = 0; id < tgt->max_backends; id++) {
		const struct chlb_backend *b = &tgt->backends[id];

		if (!count[id] || !b->weight)
			continue;
		weights += b->weight;
		if ((double)count[id] / b->weight > max)
			max = (double)count[id] / b->weight;
	}
	pv->moved = (double)moved / m;
	pv->max_mean = weights ? max * weights / m : 0;
}

static int plan_tables(struct txn *t, struct plan_vip *pv, __u32 id_old, __u32 id_new,
		       bool had, bool has, struct chlb_err *e)
{
	__u32 m = t->tgt.table_size, s, *old, *new, *count;
	int err = 0;

	old = calloc(m, sizeof(*old));
	new = calloc(m, sizeof(*new));
	count = calloc(t->tgt.max_backends, sizeof(*count));
	if (!old || !new || !count)
		err = -ENOMEM;
	for (s = 0; !err && s < m; s++)
		old[s] = new[s] = CHLB_NO_BACKEND;
	if (!err && had)
		err = chlb_dp__get_table(&t->in->dp, id_old, old);
	if (err == -ENOENT)
		err = 0;
	if (!err && has)
		err = build_table(&t->tgt, id_new, new, e);
	if (!err)
		plan_shares(t, old, new, pv, count);
	free(old);
	free(new);
	free(count);
	return err ? err_fail(e, err, "cannot plan: %s", strerror(-err)) : 0;
}

static int plan_vip(struct txn *t, const struct chlb_vip_key *key, struct plan *p,
		    struct chlb_err *e)
{
	const struct model_vip *ov = model_find_vip(&t->cur, key), *nv = model_find_vip(&t->tgt, key);
	struct plan_vip *pv = &p->vips[p->nvips++];
	__u32 io = ov ? ov->info.id : 0, in = nv ? nv->info.id : 0;

	pv->key = *key;
	pv->method[0] = ov ? ov->info.method : 0;
	pv->method[1] = nv ? nv->info.method : 0;
	pv->backends = calloc(2 * t->tgt.max_backends, sizeof(*pv->backends));
	if (!pv->backends)
		return err_fail(e, -ENOMEM, "out of memory");
	plan_backends(t, io, in, ov, nv, pv);
	pv->what = !ov ? '+' : !nv ? '-' : pv->nbackends || !vip_same(ov, nv) ? '~' : '=';
	p->changes += pv->nbackends + (pv->what == '+' || pv->what == '-' ||
				       (pv->what == '~' && !vip_same(ov, nv)));
	return plan_tables(t, pv, io, in, ov, nv, e);
}

int config_plan(struct txn *t, struct plan *p, struct chlb_err *e)
{
	int i, err = 0;

	memset(p, 0, sizeof(*p));
	p->vips = calloc(t->cur.nvips + t->tgt.nvips + 1, sizeof(*p->vips));
	if (!p->vips)
		return err_fail(e, -ENOMEM, "out of memory");
	for (i = 0; !err && i < t->tgt.nvips; i++)
		err = plan_vip(t, &t->tgt.vips[i].key, p, e);
	for (i = 0; !err && i < t->cur.nvips; i++)
		if (!model_find_vip(&t->tgt, &t->cur.vips[i].key))
			err = plan_vip(t, &t->cur.vips[i].key, p, e);
	return err;
}

void plan_free(struct plan *p)
{
	int i;

	for (i = 0; i < p->nvips; i++)
		free(p->vips[i].backends);
	free(p->vips);
	memset(p, 0, sizeof(*p));
}
