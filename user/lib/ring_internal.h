/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * libchlb internals shared by the library's files; not installed.
 *
 * A ring has a configuration (backends in canonical address order, guarded
 * by ring->lock) and a published snapshot (table + owner addresses) that
 * readers reach through RCU. Each backend also has a small stable id (bid)
 * that the snapshot's table stores, so per-thread request counters stay
 * attached to a backend while others come and go.
 */
#ifndef CHLB_RING_INTERNAL_H
#define CHLB_RING_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <chlb/chlb.h>

#define CHLB_DEFAULT_MAX_RING_BACKENDS	65536
#define CHLB_MAX_RING_BACKENDS		(1u << 20)
/* Points (V x weight summed over active backends) one build may hold:
 * 16 bytes of scratch each, so 512 MiB at most. */
#define CHLB_MAX_POINTS			CHLB_RING_MAX_POINTS
/* Counters live in chunks so a thread grows its array without copying. */
#define CHLB_CHUNK_SHIFT		9
#define CHLB_CHUNK_LEN			(1u << CHLB_CHUNK_SHIFT)
#define CHLB_CACHELINE			64

struct chlb_cfg_backend {
	struct chlb_addr addr;
	uint32_t weight;
	enum chlb_state state;
	uint32_t bid;
};

/* What readers see: immutable once published. */
struct chlb_snapshot {
	uint32_t m;
	uint32_t nactive;		/* 0: route() says NO_BACKENDS */
	uint32_t nbids;			/* length of addrs and slots */
	uint32_t cap_bids;		/* allocated length of addrs and slots */
	uint64_t seed;
	uint32_t *table;		/* m entries: bid or CHLB_NO_BACKEND */
	struct chlb_addr *addrs;	/* by bid */
	uint32_t *slots;		/* by bid: slots owned */
};

/* One thread's request counters for one ring. */
struct chlb_counter_block {
	struct chlb_counter_block *next;	/* ring->blocks, under blocks_lock */
	uint64_t **chunks;		/* nchunks, each CHLB_CHUNK_LEN counters */
	uint32_t nchunks;
	int in_use;			/* owned by a live thread */
};

/* Scratch buffers kept between builds so a rebuild does not page-fault. */
struct chlb_build_buf {
	uint64_t *points;		/* sorted: pos << 32 | bid; buckets: minima */
	uint64_t *tmp;			/* sorted: the radix sort's other half */
	size_t cap_points, cap_tmp;
};

/*
 * ThreadSanitizer cannot see liburcu's synchronisation: the pointer is
 * published with a volatile store plus barrier, and synchronize_rcu() waits
 * on reader counters inside the uninstrumented library via membarrier().
 * Under TSan only, the same orderings are spelled as C11 atomics and as
 * explicit happens-before edges (each reader's unlock releases the ring's
 * `rcu_sync`, the writer acquires it after the grace period), so TSan
 * checks everything else for real. Normal builds use liburcu as is.
 */
#ifdef __SANITIZE_THREAD__
#include <sanitizer/tsan_interface.h>
#define chlb_snap_publish(pp, v) __atomic_store_n(pp, v, __ATOMIC_RELEASE)
#define chlb_snap_deref(pp)	__atomic_load_n(pp, __ATOMIC_ACQUIRE)
#define chlb_tsan_release(a)	__tsan_release(a)
#define chlb_tsan_acquire(a)	__tsan_acquire(a)
#else
#define chlb_snap_publish(pp, v) rcu_set_pointer(pp, v)
#define chlb_snap_deref(pp)	rcu_dereference(*(pp))
#define chlb_tsan_release(a)	do { } while (0)
#define chlb_tsan_acquire(a)	do { } while (0)
#endif

struct chlb_ring {
	uint64_t uid;
	int rcu_sync;			/* TSan's handle for grace periods */			/* never reused: keys thread-local caches */
	struct chlb_snapshot *snap;	/* RCU-protected */
	struct chlb_ring_opts opts;

	pthread_mutex_t lock;		/* writers and introspection */
	struct chlb_cfg_backend *cfg;	/* canonical order */
	size_t ncfg, cap_cfg;
	uint32_t *free_bids;		/* ids safe to reuse (after a grace period) */
	size_t nfree;
	uint32_t next_bid;
	uint64_t *count_base;		/* by bid: counts before this backend's time */
	struct chlb_snapshot *spare;	/* the previous snapshot, for reuse */
	struct chlb_build_buf buf;

	pthread_mutex_t blocks_lock;
	struct chlb_counter_block *blocks;
};

/*
 * Position of a point: the shared header's mixing primitives, so the ring
 * is a function of (seed, address, index) alone and never of a library
 * version. The address words are read in a fixed (little-endian) order.
 * Inline because the builds call chlb_point_pos() once per point.
 */
static inline uint64_t chlb_point_base(uint64_t seed, const struct chlb_addr *a)
{
	uint64_t w0 = 0, w1 = 0;
	int i;

	for (i = 7; i >= 0; i--) {
		w0 = w0 << 8 | a->bytes[i];
		w1 = w1 << 8 | a->bytes[8 + i];
	}
	return chlb_round64(chlb_round64(seed + CHLB_P3, w0), w1);
}

static inline uint32_t chlb_point_pos(uint64_t base, uint32_t vnode)
{
	return (uint32_t)(chlb_mix64(chlb_round64(base, vnode)) >> 32);
}

/*
 * build.c: the ring and its table. chlb_build() picks one of two fills that
 * give byte-identical snapshots (tests/test_ring.c checks both against a
 * reference): sorting every point, or one minimum per slot bucket.
 */
/*
 * chlb_build() fills by buckets from P >= M / 4 on while the M scratch
 * words stay within 4 MiB (M <= 2^19); past that their random updates
 * miss the caches and the sort is as fast. Measured by bench_ring.
 */
#define CHLB_BUCKET_MIN_RATIO		4
#define CHLB_BUCKET_MAX_M		CHLB_RING_BUCKET_MAX_M

int chlb_build(struct chlb_snapshot *snap, struct chlb_build_buf *buf,
	       const struct chlb_cfg_backend *cfg, size_t n, uint32_t vnodes);
int chlb_build_sorted(struct chlb_snapshot *snap, struct chlb_build_buf *buf,
		      const struct chlb_cfg_backend *cfg, size_t n,
		      uint32_t vnodes);
int chlb_build_buckets(struct chlb_snapshot *snap, struct chlb_build_buf *buf,
		       const struct chlb_cfg_backend *cfg, size_t n,
		       uint32_t vnodes);
bool chlb_build_uses_buckets(uint64_t points, uint32_t m);
int chlb_buf_reserve(uint64_t **p, size_t *cap, size_t n);
uint32_t chlb_count_active(const struct chlb_cfg_backend *cfg, size_t n,
			   uint64_t vnodes, uint64_t *npoints);

/* snapshot.c */
int chlb_snapshot_reserve(struct chlb_snapshot **snap, uint32_t m,
			  uint32_t nbids);
void chlb_snapshot_free(struct chlb_snapshot *snap);
void chlb_build_buf_free(struct chlb_build_buf *buf);

/* reader.c: lazy RCU registration and per-thread counters */
struct chlb_tls_entry {
	uint64_t uid;
	struct chlb_counter_block *blk;
};

struct chlb_tls {
	int registered;			/* with urcu-memb */
	uint64_t last_uid;		/* cache of the last ring routed on */
	struct chlb_counter_block *last_blk;
	struct chlb_tls_entry *ents;	/* this thread's block in each ring */
	size_t nents, cap;
};

extern __thread struct chlb_tls chlb_tls __attribute__((tls_model("initial-exec")));

void chlb_reader_register(void);
struct chlb_counter_block *chlb_reader_block_slow(struct chlb_ring *ring);

static inline void chlb_reader_enter(void)
{
	if (__builtin_expect(!chlb_tls.registered, 0))
		chlb_reader_register();
}

/* This thread's counters in ring (NULL if out of memory); registers too. */
static inline struct chlb_counter_block *chlb_reader_block(struct chlb_ring *ring)
{
	if (__builtin_expect(chlb_tls.last_uid == ring->uid, 1))
		return chlb_tls.last_blk;
	return chlb_reader_block_slow(ring);
}

int chlb_counters_attach(struct chlb_ring *ring);
void chlb_counters_detach(struct chlb_ring *ring);
size_t chlb_counters_memory(struct chlb_ring *ring);
uint64_t chlb_counters_sum(struct chlb_ring *ring, uint32_t bid);
uint64_t *chlb_counter_chunk(struct chlb_counter_block *blk, uint32_t bid);

static inline void chlb_count(struct chlb_counter_block *blk, uint32_t bid)
{
	uint64_t *chunk;

	chunk = __atomic_load_n(&blk->chunks[bid >> CHLB_CHUNK_SHIFT],
				__ATOMIC_ACQUIRE);
	if (__builtin_expect(!chunk, 0)) {
		chunk = chlb_counter_chunk(blk, bid);
		if (!chunk)
			return;	/* out of memory: lose this one count */
	}
	chunk += bid & (CHLB_CHUNK_LEN - 1);
	/* Only this thread writes; relaxed atomics let the summer read it. */
	__atomic_store_n(chunk, __atomic_load_n(chunk, __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELAXED);
}

#endif /* CHLB_RING_INTERNAL_H */
