// SPDX-License-Identifier: GPL-2.0
/*
 * The ring and its table, checked exactly on slot counts, and against a
 * reference built the slow, obvious way (qsort + binary search per slot).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <xxhash.h>

#include <chlb/chlb.h>
#include "../user/lib/ring_internal.h"	/* point positions, for the reference */
#include "helpers/cu_main.h"

#define SEED	0x0123456789abcdefULL

static const struct chlb_addr none = { .bytes = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

static struct chlb_ring *ring_new(uint32_t v, uint32_t m, uint64_t seed)
{
	struct chlb_ring_opts o = { .sz = sizeof(o), .vnodes = v,
				    .table_size = m, .seed = seed };
	struct chlb_ring *r = NULL;

	CU_ASSERT_EQUAL_FATAL(chlb_ring__new(&o, &r), 0);
	return r;
}

static const char *name(int i)
{
	static char buf[8][64];
	static int k;
	char *b = buf[k++ & 7];

	if (i % 3 == 2)
		snprintf(b, 64, "2001:db8::%x", i);
	else
		snprintf(b, 64, "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
	return b;
}

static struct chlb_addr addr_of(int i)
{
	struct chlb_addr a;

	CU_ASSERT_EQUAL_FATAL(chlb_addr_parse(name(i), &a), 0);
	return a;
}

/* The whole observable state: backends, table as addresses, checksum. */
struct state {
	struct chlb_backend_info *b;
	int n;
	struct chlb_addr *owner;	/* per slot */
	uint32_t m;
	uint64_t sum;
};

static void state_get(struct chlb_ring *r, struct state *st)
{
	struct chlb_ring_opts o;
	uint32_t *idx, s;

	chlb_ring__opts(r, &o);
	st->m = o.table_size;
	st->n = chlb_ring__num_backends(r);
	st->b = calloc(st->n + 1, sizeof(*st->b));
	idx = malloc(st->m * sizeof(*idx));
	st->owner = malloc(st->m * sizeof(*st->owner));
	CU_ASSERT_FATAL(st->b && idx && st->owner);
	CU_ASSERT_EQUAL_FATAL(chlb_ring__backends(r, st->b, st->n), st->n);
	CU_ASSERT_EQUAL_FATAL(chlb_ring__table(r, idx, st->m), 0);
	for (s = 0; s < st->m; s++) {
		CU_ASSERT_FATAL(idx[s] == CHLB_NO_BACKEND || idx[s] < (uint32_t)st->n);
		st->owner[s] = idx[s] == CHLB_NO_BACKEND ? none : st->b[idx[s]].addr;
	}
	CU_ASSERT_EQUAL(chlb_ring__checksum(r, &st->sum), 0);
	free(idx);
}

static void state_free(struct state *st)
{
	free(st->b);
	free(st->owner);
}

static int state_same(const struct state *a, const struct state *b)
{
	int i;

	if (a->n != b->n || a->m != b->m || a->sum != b->sum)
		return 0;
	for (i = 0; i < a->n; i++)
		if (chlb_addr_cmp(&a->b[i].addr, &b->b[i].addr) ||
		    a->b[i].weight != b->b[i].weight ||
		    a->b[i].state != b->b[i].state || a->b[i].slots != b->b[i].slots)
			return 0;
	return !memcmp(a->owner, b->owner, a->m * sizeof(*a->owner));
}

/* ---- the reference: sort every point, binary-search every slot -------- */

struct ref_point {
	uint32_t pos;
	struct chlb_addr addr;
};

static int ref_cmp(const void *x, const void *y)
{
	const struct ref_point *a = x, *b = y;

	if (a->pos != b->pos)
		return a->pos < b->pos ? -1 : 1;
	return chlb_addr_cmp(&a->addr, &b->addr);	/* tie: lower address */
}

typedef int (*fill_fn)(struct chlb_snapshot *, struct chlb_build_buf *,
		       const struct chlb_cfg_backend *, size_t, uint32_t);

/* One fill run on its own over r's configuration: same bytes as r's table. */
static void check_fill(struct chlb_ring *r, fill_fn fn)
{
	const struct chlb_snapshot *live = r->snap;	/* no writer runs */
	struct chlb_build_buf buf = { 0 };
	struct chlb_snapshot *s = NULL;

	CU_ASSERT_EQUAL_FATAL(chlb_snapshot_reserve(&s, live->m, live->nbids), 0);
	s->seed = live->seed;
	memset(s->table, 0xa5, live->m * sizeof(*s->table));	/* no stale luck */
	CU_ASSERT_EQUAL(fn(s, &buf, r->cfg, r->ncfg, r->opts.vnodes), 0);
	CU_ASSERT_EQUAL(s->nactive, live->nactive);
	CU_ASSERT(!memcmp(s->table, live->table, live->m * sizeof(*s->table)));
	CU_ASSERT(!live->nbids ||
		  !memcmp(s->slots, live->slots, live->nbids * sizeof(*s->slots)));
	chlb_build_buf_free(&buf);
	chlb_snapshot_free(s);
}

/*
 * Every slot against the reference, and both fills against the table, so
 * each path is checked whichever chlb_build() picked. Returns the slots
 * whose owner won a position tie (two addresses at one position).
 */
static uint32_t check_against_reference(struct chlb_ring *r)
{
	struct chlb_ring_opts o;
	struct ref_point *p;
	struct state st;
	size_t np = 0, lo, hi, mid;
	uint64_t base;
	uint32_t s, pos, v, ties = 0;
	int i, bad = 0;

	check_fill(r, chlb_build_sorted);
	check_fill(r, chlb_build_buckets);
	chlb_ring__opts(r, &o);
	state_get(r, &st);
	for (i = 0; i < st.n; i++)
		if (st.b[i].state == CHLB_STATE_ACTIVE)
			np += (size_t)o.vnodes * st.b[i].weight;
	p = malloc((np + 1) * sizeof(*p));
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	np = 0;
	for (i = 0; i < st.n; i++) {
		if (st.b[i].state != CHLB_STATE_ACTIVE)
			continue;
		base = chlb_point_base(o.seed, &st.b[i].addr);
		for (v = 0; v < o.vnodes * st.b[i].weight; v++) {
			p[np].pos = chlb_point_pos(base, v);
			p[np++].addr = st.b[i].addr;
		}
	}
	qsort(p, np, sizeof(*p), ref_cmp);
	for (s = 0; s < st.m; s++) {
		pos = chlb_slot_position(s, st.m);
		lo = 0;
		hi = np;
		while (lo < hi) {
			mid = (lo + hi) / 2;
			if (p[mid].pos < pos)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (!np) {
			bad += !!chlb_addr_cmp(&st.owner[s], &none);
			continue;
		}
		lo = lo == np ? 0 : lo;
		bad += !!chlb_addr_cmp(&st.owner[s], &p[lo].addr);
		ties += lo + 1 < np && p[lo + 1].pos == p[lo].pos &&
			chlb_addr_cmp(&p[lo + 1].addr, &p[lo].addr);
	}
	CU_ASSERT_EQUAL(bad, 0);
	free(p);
	state_free(&st);
	return ties;
}

/* Every slot owned by an active backend; per-backend slots sum to M. */
static void check_counts(struct chlb_ring *r)
{
	struct state st;
	uint64_t total = 0;
	uint32_t s, *cnt;
	int i, j, found;

	state_get(r, &st);
	cnt = calloc(st.n + 1, sizeof(*cnt));
	for (s = 0; s < st.m; s++) {
		found = -1;
		for (i = 0; i < st.n; i++)
			if (!chlb_addr_cmp(&st.owner[s], &st.b[i].addr))
				found = i;
		if (found < 0) {	/* unowned: only with no active backend */
			CU_ASSERT(!chlb_addr_cmp(&st.owner[s], &none));
			for (i = 0; i < st.n; i++)
				CU_ASSERT(st.b[i].state != CHLB_STATE_ACTIVE);
			continue;
		}
		CU_ASSERT(st.b[found].state == CHLB_STATE_ACTIVE);
		cnt[found]++;
		if (s > 64 && st.n > 0) /* keep the O(M N) scan short */
			break;
	}
	for (j = 0; j < st.n; j++) {
		total += st.b[j].slots;
		if (st.b[j].state != CHLB_STATE_ACTIVE)
			CU_ASSERT_EQUAL(st.b[j].slots, 0);
	}
	for (i = 0; i < st.n; i++)
		if (st.b[i].state == CHLB_STATE_ACTIVE)
			break;
	CU_ASSERT_EQUAL(total, i < st.n ? st.m : 0);
	free(cnt);
	state_free(&st);
}

static void test_exact_counts(void)
{
	static const uint32_t ms[] = { 1, 2, 3, 4099, 65537, 1u << 20 };
	struct chlb_ring *r;
	size_t k;
	int i;

	for (k = 0; k < sizeof(ms) / sizeof(ms[0]); k++) {
		r = ring_new(50, ms[k], SEED + k);
		for (i = 0; i < 12; i++)
			CU_ASSERT_EQUAL(chlb_ring__add(r, name(i), 1 + i % 4), 0);
		CU_ASSERT_EQUAL(chlb_ring__set_state(r, name(3), CHLB_STATE_DRAINING), 0);
		check_counts(r);
		check_against_reference(r);
		chlb_ring__free(r);
	}
}

/*
 * Both fills at P << M, P ~ M and P >> M (chlb_build() uses each on some of
 * them); 10^6 points have ~116 position collisions, and the large cases
 * must have slots decided by one, so the tie-break is really exercised.
 */
static void test_fills_and_ties(void)
{
	static const struct { int n; uint32_t v, m; int need_ties; } c[] = {
		{ 3, 10, 1u << 20, 0 },		/* P << M: sorted */
		{ 40, 100, 4099, 0 },		/* P ~ M: buckets */
		{ 1000, 1000, 1u << 19, 1 },	/* P = 2M: buckets, many ties */
		{ 1000, 1000, 65537, 1 },	/* P = 15M: buckets */
		{ 1000, 1000, 1u << 20, 1 },	/* P ~ M, big M: sorted */
		{ 1000, 1000, 61, 0 },		/* P >> M: 16,000 a bucket */
	};
	struct chlb_change *ch;
	struct chlb_ring *r;
	uint32_t ties;
	size_t k;
	int i;

	for (k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		r = ring_new(c[k].v, c[k].m, SEED + k);
		ch = calloc(c[k].n, sizeof(*ch));
		CU_ASSERT_PTR_NOT_NULL_FATAL(ch);
		for (i = 0; i < c[k].n; i++) {
			ch[i].op = CHLB_CHANGE_ADD;
			ch[i].addr = addr_of(i);
			ch[i].weight = 1 + i % 3;
		}
		CU_ASSERT_EQUAL(chlb_ring__update(r, ch, c[k].n), 0);
		ties = check_against_reference(r);
		if (c[k].need_ties)
			CU_ASSERT(ties > 0);
		free(ch);
		chlb_ring__free(r);
	}
}

/* Weights 1, 2, 4, 8, 16: shares within 10% of weight / sum (>3 sd). */
static void test_weights(void)
{
	struct chlb_ring *r = ring_new(1000, 1u << 20, SEED);
	struct chlb_backend_info b[5];
	double share, want;
	int i;

	for (i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(chlb_ring__add(r, name(i), 1u << i), 0);
	CU_ASSERT_EQUAL(chlb_ring__backends(r, b, 5), 5);
	for (i = 0; i < 5; i++) {
		share = (double)b[i].slots / (1u << 20);
		want = (double)b[i].weight / 31;
		CU_ASSERT(share > 0.9 * want && share < 1.1 * want);
	}
	chlb_ring__free(r);
}

/* Slots that changed owner between two states. */
static uint32_t moved(const struct state *a, const struct state *b,
		      const struct chlb_addr *only_from, const struct chlb_addr *only_to)
{
	uint32_t s, n = 0;

	for (s = 0; s < a->m; s++) {
		if (!chlb_addr_cmp(&a->owner[s], &b->owner[s]))
			continue;
		n++;
		if (only_from)
			CU_ASSERT(!chlb_addr_cmp(&a->owner[s], only_from));
		if (only_to)
			CU_ASSERT(!chlb_addr_cmp(&b->owner[s], only_to));
	}
	return n;
}

static uint32_t slots_of(const struct state *st, const struct chlb_addr *a)
{
	int i;

	for (i = 0; i < st->n; i++)
		if (!chlb_addr_cmp(&st->b[i].addr, a))
			return st->b[i].slots;
	return 0;
}

static void test_add_remove_moves(void)
{
	struct chlb_ring *r = ring_new(100, 65537, SEED);
	struct state s0, s1, s2;
	struct chlb_addr n20 = addr_of(20), n7 = addr_of(7);
	uint32_t mv;
	int i;

	for (i = 0; i < 20; i++)
		CU_ASSERT_EQUAL(chlb_ring__add(r, name(i), 1), 0);
	state_get(r, &s0);
	CU_ASSERT_EQUAL(chlb_ring__add(r, name(20), 1), 0);
	state_get(r, &s1);
	mv = moved(&s0, &s1, NULL, &n20);	/* only to the newcomer */
	CU_ASSERT_EQUAL(mv, slots_of(&s1, &n20));
	CU_ASSERT(mv > 0);
	CU_ASSERT_EQUAL(chlb_ring__remove(r, name(7)), 0);
	state_get(r, &s2);
	mv = moved(&s1, &s2, &n7, NULL);	/* only from the leaver */
	CU_ASSERT_EQUAL(mv, slots_of(&s1, &n7));
	/* reweight: slots move only to the reweighted backend */
	state_free(&s0);
	CU_ASSERT_EQUAL(chlb_ring__set_weight(r, name(20), 3), 0);
	state_get(r, &s0);
	mv = moved(&s2, &s0, NULL, &n20);
	CU_ASSERT_EQUAL(mv, slots_of(&s0, &n20) - slots_of(&s2, &n20));
	check_against_reference(r);
	state_free(&s0);
	state_free(&s1);
	state_free(&s2);
	chlb_ring__free(r);
}

static void test_drain(void)
{
	struct chlb_ring *r = ring_new(100, 4099, SEED);
	struct chlb_addr n3 = addr_of(3);
	struct state s0, s1, s2;
	int i;

	for (i = 0; i < 8; i++)
		CU_ASSERT_EQUAL(chlb_ring__add(r, name(i), 2), 0);
	state_get(r, &s0);
	CU_ASSERT_EQUAL(chlb_ring__set_state(r, name(3), CHLB_STATE_DRAINING), 0);
	state_get(r, &s1);
	CU_ASSERT_EQUAL(slots_of(&s1, &n3), 0);
	CU_ASSERT_EQUAL(s1.n, 8);		/* kept, with its config */
	CU_ASSERT_EQUAL(s1.b[3].weight, 2);
	CU_ASSERT_EQUAL(moved(&s0, &s1, &n3, NULL), slots_of(&s0, &n3));
	check_counts(r);
	CU_ASSERT_EQUAL(chlb_ring__set_state(r, name(3), CHLB_STATE_ACTIVE), 0);
	state_get(r, &s2);
	CU_ASSERT(state_same(&s0, &s2));	/* undrain restores it exactly */
	CU_ASSERT_EQUAL(chlb_ring__set_state(r, name(3), (enum chlb_state)9),
			-CHLB_ERR_STATE);
	state_free(&s0);
	state_free(&s1);
	state_free(&s2);
	chlb_ring__free(r);
}

static void shuffle(int *a, int n, unsigned int seed)
{
	int i, j, t;

	for (i = n - 1; i > 0; i--) {
		j = rand_r(&seed) % (i + 1);
		t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

static struct chlb_ring *ring_in_order(const int *order, int n, uint64_t seed)
{
	struct chlb_ring *r = ring_new(100, 65537, seed);
	int i;

	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL(chlb_ring__add(r, name(order[i]), 1 + order[i] % 3), 0);
	CU_ASSERT_EQUAL(chlb_ring__set_state(r, name(5), CHLB_STATE_DRAINING), 0);
	return r;
}

static void test_order_independent(void)
{
	struct chlb_change ch[40];
	struct state a, b, c, d;
	struct chlb_ring *r;
	int order[40], i;

	for (i = 0; i < 40; i++)
		order[i] = i;
	r = ring_in_order(order, 40, SEED);
	state_get(r, &a);
	chlb_ring__free(r);
	shuffle(order, 40, 99);
	r = ring_in_order(order, 40, SEED);
	state_get(r, &b);
	chlb_ring__free(r);
	/* one batch, reversed, plus churn that ends where it began */
	r = ring_new(100, 65537, SEED);
	for (i = 0; i < 40; i++) {
		ch[i] = (struct chlb_change){ .op = CHLB_CHANGE_ADD,
			.addr = addr_of(39 - i), .weight = 1 + (39 - i) % 3 };
		if (39 - i == 5)
			ch[i].state = CHLB_STATE_DRAINING;
	}
	CU_ASSERT_EQUAL(chlb_ring__add(r, name(77), 5), 0);
	CU_ASSERT_EQUAL(chlb_ring__update(r, ch, 40), 0);
	CU_ASSERT_EQUAL(chlb_ring__remove(r, name(77)), 0);
	state_get(r, &c);
	chlb_ring__free(r);
	CU_ASSERT(state_same(&a, &b));
	CU_ASSERT(state_same(&a, &c));
	/* another seed: another table */
	for (i = 0; i < 40; i++)
		order[i] = i;
	r = ring_in_order(order, 40, SEED + 1);
	state_get(r, &d);
	chlb_ring__free(r);
	CU_ASSERT_NOT_EQUAL(a.sum, d.sum);
	state_free(&a);
	state_free(&b);
	state_free(&c);
	state_free(&d);
}

static void test_zero_backends(void)
{
	struct chlb_ring *r = ring_new(0, 0, SEED);
	struct chlb_addr a;
	uint32_t *t;
	struct chlb_ring_opts o;

	chlb_ring__opts(r, &o);
	CU_ASSERT_EQUAL(o.vnodes, CHLB_DEFAULT_VNODES);
	CU_ASSERT_EQUAL(o.table_size, CHLB_DEFAULT_TABLE_SIZE);
	CU_ASSERT_EQUAL(chlb_ring__route(r, "k", 1, &a), -CHLB_ERR_NO_BACKENDS);
	CU_ASSERT_EQUAL(chlb_ring__lookup_hash(r, 7, &a), -CHLB_ERR_NO_BACKENDS);
	CU_ASSERT_EQUAL(chlb_ring__add(r, "10.0.0.1", 1), 0);
	CU_ASSERT_EQUAL(chlb_ring__route(r, "k", 1, &a), 0);
	CU_ASSERT_EQUAL(chlb_ring__set_state(r, "10.0.0.1", CHLB_STATE_DRAINING), 0);
	CU_ASSERT_EQUAL(chlb_ring__route(r, "k", 1, &a), -CHLB_ERR_NO_BACKENDS);
	t = malloc(o.table_size * sizeof(*t));
	CU_ASSERT_EQUAL(chlb_ring__table(r, t, o.table_size), 0);
	CU_ASSERT_EQUAL(t[0], CHLB_NO_BACKEND);
	CU_ASSERT_EQUAL(t[o.table_size - 1], CHLB_NO_BACKEND);
	CU_ASSERT_EQUAL(chlb_ring__table(r, t, o.table_size - 1), -EINVAL);
	free(t);
	CU_ASSERT_EQUAL(chlb_ring__remove(r, "10.0.0.1"), 0);
	CU_ASSERT_EQUAL(chlb_ring__num_backends(r), 0);
	CU_ASSERT_EQUAL(chlb_ring__route(r, "k", 1, &a), -CHLB_ERR_NO_BACKENDS);
	check_counts(r);
	chlb_ring__free(r);
}

static void expect_rejected(struct chlb_ring *r, int got, int want)
{
	static struct state ref;
	struct state now;

	if (!r) {	/* set the reference */
		state_free(&ref);
		memset(&ref, 0, sizeof(ref));
		return;
	}
	if (!ref.owner)
		state_get(r, &ref);
	if (got != want)
		fprintf(stderr, "\ngot %d, want %d\n", got, want);
	CU_ASSERT_EQUAL(got, want);
	state_get(r, &now);
	CU_ASSERT(state_same(&ref, &now));
	state_free(&now);
}

static void test_validation(void)
{
	struct chlb_ring *r = ring_new(20, 1009, SEED);
	struct chlb_change ch[3];
	int i;

	for (i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(chlb_ring__add(r, name(i), 1), 0);
	expect_rejected(r, chlb_ring__add(r, "", 1), -CHLB_ERR_ADDR_EMPTY);
	expect_rejected(r, chlb_ring__add(r, "10.0.0.256", 1), -CHLB_ERR_ADDR_V4_OCTET);
	expect_rejected(r, chlb_ring__add(r, "1.2.3", 1), -CHLB_ERR_ADDR_V4_FORM);
	expect_rejected(r, chlb_ring__add(r, "010.0.0.1", 1), -CHLB_ERR_ADDR_V4_FORM);
	expect_rejected(r, chlb_ring__add(r, "::g", 1), -CHLB_ERR_ADDR_V6);
	expect_rejected(r, chlb_ring__add(r, "10.0.0.1/24", 1), -CHLB_ERR_ADDR_PREFIX);
	expect_rejected(r, chlb_ring__add(r, "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa", 1),
			-CHLB_ERR_ADDR_TOO_LONG);
	expect_rejected(r, chlb_ring__add(r, "backend-1", 1), -CHLB_ERR_ADDR_SYNTAX);
	expect_rejected(r, chlb_ring__add(r, name(2), 1), -CHLB_ERR_EXISTS);
	expect_rejected(r, chlb_ring__add(r, "::ffff:10.0.0.1", 1), -CHLB_ERR_EXISTS);
	expect_rejected(r, chlb_ring__remove(r, "10.9.9.9"), -CHLB_ERR_NOT_FOUND);
	expect_rejected(r, chlb_ring__set_weight(r, "10.9.9.9", 2), -CHLB_ERR_NOT_FOUND);
	expect_rejected(r, chlb_ring__add(r, "10.1.1.1", 0), -CHLB_ERR_WEIGHT);
	expect_rejected(r, chlb_ring__add(r, "10.1.1.1", 257), -CHLB_ERR_WEIGHT);
	expect_rejected(r, chlb_ring__set_weight(r, name(1), 0), -CHLB_ERR_WEIGHT);
	expect_rejected(r, chlb_ring__set_weight(r, name(1), 257), -CHLB_ERR_WEIGHT);
	expect_rejected(r, chlb_ring__set_state(r, name(1), (enum chlb_state)2),
			-CHLB_ERR_STATE);
	/* a batch whose last change is bad applies none of them */
	ch[0] = (struct chlb_change){ .op = CHLB_CHANGE_ADD, .addr = addr_of(50), .weight = 1 };
	ch[1] = (struct chlb_change){ .op = CHLB_CHANGE_DEL, .addr = addr_of(0) };
	ch[2] = (struct chlb_change){ .op = CHLB_CHANGE_ADD, .addr = addr_of(50), .weight = 1 };
	expect_rejected(r, chlb_ring__update(r, ch, 3), -CHLB_ERR_EXISTS);
	ch[2] = (struct chlb_change){ .op = CHLB_CHANGE_DEL, .addr = addr_of(0) };
	expect_rejected(r, chlb_ring__update(r, ch, 3), -CHLB_ERR_NOT_FOUND);
	ch[2] = (struct chlb_change){ .op = 99, .addr = addr_of(1) };
	expect_rejected(r, chlb_ring__update(r, ch, 3), -EINVAL);
	expect_rejected(NULL, 0, 0);
	chlb_ring__free(r);
}

static void test_limits(void)
{
	struct chlb_ring_opts o = { .sz = sizeof(o), .max_backends = 3 };
	struct chlb_ring *r = NULL;
	struct chlb_change ch[2], big[14];
	int i;

	CU_ASSERT_EQUAL(chlb_ring__new(&o, &r), 0);
	CU_ASSERT_EQUAL(chlb_ring__add(r, name(0), 1), 0);
	CU_ASSERT_EQUAL(chlb_ring__add(r, name(1), 1), 0);
	CU_ASSERT_EQUAL(chlb_ring__add(r, name(2), 1), 0);
	CU_ASSERT_EQUAL(chlb_ring__add(r, name(3), 1), -CHLB_ERR_TOO_MANY);
	/* swap one out and one in, in one batch, at the limit */
	ch[0] = (struct chlb_change){ .op = CHLB_CHANGE_DEL, .addr = addr_of(0) };
	ch[1] = (struct chlb_change){ .op = CHLB_CHANGE_ADD, .addr = addr_of(3), .weight = 1 };
	CU_ASSERT_EQUAL(chlb_ring__update(r, ch, 2), 0);
	CU_ASSERT_EQUAL(chlb_ring__num_backends(r), 3);
	check_counts(r);
	chlb_ring__free(r);
	o = (struct chlb_ring_opts){ .sz = sizeof(o), .vnodes = CHLB_MAX_VNODES + 1 };
	CU_ASSERT_EQUAL(chlb_ring__new(&o, &r), -CHLB_ERR_VNODES);
	o = (struct chlb_ring_opts){ .sz = sizeof(o), .table_size = CHLB_MAX_TABLE_SIZE + 1 };
	CU_ASSERT_EQUAL(chlb_ring__new(&o, &r), -CHLB_ERR_TABLE_SIZE);
	o = (struct chlb_ring_opts){ .sz = sizeof(o), .algo = 42 };
	CU_ASSERT_EQUAL(chlb_ring__new(&o, &r), -CHLB_ERR_ALGO);
	/* too many points for one build: refused, state unchanged */
	o = (struct chlb_ring_opts){ .sz = sizeof(o), .vnodes = CHLB_MAX_VNODES, .table_size = 7 };
	CU_ASSERT_EQUAL(chlb_ring__new(&o, &r), 0);
	CU_ASSERT_EQUAL(chlb_ring__add(r, name(0), 1), 0);
	for (i = 0; i < 14; i++)
		big[i] = (struct chlb_change){ .op = CHLB_CHANGE_ADD,
			.addr = addr_of(100 + i), .weight = 256 };
	CU_ASSERT_EQUAL(chlb_ring__update(r, big, 14), -E2BIG);
	CU_ASSERT_EQUAL(chlb_ring__num_backends(r), 1);
	check_counts(r);
	chlb_ring__free(r);
}

/* route(key) is lookup_hash(top 32 bits of XXH3(key, seed)); counts add up. */
static void test_route(void)
{
	struct chlb_ring *r = ring_new(100, 65537, SEED);
	struct chlb_backend_info b[10];
	uint64_t want[10] = { 0 }, h;
	struct chlb_addr a1, a2;
	char key[32];
	int i, j, len;

	for (i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(chlb_ring__add(r, name(i), 1), 0);
	CU_ASSERT_EQUAL(chlb_ring__backends(r, b, 10), 10);
	for (i = 0; i < 5000; i++) {
		len = snprintf(key, sizeof(key), "user-%d", i);
		CU_ASSERT_EQUAL_FATAL(chlb_ring__route(r, key, len, &a1), 0);
		h = XXH3_64bits_withSeed(key, len, SEED);
		CU_ASSERT_EQUAL_FATAL(chlb_ring__lookup_hash(r, (uint32_t)(h >> 32), &a2), 0);
		CU_ASSERT_EQUAL(chlb_addr_cmp(&a1, &a2), 0);
		for (j = 0; j < 10; j++)
			if (!chlb_addr_cmp(&a1, &b[j].addr))
				want[j]++;
	}
	CU_ASSERT_EQUAL(chlb_ring__backends(r, b, 10), 10);
	for (j = 0; j < 10; j++) {
		CU_ASSERT_EQUAL(b[j].requests, want[j]);
		CU_ASSERT(want[j] > 0);
	}
	/* a removed backend's id is recycled: its successor starts at zero */
	CU_ASSERT_EQUAL(chlb_ring__remove(r, name(4)), 0);
	CU_ASSERT_EQUAL(chlb_ring__add(r, "192.168.0.1", 1), 0);
	CU_ASSERT_EQUAL(chlb_ring__backends(r, b, 10), 10);
	CU_ASSERT_EQUAL(chlb_addr_parse("192.168.0.1", &a1), 0);
	for (j = 0; j < 10; j++)
		if (!chlb_addr_cmp(&a1, &b[j].addr))
			break;
	CU_ASSERT_FATAL(j < 10);
	CU_ASSERT_EQUAL(b[j].requests, 0);
	CU_ASSERT_EQUAL(chlb_ring__route(r, NULL, 0, &a1), 0);
	CU_ASSERT_EQUAL(chlb_ring__route(r, NULL, 3, &a1), -EINVAL);
	CU_ASSERT(chlb_ring__memory(r) > 65537 * 4);
	chlb_ring__free(r);
}

int main(void)
{
	static CU_TestInfo tests[] = {
		{ "exact slot counts, M = 1, 2, 3, 4099, 65537, 2^20", test_exact_counts },
		{ "sorted and bucket fills, P << M to P >> M, ties", test_fills_and_ties },
		{ "shares track weights", test_weights },
		{ "add/remove/reweight move only their slots", test_add_remove_moves },
		{ "drain and undrain", test_drain },
		{ "insertion order does not matter", test_order_independent },
		{ "zero backends", test_zero_backends },
		{ "rejected changes leave state unchanged", test_validation },
		{ "limits and options", test_limits },
		{ "route agrees with lookup_hash; counters", test_route },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("ring", NULL, NULL, tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
