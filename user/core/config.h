/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The instance as a configuration document (SPEC §9) and back: export the
 * model, turn a document into the transaction that makes the instance equal
 * it, and the plan a dry run prints.
 */
#ifndef CHLB_CORE_CONFIG_H
#define CHLB_CORE_CONFIG_H

#include "doc.h"
#include "txn.h"

/* The model (or one VIP of it, only != NULL) as a document. */
int config_export(const struct model *m, const struct chlb_vip_key *only, struct doc *d,
		  struct chlb_err *e);

enum config_flags {
	/*
	 * A daemon's apply: the VIPs of d become managed (CHLB_VIP_F_MANAGED),
	 * and only managed VIPs missing from d are removed: VIPs made with the
	 * CLI beside the daemon's source are left alone.
	 */
	CONFIG_MANAGED = 1 << 0,
};

/*
 * Add to t the changes that make the instance equal d: VIPs and backends
 * missing from d removed, new ones added, changed ones set. Errors name
 * the JSON path of the value they concern (d in document order).
 */
int config_reconcile(struct txn *t, const struct doc *d, unsigned int flags,
		     struct chlb_err *e);

struct plan_backend {
	struct chlb_addr addr;
	char what;		/* '+' added, '-' removed, '~' changed */
	__u32 weight[2];	/* before, after */
	int state[2];		/* enum chlb_state before, after */
	bool mac_changed;
};

struct plan_vip {
	struct chlb_vip_key key;
	char what;		/* '+' new VIP, '-' removed, '~' changed, '=' unchanged */
	__u32 method[2];	/* before, after; 0: no VIP then */
	struct plan_backend *backends;
	int nbackends;
	double moved;		/* share of slots whose backend changes */
	double max_mean;	/* the new table: max share / mean share of serving backends */
};

struct plan {
	struct plan_vip *vips;
	int nvips;
	int changes;		/* backends and VIPs added, removed or changed */
};

/* What committing t would do, from the live tables to the target model's. */
int config_plan(struct txn *t, struct plan *p, struct chlb_err *e);
void plan_free(struct plan *p);

#endif /* CHLB_CORE_CONFIG_H */
