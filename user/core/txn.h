/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Transactions: any number of VIP and backend changes, validated as a
 * whole against the model, then published with one table swap per
 * changed VIP. Nothing is written when validation fails.
 *
 * Publishing follows an undo journal (shared.h): the entries about to
 * change are recorded as they were, then written in an order that keeps
 * the data plane coherent at every step (new entries before the tables
 * that name them; tables swapped before removed entries are cleared). A
 * failure rolls the instance back at once; a kill leaves the journal
 * pending and the next chlb process rolls it back (inst_open), so a retry
 * of the same command starts from the state it started from before.
 */
#ifndef CHLB_CORE_TXN_H
#define CHLB_CORE_TXN_H

#include <stdbool.h>
#include "inst.h"

struct txn;

struct txn_backend {
	struct chlb_addr addr;
	__u32 weight;		/* 0: keep (set) / 1 (add) */
	int state;		/* enum chlb_state, -1: keep (set) / active (add) */
	const __u8 *mac;	/* NULL: keep (set) / resolve (add) */
	bool resolve_mac;	/* set: forget a given MAC, resolve it from neighbours */
};

int txn_begin(struct inst *in, struct txn **t, struct chlb_err *e);
void txn_free(struct txn *t);

int txn_vip_add(struct txn *t, const struct chlb_vip_key *key, __u32 method,
		const struct chlb_health *health, struct chlb_err *e);
int txn_vip_set(struct txn *t, const struct chlb_vip_key *key, __u32 method,
		const struct chlb_health *health, struct chlb_err *e);
int txn_vip_del(struct txn *t, const struct chlb_vip_key *key, struct chlb_err *e);
int txn_backend_add(struct txn *t, const struct chlb_vip_key *vip,
		    const struct txn_backend *b, struct chlb_err *e);
int txn_backend_set(struct txn *t, const struct chlb_vip_key *vip,
		    const struct txn_backend *b, struct chlb_err *e);
int txn_backend_del(struct txn *t, const struct chlb_vip_key *vip,
		    const struct chlb_addr *addr, struct chlb_err *e);

/*
 * Runtime state a daemon sets (not configuration: config export leaves it
 * out). A backend going down gets a new gen, so its flows re-hash.
 */
int txn_backend_down(struct txn *t, const struct chlb_vip_key *vip,
		     const struct chlb_addr *addr, bool down, struct chlb_err *e);
int txn_vip_flags(struct txn *t, const struct chlb_vip_key *key, __u32 set, __u32 clear,
		  struct chlb_err *e);

/* The model as it will be, for printing results and plans. */
const struct model *txn_target(const struct txn *t);
/* VIP id's table changes in this transaction. */
bool txn_vip_changed(const struct txn *t, __u32 vip_id);

struct txn_result {
	int swaps;		/* tables published (one per changed VIP) */
	int vips_changed;
	int entries;		/* model entries written */
};

/*
 * Validate (addresses, MACs resolved, limits), journal, publish, commit.
 * On failure the instance is rolled back (or left for the next process
 * to roll back when even that failed) and the error says so.
 */
int txn_commit(struct txn *t, struct txn_result *res, struct chlb_err *e);

/*
 * Roll back a pending journal, then make every derived structure equal
 * what the model builds: the VIP index, each VIP's table (swapped only
 * where the live one differs: drift), no table or backend entry for a VIP
 * that does not exist. *repaired counts what was rewritten.
 */
int txn_sync(struct inst *in, int *repaired, struct chlb_err *e);

#endif /* CHLB_CORE_TXN_H */
