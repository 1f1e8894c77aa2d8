/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The controller's state, read back from the pinned maps on every run: the
 * config, the VIPs and the backends. Changes are applied per VIP: rebuild
 * the VIP's ring from its backends, then swap its table in one step.
 */
#ifndef CHLB_STATE_H
#define CHLB_STATE_H

#include <stdbool.h>
#include <chlb/chlb.h>
#include "dp/dataplane.h"

struct state_vip {
	struct chlb_vip_key key;
	struct chlb_vip_info info;
};

struct state {
	int lock_fd;
	bool dp_open;
	struct chlb_dp dp;
	struct chlb_config cfg;
	struct state_vip *vips;
	int nvips;
	struct chlb_backend *backends;	/* indexed by id, max_backends of them */
	__u8 *retired;			/* ids freed by this run: never reused */
};

/* Take the pin directory's lock (exclusive for writers) and read it all. */
int state_open(struct state *st, bool write);
void state_close(struct state *st);

/* flock() the pin directory; returns the fd or -errno. */
int state_lock(const char *pin_dir, bool write);

struct state_vip *state_find_vip(struct state *st, const struct chlb_vip_key *key);
struct state_vip *state_vip_by_id(struct state *st, __u32 id);
/* Parse VIP text and find it; -ENOENT with a message when unknown. */
int state_get_vip(struct state *st, const char *text, struct state_vip **vip);
/* The id of VIP vip_id's backend at addr, or -ENOENT. */
int state_find_backend(struct state *st, __u32 vip_id, const struct chlb_addr *addr);
int state_count_backends(struct state *st, __u32 vip_id);
int state_free_backend_id(struct state *st);
int state_free_vip_id(struct state *st);

int state_write_backend(struct state *st, __u32 id, const struct chlb_backend *b);
/* Clear a backend entry and its counters; the id is retired for this run. */
int state_clear_backend(struct state *st, __u32 id);

/* Build the ring of a VIP from its backends as they are in st. */
int state_vip_ring(struct state *st, __u32 vip_id, struct chlb_ring **ring);
/* Table of backend ids (or CHLB_NO_BACKEND) from a VIP's ring. */
int state_ring_slots(struct state *st, __u32 vip_id, struct chlb_ring *ring,
		     __u32 *slots);
/* Rebuild the VIP's ring and swap its table into the data plane. */
int state_apply(struct state *st, __u32 vip_id);

#endif /* CHLB_STATE_H */
