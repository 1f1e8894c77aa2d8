// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Reader threads, registered lazily so callers never hear of RCU: the first
 * route() on a thread registers it with urcu-memb and arms a pthread key
 * whose destructor unregisters it at thread exit.
 *
 * Request counters: each thread owns one counter block per ring, in chunks
 * of its own (page-sized, cache-line aligned), so no two threads ever write
 * to one cache line. Blocks outlive their thread (their counts still
 * count) and are handed to the next thread that needs one in that ring.
 * A thread finds its block through a one-entry cache keyed by the ring's
 * uid; uids are never reused, so a freed ring's entry can never match.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>

#include "ring_internal.h"

__thread struct chlb_tls chlb_tls __attribute__((tls_model("initial-exec")));

static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

/* Live rings, so a thread exiting after its ring was freed skips it. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct chlb_ring **live;
static size_t nlive, cap_live;
static uint64_t last_uid;

static struct chlb_ring *live_find(uint64_t uid)
{
	size_t i;

	for (i = 0; i < nlive; i++)
		if (live[i]->uid == uid)
			return live[i];
	return NULL;
}

static void thread_exit(void *unused)
{
	struct chlb_ring *ring;
	size_t i;

	(void)unused;
	pthread_mutex_lock(&registry_lock);
	for (i = 0; i < chlb_tls.nents; i++) {
		ring = live_find(chlb_tls.ents[i].uid);
		if (!ring)
			continue;
		pthread_mutex_lock(&ring->blocks_lock);
		chlb_tls.ents[i].blk->in_use = 0;
		pthread_mutex_unlock(&ring->blocks_lock);
	}
	pthread_mutex_unlock(&registry_lock);
	free(chlb_tls.ents);
	memset(&chlb_tls, 0, sizeof(chlb_tls));
	urcu_memb_unregister_thread();
}

static void make_exit_key(void)
{
	/* Without a key the thread still works; it just is not unregistered. */
	(void)pthread_key_create(&exit_key, thread_exit);
}

void chlb_reader_register(void)
{
	pthread_once(&exit_key_once, make_exit_key);
	urcu_memb_register_thread();
	chlb_tls.registered = 1;
	(void)pthread_setspecific(exit_key, &chlb_tls);
}

static struct chlb_counter_block *block_new(struct chlb_ring *ring)
{
	struct chlb_counter_block *blk;
	uint32_t n;

	/* a batch may hold max live ids plus ids it removes: 2 x max */
	n = (2 * ring->opts.max_backends + CHLB_CHUNK_LEN - 1) / CHLB_CHUNK_LEN;
	blk = calloc(1, sizeof(*blk));
	if (!blk)
		return NULL;
	blk->chunks = calloc(n, sizeof(*blk->chunks));
	if (!blk->chunks) {
		free(blk);
		return NULL;
	}
	blk->nchunks = n;
	return blk;
}

static struct chlb_counter_block *block_acquire(struct chlb_ring *ring)
{
	struct chlb_counter_block *blk;

	pthread_mutex_lock(&ring->blocks_lock);
	for (blk = ring->blocks; blk; blk = blk->next)
		if (!blk->in_use)
			break;
	if (!blk) {
		blk = block_new(ring);
		if (blk) {
			blk->next = ring->blocks;
			ring->blocks = blk;
		}
	}
	if (blk)
		blk->in_use = 1;
	pthread_mutex_unlock(&ring->blocks_lock);
	return blk;
}

/* Forget entries of rings freed since, so the list stays short. */
static void tls_prune(void)
{
	size_t i, j = 0;

	pthread_mutex_lock(&registry_lock);
	for (i = 0; i < chlb_tls.nents; i++)
		if (live_find(chlb_tls.ents[i].uid))
			chlb_tls.ents[j++] = chlb_tls.ents[i];
	chlb_tls.nents = j;
	pthread_mutex_unlock(&registry_lock);
}

static int tls_append(uint64_t uid, struct chlb_counter_block *blk)
{
	struct chlb_tls_entry *e;
	size_t cap;

	if (chlb_tls.nents == chlb_tls.cap) {
		cap = chlb_tls.cap ? 2 * chlb_tls.cap : 4;
		e = realloc(chlb_tls.ents, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		chlb_tls.ents = e;
		chlb_tls.cap = cap;
	}
	chlb_tls.ents[chlb_tls.nents].uid = uid;
	chlb_tls.ents[chlb_tls.nents].blk = blk;
	chlb_tls.nents++;
	return 0;
}

struct chlb_counter_block *chlb_reader_block_slow(struct chlb_ring *ring)
{
	struct chlb_counter_block *blk = NULL;
	size_t i;

	chlb_reader_enter();
	for (i = 0; i < chlb_tls.nents; i++)
		if (chlb_tls.ents[i].uid == ring->uid)
			blk = chlb_tls.ents[i].blk;
	if (!blk) {
		tls_prune();
		blk = block_acquire(ring);
		if (!blk)
			return NULL;
		if (tls_append(ring->uid, blk)) {
			pthread_mutex_lock(&ring->blocks_lock);
			blk->in_use = 0;
			pthread_mutex_unlock(&ring->blocks_lock);
			return NULL;
		}
	}
	chlb_tls.last_uid = ring->uid;
	chlb_tls.last_blk = blk;
	return blk;
}

/* Called by the owning thread only, so chunks never race to be created. */
uint64_t *chlb_counter_chunk(struct chlb_counter_block *blk, uint32_t bid)
{
	uint32_t idx = bid >> CHLB_CHUNK_SHIFT;
	uint64_t *chunk;

	if (idx >= blk->nchunks)
		return NULL;
	chunk = aligned_alloc(CHLB_CACHELINE, CHLB_CHUNK_LEN * sizeof(*chunk));
	if (!chunk)
		return NULL;
	memset(chunk, 0, CHLB_CHUNK_LEN * sizeof(*chunk));
	__atomic_store_n(&blk->chunks[idx], chunk, __ATOMIC_RELEASE);
	return chunk;
}

uint64_t chlb_counters_sum(struct chlb_ring *ring, uint32_t bid)
{
	uint32_t idx = bid >> CHLB_CHUNK_SHIFT;
	struct chlb_counter_block *blk;
	uint64_t sum = 0, *chunk;

	pthread_mutex_lock(&ring->blocks_lock);
	for (blk = ring->blocks; blk; blk = blk->next) {
		if (idx >= blk->nchunks)
			continue;
		chunk = __atomic_load_n(&blk->chunks[idx], __ATOMIC_ACQUIRE);
		if (chunk)
			sum += __atomic_load_n(&chunk[bid & (CHLB_CHUNK_LEN - 1)],
					       __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&ring->blocks_lock);
	return sum;
}

size_t chlb_counters_memory(struct chlb_ring *ring)
{
	struct chlb_counter_block *blk;
	size_t bytes = 0;
	uint32_t i;

	pthread_mutex_lock(&ring->blocks_lock);
	for (blk = ring->blocks; blk; blk = blk->next) {
		bytes += sizeof(*blk) + blk->nchunks * sizeof(*blk->chunks);
		for (i = 0; i < blk->nchunks; i++)
			if (__atomic_load_n(&blk->chunks[i], __ATOMIC_ACQUIRE))
				bytes += CHLB_CHUNK_LEN * sizeof(uint64_t);
	}
	pthread_mutex_unlock(&ring->blocks_lock);
	return bytes;
}

int chlb_counters_attach(struct chlb_ring *ring)
{
	struct chlb_ring **l;
	size_t cap;
	int err = 0;

	pthread_mutex_lock(&registry_lock);
	if (nlive == cap_live) {
		cap = cap_live ? 2 * cap_live : 8;
		l = realloc(live, cap * sizeof(*l));
		if (!l) {
			err = -ENOMEM;
			goto out;
		}
		live = l;
		cap_live = cap;
	}
	ring->uid = ++last_uid;
	live[nlive++] = ring;
out:
	pthread_mutex_unlock(&registry_lock);
	return err;
}

/* Under registry_lock, so no exiting thread touches a block being freed. */
void chlb_counters_detach(struct chlb_ring *ring)
{
	struct chlb_counter_block *blk, *next;
	uint32_t i;
	size_t j;

	pthread_mutex_lock(&registry_lock);
	for (j = 0; j < nlive; j++) {
		if (live[j] == ring) {
			live[j] = live[--nlive];
			break;
		}
	}
	for (blk = ring->blocks; blk; blk = next) {
		next = blk->next;
		for (i = 0; i < blk->nchunks; i++)
			free(blk->chunks[i]);
		free(blk->chunks);
		free(blk);
	}
	ring->blocks = NULL;
	if (!nlive) {
		free(live);
		live = NULL;
		cap_live = 0;
	}
	pthread_mutex_unlock(&registry_lock);
}
