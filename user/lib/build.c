// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Build a snapshot. chlb_build() chooses between two fills that give the
 * same bytes: this file's sorted array (virtual-node points -> radix sort ->
 * one merge sweep over the M-slot table), and build_bucket.c's per-slot
 * minima, which skips the sort and wins once points outnumber slots.
 *
 * Points are u64 sort keys, pos << 32 | bid, generated backend by backend
 * in canonical (address) order. The radix sort is stable and keys only on
 * pos, so points at equal positions stay in address order: the tie-break is
 * "lower address first", the same on every host, whatever the bids are.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ring_internal.h"

#define RADIX_BITS	11
#define RADIX_SIZE	(1u << RADIX_BITS)
#define RADIX_MASK	(RADIX_SIZE - 1)
#define RADIX_PASSES	3	/* 11 + 11 + 10 bits of pos */

/* Grow one scratch array to n entries; its contents are not kept. */
int chlb_buf_reserve(uint64_t **p, size_t *cap, size_t n)
{
	uint64_t *q;

	if (n <= *cap)
		return 0;
	q = malloc(n * sizeof(*q));
	if (!q)
		return -ENOMEM;
	free(*p);
	*p = q;
	*cap = n;
	return 0;
}

static size_t gen_points(uint64_t *pts, const struct chlb_cfg_backend *cfg,
			 size_t n, uint32_t vnodes, uint64_t seed)
{
	size_t i, np = 0;
	uint32_t v, nv;
	uint64_t base;

	for (i = 0; i < n; i++) {
		if (cfg[i].state != CHLB_STATE_ACTIVE)
			continue;
		base = chlb_point_base(seed, &cfg[i].addr);
		nv = vnodes * cfg[i].weight;
		for (v = 0; v < nv; v++)
			pts[np++] = (uint64_t)chlb_point_pos(base, v) << 32 |
				    cfg[i].bid;
	}
	return np;
}

/* Stable LSD radix sort on the top 32 bits; returns the sorted array. */
static uint64_t *radix_sort(uint64_t *a, uint64_t *tmp, size_t n)
{
	static const int shift[RADIX_PASSES] = { 32, 43, 54 };
	uint32_t (*cnt)[RADIX_SIZE];
	uint32_t sum, c;
	uint64_t *t;
	size_t i;
	int p, d;

	cnt = calloc(RADIX_PASSES, sizeof(*cnt));
	if (!cnt)
		return NULL;
	for (i = 0; i < n; i++)
		for (p = 0; p < RADIX_PASSES; p++)
			cnt[p][(a[i] >> shift[p]) & RADIX_MASK]++;
	for (p = 0; p < RADIX_PASSES; p++) {
		for (sum = 0, d = 0; d < (int)RADIX_SIZE; d++) {
			c = cnt[p][d];
			cnt[p][d] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			tmp[cnt[p][(a[i] >> shift[p]) & RADIX_MASK]++] = a[i];
		t = a;
		a = tmp;
		tmp = t;
	}
	free(cnt);
	return a;
}

/*
 * Slot s sits at chlb_slot_position(s, m) and belongs to the first point at
 * or after it. Position(s) <= pos exactly when s <= chlb_hash_to_slot(pos),
 * so point j owns the slots after the previous point's last one up to
 * hash_to_slot(pos_j): one pass over points and slots, no division.
 */
static void fill_table(struct chlb_snapshot *snap, const uint64_t *pts,
		       size_t np)
{
	uint32_t m = snap->m, next = 0, last, bid, s;
	size_t j;

	if (snap->nbids)
		memset(snap->slots, 0, snap->nbids * sizeof(*snap->slots));
	if (!np) {
		for (s = 0; s < m; s++)
			snap->table[s] = CHLB_NO_BACKEND;
		return;
	}
	for (j = 0; j < np && next < m; j++) {
		last = chlb_hash_to_slot((uint32_t)(pts[j] >> 32), m);
		if (last < next)
			continue;
		bid = (uint32_t)pts[j];
		snap->slots[bid] += last - next + 1;
		for (s = next; s <= last; s++)
			snap->table[s] = bid;
		next = last + 1;
	}
	/* past the last point: wrap around to the first one */
	bid = (uint32_t)pts[0];
	snap->slots[bid] += m - next;
	for (s = next; s < m; s++)
		snap->table[s] = bid;
}

/* Active backends; *npoints = their points (V x weight each). */
uint32_t chlb_count_active(const struct chlb_cfg_backend *cfg, size_t n,
			   uint64_t vnodes, uint64_t *npoints)
{
	uint32_t nactive = 0;
	size_t i;

	*npoints = 0;
	for (i = 0; i < n; i++) {
		if (cfg[i].state != CHLB_STATE_ACTIVE)
			continue;
		nactive++;
		*npoints += vnodes * cfg[i].weight;
	}
	return nactive;
}

/* The sorted-array fill of snap (m, seed, addrs set by the caller). */
int chlb_build_sorted(struct chlb_snapshot *snap, struct chlb_build_buf *buf,
		      const struct chlb_cfg_backend *cfg, size_t n,
		      uint32_t vnodes)
{
	uint64_t want, *sorted;
	size_t np;
	int err;

	snap->nactive = chlb_count_active(cfg, n, vnodes, &want);
	if (want > CHLB_MAX_POINTS)
		return -E2BIG;
	want = want ? want : 1;
	err = chlb_buf_reserve(&buf->points, &buf->cap_points, want);
	if (!err)
		err = chlb_buf_reserve(&buf->tmp, &buf->cap_tmp, want);
	if (err)
		return err;
	np = gen_points(buf->points, cfg, n, vnodes, snap->seed);
	sorted = radix_sort(buf->points, buf->tmp, np);
	if (!sorted)
		return -ENOMEM;
	fill_table(snap, sorted, np);
	return 0;
}

/*
 * Both fills cost O(M) for the table; on top, sorting makes ~4 sequential
 * passes over P points, the buckets one pass of random updates to M words
 * plus two sequential ones. See CHLB_BUCKET_MIN_RATIO for when each wins.
 */
bool chlb_build_uses_buckets(uint64_t points, uint32_t m)
{
	return m <= CHLB_BUCKET_MAX_M && points >= m / CHLB_BUCKET_MIN_RATIO;
}

bool chlb_ring_points_fit(uint64_t points, uint32_t table_size)
{
	return chlb_build_uses_buckets(points, table_size) || points <= CHLB_MAX_POINTS;
}

int chlb_build(struct chlb_snapshot *snap, struct chlb_build_buf *buf,
	       const struct chlb_cfg_backend *cfg, size_t n, uint32_t vnodes)
{
	uint64_t points;

	chlb_count_active(cfg, n, vnodes, &points);
	if (chlb_build_uses_buckets(points, snap->m))
		return chlb_build_buckets(snap, buf, cfg, n, vnodes);
	return chlb_build_sorted(snap, buf, cfg, n, vnodes);
}
