/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the transaction's files: txn.c, txn_commit.c, publish.c, recover.c. */
#ifndef CHLB_CORE_TXN_INTERNAL_H
#define CHLB_CORE_TXN_INTERNAL_H

#include "txn.h"

struct txn {
	struct inst *in;
	struct model cur;	/* as read when the transaction began */
	struct model tgt;	/* as it will be */
	__u8 *retired;		/* backend ids freed here: not reused in this transaction */
	__u8 *resolve;		/* backend ids whose MAC is resolved at commit */
	__u8 *changed;		/* VIP ids whose table is rebuilt */
};

/* How publish() moves the data plane from cur to tgt. */
struct publish {
	struct inst *in;
	const struct model *cur;
	const struct model *tgt;
	const __u8 *changed;	/* VIP ids to rebuild; NULL: every VIP whose table drifted */
	struct txn_result res;
};

/*
 * Write tgt over cur in the order that keeps the data plane coherent; with
 * changed NULL also repair every derived structure (recovery, sync).
 */
int publish(struct publish *p, struct chlb_err *e);

/* Roll back a pending journal; 0 with *done false when there was none. */
int recover(struct inst *in, bool *done, int *repaired, struct chlb_err *e);

bool vip_same(const struct model_vip *a, const struct model_vip *b);

/*
 * Can VIP v (in the target) forward to a backend at addr by its method?
 * The address (addrcheck_backend), the MAC given (NULL: none; a MAC is
 * refused for ipip, whose next hop comes from the FIB) and, for ipip, an
 * outer source address of the backend's family in the instance.
 */
int txn_check_backend(const struct txn *t, const struct model_vip *v,
		      const struct chlb_addr *addr, const __u8 *mac, struct chlb_err *e);
/*
 * Backends kept by a VIP whose method changes in this transaction: fit
 * for the new method (txn_check_backend), a MAC given for dsr dropped for
 * ipip, and for dsr the MAC of each backend without one given resolved at
 * commit like a new backend's.
 */
int txn_check_methods(struct txn *t, struct chlb_err *e);

#endif /* CHLB_CORE_TXN_INTERNAL_H */
