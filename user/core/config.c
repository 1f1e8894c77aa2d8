// SPDX-License-Identifier: GPL-2.0
/* The model as a document, and a document as a transaction; see config.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "parse.h"

static void export_backend(const struct chlb_backend *b, struct doc_backend *db)
{
	memcpy(db->addr.bytes, b->addr, CHLB_ADDR_LEN);
	db->weight = b->weight;
	db->state = b->flags & CHLB_BACKEND_F_DRAINING ? CHLB_STATE_DRAINING : CHLB_STATE_ACTIVE;
	db->has_mac = b->flags & CHLB_BACKEND_F_MAC_SET;
	if (db->has_mac)
		memcpy(db->mac, b->mac, 6);
}

static int export_vip(const struct model *m, const struct model_vip *v, struct doc_vip *dv)
{
	__u32 id;

	dv->key = v->key;
	dv->method = v->info.method;
	dv->health = v->health;
	dv->backends = calloc(model_count_backends(m, v->info.id) + 1, sizeof(*dv->backends));
	if (!dv->backends)
		return -ENOMEM;
	for (id = 0; id < m->max_backends; id++)
		if (model_in_vip(m, id, v->info.id))
			export_backend(&m->backends[id], &dv->backends[dv->nbackends++]);
	return 0;
}

int config_export(const struct model *m, const struct chlb_vip_key *only, struct doc *d,
		  struct chlb_err *e)
{
	int i, err = 0;

	memset(d, 0, sizeof(*d));
	d->cluster = (struct doc_cluster){ .set = true, .has_seed = true, .has_vnodes = true,
					   .has_table_size = true, .has_algo = true,
					   .seed = m->cfg.seed, .vnodes = m->cfg.vnodes,
					   .table_size = m->table_size, .algo = m->cfg.algo };
	d->vips = calloc(m->nvips + 1, sizeof(*d->vips));
	if (!d->vips)
		err = -ENOMEM;
	for (i = 0; !err && i < m->nvips; i++)
		if (!only || !memcmp(only, &m->vips[i].key, sizeof(*only)))
			err = export_vip(m, &m->vips[i], &d->vips[d->nvips++]);
	if (err) {
		doc_free(d);
		return err_fail(e, err, "cannot export: %s", strerror(-err));
	}
	doc_sort(d);
	return 0;
}

/* The document's cluster must be the one the instance was attached with. */
static int check_cluster(const struct model *m, const struct doc_cluster *c,
			 struct chlb_err *e)
{
	const char *hint = ": re-attach to change it";

	/* neither value: the daemon logs this where more than root may read */
	if (c->has_seed && c->seed != m->cfg.seed)
		return err_usage(e, -EINVAL, "cluster.seed differs from the instance's (the seed "
				 "is secret: 'chlb status' shows it)%s", hint);
	if (c->has_vnodes && c->vnodes != m->cfg.vnodes)
		return err_usage(e, -EINVAL, "cluster.vnodes: %u differs from the instance's %u%s",
				 c->vnodes, m->cfg.vnodes, hint);
	if (c->has_table_size && c->table_size != m->table_size)
		return err_usage(e, -EINVAL,
				 "cluster.table_size: %u differs from the instance's %u%s",
				 c->table_size, m->table_size, hint);
	if (c->has_algo && c->algo != (enum chlb_algo)m->cfg.algo)
		return err_usage(e, -EINVAL, "cluster.algo: %s differs from the instance's %s%s",
				 algo_text(c->algo), algo_text(m->cfg.algo), hint);
	return 0;
}

static const struct doc_backend *doc_find_backend(const struct doc_vip *dv, const __u8 *addr)
{
	int i;

	for (i = 0; i < dv->nbackends; i++)
		if (!memcmp(dv->backends[i].addr.bytes, addr, CHLB_ADDR_LEN))
			return &dv->backends[i];
	return NULL;
}

/* Backends of the VIP that the document does not list: removed. */
static int drop_backends(struct txn *t, const struct doc_vip *dv, int vi, struct chlb_err *e)
{
	const struct model *m = txn_target(t);
	const struct model_vip *v = model_find_vip(m, &dv->key);
	struct chlb_addr a;
	__u32 id;
	int err;

	for (id = 0; v && id < m->max_backends; id++) {
		if (!model_in_vip(m, id, v->info.id) || doc_find_backend(dv, m->backends[id].addr))
			continue;
		memcpy(a.bytes, m->backends[id].addr, CHLB_ADDR_LEN);
		err = txn_backend_del(t, &dv->key, &a, e);
		if (err) {
			err_prefix(e, "vips[%d]: ", vi);
			return err;
		}
	}
	return 0;
}

static int put_backend(struct txn *t, const struct doc_vip *dv, const struct doc_backend *db,
		       struct chlb_err *e)
{
	const struct model *m = txn_target(t);
	const struct model_vip *v = model_find_vip(m, &dv->key);
	struct txn_backend tb = { .addr = db->addr, .weight = db->weight, .state = db->state,
				  .mac = db->has_mac ? db->mac : NULL };
	int id = model_find_backend(m, v->info.id, &db->addr);

	if (id < 0)
		return txn_backend_add(t, &dv->key, &tb, e);
	tb.resolve_mac = !db->has_mac && (m->backends[id].flags & CHLB_BACKEND_F_MAC_SET);
	return txn_backend_set(t, &dv->key, &tb, e);
}

static int put_vip(struct txn *t, const struct doc_vip *dv, int vi, unsigned int flags,
		   struct chlb_err *e)
{
	const struct model_vip *v = model_find_vip(txn_target(t), &dv->key);
	int j, err;

	if (!v)
		err = txn_vip_add(t, &dv->key, dv->method, &dv->health, e);
	else
		err = txn_vip_set(t, &dv->key, dv->method, &dv->health, e);
	if (!err && (flags & CONFIG_MANAGED))
		err = txn_vip_flags(t, &dv->key, CHLB_VIP_F_MANAGED, 0, e);
	if (!err)
		err = drop_backends(t, dv, vi, e);
	for (j = 0; !err && j < dv->nbackends; j++) {
		err = put_backend(t, dv, &dv->backends[j], e);
		if (err)
			err_prefix(e, "vips[%d].backends[%d]: ", vi, j);
	}
	if (err && !strstr(e->msg, "vips["))
		err_prefix(e, "vips[%d]: ", vi);
	return err;
}

static bool doc_has_vip(const struct doc *d, const struct chlb_vip_key *key)
{
	int i;

	for (i = 0; i < d->nvips; i++)
		if (!memcmp(&d->vips[i].key, key, sizeof(*key)))
			return true;
	return false;
}

int config_reconcile(struct txn *t, const struct doc *d, unsigned int flags,
		     struct chlb_err *e)
{
	const struct model *m = txn_target(t);
	struct chlb_vip_key key;
	int i, err;

	err = check_cluster(m, &d->cluster, e);
	/* removals first: their VIP ids and backend slots count as free */
	for (i = m->nvips - 1; !err && i >= 0; i--) {
		key = m->vips[i].key;
		if ((flags & CONFIG_MANAGED) && !(m->vips[i].info.flags & CHLB_VIP_F_MANAGED))
			continue;
		if (!doc_has_vip(d, &key))
			err = txn_vip_del(t, &key, e);
	}
	for (i = 0; !err && i < d->nvips; i++)
		err = put_vip(t, &d->vips[i], i, flags, e);
	return err;
}
