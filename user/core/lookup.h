/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The backend the data plane picks for a client's flow to a VIP, computed
 * from what the XDP program reads: the flow hash of shared.h, the VIP's
 * live table, and the flow table's record. Used by `chlb lookup` and the
 * agreement tests.
 */
#ifndef CHLB_CORE_LOOKUP_H
#define CHLB_CORE_LOOKUP_H

#include "inst.h"

struct lookup_result {
	__u32 hash;		/* chlb_flow_hash() of the five-tuple */
	__u32 slot;		/* its slot in the VIP's table */
	int id;			/* backend id the live table names, or -1: drop */
	struct chlb_addr backend;
	struct chlb_flow_key key;	/* the five-tuple as hashed */
	int flow_id;		/* backend the flow table holds for it, or -1 */
};

/*
 * id: what the live slot table gives the flow (a new connection, or any
 * packet without a flow table). flow_id: the backend an existing flow
 * keeps, when the flow table holds a record the data plane would honour.
 */
int lookup_flow(struct inst *in, const struct model_vip *vip, const struct chlb_addr *client,
		__u16 cport, struct lookup_result *r, struct chlb_err *e);

#endif /* CHLB_CORE_LOOKUP_H */
