// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The lock-free read side. _LGPL_SOURCE inlines urcu-memb's read lock
 * (a thread-local counter and a compiler barrier: membarrier() moves the
 * cost to the writer), which is most of what makes route() cheap.
 * Not under ThreadSanitizer: liburcu's inlined internals (the grace-period
 * futex) use volatile accesses that TSan would report; the library's
 * out-of-line wrappers keep them uninstrumented.
 */
#ifndef __SANITIZE_THREAD__
#define _LGPL_SOURCE
#endif
#include <errno.h>

#include <urcu/urcu-memb.h>
/* libxxhash's header-only mode: XXH3 inlined for the short-key path */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ring_internal.h"

/* The table lookup, exactly as the XDP program does it. */
static inline int lookup(struct chlb_ring *ring, uint32_t hash,
			 struct chlb_addr *backend,
			 struct chlb_counter_block *blk)
{
	struct chlb_snapshot *snap;
	uint32_t bid;
	int err = 0;

	urcu_memb_read_lock();
	snap = chlb_snap_deref(&ring->snap);
	if (!snap->nactive) {
		err = -CHLB_ERR_NO_BACKENDS;
		goto out;
	}
	bid = snap->table[chlb_hash_to_slot(hash, snap->m)];
	*backend = snap->addrs[bid];
	if (blk)
		chlb_count(blk, bid);
out:
	chlb_tsan_release(&ring->rcu_sync);
	urcu_memb_read_unlock();
	return err;
}

int chlb_ring__route(struct chlb_ring *ring, const void *key, size_t len,
		     struct chlb_addr *backend)
{
	uint32_t hash;

	if (!ring || !backend || (!key && len))
		return -EINVAL;
	/* XXH3: fast on short keys; its top 32 bits feed the slot mapping */
	hash = (uint32_t)(XXH3_64bits_withSeed(key, len, ring->opts.seed) >> 32);
	return lookup(ring, hash, backend, chlb_reader_block(ring));
}

int chlb_ring__lookup_hash(struct chlb_ring *ring, uint32_t hash,
			   struct chlb_addr *backend)
{
	if (!ring || !backend)
		return -EINVAL;
	chlb_reader_enter();
	return lookup(ring, hash, backend, NULL);
}
