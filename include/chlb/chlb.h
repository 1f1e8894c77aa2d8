/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * libchlb: a consistent-hash ring with virtual nodes, turned into a
 * slot -> backend table. Used by the chlb controller to fill the XDP
 * program's tables, and on its own by programs that route string keys.
 *
 * Threads: chlb_ring__route() and chlb_ring__lookup_hash() may run on any
 * number of threads without locks while one other thread changes
 * membership (RCU, liburcu). Every other call is a writer or an
 * introspection call; those are serialised by the ring's own mutex.
 *
 * Errors: functions return 0 (or a count) on success, a negative value on
 * failure: -errno, or -CHLB_ERR_* for invalid input. chlb_strerror() gives
 * a one-line message for either.
 */
#ifndef CHLB_CHLB_H
#define CHLB_CHLB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <chlb/shared.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHLB_DEFAULT_VNODES	1000
#define CHLB_DEFAULT_TABLE_SIZE	65537
#define CHLB_ADDR_STRLEN	46	/* INET6_ADDRSTRLEN */

enum chlb_algo {
	CHLB_ALGO_RING = 1,	/* "ring": consistent hashing with vnodes */
};

enum chlb_error {
	CHLB_ERR_BASE = 4000,
	CHLB_ERR_ADDR_EMPTY,		/* "" */
	CHLB_ERR_ADDR_TOO_LONG,		/* longer than any address */
	CHLB_ERR_ADDR_PREFIX,		/* "10.0.0.1/24": a prefix, not an address */
	CHLB_ERR_ADDR_V4_OCTET,		/* "10.0.0.256" */
	CHLB_ERR_ADDR_V4_FORM,		/* "1.2.3", "010.0.0.1", "1..2.3" */
	CHLB_ERR_ADDR_V6,		/* "::g", ":::1" */
	CHLB_ERR_ADDR_SYNTAX,		/* neither IPv4 nor IPv6 */
	CHLB_ERR_WEIGHT,		/* outside 1..256 */
	CHLB_ERR_EXISTS,		/* backend already present */
	CHLB_ERR_NOT_FOUND,		/* no such backend */
	CHLB_ERR_NO_BACKENDS,		/* nothing to route to */
	CHLB_ERR_TOO_MANY,		/* more backends than max_backends */
	CHLB_ERR_VNODES,		/* vnodes outside 1..CHLB_MAX_VNODES */
	CHLB_ERR_TABLE_SIZE,		/* table size outside 1..CHLB_MAX_TABLE_SIZE */
	CHLB_ERR_ALGO,			/* unknown algorithm */
	CHLB_ERR_STATE,			/* unknown backend state */
	CHLB_ERR_MAX,
};

/* An IPv4 or IPv6 address, 16 bytes in network order; IPv4 as ::ffff:a.b.c.d */
struct chlb_addr {
	uint8_t bytes[CHLB_ADDR_LEN];
};

enum chlb_state {
	CHLB_STATE_ACTIVE = 0,		/* owns slots */
	CHLB_STATE_DRAINING = 1,	/* kept, but owns no slots */
};

struct chlb_ring_opts {
	size_t sz;		/* sizeof(struct chlb_ring_opts) */
	uint32_t vnodes;	/* V: points per unit of weight; 0 = default */
	uint32_t table_size;	/* M: slots; 0 = default */
	uint64_t seed;
	enum chlb_algo algo;	/* 0 = CHLB_ALGO_RING */
	uint32_t max_backends;	/* 0 = 65536 */
};

struct chlb_backend_info {
	struct chlb_addr addr;
	uint32_t weight;
	enum chlb_state state;
	uint32_t slots;		/* slots of the table it owns */
	uint64_t requests;	/* chlb_ring__route() results, all threads */
};

enum chlb_change_op {
	CHLB_CHANGE_ADD = 1,
	CHLB_CHANGE_DEL,
	CHLB_CHANGE_WEIGHT,
	CHLB_CHANGE_STATE,
};

struct chlb_change {
	enum chlb_change_op op;
	struct chlb_addr addr;
	uint32_t weight;	/* ADD, WEIGHT */
	enum chlb_state state;	/* ADD, STATE */
};

struct chlb_ring;

/* ---- addresses -------------------------------------------------------- */

/* Parse one address, strictly: no prefix, no leading zeros, no scope. */
int chlb_addr_parse(const char *s, struct chlb_addr *out);
/* Canonical text (inet_ntop form); buf of at least CHLB_ADDR_STRLEN. */
int chlb_addr_format(const struct chlb_addr *a, char *buf, size_t len);
bool chlb_addr_is_v4(const struct chlb_addr *a);
int chlb_addr_cmp(const struct chlb_addr *a, const struct chlb_addr *b);

const char *chlb_strerror(int err);
const char *chlb_algo_name(enum chlb_algo algo);
int chlb_algo_parse(const char *name, enum chlb_algo *algo);

/* ---- the ring --------------------------------------------------------- */

/*
 * Build limits. Tables of up to CHLB_RING_BUCKET_MAX_M slots are filled from
 * per-slot minima, whatever the number of points; larger ones sort every
 * point (V x the sum of the weights), at most CHLB_RING_MAX_POINTS of them.
 */
#define CHLB_RING_MAX_POINTS	(1ull << 25)
#define CHLB_RING_BUCKET_MAX_M	(1u << 19)
/* Whether a table of table_size slots can be built from points points. */
bool chlb_ring_points_fit(uint64_t points, uint32_t table_size);

int chlb_ring__new(const struct chlb_ring_opts *opts, struct chlb_ring **ring);
void chlb_ring__free(struct chlb_ring *ring);

/*
 * Apply changes all at once: either every change is valid and the new
 * table is published in one step, or nothing changes and the first bad
 * change's error is returned.
 */
int chlb_ring__update(struct chlb_ring *ring, const struct chlb_change *changes,
		      size_t n);
int chlb_ring__add(struct chlb_ring *ring, const char *addr, unsigned int weight);
int chlb_ring__remove(struct chlb_ring *ring, const char *addr);
int chlb_ring__set_weight(struct chlb_ring *ring, const char *addr,
			  unsigned int weight);
int chlb_ring__set_state(struct chlb_ring *ring, const char *addr,
			 enum chlb_state state);

/* Lock-free readers: the backend for a key, or for a 32-bit flow hash. */
int chlb_ring__route(struct chlb_ring *ring, const void *key, size_t len,
		     struct chlb_addr *backend);
int chlb_ring__lookup_hash(struct chlb_ring *ring, uint32_t hash,
			   struct chlb_addr *backend);

/* Introspection. Backends come in canonical order (by address bytes). */
int chlb_ring__backends(struct chlb_ring *ring, struct chlb_backend_info *out,
			size_t cap);
/* owners[s] = index of slot s's owner in chlb_ring__backends() order, or
 * CHLB_NO_BACKEND; m must equal the ring's table size. */
int chlb_ring__table(struct chlb_ring *ring, uint32_t *owners, uint32_t m);
/* A hash of the table as owner addresses: equal on hosts with equal input. */
int chlb_ring__checksum(struct chlb_ring *ring, uint64_t *sum);
int chlb_ring__num_backends(struct chlb_ring *ring);
size_t chlb_ring__memory(struct chlb_ring *ring);
void chlb_ring__opts(struct chlb_ring *ring, struct chlb_ring_opts *opts);

#ifdef __cplusplus
}
#endif

#endif /* CHLB_CHLB_H */
