// SPDX-License-Identifier: GPL-2.0
/*
 * Committing a transaction: resolve what must be resolved before anything
 * is written, record the undo journal, publish, and mark it done. A
 * publish that fails is rolled back at once from the same journal.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addrcheck.h"
#include "core/parse.h"
#include "net/neigh.h"
#include "txn_internal.h"

#define NEIGH_TIMEOUT_MS 1500

static int resolve_one(struct txn *t, __u32 id, struct chlb_err *e)
{
	struct chlb_backend *b = &t->tgt.backends[id];
	char ifname[IF_NAMESIZE] = "?", addr[CHLB_ADDR_STRLEN], what[96];
	struct chlb_addr a;
	int err;

	memcpy(a.bytes, b->addr, CHLB_ADDR_LEN);
	chlb_addr_format(&a, addr, sizeof(addr));
	snprintf(what, sizeof(what), "the neighbour table's MAC for %s", addr);
	err = neigh_resolve(t->tgt.cfg.ifindex, &a, NEIGH_TIMEOUT_MS, b->mac);
	if (err == -EBADMSG)	/* a group or zero MAC: say which */
		return addrcheck_mac(b->mac, what, e) ?: err_usage(e, err, "%s is unusable", what);
	if (err) {
		if_indextoname(t->tgt.cfg.ifindex, ifname);
		return err_fail(e, err, "cannot resolve the MAC of %s on %s (%s); give --mac",
				addr, ifname, strerror(-err));
	}
	return addrcheck_mac(b->mac, what, e);
}

/* MACs of new backends from the neighbour table: before any write. */
static int resolve_macs(struct txn *t, struct chlb_err *e)
{
	__u32 id;
	int err;

	for (id = 0; id < t->tgt.max_backends; id++) {
		const struct model_vip *v;

		if (!t->resolve[id] || !backend_in_use(&t->tgt.backends[id]))
			continue;
		v = model_vip_by_id(&t->tgt, t->tgt.backends[id].vip_id);
		if (v && v->info.method == CHLB_METHOD_IPIP)
			continue;	/* the FIB gives the next hop */
		err = resolve_one(t, id, e);
		if (err)
			return err;
	}
	return 0;
}

static void rec_vip(struct chlb_journal_rec *r, const struct chlb_vip_key *key,
		    const struct model_vip *old)
{
	memset(r, 0, sizeof(*r));
	r->kind = CHLB_JREC_VIP;
	r->vip_key = *key;
	if (old) {
		r->present = 1;
		r->vip_info = old->info;
		r->health = old->health;
	}
}

/* Undo records: every model entry that differs, as it is now. */
static int journal_records(const struct txn *t, struct chlb_journal_rec *r)
{
	const struct model *cur = &t->cur, *tgt = &t->tgt;
	struct model_vip *old;
	int i, n = 0;
	__u32 id;

	for (i = 0; i < tgt->nvips; i++) {
		old = model_find_vip(cur, &tgt->vips[i].key);
		if (!old || !vip_same(old, &tgt->vips[i]))
			rec_vip(&r[n++], &tgt->vips[i].key, old);
	}
	for (i = 0; i < cur->nvips; i++)
		if (!model_find_vip(tgt, &cur->vips[i].key))
			rec_vip(&r[n++], &cur->vips[i].key, &cur->vips[i]);
	for (id = 0; id < tgt->max_backends; id++) {
		if (!memcmp(&cur->backends[id], &tgt->backends[id], sizeof(cur->backends[id])))
			continue;
		memset(&r[n], 0, sizeof(r[n]));
		r[n].kind = CHLB_JREC_BACKEND;
		r[n].id = id;
		r[n++].backend = cur->backends[id];
	}
	return n;
}

static int rollback(struct txn *t, int err, struct chlb_err *e)
{
	struct chlb_err re = {};
	bool done;

	if (recover(t->in, &done, NULL, &re))
		err_append(e, "; rolling back failed too (%s): the next chlb command will",
			   re.msg);
	else
		err_append(e, "; nothing changed (rolled back)");
	return err;
}

static int publish_journaled(struct txn *t, struct chlb_journal_rec *recs, int n,
			     struct txn_result *res, struct chlb_err *e)
{
	struct publish p = { .in = t->in, .cur = &t->cur, .tgt = &t->tgt, .changed = t->changed };
	struct chlb_dp *dp = &t->in->dp;
	__u64 seq = t->in->journal_seq + 1;
	int err;

	err = chlb_dp__journal_write(dp, recs, n, seq);
	if (err)
		return err_fail(e, err, "cannot write the journal: %s", strerror(-err));
	t->in->journal_seq = seq;
	err = publish(&p, e);
	if (err)
		return rollback(t, err, e);
	err = chlb_dp__journal_done(dp, seq);
	if (err)
		return rollback(t, err_fail(e, err, "cannot close the journal: %s",
					    strerror(-err)), e);
	*res = p.res;
	return 0;
}

int txn_commit(struct txn *t, struct txn_result *res, struct chlb_err *e)
{
	struct txn_result none = {};
	struct chlb_journal_rec *recs;
	int n, err;

	if (!res)
		res = &none;
	memset(res, 0, sizeof(*res));
	err = txn_check_methods(t, e);
	if (!err)
		err = resolve_macs(t, e);
	if (err)
		return err;
	recs = calloc(chlb_dp__journal_cap(&t->in->dp), sizeof(*recs));
	if (!recs)
		return err_fail(e, -ENOMEM, "out of memory");
	n = journal_records(t, recs);
	err = n ? publish_journaled(t, recs, n, res, e) : 0;
	free(recs);
	if (!err) {
		model_free(&t->in->m);
		err = model_copy(&t->in->m, &t->tgt);
	}
	return err;
}
