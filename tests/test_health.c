// SPDX-License-Identifier: GPL-2.0
/*
 * The health-check scheduler on a virtual clock with a fake prober: no
 * sleeping, no sockets. Every deadline is reached by jumping the clock to
 * what hc_run() says is next, so times are exact.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <CUnit/Basic.h>

#include "daemon/health.h"
#include "helpers/cu_main.h"

#define MAX_CHANGES 64

struct start {
	uint64_t id;
	struct hc_probe_key key;
	uint32_t timeout_ms;
	uint64_t at;
};

struct change {
	struct hc_sub sub;
	bool down;
	uint64_t at;
};

struct fake {
	struct hc *h;
	uint64_t now;
	uint64_t rng;
	struct start *starts;	/* every start, in order */
	int nstarts, cap;
	uint64_t *auto_ids;	/* started, to answer after hc_run returns */
	int nauto, cap_auto;
	uint32_t auto_result;	/* 0: the test answers itself */
	uint64_t cancels[256];
	int ncancels;
	struct change changes[MAX_CHANGES];
	int nchanges;
	int start_err;		/* what start() returns */
};

static double fake_random(void *arg)
{
	struct fake *f = arg;

	/* xorshift64*: deterministic, so a failing run repeats */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return (double)((f->rng * 0x2545f4914f6cdd1dull) >> 11) / (double)(1ull << 53);
}

static void *grow(void *v, int n, int *cap, size_t size)
{
	if (n < *cap)
		return v;
	*cap = *cap ? *cap * 2 : 1024;
	v = realloc(v, *cap * size);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	return v;
}

static int fake_start(void *arg, uint64_t id, const struct hc_probe_key *k, uint32_t timeout_ms)
{
	struct fake *f = arg;

	if (f->start_err)
		return f->start_err;
	f->starts = grow(f->starts, f->nstarts, &f->cap, sizeof(*f->starts));
	f->starts[f->nstarts++] = (struct start){ id, *k, timeout_ms, f->now };
	if (f->auto_result) {
		f->auto_ids = grow(f->auto_ids, f->nauto, &f->cap_auto, sizeof(*f->auto_ids));
		f->auto_ids[f->nauto++] = id;
	}
	return 0;
}

static void fake_cancel(void *arg, uint64_t id)
{
	struct fake *f = arg;

	if (f->ncancels < 256)
		f->cancels[f->ncancels++] = id;
}

static void fake_changed(void *arg, const struct hc_sub *s, const struct hc_state *st)
{
	struct fake *f = arg;

	if (f->nchanges < MAX_CHANGES)
		f->changes[f->nchanges++] = (struct change){ *s, st->down, f->now };
}

static void fake_init(struct fake *f)
{
	struct hc_env env = { .arg = f, .start = fake_start, .cancel = fake_cancel,
			      .changed = fake_changed, .random = fake_random };

	memset(f, 0, sizeof(*f));
	f->rng = 0x9e3779b97f4a7c15ull;
	f->now = 1000000;	/* not 0: a monotonic clock never is */
	CU_ASSERT_EQUAL_FATAL(hc_new(&env, &f->h), 0);
}

static void fake_fini(struct fake *f)
{
	hc_free(f->h);
	free(f->starts);
	free(f->auto_ids);
}

static void answer_auto(struct fake *f)
{
	int i, n = f->nauto;

	f->nauto = 0;
	for (i = 0; i < n; i++)
		hc_done(f->h, f->auto_ids[i], f->auto_result, 0, f->now);
}

/* Run every deadline up to `to`, jumping the clock from one to the next. */
static void advance(struct fake *f, uint64_t to)
{
	int w;

	for (;;) {
		w = hc_run(f->h, f->now);
		answer_auto(f);
		if (w < 0 || f->now + w > to)
			break;
		CU_ASSERT_FATAL(w > 0);
		f->now += w;
	}
	f->now = to;
	hc_run(f->h, f->now);
	answer_auto(f);
}

/* Jump to the next start; returns its index in f->starts. */
static int next_start(struct fake *f)
{
	int before = f->nstarts, w;

	for (;;) {
		w = hc_run(f->h, f->now);
		if (f->nstarts > before)
			return f->nstarts - 1;
		CU_ASSERT_FATAL(w > 0);
		f->now += w;
	}
}

/* One run of the (only) probe, answered at once with result. */
static void step(struct fake *f, uint32_t result, uint32_t detail)
{
	int i = next_start(f);

	hc_done(f->h, f->starts[i].id, result, detail, f->now);
}

static struct hc_sub mksub(int vip, int addr, uint32_t type, uint16_t port)
{
	struct hc_sub s;

	memset(&s, 0, sizeof(s));
	s.vip.addr[10] = s.vip.addr[11] = 0xff;
	s.vip.addr[12] = 10;
	s.vip.addr[14] = vip >> 8;
	s.vip.addr[15] = vip;
	s.vip.port = htons(80);
	s.vip.proto = IPPROTO_TCP;
	s.vip.family = CHLB_FAMILY_INET;
	s.addr.bytes[10] = s.addr.bytes[11] = 0xff;
	s.addr.bytes[12] = 10;
	s.addr.bytes[13] = 1;
	s.addr.bytes[14] = addr >> 8;
	s.addr.bytes[15] = addr;
	s.cfg.type = type;
	s.cfg.port = port;
	s.cfg.interval_ms = 1000;
	s.cfg.timeout_ms = 500;
	s.cfg.rise = 2;
	s.cfg.fall = 3;
	if (type == CHLB_HEALTH_HTTP) {
		strcpy(s.cfg.path, "/healthz");
		s.cfg.expect = 200;
	}
	return s;
}

static struct hc_state state_of(struct fake *f, const struct hc_sub *s)
{
	struct hc_state st;

	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(hc_state(f->h, &s->vip, &s->addr, &st), 0);
	return st;
}

static bool down(struct fake *f, const struct hc_sub *s)
{
	return state_of(f, s).down;
}

/* ---- rise and fall ---------------------------------------------------- */

/* Down after exactly `fall` failures in a row, up after exactly `rise` successes. */
static void test_rise_fall(void)
{
	struct hc_sub s = mksub(1, 1, CHLB_HEALTH_TCP, 80);
	struct fake f;
	int i;

	fake_init(&f);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	CU_ASSERT_FALSE(down(&f, &s));		/* starts up */
	step(&f, CHLB_CHECK_OK, 0);
	for (i = 0; i < 2; i++)
		step(&f, CHLB_CHECK_REFUSED, ECONNREFUSED);
	CU_ASSERT_FALSE(down(&f, &s));
	step(&f, CHLB_CHECK_OK, 0);		/* resets the failures */
	for (i = 0; i < 2; i++)
		step(&f, CHLB_CHECK_TIMEOUT, 0);
	CU_ASSERT_FALSE(down(&f, &s));
	CU_ASSERT_EQUAL(f.nchanges, 0);
	step(&f, CHLB_CHECK_ERROR, EHOSTUNREACH);	/* the third in a row */
	CU_ASSERT_TRUE(down(&f, &s));
	CU_ASSERT_EQUAL_FATAL(f.nchanges, 1);
	CU_ASSERT_TRUE(f.changes[0].down);
	CU_ASSERT(!memcmp(&f.changes[0].sub.addr, &s.addr, sizeof(s.addr)));
	CU_ASSERT_EQUAL(f.changes[0].at, f.now);

	step(&f, CHLB_CHECK_OK, 0);
	CU_ASSERT_TRUE(down(&f, &s));
	step(&f, CHLB_CHECK_REFUSED, ECONNREFUSED);	/* resets the successes */
	step(&f, CHLB_CHECK_OK, 0);
	CU_ASSERT_TRUE(down(&f, &s));
	CU_ASSERT_EQUAL(f.nchanges, 1);
	step(&f, CHLB_CHECK_OK, 0);
	CU_ASSERT_FALSE(down(&f, &s));
	CU_ASSERT_EQUAL_FATAL(f.nchanges, 2);
	CU_ASSERT_FALSE(f.changes[1].down);
	step(&f, CHLB_CHECK_OK, 0);		/* more successes change nothing */
	CU_ASSERT_EQUAL(f.nchanges, 2);
	fake_fini(&f);
}

/* rise 1 / fall 1: every change of result is a change of state. */
static void test_rise_fall_one(void)
{
	struct hc_sub s = mksub(1, 1, CHLB_HEALTH_TCP, 80);
	struct fake f;

	s.cfg.rise = s.cfg.fall = 1;
	fake_init(&f);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	step(&f, CHLB_CHECK_REFUSED, ECONNREFUSED);
	CU_ASSERT_TRUE(down(&f, &s));
	step(&f, CHLB_CHECK_OK, 0);
	CU_ASSERT_FALSE(down(&f, &s));
	step(&f, CHLB_CHECK_HTTP_STATUS, 503);
	CU_ASSERT_TRUE(down(&f, &s));
	CU_ASSERT_EQUAL(f.nchanges, 3);
	fake_fini(&f);
}

/* ---- timeouts --------------------------------------------------------- */

static bool cancelled(const struct fake *f, uint64_t id)
{
	int i;

	for (i = 0; i < f->ncancels; i++)
		if (f->cancels[i] == id)
			return true;
	return false;
}

/* A run with no answer times out at start + timeout, is cancelled, and counts as a failure. */
static void test_timeout(void)
{
	struct hc_sub s = mksub(1, 1, CHLB_HEALTH_TCP, 80);
	struct hc_state st;
	struct fake f;
	uint64_t t0, id;
	int i;

	s.cfg.fall = 2;
	fake_init(&f);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	i = next_start(&f);
	t0 = f.now;
	id = f.starts[i].id;
	CU_ASSERT_EQUAL(f.starts[i].timeout_ms, 500);
	CU_ASSERT_EQUAL(hc_run(f.h, f.now), 500);	/* the deadline is next */
	advance(&f, t0 + 499);
	CU_ASSERT_EQUAL(state_of(&f, &s).result, CHLB_CHECK_NONE);
	CU_ASSERT_FALSE(cancelled(&f, id));
	advance(&f, t0 + 500);
	st = state_of(&f, &s);
	CU_ASSERT_EQUAL(st.result, CHLB_CHECK_TIMEOUT);
	CU_ASSERT_EQUAL(st.detail, ETIMEDOUT);
	CU_ASSERT_EQUAL(st.counts[CHLB_CHECK_TIMEOUT], 1);
	CU_ASSERT_EQUAL(st.last_ms, t0 + 500);
	CU_ASSERT_TRUE(cancelled(&f, id));
	CU_ASSERT_FALSE(st.down);

	/* the late answer is ignored: no OK counted, the failure stands */
	hc_done(f.h, id, CHLB_CHECK_OK, 0, f.now + 1);
	st = state_of(&f, &s);
	CU_ASSERT_EQUAL(st.counts[CHLB_CHECK_OK], 0);
	CU_ASSERT_EQUAL(st.result, CHLB_CHECK_TIMEOUT);
	hc_done(f.h, 0, CHLB_CHECK_OK, 0, f.now);		/* unknown ids too */
	hc_done(f.h, ~0ull, CHLB_CHECK_OK, 0, f.now);

	/* the second timeout in a row takes it down */
	i = next_start(&f);
	advance(&f, f.now + 500);
	CU_ASSERT_TRUE(down(&f, &s));
	CU_ASSERT_TRUE(cancelled(&f, f.starts[i].id));
	CU_ASSERT_EQUAL(state_of(&f, &s).counts[CHLB_CHECK_TIMEOUT], 2);
	fake_fini(&f);
}

/* A run answered in time is not cancelled, and its next run follows on schedule. */
static void test_no_cancel_in_time(void)
{
	struct hc_sub s = mksub(1, 1, CHLB_HEALTH_TCP, 80);
	struct fake f;
	int i;

	fake_init(&f);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	i = next_start(&f);
	f.now += 499;
	hc_done(f.h, f.starts[i].id, CHLB_CHECK_OK, 0, f.now);
	CU_ASSERT_EQUAL(state_of(&f, &s).last_ms, f.now);
	f.auto_result = CHLB_CHECK_OK;
	advance(&f, f.now + 5000);
	CU_ASSERT_EQUAL(f.ncancels, 0);
	CU_ASSERT(f.nstarts >= 5 && f.nstarts <= 6);
	CU_ASSERT_EQUAL(state_of(&f, &s).counts[CHLB_CHECK_OK], (uint64_t)f.nstarts);
	CU_ASSERT_EQUAL(state_of(&f, &s).counts[CHLB_CHECK_TIMEOUT], 0);
	fake_fini(&f);
}

/* ---- jitter ----------------------------------------------------------- */

/* Successive runs of one probe are interval +-10% apart, spread evenly. */
static void test_jitter(void)
{
	struct hc_sub s = mksub(1, 1, CHLB_HEALTH_TCP, 80);
	int hist[10] = { 0 }, i, lo = 1000, hi = 0;
	uint64_t sum = 0;
	struct fake f;

	fake_init(&f);
	f.auto_result = CHLB_CHECK_OK;
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	advance(&f, f.now + 2001 * 1000);
	CU_ASSERT_FATAL(f.nstarts >= 2000);
	for (i = 1; i < 2000; i++) {
		int gap = (int)(f.starts[i].at - f.starts[i - 1].at);

		lo = gap < lo ? gap : lo;
		hi = gap > hi ? gap : hi;
		sum += gap;
		CU_ASSERT(gap >= 900 && gap <= 1100);
		if (gap >= 900 && gap < 1100)
			hist[(gap - 900) / 20]++;
	}
	printf("\n    gaps %d..%d ms, mean %.1f, by 20 ms:", lo, hi, sum / 1999.0);
	for (i = 0; i < 10; i++) {
		printf(" %d", hist[i]);
		CU_ASSERT(hist[i] > 120 && hist[i] < 280);	/* 200 expected */
	}
	printf("\n");
	CU_ASSERT(lo < 910 && hi > 1090);	/* the whole +-10% is used */
	CU_ASSERT(sum / 1999.0 > 990 && sum / 1999.0 < 1010);
	fake_fini(&f);
}

/* 1000 probes added at once start spread over their first interval, not together. */
static void test_spread(void)
{
	struct hc_sub *subs = calloc(1000, sizeof(*subs));
	int hist[10] = { 0 }, i, nfirst = 0;
	static uint8_t seen[1000];
	uint64_t t0;
	struct fake f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(subs);
	for (i = 0; i < 1000; i++)
		subs[i] = mksub(1, i, CHLB_HEALTH_TCP, 80);
	fake_init(&f);
	f.auto_result = CHLB_CHECK_OK;
	t0 = f.now;
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, subs, 1000, f.now), 0);
	CU_ASSERT_EQUAL(hc_probes(f.h), 1000);
	advance(&f, t0 + 999);
	/* the first start of each probe (an early one may run again by t0 + 999) */
	for (i = 0; i < f.nstarts; i++) {
		int b = f.starts[i].key.addr.bytes[14] << 8 | f.starts[i].key.addr.bytes[15];

		CU_ASSERT_FATAL(b < 1000);
		if (seen[b]++)
			continue;
		CU_ASSERT(f.starts[i].at >= t0 && f.starts[i].at < t0 + 1000);
		hist[(f.starts[i].at - t0) / 100]++;
		nfirst++;
	}
	CU_ASSERT_EQUAL(nfirst, 1000);
	printf("\n    first runs by 100 ms:");
	for (i = 0; i < 10; i++) {
		printf(" %d", hist[i]);
		CU_ASSERT(hist[i] > 60 && hist[i] < 140);	/* 100 expected */
	}
	printf("\n");
	fake_fini(&f);
	free(subs);
}

/* Without env->random, drand48() places runs: still within bounds. */
static void test_default_random(void)
{
	struct hc_sub s = mksub(1, 1, CHLB_HEALTH_TCP, 80);
	struct fake f;
	struct hc_env env = { .arg = &f, .start = fake_start };
	int i;

	fake_init(&f);
	hc_free(f.h);
	CU_ASSERT_EQUAL_FATAL(hc_new(&env, &f.h), 0);
	f.auto_result = CHLB_CHECK_OK;
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	advance(&f, f.now + 100 * 1000);
	CU_ASSERT(f.nstarts >= 90 && f.nstarts <= 112);
	for (i = 1; i < f.nstarts; i++)
		CU_ASSERT(f.starts[i].at - f.starts[i - 1].at >= 900 &&
			  f.starts[i].at - f.starts[i - 1].at <= 1100);
	fake_fini(&f);
}

/* ---- shared probes ---------------------------------------------------- */

static int starts_of(const struct fake *f, const struct hc_probe_key *k)
{
	int i, n = 0;

	for (i = 0; i < f->nstarts; i++)
		n += !memcmp(&f->starts[i].key, k, sizeof(*k));
	return n;
}

/* Two VIPs checking one backend the same way share one probe, each with its own rise/fall. */
static void test_shared(void)
{
	struct hc_sub s[2] = { mksub(1, 7, CHLB_HEALTH_TCP, 80), mksub(2, 7, CHLB_HEALTH_TCP, 80) };
	struct fake f;
	int i;

	s[0].cfg.fall = 1;
	s[0].cfg.rise = 1;
	s[1].cfg.fall = 3;
	s[1].cfg.rise = 2;
	fake_init(&f);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, s, 2, f.now), 0);
	CU_ASSERT_EQUAL(hc_probes(f.h), 1);
	CU_ASSERT_EQUAL(hc_subs(f.h), 2);
	step(&f, CHLB_CHECK_REFUSED, ECONNREFUSED);
	CU_ASSERT_TRUE(down(&f, &s[0]));
	CU_ASSERT_FALSE(down(&f, &s[1]));
	step(&f, CHLB_CHECK_REFUSED, ECONNREFUSED);
	step(&f, CHLB_CHECK_REFUSED, ECONNREFUSED);
	CU_ASSERT_TRUE(down(&f, &s[1]));
	CU_ASSERT_EQUAL(f.nchanges, 2);
	step(&f, CHLB_CHECK_OK, 0);
	CU_ASSERT_FALSE(down(&f, &s[0]));
	CU_ASSERT_TRUE(down(&f, &s[1]));
	step(&f, CHLB_CHECK_OK, 0);
	CU_ASSERT_FALSE(down(&f, &s[1]));
	CU_ASSERT_EQUAL(f.nchanges, 4);
	/* one probe's runs, each counted by both */
	CU_ASSERT_EQUAL(f.nstarts, 5);
	CU_ASSERT_EQUAL(starts_of(&f, &f.starts[0].key), 5);
	for (i = 0; i < 2; i++)
		CU_ASSERT_EQUAL(state_of(&f, &s[i]).counts[CHLB_CHECK_REFUSED], 3);
	fake_fini(&f);
}

/* What makes a probe: address, port, type, and for http the path and status. */
static void test_shared_keys(void)
{
	struct hc_sub s[8];
	struct fake f;

	s[0] = mksub(1, 1, CHLB_HEALTH_TCP, 80);
	s[1] = mksub(2, 1, CHLB_HEALTH_TCP, 80);	/* = 0 */
	s[2] = mksub(3, 1, CHLB_HEALTH_TCP, 8080);	/* port */
	s[3] = mksub(4, 1, CHLB_HEALTH_HTTP, 80);	/* type */
	s[4] = mksub(5, 1, CHLB_HEALTH_HTTP, 80);	/* = 3 */
	s[5] = mksub(6, 1, CHLB_HEALTH_HTTP, 80);
	strcpy(s[5].cfg.path, "/other");		/* path */
	s[6] = mksub(7, 1, CHLB_HEALTH_HTTP, 80);
	s[6].cfg.expect = 204;				/* status */
	s[7] = mksub(8, 2, CHLB_HEALTH_TCP, 80);	/* address */
	/* a tcp check's path is not part of it; garbage after an http path's NUL neither */
	strcpy(s[1].cfg.path, "/ignored");
	memset(s[4].cfg.path + 9, 'x', 20);
	fake_init(&f);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, s, 8, f.now), 0);
	CU_ASSERT_EQUAL(hc_probes(f.h), 6);
	CU_ASSERT_EQUAL(hc_subs(f.h), 8);
	fake_fini(&f);
}

/* A shared probe runs at the shortest interval and times out at the shortest timeout. */
static void test_shared_interval(void)
{
	struct hc_sub s[2] = { mksub(1, 7, CHLB_HEALTH_TCP, 80), mksub(2, 7, CHLB_HEALTH_TCP, 80) };
	struct fake f;
	int i;

	s[0].cfg.interval_ms = 2000;
	s[0].cfg.timeout_ms = 300;
	s[1].cfg.interval_ms = 500;
	s[1].cfg.timeout_ms = 400;
	fake_init(&f);
	f.auto_result = CHLB_CHECK_OK;
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, s, 2, f.now), 0);
	advance(&f, f.now + 10000);
	CU_ASSERT(f.nstarts >= 19 && f.nstarts <= 21);
	for (i = 1; i < f.nstarts; i++)
		CU_ASSERT(f.starts[i].at - f.starts[i - 1].at >= 450 &&
			  f.starts[i].at - f.starts[i - 1].at <= 550);
	CU_ASSERT_EQUAL(f.starts[0].timeout_ms, 300);
	fake_fini(&f);
}

/* ---- reconfiguration -------------------------------------------------- */

/* hc_set keeps the state and counts of subscribers in both sets and cancels removed probes. */
static void test_set_keep(void)
{
	struct hc_sub a = mksub(1, 1, CHLB_HEALTH_TCP, 80), b = mksub(1, 2, CHLB_HEALTH_TCP, 80);
	struct hc_sub c = mksub(1, 3, CHLB_HEALTH_TCP, 80);
	struct hc_sub set1[2] = { a, b }, set2[2] = { c, a };
	struct hc_state st;
	uint64_t b_id = 0, a_id = 0;
	struct fake f;
	int i;

	/* long timeouts: a run left in flight stays there while the other starts */
	for (i = 0; i < 2; i++) {
		set1[i].cfg.timeout_ms = set2[i].cfg.timeout_ms = 5000;
		set1[i].cfg.interval_ms = set2[i].cfg.interval_ms = 1000;
	}
	fake_init(&f);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, set1, 2, f.now), 0);
	/* a fails three times (down), b succeeds */
	while (state_of(&f, &a).counts[CHLB_CHECK_REFUSED] < 3) {
		int k = next_start(&f);
		bool is_a = !memcmp(&f.starts[k].key.addr, &a.addr, sizeof(a.addr));

		hc_done(f.h, f.starts[k].id, is_a ? CHLB_CHECK_REFUSED : CHLB_CHECK_OK, 0, f.now);
	}
	CU_ASSERT_TRUE(down(&f, &a));
	/* one more run of each, left in flight */
	while (!a_id || !b_id) {
		int k = next_start(&f);

		if (!memcmp(&f.starts[k].key.addr, &a.addr, sizeof(a.addr)))
			a_id = f.starts[k].id;
		else
			b_id = f.starts[k].id;
	}
	CU_ASSERT_FATAL(a_id && b_id);
	f.ncancels = 0;
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, set2, 2, f.now), 0);
	CU_ASSERT_EQUAL(hc_probes(f.h), 2);
	CU_ASSERT_EQUAL(hc_subs(f.h), 2);
	CU_ASSERT_EQUAL(f.ncancels, 1);
	CU_ASSERT_TRUE(cancelled(&f, b_id));
	CU_ASSERT_EQUAL(hc_state(f.h, &b.vip, &b.addr, &st), -ENOENT);
	st = state_of(&f, &a);
	CU_ASSERT_TRUE(st.down);
	CU_ASSERT_EQUAL(st.counts[CHLB_CHECK_REFUSED], 3);
	CU_ASSERT_FALSE(down(&f, &c));
	CU_ASSERT_EQUAL(state_of(&f, &c).counts[CHLB_CHECK_OK], 0);
	/* the removed probe's late answer is ignored; the kept one's still counts */
	hc_done(f.h, b_id, CHLB_CHECK_OK, 0, f.now);
	hc_done(f.h, a_id, CHLB_CHECK_OK, 0, f.now);
	st = state_of(&f, &a);
	CU_ASSERT_EQUAL(st.counts[CHLB_CHECK_OK], 1);
	CU_ASSERT_TRUE(st.down);
	/* and its rise count carries on: one more success brings it up */
	f.nstarts = 0;
	while (!f.nstarts || memcmp(&f.starts[f.nstarts - 1].key.addr, &a.addr, sizeof(a.addr)))
		hc_done(f.h, f.starts[next_start(&f)].id, CHLB_CHECK_OK, 0, f.now);
	CU_ASSERT_FALSE(down(&f, &a));
	fake_fini(&f);
}

/* Failures counted before a re-configuration count after it, with the new fall. */
static void test_set_keeps_counts(void)
{
	struct hc_sub s = mksub(1, 1, CHLB_HEALTH_TCP, 80);
	struct fake f;

	fake_init(&f);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	step(&f, CHLB_CHECK_REFUSED, ECONNREFUSED);
	step(&f, CHLB_CHECK_REFUSED, ECONNREFUSED);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);	/* the same set again */
	CU_ASSERT_EQUAL(f.ncancels, 0);
	step(&f, CHLB_CHECK_REFUSED, ECONNREFUSED);
	CU_ASSERT_TRUE(down(&f, &s));
	/* a changed check (another port) keeps down, but restarts the runs */
	s.cfg.port = 81;
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	CU_ASSERT_TRUE(down(&f, &s));
	step(&f, CHLB_CHECK_OK, 0);
	CU_ASSERT_EQUAL(f.starts[f.nstarts - 1].key.port, 81);
	step(&f, CHLB_CHECK_OK, 0);
	CU_ASSERT_FALSE(down(&f, &s));
	/* a lower fall applies at the next failure */
	s.cfg.fall = 1;
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	step(&f, CHLB_CHECK_REFUSED, ECONNREFUSED);
	CU_ASSERT_TRUE(down(&f, &s));
	fake_fini(&f);
}

/* A shorter interval applies at once, not after the old, longer one. */
static void test_set_interval(void)
{
	struct hc_sub s = mksub(1, 1, CHLB_HEALTH_TCP, 80);
	struct fake f;
	uint64_t t;

	s.cfg.interval_ms = 60000;
	fake_init(&f);
	f.auto_result = CHLB_CHECK_OK;
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	next_start(&f);
	answer_auto(&f);
	t = f.now;
	s.cfg.interval_ms = 1000;
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	next_start(&f);
	CU_ASSERT(f.now - t <= 1000);
	fake_fini(&f);
}

/* An invalid set is refused whole: nothing changes. */
static void test_set_invalid(void)
{
	struct hc_sub good = mksub(1, 1, CHLB_HEALTH_TCP, 80);
	struct hc_sub bad[2] = { mksub(1, 2, CHLB_HEALTH_TCP, 80), mksub(1, 3, CHLB_HEALTH_TCP, 80) };
	struct fake f;
	int i;

	fake_init(&f);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &good, 1, f.now), 0);
	bad[1] = bad[0];	/* twice the same (vip, backend) */
	CU_ASSERT_EQUAL(hc_set(f.h, bad, 2, f.now), -EINVAL);
	for (i = 0; i < 6; i++) {
		bad[1] = mksub(1, 3, CHLB_HEALTH_HTTP, 80);
		switch (i) {
		case 0: bad[1].cfg.type = CHLB_HEALTH_NONE; break;
		case 1: bad[1].cfg.interval_ms = 0; break;
		case 2: bad[1].cfg.rise = 0; break;
		case 3: bad[1].cfg.fall = 0; break;
		case 4: bad[1].cfg.expect = 0; break;
		case 5: memset(bad[1].cfg.path, 'a', sizeof(bad[1].cfg.path)); break;
		}
		CU_ASSERT_EQUAL(hc_set(f.h, bad, 2, f.now), -EINVAL);
	}
	CU_ASSERT_EQUAL(hc_set(f.h, bad, -1, f.now), -EINVAL);
	CU_ASSERT_EQUAL(hc_subs(f.h), 1);
	CU_ASSERT_EQUAL(hc_probes(f.h), 1);
	CU_ASSERT_EQUAL(f.ncancels, 0);
	CU_ASSERT_EQUAL(hc_set(f.h, NULL, 0, f.now), 0);	/* empty is valid */
	CU_ASSERT_EQUAL(hc_probes(f.h), 0);
	CU_ASSERT_EQUAL(hc_run(f.h, f.now), -1);
	fake_fini(&f);
}

/* Removing subscribers one by one cancels each probe in flight, once. */
static void test_set_cancel_all(void)
{
	struct hc_sub subs[50];
	int i, inflight;
	struct fake f;

	for (i = 0; i < 50; i++)
		subs[i] = mksub(1, i, CHLB_HEALTH_TCP, 80);
	fake_init(&f);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, subs, 50, f.now), 0);
	advance(&f, f.now + 999);	/* every probe in flight or timed out */
	for (i = 0, inflight = 0; i < f.nstarts; i++)
		inflight += f.starts[i].at + 500 > f.now;
	f.ncancels = 0;
	for (i = 49; i >= 0; i--)
		CU_ASSERT_EQUAL(hc_set(f.h, subs, i, f.now), 0);
	CU_ASSERT_EQUAL(hc_probes(f.h), 0);
	/* each cancelled run is the last start of its probe, and none twice */
	for (i = 0; i < f.ncancels; i++) {
		int j;

		for (j = i + 1; j < f.ncancels; j++)
			CU_ASSERT(f.cancels[i] != f.cancels[j]);
	}
	CU_ASSERT_EQUAL(f.ncancels, inflight);
	CU_ASSERT(inflight > 10 && inflight < 40);
	fake_fini(&f);
}

/* ---- results ---------------------------------------------------------- */

/* Every result is counted by kind, the last one kept with its detail. */
static void test_counts(void)
{
	static const struct {
		uint32_t result, detail;
	} seq[] = {
		{ CHLB_CHECK_OK, 200 },		 { CHLB_CHECK_HTTP_STATUS, 503 },
		{ CHLB_CHECK_REFUSED, ECONNREFUSED }, { CHLB_CHECK_ERROR, EHOSTUNREACH },
		{ CHLB_CHECK_OK, 200 },		 { CHLB_CHECK_HTTP_STATUS, 404 },
		{ 99, 7 },	/* out of range: counted as an error */
	};
	struct hc_sub s = mksub(1, 1, CHLB_HEALTH_HTTP, 8080);
	struct hc_state st;
	struct fake f;
	size_t i;

	fake_init(&f);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		step(&f, seq[i].result, seq[i].detail);
		st = state_of(&f, &s);
		CU_ASSERT_EQUAL(st.result, seq[i].result < CHLB_CHECK_MAX ? seq[i].result
									   : CHLB_CHECK_ERROR);
		CU_ASSERT_EQUAL(st.detail, seq[i].detail);
		CU_ASSERT_EQUAL(st.last_ms, f.now);
	}
	CU_ASSERT_EQUAL(st.counts[CHLB_CHECK_NONE], 0);
	CU_ASSERT_EQUAL(st.counts[CHLB_CHECK_OK], 2);
	CU_ASSERT_EQUAL(st.counts[CHLB_CHECK_HTTP_STATUS], 2);
	CU_ASSERT_EQUAL(st.counts[CHLB_CHECK_REFUSED], 1);
	CU_ASSERT_EQUAL(st.counts[CHLB_CHECK_ERROR], 2);
	CU_ASSERT_EQUAL(st.counts[CHLB_CHECK_TIMEOUT], 0);
	/* the probe is what the sub asked for */
	CU_ASSERT_EQUAL(f.starts[0].key.type, CHLB_HEALTH_HTTP);
	CU_ASSERT_EQUAL(f.starts[0].key.port, 8080);
	CU_ASSERT_EQUAL(f.starts[0].key.expect, 200);
	CU_ASSERT_STRING_EQUAL(f.starts[0].key.path, "/healthz");
	fake_fini(&f);
}

/* A probe that cannot start (no descriptor left) is a failed check, not a stuck one. */
static void test_start_error(void)
{
	struct hc_sub s = mksub(1, 1, CHLB_HEALTH_TCP, 80);
	struct hc_state st;
	struct fake f;
	int i;

	fake_init(&f);
	f.start_err = -EMFILE;
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	for (i = 0; i < 3; i++)
		advance(&f, f.now + 1100);
	st = state_of(&f, &s);
	CU_ASSERT_EQUAL(st.result, CHLB_CHECK_ERROR);
	CU_ASSERT_EQUAL(st.detail, EMFILE);
	CU_ASSERT(st.counts[CHLB_CHECK_ERROR] >= 3);
	CU_ASSERT_TRUE(st.down);
	CU_ASSERT_EQUAL(f.ncancels, 0);
	fake_fini(&f);
}

/* A prober may answer from inside start(). */
static uint64_t sync_ids;

static int sync_start(void *arg, uint64_t id, const struct hc_probe_key *k, uint32_t timeout_ms)
{
	struct fake *f = arg;

	(void)k;
	(void)timeout_ms;
	sync_ids++;
	hc_done(f->h, id, CHLB_CHECK_OK, 0, f->now);
	return 0;
}

static void test_sync_answer(void)
{
	struct hc_sub s = mksub(1, 1, CHLB_HEALTH_TCP, 80);
	struct fake f;
	struct hc_env env = { .arg = &f, .start = sync_start, .cancel = fake_cancel,
			      .random = fake_random };

	fake_init(&f);
	hc_free(f.h);
	CU_ASSERT_EQUAL_FATAL(hc_new(&env, &f.h), 0);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, &s, 1, f.now), 0);
	advance(&f, f.now + 10000);
	CU_ASSERT(sync_ids >= 9 && sync_ids <= 11);
	CU_ASSERT_EQUAL(state_of(&f, &s).counts[CHLB_CHECK_OK], sync_ids);
	CU_ASSERT_EQUAL(f.ncancels, 0);
	fake_fini(&f);
}

/* ---- cost ------------------------------------------------------------- */

static double ms_since(clockid_t clk, const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(clk, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/*
 * 10 VIPs x 1000 backends (10,000 subscribers, 1000 probes) every second
 * for 60 virtual seconds: the scheduler's whole CPU cost, without probing.
 */
static void test_cpu(void)
{
	struct hc_sub *subs = calloc(10000, sizeof(*subs));
	struct timespec t0, c0;
	double set_ms, run_ms, cpu_ms;
	uint64_t begin;
	struct fake f;
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(subs);
	for (i = 0; i < 10000; i++)
		subs[i] = mksub(i / 1000, i % 1000, CHLB_HEALTH_TCP, 80);
	fake_init(&f);
	f.auto_result = CHLB_CHECK_OK;
	begin = f.now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CU_ASSERT_EQUAL_FATAL(hc_set(f.h, subs, 10000, f.now), 0);
	set_ms = ms_since(CLOCK_MONOTONIC, &t0);
	CU_ASSERT_EQUAL(hc_probes(f.h), 1000);
	CU_ASSERT_EQUAL(hc_subs(f.h), 10000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	advance(&f, begin + 60000);
	run_ms = ms_since(CLOCK_MONOTONIC, &t0);
	cpu_ms = ms_since(CLOCK_PROCESS_CPUTIME_ID, &c0);
	printf("\n    hc_set of 10000 subscribers: %.2f ms; 60 s of 1000 probes x 1 s "
	       "(%d runs, %d results each to 10 subscribers): %.1f ms wall, %.1f ms CPU\n",
	       set_ms, f.nstarts, f.nstarts, run_ms, cpu_ms);
	CU_ASSERT(f.nstarts > 59000 && f.nstarts < 61000);
	CU_ASSERT(run_ms < 2000);	/* sanitizer build; milliseconds in fact */
	/* the same set again: every state kept, nothing cancelled */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CU_ASSERT_EQUAL(hc_set(f.h, subs, 10000, f.now), 0);
	printf("    hc_set of the same 10000 again: %.2f ms\n", ms_since(CLOCK_MONOTONIC, &t0));
	CU_ASSERT_EQUAL(f.ncancels, 0);
	CU_ASSERT(state_of(&f, &subs[4321]).counts[CHLB_CHECK_OK] >= 59);
	fake_fini(&f);
	free(subs);
}

static CU_TestInfo tests[] = {
	{ "rise and fall exact, a success resets the failures", test_rise_fall },
	{ "rise 1 / fall 1", test_rise_fall_one },
	{ "timeout: counted, cancelled, late answer ignored", test_timeout },
	{ "an answer in time is not cancelled", test_no_cancel_in_time },
	{ "jitter: runs interval +-10% apart, evenly", test_jitter },
	{ "1000 new probes spread over the first interval", test_spread },
	{ "drand48 by default", test_default_random },
	{ "shared probe, own rise/fall per subscriber", test_shared },
	{ "what makes a probe", test_shared_keys },
	{ "shared probe: shortest interval and timeout", test_shared_interval },
	{ "hc_set keeps state, cancels removed probes", test_set_keep },
	{ "hc_set keeps run counts, applies new fall", test_set_keeps_counts },
	{ "hc_set: a shorter interval applies at once", test_set_interval },
	{ "hc_set: invalid sets change nothing", test_set_invalid },
	{ "hc_set: removing cancels each run in flight once", test_set_cancel_all },
	{ "counts by result", test_counts },
	{ "a probe that cannot start is a failure", test_start_error },
	{ "a prober answering from inside start()", test_sync_answer },
	{ "CPU: 10000 subscribers, 1000 probes x 1 s, 60 s", test_cpu },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		CU_SUITE("health", NULL, NULL, tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
