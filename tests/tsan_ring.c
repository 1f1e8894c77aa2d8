// SPDX-License-Identifier: GPL-2.0
/*
 * Readers route while a writer adds, removes, reweights and drains; run
 * under ThreadSanitizer. Every answer must be a backend of the membership
 * just before or just after some change made while the route() ran:
 *
 * the writer records set[e + 1] and bumps `epoch` to e + 1 BEFORE calling
 * update(), so at any moment the live table belongs to set[epoch] or
 * set[epoch - 1]. A reader reads epoch (e1), routes, reads epoch (e2); the
 * answer must be in set[e1 - 1] | ... | set[e2].
 *
 * liburcu is not instrumented; the library spells its RCU orderings for
 * TSan under __SANITIZE_THREAD__ (see user/lib/ring_internal.h), so no
 * suppressions are needed.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>

#include <chlb/chlb.h>
#include "helpers/cu_main.h"

#define POOL		64
#define MAX_EPOCHS	(1u << 16)
#define READERS		2
#define RUN_NS		1500000000LL

static struct chlb_ring *ring;
static struct chlb_addr pool[POOL];
static uint64_t sets[MAX_EPOCHS];	/* active-member bitmap per epoch */
static unsigned int epoch;
static int stop;
static unsigned long bad, routed, empty;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int pool_index(const struct chlb_addr *a)
{
	int i;

	for (i = 0; i < POOL; i++)
		if (!chlb_addr_cmp(a, &pool[i]))
			return i;
	return -1;
}

static void *reader(void *arg)
{
	unsigned long n = 0, wrong = 0, none = 0;
	unsigned int e1, e2, e, seed = (unsigned int)(uintptr_t)arg;
	struct chlb_addr a;
	uint64_t allowed, set;
	int any_empty;
	char key[24];
	int err, i, len;

	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		len = snprintf(key, sizeof(key), "k%u", rand_r(&seed));
		e1 = __atomic_load_n(&epoch, __ATOMIC_ACQUIRE);
		err = chlb_ring__route(ring, key, (size_t)len, &a);
		e2 = __atomic_load_n(&epoch, __ATOMIC_ACQUIRE);
		allowed = 0;
		any_empty = 0;
		for (e = e1 ? e1 - 1 : 0; e <= e2; e++) {
			set = __atomic_load_n(&sets[e], __ATOMIC_RELAXED);
			allowed |= set;
			any_empty |= !set;
		}
		n++;
		if (err == -CHLB_ERR_NO_BACKENDS) {
			none++;
			wrong += !any_empty;
			continue;
		}
		i = err ? -1 : pool_index(&a);
		if (i < 0 || !(allowed >> i & 1))
			wrong++;
	}
	__atomic_fetch_add(&bad, wrong, __ATOMIC_RELAXED);
	__atomic_fetch_add(&routed, n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&empty, none, __ATOMIC_RELAXED);
	return NULL;
}

static int weight[POOL];		/* 0: absent */
static int drained[POOL];

/* One change to pool member i, applied to the writer's model. */
static void make_change(int i, unsigned int *seed, struct chlb_change *c)
{
	memset(c, 0, sizeof(*c));
	c->addr = pool[i];
	if (!weight[i]) {
		c->op = CHLB_CHANGE_ADD;
		c->weight = weight[i] = 1 + rand_r(seed) % 8;
		drained[i] = 0;
		return;
	}
	switch (rand_r(seed) % 3) {
	case 0:
		c->op = CHLB_CHANGE_DEL;
		weight[i] = 0;
		break;
	case 1:
		c->op = CHLB_CHANGE_WEIGHT;
		c->weight = weight[i] = 1 + rand_r(seed) % 8;
		break;
	default:
		c->op = CHLB_CHANGE_STATE;
		drained[i] = !drained[i];
		c->state = drained[i] ? CHLB_STATE_DRAINING : CHLB_STATE_ACTIVE;
	}
}

static uint64_t active_set(void)
{
	uint64_t set = 0;
	int i;

	for (i = 0; i < POOL; i++)
		if (weight[i] && !drained[i])
			set |= 1ull << i;
	return set;
}

static void *writer(void *arg)
{
	long long end = now_ns() + RUN_NS;
	unsigned int seed = 12345, e;
	struct chlb_change c[3];
	int k, nc, i;

	(void)arg;
	for (e = 0; e + 1 < MAX_EPOCHS && now_ns() < end; e++) {
		nc = 1 + rand_r(&seed) % 3;
		i = rand_r(&seed) % POOL;
		for (k = 0; k < nc; k++)	/* distinct members */
			make_change((i + k * 7) % POOL, &seed, &c[k]);
		__atomic_store_n(&sets[e + 1], active_set(), __ATOMIC_RELAXED);
		__atomic_store_n(&epoch, e + 1, __ATOMIC_RELEASE);
		if (chlb_ring__update(ring, c, (size_t)nc)) {
			__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	printf("\n  writer: %u changes\n", e);
	return NULL;
}

static void test_readers_and_writer(void)
{
	struct chlb_ring_opts o = { .sz = sizeof(o), .vnodes = 50,
				    .table_size = 4099, .seed = 7 };
	pthread_t r[READERS], w;
	char buf[32];
	int i;

	for (i = 0; i < POOL; i++) {
		snprintf(buf, sizeof(buf), i & 1 ? "10.1.0.%d" : "fd00::%d", i);
		CU_ASSERT_EQUAL_FATAL(chlb_addr_parse(buf, &pool[i]), 0);
	}
	CU_ASSERT_EQUAL_FATAL(chlb_ring__new(&o, &ring), 0);
	for (i = 0; i < READERS; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&r[i], NULL, reader,
						     (void *)(uintptr_t)(i + 1)), 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&w, NULL, writer, NULL), 0);
	pthread_join(w, NULL);
	for (i = 0; i < READERS; i++)
		pthread_join(r[i], NULL);
	printf("  readers: %lu routes, %lu with no backend, %lu wrong\n",
	       routed, empty, bad);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(routed > 1000);
	chlb_ring__free(ring);
}

int main(void)
{
	static CU_TestInfo tests[] = {
		{ "readers route while a writer changes membership", test_readers_and_writer },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("ring_threads", NULL, NULL, tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
