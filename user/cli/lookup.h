/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What `chlb lookup` computes, as a function: the backend the data plane
 * picks for a client's flow to a VIP. Also used by tests/test_agree.c.
 */
#ifndef CHLB_LOOKUP_H
#define CHLB_LOOKUP_H

#include "core/state.h"

struct lookup_result {
	__u32 hash;		/* chlb_flow_hash() of the five-tuple */
	__u32 slot;		/* its slot in the VIP's table */
	int id;			/* backend id, or -1: no active backend (drop) */
	struct chlb_addr backend;
	struct chlb_flow_key key;	/* the five-tuple as hashed */
	int flow_id;		/* backend the flow table holds for it, or -1 */
};

/* Open the state (shared lock), find VIP text and build its ring. */
int lookup_open_ring(struct state *st, const char *text, struct state_vip **vip,
		     struct chlb_ring **ring);
/*
 * id: what the slot table gives the flow (a new connection, or any packet
 * without a flow table). flow_id: the backend an existing flow keeps,
 * when the flow table holds a record the data plane would still honour.
 */
int lookup_flow(struct state *st, const struct state_vip *vip, struct chlb_ring *ring,
		const struct chlb_addr *client, __u16 cport, struct lookup_result *r);

#endif /* CHLB_LOOKUP_H */
