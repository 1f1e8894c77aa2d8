// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's apply: the document, then the health checks' verdicts on
 * top (a backend down owns no slots; a VIP whose serving backends are all
 * down keeps every one of them: fail open, flagged panic), in one
 * transaction under the CLI's lock, then each checked backend's last
 * result written where `chlb backend list` reads it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>

#include "core/config.h"
#include "core/managed.h"
#include "core/parse.h"
#include "daemon_internal.h"

int daemon_subs(struct daemon *d, struct chlb_err *e)
{
	struct hc_sub *subs;
	int i, j, n = 0;

	for (i = 0; i < d->doc.nvips; i++)
		if (d->doc.vips[i].health.type != CHLB_HEALTH_NONE)
			n += d->doc.vips[i].nbackends;
	subs = calloc(n + 1, sizeof(*subs));
	free(d->written);
	d->written = calloc(n + 1, sizeof(*d->written));	/* all written anew */
	if (!subs || !d->written) {
		free(subs);
		return err_fail(e, -ENOMEM, "out of memory");
	}
	n = 0;
	for (i = 0; i < d->doc.nvips; i++) {
		const struct doc_vip *v = &d->doc.vips[i];

		for (j = 0; v->health.type != CHLB_HEALTH_NONE && j < v->nbackends; j++)
			subs[n++] = (struct hc_sub){ .vip = v->key, .addr = v->backends[j].addr,
						     .cfg = v->health };
	}
	free(d->subs);
	d->subs = subs;
	d->nsubs = n;
	return hc_set(d->hc, subs, n, loop_now_ms());
}

static bool is_down(struct daemon *d, const struct doc_vip *v, const struct doc_backend *b)
{
	struct hc_state st;

	if (v->health.type == CHLB_HEALTH_NONE)
		return false;
	return !hc_state(d->hc, &v->key, &b->addr, &st) && st.down;
}

/* Down backends of one VIP, unless none would serve: then none (panic). */
static int overlay_vip(struct daemon *d, struct txn *t, const struct doc_vip *v,
		       struct chlb_err *e)
{
	int j, serving = 0, down = 0, err = 0;
	bool panic;

	for (j = 0; j < v->nbackends; j++) {
		bool dn = is_down(d, v, &v->backends[j]);

		down += dn;
		serving += !dn && v->backends[j].state == CHLB_STATE_ACTIVE;
	}
	panic = down && !serving;
	for (j = 0; !err && j < v->nbackends; j++)
		err = txn_backend_down(t, &v->key, &v->backends[j].addr,
				       !panic && is_down(d, v, &v->backends[j]), e);
	if (!err)
		err = txn_vip_flags(t, &v->key, panic ? CHLB_VIP_F_PANIC : 0,
				    panic ? 0 : CHLB_VIP_F_PANIC, e);
	return err;
}

static void log_panics(const struct model *before, const struct model *after)
{
	char text[CLI_VIP_STRLEN];
	int i;

	for (i = 0; i < after->nvips; i++) {
		const struct model_vip *v = &after->vips[i], *o = model_find_vip(before, &v->key);
		__u32 was = o ? o->info.flags & CHLB_VIP_F_PANIC : 0;

		if ((v->info.flags & CHLB_VIP_F_PANIC) == was)
			continue;
		format_vip(&v->key, text, sizeof(text));
		dlog(was ? "VIP %s: a backend serves again, panic over" :
			   "VIP %s: every backend is down: all kept in the table (fail open, panic)",
		     text);
	}
}

/*
 * Each checked backend's last result, for `backend list`: only what changed
 * since it was last written (compared in memory: a lookup per backend per
 * second would be most of the daemon's system calls).
 */
static void write_results(struct daemon *d, struct inst *in)
{
	struct chlb_backend_health h, *old;
	struct hc_state st;
	struct timespec now;
	int i, id;

	clock_gettime(CLOCK_REALTIME, &now);
	for (i = 0; i < d->nsubs; i++) {
		const struct model_vip *v = model_find_vip(&in->m, &d->subs[i].vip);

		if (!v || hc_state(d->hc, &v->key, &d->subs[i].addr, &st))
			continue;
		id = model_find_backend(&in->m, v->info.id, &d->subs[i].addr);
		if (id < 0)
			continue;
		h = (struct chlb_backend_health){ .gen = in->m.backends[id].gen,
						  .result = st.result, .detail = st.detail,
						  .down = st.down };
		old = &d->written[i];
		if (old->last_ns && old->gen == h.gen && old->result == h.result &&
		    old->detail == h.detail && old->down == h.down)
			continue;
		h.last_ns = now.tv_sec * 1000000000ull + now.tv_nsec;
		if (!bpf_map_update_elem(in->dp.bhealth_fd, &id, &h, BPF_ANY))
			*old = h;
	}
}

static int apply_txn(struct daemon *d, struct inst *in, struct txn_result *r,
		     struct chlb_err *e)
{
	struct model before = {};
	struct txn *t = NULL;
	int i, err;

	err = model_copy(&before, &in->m);
	if (err)
		return err_fail(e, err, "out of memory");
	err = txn_begin(in, &t, e);
	if (!err)
		err = config_reconcile(t, &d->doc, CONFIG_MANAGED, e);
	for (i = 0; !err && i < d->doc.nvips; i++)
		err = overlay_vip(d, t, &d->doc.vips[i], e);
	if (!err)
		err = txn_commit(t, r, e);
	if (!err)
		log_panics(&before, &in->m);
	txn_free(t);
	model_free(&before);
	return err;
}

int daemon_apply(struct daemon *d, struct chlb_err *e)
{
	struct inst in = { .lock_fd = -1, .verbose = d->o->verbose };
	struct txn_result r = {};
	int err;

	err = inst_open(&in, d->o->pin_dir, true, e);
	if (!err)
		err = managed_claim(&in, d->src->kind, d->src_desc, e);
	if (!err)
		err = apply_txn(d, &in, &r, e);
	if (!err) {
		write_results(d, &in);
		if (d->src->applied)	/* etcd: the node's record of its tables */
			d->src->applied(d, &in);
		if (r.entries)
			dlog("applied %s: %d VIP table%s swapped, %d entr%s written", d->src_desc,
			     r.swaps, r.swaps == 1 ? "" : "s", r.entries,
			     r.entries == 1 ? "y" : "ies");
	}
	inst_close(&in);
	return err;
}

int daemon_results(struct daemon *d)
{
	struct inst in = { .lock_fd = -1 };
	struct chlb_err e = {};
	int err;

	err = inst_open(&in, d->o->pin_dir, false, &e);
	if (!err)
		write_results(d, &in);
	inst_close(&in);
	return err;
}
