// SPDX-License-Identifier: GPL-2.0
/* A transaction's backend changes; see txn.h and txn.c. */
#include <errno.h>
#include <string.h>

#include "core/addrcheck.h"
#include "core/parse.h"
#include "txn_internal.h"

struct where {
	struct model_vip *vip;
	char vip_text[CLI_VIP_STRLEN];
	char addr_text[CHLB_ADDR_STRLEN];
	int id;			/* the backend's id, or -ENOENT */
};

static int find(struct txn *t, const struct chlb_vip_key *vip, const struct chlb_addr *addr,
		struct where *w, struct chlb_err *e)
{
	format_vip(vip, w->vip_text, sizeof(w->vip_text));
	chlb_addr_format(addr, w->addr_text, sizeof(w->addr_text));
	w->vip = model_find_vip(&t->tgt, vip);
	if (!w->vip)
		return err_usage(e, -ENOENT, "unknown VIP '%s'; see 'chlb vip list'", w->vip_text);
	w->id = model_find_backend(&t->tgt, w->vip->info.id, addr);
	return 0;
}

/* find() for a backend that must exist: -ENOENT names it otherwise. */
static int find_existing(struct txn *t, const struct chlb_vip_key *vip,
			 const struct chlb_addr *addr, struct where *w, struct chlb_err *e)
{
	int err = find(t, vip, addr, w, e);

	if (!err && w->id < 0)
		err = err_usage(e, -ENOENT, "unknown backend '%s' in VIP '%s'", w->addr_text,
				w->vip_text);
	return err;
}

/* An id free before and after, and not freed by this transaction. */
static int free_backend_id(struct txn *t, struct chlb_err *e)
{
	__u32 id;

	for (id = 0; id < t->tgt.max_backends; id++)
		if (!backend_in_use(&t->cur.backends[id]) &&
		    !backend_in_use(&t->tgt.backends[id]) && !t->retired[id])
			return id;
	return err_fail(e, -ENOSPC,
			"no free backend slot: all %u in use (--max-backends at attach)",
			t->tgt.max_backends);
}

/* The instance must have an outer source of the backend's family (attach --encap-src). */
static int check_outer_source(const struct model *m, const struct chlb_addr *addr,
			      struct chlb_err *e)
{
	bool v4 = chlb_addr_is_v4(addr);
	const char *fam = v4 ? "IPv4" : "IPv6";
	char text[CHLB_ADDR_STRLEN];

	if (m->cfg.encap[v4 ? 0 : 1].family)
		return 0;
	format_addr(addr->bytes, text, sizeof(text));
	return err_usage(e, -EINVAL,
			 "cannot forward to %s backend '%s' by ipip: the instance has no %s outer "
			 "source address (its interface had no global %s address at attach); "
			 "detach and attach again with --encap-src ADDR[/LEN]",
			 fam, text, fam, fam);
}

/*
 * A backend at a VIP's address would send its frames back to the load
 * balancer (the VIP routes there): refused, whatever the method.
 */
static int check_not_a_vip(const struct model *m, const struct chlb_addr *addr,
			   struct chlb_err *e)
{
	char text[CHLB_ADDR_STRLEN], vip[CLI_VIP_STRLEN];
	int i;

	for (i = 0; i < m->nvips; i++) {
		if (memcmp(m->vips[i].key.addr, addr->bytes, CHLB_ADDR_LEN))
			continue;
		format_addr(addr->bytes, text, sizeof(text));
		format_vip(&m->vips[i].key, vip, sizeof(vip));
		return err_usage(e, -EINVAL,
				 "invalid backend address '%s': the address of VIP '%s', which "
				 "routes to the load balancer, not to a backend", text, vip);
	}
	return 0;
}

int txn_check_backend(const struct txn *t, const struct model_vip *v,
		      const struct chlb_addr *addr, const __u8 *mac, struct chlb_err *e)
{
	int err = addrcheck_backend(addr, &v->key, v->info.method, e);

	if (!err)
		err = check_not_a_vip(&t->tgt, addr, e);
	if (err)
		return err;
	if (v->info.method != CHLB_METHOD_IPIP)
		return mac ? addrcheck_mac(mac, "the MAC given", e) : 0;
	if (mac)
		return err_usage(e, -EINVAL,
				 "ipip backends are reached through the FIB: --mac is for dsr");
	return check_outer_source(&t->tgt, addr, e);
}

/* Backend id of VIP v after v's method changed: its MAC as the new method needs it. */
static void method_fixup(struct txn *t, const struct model_vip *v, __u32 id)
{
	struct chlb_backend *b = &t->tgt.backends[id];

	if (v->info.method == CHLB_METHOD_IPIP) {
		/* the MAC itself stays: a packet still on the dsr path may read it */
		b->flags &= ~CHLB_BACKEND_F_MAC_SET;
		t->resolve[id] = 0;
	} else if (!(b->flags & CHLB_BACKEND_F_MAC_SET)) {
		t->resolve[id] = 1;
	}
}

/* The VIP's method before this transaction differs from its target's. */
static bool method_changed(const struct txn *t, const struct model_vip *v)
{
	const struct model_vip *old = model_find_vip(&t->cur, &v->key);

	return old && old->info.method != v->info.method;
}

int txn_check_methods(struct txn *t, struct chlb_err *e)
{
	struct chlb_addr a;
	__u32 id;
	int i, err;

	for (i = 0; i < t->tgt.nvips; i++) {
		const struct model_vip *v = &t->tgt.vips[i];

		if (!method_changed(t, v))
			continue;
		for (id = 0; id < t->tgt.max_backends; id++) {
			if (!model_in_vip(&t->tgt, id, v->info.id))
				continue;
			method_fixup(t, v, id);
			memcpy(a.bytes, t->tgt.backends[id].addr, CHLB_ADDR_LEN);
			err = txn_check_backend(t, v, &a, NULL, e);
			if (err)
				return err;
		}
	}
	return 0;
}

static void set_fields(struct chlb_backend *b, const struct txn_backend *tb)
{
	if (tb->weight)
		b->weight = tb->weight;
	if (tb->state == CHLB_STATE_DRAINING)
		b->flags |= CHLB_BACKEND_F_DRAINING;
	else if (tb->state == CHLB_STATE_ACTIVE)
		b->flags &= ~CHLB_BACKEND_F_DRAINING;
	if (tb->mac) {
		memcpy(b->mac, tb->mac, 6);
		b->flags |= CHLB_BACKEND_F_MAC_SET;
	}
}

int txn_backend_add(struct txn *t, const struct chlb_vip_key *vip,
		    const struct txn_backend *tb, struct chlb_err *e)
{
	struct chlb_backend *b;
	struct where w;
	int id, err;

	err = find(t, vip, &tb->addr, &w, e);
	if (err)
		return err;
	if (w.id >= 0)
		return err_usage(e, -EEXIST, "backend '%s' already in VIP '%s'", w.addr_text,
				 w.vip_text);
	err = txn_check_backend(t, w.vip, &tb->addr, tb->mac, e);
	id = err ? err : free_backend_id(t, e);
	if (id < 0)
		return id;
	b = &t->tgt.backends[id];
	/* a new life of the id: flows recorded for its last backend re-hash */
	*b = (struct chlb_backend){ .weight = 1, .flags = CHLB_BACKEND_F_IN_USE,
				    .vip_id = w.vip->info.id, .gen = t->cur.backends[id].gen + 1 };
	memcpy(b->addr, tb->addr.bytes, CHLB_ADDR_LEN);
	set_fields(b, tb);
	t->resolve[id] = !tb->mac && w.vip->info.method == CHLB_METHOD_DSR;
	t->changed[w.vip->info.id] = 1;
	return 0;
}

int txn_backend_set(struct txn *t, const struct chlb_vip_key *vip,
		    const struct txn_backend *tb, struct chlb_err *e)
{
	struct chlb_backend *b;
	struct where w;
	int err;

	err = find_existing(t, vip, &tb->addr, &w, e);
	if (err)
		return err;
	/* a new method is checked here too, so a document's error names the backend */
	if (tb->mac || method_changed(t, w.vip)) {
		err = txn_check_backend(t, w.vip, &tb->addr, tb->mac, e);
		if (err)
			return err;
	}
	b = &t->tgt.backends[w.id];
	set_fields(b, tb);
	if (tb->resolve_mac && !tb->mac) {
		b->flags &= ~CHLB_BACKEND_F_MAC_SET;
		t->resolve[w.id] = w.vip->info.method == CHLB_METHOD_DSR;
	}
	/* only weight and state shape the table: a new MAC needs no swap */
	if (b->weight != t->cur.backends[w.id].weight ||
	    (b->flags ^ t->cur.backends[w.id].flags) & CHLB_BACKEND_F_DRAINING)
		t->changed[w.vip->info.id] = 1;
	return 0;
}

int txn_backend_del(struct txn *t, const struct chlb_vip_key *vip,
		    const struct chlb_addr *addr, struct chlb_err *e)
{
	struct where w;
	int err;

	err = find_existing(t, vip, addr, &w, e);
	if (err)
		return err;
	/*
	 * Only the in-use flag changes: a packet already past its in-use check
	 * may be reading the entry, so its MAC must stay; gen survives too.
	 */
	t->tgt.backends[w.id].flags = 0;
	t->retired[w.id] = 1;
	t->changed[w.vip->info.id] = 1;
	return 0;
}

int txn_backend_down(struct txn *t, const struct chlb_vip_key *vip,
		     const struct chlb_addr *addr, bool down, struct chlb_err *e)
{
	struct chlb_backend *b;
	struct where w;
	int err;

	err = find_existing(t, vip, addr, &w, e);
	if (err)
		return err;
	b = &t->tgt.backends[w.id];
	if (!!(b->flags & CHLB_BACKEND_F_DOWN) == down)
		return 0;
	b->flags ^= CHLB_BACKEND_F_DOWN;
	if (down)
		b->gen++;	/* it cannot answer its flows: they re-hash */
	t->changed[w.vip->info.id] = 1;
	return 0;
}
