// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Introspection: backend list with slots and request counts, the table in
 * canonical indexes, its checksum, memory. Serialised with writers by the
 * ring's mutex, so the live snapshot can be read without RCU.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "ring_internal.h"

int chlb_ring__backends(struct chlb_ring *ring, struct chlb_backend_info *out,
			size_t cap)
{
	const struct chlb_cfg_backend *c;
	struct chlb_backend_info *bi;
	size_t i;
	int n;

	if (!ring || (!out && cap))
		return -EINVAL;
	pthread_mutex_lock(&ring->lock);
	for (i = 0; i < ring->ncfg && i < cap; i++) {
		c = &ring->cfg[i];
		bi = &out[i];
		memset(bi, 0, sizeof(*bi));
		bi->addr = c->addr;
		bi->weight = c->weight;
		bi->state = c->state;
		bi->slots = ring->snap->slots[c->bid];
		bi->requests = chlb_counters_sum(ring, c->bid) -
			       ring->count_base[c->bid];
	}
	n = (int)ring->ncfg;
	pthread_mutex_unlock(&ring->lock);
	return n;
}

int chlb_ring__num_backends(struct chlb_ring *ring)
{
	int n;

	if (!ring)
		return -EINVAL;
	pthread_mutex_lock(&ring->lock);
	n = (int)ring->ncfg;
	pthread_mutex_unlock(&ring->lock);
	return n;
}

/* bid -> position in canonical order, for the live snapshot's ids */
static uint32_t *canonical_index(struct chlb_ring *ring)
{
	uint32_t *idx;
	size_t i;

	idx = malloc((ring->snap->nbids + 1) * sizeof(*idx));
	if (!idx)
		return NULL;
	for (i = 0; i < ring->ncfg; i++)
		idx[ring->cfg[i].bid] = (uint32_t)i;
	return idx;
}

int chlb_ring__table(struct chlb_ring *ring, uint32_t *owners, uint32_t m)
{
	const uint32_t *t;
	uint32_t *idx, s;
	int err = 0;

	if (!ring || !owners)
		return -EINVAL;
	pthread_mutex_lock(&ring->lock);
	if (m != ring->opts.table_size) {
		err = -EINVAL;
		goto out;
	}
	idx = canonical_index(ring);
	if (!idx) {
		err = -ENOMEM;
		goto out;
	}
	t = ring->snap->table;
	for (s = 0; s < m; s++)
		owners[s] = t[s] == CHLB_NO_BACKEND ? CHLB_NO_BACKEND : idx[t[s]];
	free(idx);
out:
	pthread_mutex_unlock(&ring->lock);
	return err;
}

/*
 * Each owner's address is digested once; the table hash then chains one
 * xxh64 round per slot over those digests, so the sum depends on owner
 * addresses only, never on internal ids.
 */
int chlb_ring__checksum(struct chlb_ring *ring, uint64_t *sum)
{
	const struct chlb_snapshot *snap;
	uint64_t *dig, acc;
	uint32_t s, b;
	size_t i;

	if (!ring || !sum)
		return -EINVAL;
	pthread_mutex_lock(&ring->lock);
	snap = ring->snap;
	dig = calloc(snap->nbids + 1, sizeof(*dig));
	if (!dig) {
		pthread_mutex_unlock(&ring->lock);
		return -ENOMEM;
	}
	for (i = 0; i < ring->ncfg; i++)
		dig[ring->cfg[i].bid] = XXH3_64bits(&ring->cfg[i].addr,
						    CHLB_ADDR_LEN);
	acc = CHLB_P3 + snap->m;
	for (s = 0; s < snap->m; s++) {
		b = snap->table[s];
		acc = chlb_round64(acc, b == CHLB_NO_BACKEND ? 0 : dig[b]);
	}
	*sum = chlb_mix64(acc);
	free(dig);
	pthread_mutex_unlock(&ring->lock);
	return 0;
}

static size_t snapshot_bytes(const struct chlb_snapshot *s)
{
	if (!s)
		return 0;
	return sizeof(*s) + (size_t)s->m * sizeof(*s->table) +
	       s->cap_bids * (sizeof(*s->addrs) + sizeof(*s->slots));
}

/* Everything the ring holds: both snapshots, scratch, config, counters. */
size_t chlb_ring__memory(struct chlb_ring *ring)
{
	size_t bytes;

	if (!ring)
		return 0;
	pthread_mutex_lock(&ring->lock);
	bytes = sizeof(*ring) + snapshot_bytes(ring->snap) +
		snapshot_bytes(ring->spare) +
		(ring->buf.cap_points + ring->buf.cap_tmp) *
			sizeof(*ring->buf.points) +
		ring->cap_cfg * sizeof(*ring->cfg) +
		ring->next_bid * (sizeof(*ring->free_bids) +
				  sizeof(*ring->count_base)) +
		chlb_counters_memory(ring);
	pthread_mutex_unlock(&ring->lock);
	return bytes;
}

void chlb_ring__opts(struct chlb_ring *ring, struct chlb_ring_opts *opts)
{
	if (ring && opts)
		*opts = ring->opts;
}
