// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The table without sorting the ring. Slot s belongs to the smallest point
 * at or after position(s). Every point p lands in bucket
 * b = chlb_hash_to_slot(pos(p), M), and position(b) <= pos(p) <
 * position(b + 1), so the points >= position(s) are exactly those of
 * buckets s, s + 1, ...: the owner of s is the minimum of bucket s, or of
 * the next non-empty bucket clockwise, wrapping to the smallest point.
 *
 * One pass over the points keeps each bucket's minimum, one backward sweep
 * over the M buckets fills the table: O(P + M), no sort, and M scratch
 * words instead of 2P (512 KiB instead of 16 MiB at N = 1000, V = 1000,
 * M = 65537).
 *
 * The minimum is taken on pos << 32 | i, where i is the backend's index in
 * canonical (address) order, so equal positions go to the lower address:
 * the same tie-break as the sorted array's stable sort.
 */
#include <errno.h>
#include <string.h>

#include "ring_internal.h"

#define EMPTY	UINT64_MAX	/* i < CHLB_MAX_RING_BACKENDS: never a key */

static void scatter_points(uint64_t *min, uint32_t m,
			   const struct chlb_cfg_backend *cfg, size_t n,
			   uint32_t vnodes, uint64_t seed)
{
	uint64_t base, key;
	uint32_t v, nv, pos, b;
	size_t i;

	for (i = 0; i < n; i++) {
		if (cfg[i].state != CHLB_STATE_ACTIVE)
			continue;
		base = chlb_point_base(seed, &cfg[i].addr);
		nv = vnodes * cfg[i].weight;
		for (v = 0; v < nv; v++) {
			pos = chlb_point_pos(base, v);
			b = chlb_hash_to_slot(pos, m);
			key = (uint64_t)pos << 32 | i;
			/* branchless: a new minimum is too frequent to predict */
			min[b] = key < min[b] ? key : min[b];
		}
	}
}

/* Backward sweep; the caller guarantees at least one non-empty bucket. */
static void sweep(struct chlb_snapshot *snap, const uint64_t *min,
		  const struct chlb_cfg_backend *cfg)
{
	uint32_t m = snap->m, s = 0, bid;

	while (min[s] == EMPTY)
		s++;
	bid = cfg[(uint32_t)min[s]].bid;	/* the smallest point: the wrap */
	for (s = m; s-- > 0;) {
		if (min[s] != EMPTY)
			bid = cfg[(uint32_t)min[s]].bid;
		snap->table[s] = bid;
		snap->slots[bid]++;
	}
}

/* The bucket fill of snap (m, seed, addrs set by the caller). */
int chlb_build_buckets(struct chlb_snapshot *snap, struct chlb_build_buf *buf,
		       const struct chlb_cfg_backend *cfg, size_t n,
		       uint32_t vnodes)
{
	uint64_t points;
	uint32_t s;
	int err;

	snap->nactive = chlb_count_active(cfg, n, vnodes, &points);
	if (points > CHLB_MAX_POINTS)
		return -E2BIG;
	if (snap->nbids)
		memset(snap->slots, 0, snap->nbids * sizeof(*snap->slots));
	if (!points) {
		for (s = 0; s < snap->m; s++)
			snap->table[s] = CHLB_NO_BACKEND;
		return 0;
	}
	err = chlb_buf_reserve(&buf->points, &buf->cap_points, snap->m);
	if (err)
		return err;
	memset(buf->points, 0xff, snap->m * sizeof(*buf->points));
	scatter_points(buf->points, snap->m, cfg, n, vnodes, snap->seed);
	sweep(snap, buf->points, cfg);
	return 0;
}
