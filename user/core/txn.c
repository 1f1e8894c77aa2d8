// SPDX-License-Identifier: GPL-2.0
/*
 * A transaction's changes, applied to its target model only: each is
 * checked against what the target already holds (so changes in one set
 * see each other), and nothing reaches the data plane before txn_commit().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/addrcheck.h"
#include "core/parse.h"
#include "txn_internal.h"

int txn_begin(struct inst *in, struct txn **tp, struct chlb_err *e)
{
	struct txn *t = calloc(1, sizeof(*t));
	int err = -ENOMEM;

	*tp = NULL;
	if (!t)
		goto out;
	t->in = in;
	err = model_copy(&t->cur, &in->m);
	if (!err)
		err = model_copy(&t->tgt, &in->m);
	if (err)
		goto out;
	/* leftovers of a VIP that is gone are never adopted by a new one */
	model_drop_orphans(&t->tgt);
	t->retired = calloc(in->m.max_backends, 1);
	t->resolve = calloc(in->m.max_backends, 1);
	t->changed = calloc(in->m.max_vips, 1);
	err = t->retired && t->resolve && t->changed ? 0 : -ENOMEM;
out:
	if (err) {
		txn_free(t);
		return err_fail(e, err, "cannot start a transaction: %s", strerror(-err));
	}
	*tp = t;
	return 0;
}

void txn_free(struct txn *t)
{
	if (!t)
		return;
	model_free(&t->cur);
	model_free(&t->tgt);
	free(t->retired);
	free(t->resolve);
	free(t->changed);
	free(t);
}

const struct model *txn_target(const struct txn *t)
{
	return &t->tgt;
}

bool txn_vip_changed(const struct txn *t, __u32 vip_id)
{
	return vip_id < t->tgt.max_vips && t->changed[vip_id];
}

bool vip_same(const struct model_vip *a, const struct model_vip *b)
{
	return !memcmp(&a->info, &b->info, sizeof(a->info)) &&
	       !memcmp(&a->health, &b->health, sizeof(a->health));
}

/* A VIP id used neither before nor after: its table and counters are free. */
static int free_vip_id(struct txn *t, struct chlb_err *e)
{
	__u32 id;

	for (id = 0; id < t->tgt.max_vips; id++)
		if (!model_vip_by_id(&t->cur, id) && !model_vip_by_id(&t->tgt, id))
			return id;
	return err_fail(e, -ENOSPC, "no free VIP slot: all %u in use (--max-vips at attach)",
			t->tgt.max_vips);
}

static int get_vip(struct txn *t, const struct chlb_vip_key *key, struct model_vip **v,
		   struct chlb_err *e)
{
	char text[CLI_VIP_STRLEN];

	*v = model_find_vip(&t->tgt, key);
	if (*v)
		return 0;
	format_vip(key, text, sizeof(text));
	return err_usage(e, -ENOENT, "unknown VIP '%s'; see 'chlb vip list'", text);
}

/* A VIP at a backend's address: that backend's frames would come back here. */
static int check_not_a_backend(const struct model *m, const struct chlb_vip_key *key,
			       const char *text, struct chlb_err *e)
{
	char addr[CHLB_ADDR_STRLEN];
	__u32 i;

	for (i = 0; i < m->max_backends; i++) {
		if (!(m->backends[i].flags & CHLB_BACKEND_F_IN_USE) ||
		    memcmp(m->backends[i].addr, key->addr, CHLB_ADDR_LEN))
			continue;
		format_addr(key->addr, addr, sizeof(addr));
		return err_usage(e, -EINVAL,
				 "invalid VIP '%s': %s is a backend's address; the VIP would "
				 "route that backend's frames to the load balancer", text, addr);
	}
	return 0;
}

int txn_vip_add(struct txn *t, const struct chlb_vip_key *key, __u32 method,
		const struct chlb_health *health, struct chlb_err *e)
{
	struct model_vip v = { .key = *key, .info.method = method };
	char text[CLI_VIP_STRLEN];
	int id, err;

	format_vip(key, text, sizeof(text));
	if (model_find_vip(&t->tgt, key))
		return err_usage(e, -EEXIST, "VIP '%s' already exists", text);
	err = addrcheck_vip(key, e);
	if (!err)
		err = check_not_a_backend(&t->tgt, key, text, e);
	if (err)
		return err;
	id = free_vip_id(t, e);
	if (id < 0)
		return id;
	v.info.id = id;
	if (health)
		v.health = *health;
	err = model_put_vip(&t->tgt, &v);
	if (err)
		return err_fail(e, err, "no free VIP slot: all %u in use (--max-vips at attach)",
				t->tgt.max_vips);
	t->changed[id] = 1;
	return 0;
}

int txn_vip_set(struct txn *t, const struct chlb_vip_key *key, __u32 method,
		const struct chlb_health *health, struct chlb_err *e)
{
	struct model_vip *v;
	int err = get_vip(t, key, &v, e);

	if (err)
		return err;
	v->info.method = method;
	memset(&v->health, 0, sizeof(v->health));
	if (health)
		v->health = *health;
	return 0;
}

int txn_vip_flags(struct txn *t, const struct chlb_vip_key *key, __u32 set, __u32 clear,
		  struct chlb_err *e)
{
	struct model_vip *v;
	int err = get_vip(t, key, &v, e);

	if (!err)
		v->info.flags = (v->info.flags | set) & ~clear;
	return err;
}

int txn_vip_del(struct txn *t, const struct chlb_vip_key *key, struct chlb_err *e)
{
	struct model_vip *v;
	__u32 id, vip_id;
	int err = get_vip(t, key, &v, e);

	if (err)
		return err;
	vip_id = v->info.id;
	for (id = 0; id < t->tgt.max_backends; id++)
		if (model_in_vip(&t->tgt, id, vip_id)) {
			t->tgt.backends[id].flags = 0;
			t->retired[id] = 1;
		}
	model_remove_vip(&t->tgt, key);
	t->changed[vip_id] = 0;	/* no table to build: it is cleared */
	return 0;
}
