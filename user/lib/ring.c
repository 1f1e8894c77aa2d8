// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Ring lifecycle and the write side. A write takes the mutex, applies a
 * batch to a copy of the configuration (validating every change first),
 * builds a complete new snapshot, publishes it with rcu_assign_pointer()
 * and, after a grace period, keeps the old one as the next build's spare.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "ring_internal.h"

static int opts_fill(const struct chlb_ring_opts *in, struct chlb_ring_opts *o)
{
	memset(o, 0, sizeof(*o));
	if (in)
		memcpy(o, in, in->sz && in->sz < sizeof(*o) ? in->sz : sizeof(*o));
	o->sz = sizeof(*o);
	if (!o->vnodes)
		o->vnodes = CHLB_DEFAULT_VNODES;
	if (!o->table_size)
		o->table_size = CHLB_DEFAULT_TABLE_SIZE;
	if (!o->algo)
		o->algo = CHLB_ALGO_RING;
	if (!o->max_backends)
		o->max_backends = CHLB_DEFAULT_MAX_RING_BACKENDS;
	if (o->vnodes > CHLB_MAX_VNODES)
		return -CHLB_ERR_VNODES;
	if (o->table_size > CHLB_MAX_TABLE_SIZE)
		return -CHLB_ERR_TABLE_SIZE;
	if (o->algo != CHLB_ALGO_RING)
		return -CHLB_ERR_ALGO;
	if (o->max_backends > CHLB_MAX_RING_BACKENDS)
		return -CHLB_ERR_TOO_MANY;
	return 0;
}

/* Build cfg[0..n) into the spare snapshot and make it the live one. */
static int publish(struct chlb_ring *ring, const struct chlb_cfg_backend *cfg,
		   size_t n)
{
	struct chlb_snapshot *s, *old;
	size_t i;
	int err;

	err = chlb_snapshot_reserve(&ring->spare, ring->opts.table_size,
				    ring->next_bid);
	if (err)
		return err;
	s = ring->spare;
	s->seed = ring->opts.seed;
	for (i = 0; i < n; i++)
		s->addrs[cfg[i].bid] = cfg[i].addr;
	err = chlb_build(s, &ring->buf, cfg, n, ring->opts.vnodes);
	if (err)
		return err;
	old = ring->snap;
	chlb_snap_publish(&ring->snap, s);
	ring->spare = NULL;
	/* after this no reader holds old, nor counts a backend it had */
	urcu_memb_synchronize_rcu();
	chlb_tsan_acquire(&ring->rcu_sync);
	ring->spare = old;
	return 0;
}

int chlb_ring__new(const struct chlb_ring_opts *opts, struct chlb_ring **out)
{
	struct chlb_ring *ring;
	int err;

	if (!out)
		return -EINVAL;
	ring = calloc(1, sizeof(*ring));
	if (!ring)
		return -ENOMEM;
	err = opts_fill(opts, &ring->opts);
	if (err)
		goto out_free;
	pthread_mutex_init(&ring->lock, NULL);
	pthread_mutex_init(&ring->blocks_lock, NULL);
	err = chlb_counters_attach(ring);
	if (err)
		goto out_free;
	err = publish(ring, NULL, 0);
	if (err) {
		chlb_ring__free(ring);
		return err;
	}
	*out = ring;
	return 0;
out_free:
	free(ring);
	return err;
}

/* The caller guarantees no thread is still using the ring. */
void chlb_ring__free(struct chlb_ring *ring)
{
	if (!ring)
		return;
	chlb_counters_detach(ring);
	chlb_snapshot_free(ring->snap);
	chlb_snapshot_free(ring->spare);
	chlb_build_buf_free(&ring->buf);
	free(ring->cfg);
	free(ring->free_bids);
	free(ring->count_base);
	pthread_mutex_destroy(&ring->blocks_lock);
	pthread_mutex_destroy(&ring->lock);
	free(ring);
}

/* ---- the batch: validate, apply to a copy, build, publish ------------- */

struct batch {
	struct chlb_cfg_backend *cfg;	/* the copy being changed */
	size_t n;
	uint32_t *removed;		/* bids to recycle after the grace period */
	size_t nremoved;
};

/* Index of addr in cfg, or where it would go as ~index. */
static long cfg_find(const struct chlb_cfg_backend *cfg, size_t n,
		     const struct chlb_addr *addr)
{
	size_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = chlb_addr_cmp(&cfg[mid].addr, addr);
		if (!c)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return ~(long)lo;
}

static int check_weight(uint32_t w)
{
	return w < CHLB_MIN_WEIGHT || w > CHLB_MAX_WEIGHT ? -CHLB_ERR_WEIGHT : 0;
}

static int check_state(enum chlb_state st)
{
	return st != CHLB_STATE_ACTIVE && st != CHLB_STATE_DRAINING ?
		       -CHLB_ERR_STATE : 0;
}

static int batch_add(struct chlb_ring *ring, struct batch *b,
		     const struct chlb_change *c)
{
	struct chlb_cfg_backend *e;
	long at;

	if (check_weight(c->weight) || check_state(c->state))
		return check_weight(c->weight) ?: check_state(c->state);
	at = cfg_find(b->cfg, b->n, &c->addr);
	if (at >= 0)
		return -CHLB_ERR_EXISTS;
	if (b->n >= ring->opts.max_backends)
		return -CHLB_ERR_TOO_MANY;
	at = ~at;
	e = &b->cfg[at];
	memmove(e + 1, e, (b->n - (size_t)at) * sizeof(*e));
	b->n++;
	e->addr = c->addr;
	e->weight = c->weight;
	e->state = c->state;
	e->bid = CHLB_NO_BACKEND;	/* given one once the batch is valid */
	return 0;
}

static int batch_apply(struct chlb_ring *ring, struct batch *b,
		       const struct chlb_change *c)
{
	struct chlb_cfg_backend *e;
	long at;

	if (c->op == CHLB_CHANGE_ADD)
		return batch_add(ring, b, c);
	if (c->op == CHLB_CHANGE_WEIGHT && check_weight(c->weight))
		return -CHLB_ERR_WEIGHT;
	if (c->op == CHLB_CHANGE_STATE && check_state(c->state))
		return -CHLB_ERR_STATE;
	if (c->op != CHLB_CHANGE_DEL && c->op != CHLB_CHANGE_WEIGHT &&
	    c->op != CHLB_CHANGE_STATE)
		return -EINVAL;
	at = cfg_find(b->cfg, b->n, &c->addr);
	if (at < 0)
		return -CHLB_ERR_NOT_FOUND;
	e = &b->cfg[at];
	if (c->op == CHLB_CHANGE_WEIGHT) {
		e->weight = c->weight;
	} else if (c->op == CHLB_CHANGE_STATE) {
		e->state = c->state;
	} else {
		if (e->bid != CHLB_NO_BACKEND)
			b->removed[b->nremoved++] = e->bid;
		memmove(e, e + 1, (b->n - (size_t)at - 1) * sizeof(*e));
		b->n--;
	}
	return 0;
}

static int batch_init(struct chlb_ring *ring, struct batch *b, size_t nchanges)
{
	size_t cap = ring->ncfg + nchanges;

	b->cfg = malloc((cap ? cap : 1) * sizeof(*b->cfg));
	b->removed = malloc((nchanges ? nchanges : 1) * sizeof(*b->removed));
	if (!b->cfg || !b->removed)
		return -ENOMEM;
	if (ring->ncfg)
		memcpy(b->cfg, ring->cfg, ring->ncfg * sizeof(*b->cfg));
	b->n = ring->ncfg;
	b->nremoved = 0;
	return 0;
}

/* Grow per-bid arrays so bids below `bids` fit. */
static int ring_reserve_bids(struct chlb_ring *ring, size_t bids)
{
	uint64_t *base;
	uint32_t *fb;

	base = realloc(ring->count_base, bids * sizeof(*base));
	if (!base)
		return -ENOMEM;
	ring->count_base = base;
	fb = realloc(ring->free_bids, bids * sizeof(*fb));
	if (!fb)
		return -ENOMEM;
	ring->free_bids = fb;
	return 0;
}

/*
 * New backends take recycled ids first. A recycled id's old counts stay in
 * the per-thread blocks, so its new owner starts from their current sum.
 */
static void assign_bids(struct chlb_ring *ring, struct batch *b)
{
	uint32_t bid;
	size_t i;

	for (i = 0; i < b->n; i++) {
		if (b->cfg[i].bid != CHLB_NO_BACKEND)
			continue;
		if (ring->nfree) {
			bid = ring->free_bids[--ring->nfree];
			ring->count_base[bid] = chlb_counters_sum(ring, bid);
		} else {
			bid = ring->next_bid++;
			ring->count_base[bid] = 0;
		}
		b->cfg[i].bid = bid;
	}
}

int chlb_ring__update(struct chlb_ring *ring, const struct chlb_change *changes,
		      size_t n)
{
	uint32_t saved_next, saved_nfree;
	struct batch b = { 0 };
	size_t i;
	int err;

	if (!ring || (!changes && n))
		return -EINVAL;
	pthread_mutex_lock(&ring->lock);
	err = batch_init(ring, &b, n);
	for (i = 0; !err && i < n; i++)
		err = batch_apply(ring, &b, &changes[i]);
	if (!err)
		err = ring_reserve_bids(ring, ring->next_bid + b.n + 1);
	if (err)
		goto out;
	saved_next = ring->next_bid;
	saved_nfree = (uint32_t)ring->nfree;
	assign_bids(ring, &b);
	err = publish(ring, b.cfg, b.n);
	if (err) {
		/* the ids handed out are unused: take them back */
		ring->next_bid = saved_next;
		ring->nfree = saved_nfree;
		goto out;
	}
	for (i = 0; i < b.nremoved; i++)
		ring->free_bids[ring->nfree++] = b.removed[i];
	free(ring->cfg);
	ring->cfg = b.cfg;
	ring->ncfg = b.n;
	ring->cap_cfg = b.n;
	b.cfg = NULL;
out:
	pthread_mutex_unlock(&ring->lock);
	free(b.cfg);
	free(b.removed);
	return err;
}

/* ---- one-change conveniences ------------------------------------------ */

static int update_one(struct chlb_ring *ring, enum chlb_change_op op,
		      const char *addr, uint32_t weight, enum chlb_state state)
{
	struct chlb_change c = { .op = op, .weight = weight, .state = state };
	int err;

	err = chlb_addr_parse(addr, &c.addr);
	if (err)
		return err;
	return chlb_ring__update(ring, &c, 1);
}

int chlb_ring__add(struct chlb_ring *ring, const char *addr, unsigned int weight)
{
	return update_one(ring, CHLB_CHANGE_ADD, addr, weight, CHLB_STATE_ACTIVE);
}

int chlb_ring__remove(struct chlb_ring *ring, const char *addr)
{
	return update_one(ring, CHLB_CHANGE_DEL, addr, 0, CHLB_STATE_ACTIVE);
}

int chlb_ring__set_weight(struct chlb_ring *ring, const char *addr,
			  unsigned int weight)
{
	return update_one(ring, CHLB_CHANGE_WEIGHT, addr, weight,
			  CHLB_STATE_ACTIVE);
}

int chlb_ring__set_state(struct chlb_ring *ring, const char *addr,
			 enum chlb_state state)
{
	return update_one(ring, CHLB_CHANGE_STATE, addr, 0, state);
}
