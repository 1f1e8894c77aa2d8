// SPDX-License-Identifier: GPL-2.0
/* Counter snapshots for `chlb stats`; see stats.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/inst.h"
#include "stats.h"

double snap_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int snap_backends(struct inst *in, const struct model_vip *v, struct snap *s)
{
	__u32 id;
	int err = 0;

	for (id = 0; !err && id < in->m.max_backends; id++) {
		const struct chlb_backend *b = &in->m.backends[id];
		struct bsnap *o = &s->b[s->nb];

		if (!(b->flags & CHLB_BACKEND_F_IN_USE) || b->vip_id != v->info.id)
			continue;
		o->vip = v->key;
		o->id = id;
		memcpy(o->addr, b->addr, CHLB_ADDR_LEN);
		err = chlb_dp__backend_stats(&in->dp, id, &o->s);
		s->nb++;
	}
	return err;
}

/* The flow table's latest pressure times, and the clock they compare with. */
static int snap_flow(struct inst *in, struct snap *s)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	s->coarse_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	return chlb_dp__flow_pressure(&in->dp, &s->flow);
}

int snap_take(const char *vip_text, struct snap *s)
{
	struct inst in = { .lock_fd = -1 };
	struct model_vip *only = NULL;
	int i, err;

	memset(s, 0, sizeof(*s));
	err = inst_open(&in, cli.pin_dir, false, CLI_E);
	if (!err && vip_text)
		err = inst_get_vip(&in, vip_text, &only, CLI_E);
	if (err)
		goto out;
	s->v = calloc(in.m.nvips ? in.m.nvips : 1, sizeof(*s->v));
	s->b = calloc(in.m.max_backends, sizeof(*s->b));
	err = s->v && s->b ? chlb_dp__global_stats(&in.dp, &s->g) : -ENOMEM;
	if (!err && in.dp.flow_entries)
		err = snap_flow(&in, s);
	for (i = 0; !err && i < in.m.nvips; i++) {
		struct model_vip *v = &in.m.vips[i];

		if (only && v != only)
			continue;
		s->v[s->nv].key = v->key;
		s->v[s->nv].id = v->info.id;
		err = chlb_dp__vip_stats(&in.dp, v->info.id, &s->v[s->nv++].s);
		if (!err)
			err = snap_backends(&in, v, s);
	}
	if (err)
		cli_err(err, "cannot read counters: %s", strerror(-err));
	s->t = snap_now();
out:
	inst_close(&in);
	return err;
}

void snap_free(struct snap *s)
{
	free(s->v);
	free(s->b);
}

/* The same entry in the previous snapshot, if the id still means the same. */
const struct vsnap *snap_prev_vip(const struct snap *p, const struct vsnap *v)
{
	int i;

	for (i = 0; p && i < p->nv; i++)
		if (p->v[i].id == v->id && !memcmp(&p->v[i].key, &v->key, sizeof(v->key)))
			return &p->v[i];
	return NULL;
}

const struct bsnap *snap_prev_backend(const struct snap *p, const struct bsnap *b)
{
	int i;

	for (i = 0; p && i < p->nb; i++)
		if (p->b[i].id == b->id && !memcmp(p->b[i].addr, b->addr, CHLB_ADDR_LEN) &&
		    !memcmp(&p->b[i].vip, &b->vip, sizeof(b->vip)))
			return &p->b[i];
	return NULL;
}
