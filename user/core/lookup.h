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
	bool has_outer_src;	/* ipip, a backend, a source range of its family */
	struct chlb_addr outer_src;	/* the outer header's source (bpf/encap.h) */
};

/*
 * id: what the live slot table gives the flow (a new connection, or any
 * packet without a flow table). flow_id: the backend an existing flow
 * keeps, when the flow table holds a record the data plane would honour.
 */
/*
 * Method ipip: the outer source of a flow with 32-bit hash h to a backend
 * at addr, as bpf/encap.h builds it: the range of the backend's family
 * with the host bits (chlb_encap_src_mask) of its last word from h.
 * -ENOENT when the instance has no range of that family.
 */
int lookup_outer_src(const struct model *m, const __u8 *addr, __u32 h, struct chlb_addr *src);

int lookup_flow(struct inst *in, const struct model_vip *vip, const struct chlb_addr *client,
		__u16 cport, struct lookup_result *r, struct chlb_err *e);

#endif /* CHLB_CORE_LOOKUP_H */
