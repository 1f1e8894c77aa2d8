// SPDX-License-Identifier: GPL-2.0
/*
 * Rolling back an interrupted transaction, and repairing drift. Both end
 * the same way: the model as it should be is published over whatever the
 * maps hold, comparing every table, so running it twice (a second kill)
 * converges on the same state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "txn_internal.h"

static int undo_vip(struct model *m, const struct chlb_journal_rec *r)
{
	struct model_vip v = { .key = r->vip_key, .info = r->vip_info, .health = r->health };
	struct model_vip *cur = model_find_vip(m, &r->vip_key);

	if (!r->present) {
		model_remove_vip(m, &r->vip_key);
		return 0;
	}
	if (r->vip_info.id >= m->max_vips)
		return -EUCLEAN;
	if (cur) {
		*cur = v;
		return 0;
	}
	return model_put_vip(m, &v);
}

/* The model as it was before the journaled transaction. */
static int undo(struct model *m, const struct chlb_journal_rec *recs, __u32 n)
{
	__u32 i;
	int err = 0;

	for (i = 0; !err && i < n; i++) {
		const struct chlb_journal_rec *r = &recs[i];

		if (r->kind == CHLB_JREC_VIP)
			err = undo_vip(m, r);
		else if (r->kind == CHLB_JREC_BACKEND && r->id < m->max_backends)
			m->backends[r->id] = r->backend;
		else
			err = -EUCLEAN;
	}
	model_drop_orphans(m);
	return err;
}

/* Publish tgt over what the maps hold now, repairing every table. */
static int republish(struct inst *in, const struct model *tgt, int *repaired,
		     struct chlb_err *e)
{
	struct publish p = { .in = in, .tgt = tgt };
	struct model now;
	int err;

	err = model_read(&in->dp, &now);
	if (err)
		return err_fail(e, err, "cannot read the maps under %s: %s", in->pin_dir,
				strerror(-err));
	p.cur = &now;
	err = publish(&p, e);
	if (!err && repaired)
		*repaired = p.res.swaps + p.res.entries;
	model_free(&now);
	return err;
}

int recover(struct inst *in, bool *done, int *repaired, struct chlb_err *e)
{
	struct chlb_journal_rec *recs;
	struct chlb_journal_head head = {};
	struct model tgt = {};
	int err;

	*done = false;
	recs = calloc(chlb_dp__journal_cap(&in->dp), sizeof(*recs));
	if (!recs)
		return err_fail(e, -ENOMEM, "out of memory");
	err = chlb_dp__journal_read(&in->dp, &head, recs);
	if (err || head.state != CHLB_JOURNAL_PENDING)
		goto out;
	err = model_read(&in->dp, &tgt);
	if (!err)
		err = undo(&tgt, recs, head.count);
	if (!err)
		err = republish(in, &tgt, repaired, e);
	if (!err)
		err = chlb_dp__journal_done(&in->dp, head.seq);
	*done = !err;
out:
	if (err)
		err_fail(e, err, "cannot roll back the interrupted change under %s: %s",
			 in->pin_dir, strerror(-err));
	in->journal_seq = head.seq;
	model_free(&tgt);
	free(recs);
	return err;
}

int txn_sync(struct inst *in, int *repaired, struct chlb_err *e)
{
	struct model tgt;
	bool done;
	int err;

	*repaired = 0;
	err = recover(in, &done, repaired, e);
	if (err || done)
		return err ? err : inst_reload(in, e);
	err = model_copy(&tgt, &in->m);
	if (err)
		return err_fail(e, err, "out of memory");
	model_drop_orphans(&tgt);
	err = republish(in, &tgt, repaired, e);
	model_free(&tgt);
	return err ? err : inst_reload(in, e);
}
