// SPDX-License-Identifier: GPL-2.0
/*
 * Moving the data plane from one model to another. The order is what
 * keeps every packet coherent, whatever step a failure or a kill stops at:
 *   1. new backend entries (counters zeroed first), changed ones, VIP
 *      health and VIP records: nothing the data plane reaches names them yet;
 *   2. one table swap per changed VIP (the kernel waits out an RCU grace
 *      period, so no packet still reads the old table afterwards);
 *   3. the VIP index and port filter, rebuilt from chlb_vips: new VIPs
 *      match from here, removed ones stop;
 *   4. tables of removed VIPs, then the removed backends' in-use flags.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>

#include "build.h"
#include "txn_internal.h"

static int write_backends(struct publish *p, struct chlb_err *e)
{
	const struct model *cur = p->cur, *tgt = p->tgt;
	struct chlb_dp *dp = &p->in->dp;
	__u32 id;
	int err;

	for (id = 0; id < tgt->max_backends; id++) {
		const struct chlb_backend *b = &tgt->backends[id];

		if (!backend_in_use(b) || !memcmp(b, &cur->backends[id], sizeof(*b)))
			continue;
		err = backend_in_use(&cur->backends[id]) ? 0 :
							  chlb_dp__reset_backend_stats(dp, id);
		if (!err && bpf_map_update_elem(dp->backends_fd, &id, b, BPF_ANY))
			err = -errno;
		if (err)
			return err_fail(e, err, "cannot write backend %u: %s", id, strerror(-err));
		p->res.entries++;
	}
	return 0;
}

/* New and changed VIPs' records; *moved: the set of VIPs or their info changed. */
static int write_vips(struct publish *p, bool *moved, struct chlb_err *e)
{
	struct chlb_dp *dp = &p->in->dp;
	int i, err = 0;

	for (i = 0; !err && i < p->tgt->nvips; i++) {
		const struct model_vip *v = &p->tgt->vips[i], *old = model_find_vip(p->cur, &v->key);

		if (old && vip_same(old, v))
			continue;
		if (!old)
			err = chlb_dp__reset_vip_stats(dp, v->info.id);
		if (!err && bpf_map_update_elem(dp->health_fd, &v->info.id, &v->health, BPF_ANY))
			err = -errno;
		if (!err && bpf_map_update_elem(dp->vips_fd, &v->key, &v->info, BPF_ANY))
			err = -errno;
		/* the index holds a copy of the info: any change republishes it */
		*moved |= !old || memcmp(&old->info, &v->info, sizeof(v->info));
		p->res.entries++;
	}
	for (i = 0; !err && i < p->cur->nvips; i++) {
		const struct model_vip *v = &p->cur->vips[i];

		if (model_find_vip(p->tgt, &v->key))
			continue;
		if (bpf_map_delete_elem(dp->vips_fd, &v->key) && errno != ENOENT)
			err = -errno;
		*moved = true;
		p->res.entries++;
	}
	if (err)
		return err_fail(e, err, "cannot write the VIP map: %s", strerror(-err));
	return 0;
}

/* Build one VIP's table; swap it if asked to or if the live one differs. */
static int publish_table(struct publish *p, __u32 vip_id, bool force, __u32 *slots,
			 __u32 *live, struct chlb_err *e)
{
	struct chlb_dp *dp = &p->in->dp;
	size_t bytes = p->tgt->table_size * sizeof(*slots);
	int err;

	err = build_table(p->tgt, vip_id, slots, e);
	if (err)
		return err;
	if (!force) {
		err = chlb_dp__get_table(dp, vip_id, live);
		if (!err && !memcmp(slots, live, bytes))
			return 0;
	}
	err = chlb_dp__set_table(dp, vip_id, slots);
	if (err)
		return err_fail(e, err, "cannot swap the table of VIP %u: %s", vip_id,
				strerror(-err));
	p->res.swaps++;
	return 0;
}

static int publish_tables(struct publish *p, struct chlb_err *e)
{
	__u32 *slots, *live;
	int i, err = 0;

	slots = calloc(p->tgt->table_size, sizeof(*slots));
	live = calloc(p->tgt->table_size, sizeof(*live));
	if (!slots || !live)
		err = -ENOMEM;
	for (i = 0; !err && i < p->tgt->nvips; i++) {
		__u32 id = p->tgt->vips[i].info.id;

		if (p->changed && !p->changed[id])
			continue;
		err = publish_table(p, id, p->changed, slots, live, e);
		p->res.vips_changed++;
	}
	free(slots);
	free(live);
	return err;
}

/* Tables of VIP ids that no VIP holds: after a sync, any id at all. */
static int clear_tables(struct publish *p, struct chlb_err *e)
{
	__u32 id;
	int err;

	for (id = 0; id < p->tgt->max_vips; id++) {
		if (model_vip_by_id(p->tgt, id))
			continue;
		if (p->changed && !model_vip_by_id(p->cur, id))
			continue;
		err = chlb_dp__clear_table(&p->in->dp, id);
		if (err)
			return err_fail(e, err, "cannot clear the table of VIP %u: %s", id,
					strerror(-err));
	}
	return 0;
}

static int clear_backends(struct publish *p, struct chlb_err *e)
{
	struct chlb_dp *dp = &p->in->dp;
	__u32 id;

	for (id = 0; id < p->tgt->max_backends; id++) {
		const struct chlb_backend *b = &p->tgt->backends[id];

		if (backend_in_use(b) || !backend_in_use(&p->cur->backends[id]))
			continue;
		if (bpf_map_update_elem(dp->backends_fd, &id, b, BPF_ANY))
			return err_fail(e, -errno, "cannot clear backend %u: %s", id,
					strerror(errno));
		p->res.entries++;
	}
	return 0;
}

int publish(struct publish *p, struct chlb_err *e)
{
	bool moved = !p->changed;	/* a sync always rebuilds the index */
	int err;

	err = write_backends(p, e);
	if (!err)
		err = write_vips(p, &moved, e);
	if (!err)
		err = publish_tables(p, e);
	if (!err && moved) {
		err = chlb_dp__vip_sync(&p->in->dp);
		if (err)
			err_fail(e, err, "cannot publish the VIP index: %s", strerror(-err));
	}
	if (!err)
		err = clear_tables(p, e);
	if (!err)
		err = clear_backends(p, e);
	return err;
}
