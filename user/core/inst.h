/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An open instance: the pin directory locked, its maps open and checked,
 * and its model read. Opening also finishes what an interrupted command
 * left: a pending journal is rolled back (txn.h) before anything else
 * reads the model, so every command starts from a consistent state.
 */
#ifndef CHLB_CORE_INST_H
#define CHLB_CORE_INST_H

#include <stdbool.h>
#include "err.h"
#include "model.h"

struct inst {
	const char *pin_dir;
	int lock_fd;
	bool dp_open;
	struct chlb_dp dp;
	struct model m;
	bool recovered;		/* an interrupted transaction was rolled back */
	__u64 journal_seq;	/* the last transaction's number */
	int verbose;		/* timings on stderr */
};

/* write: take the lock exclusively (writers); readers share it. */
int inst_open(struct inst *in, const char *pin_dir, bool write, struct chlb_err *e);
void inst_close(struct inst *in);
/* Re-read the model (after a transaction or a recovery). */
int inst_reload(struct inst *in, struct chlb_err *e);

/* Find a VIP by its text; -ENOENT "unknown VIP" as a usage error. */
int inst_get_vip(struct inst *in, const char *text, struct model_vip **vip,
		 struct chlb_err *e);

#endif /* CHLB_CORE_INST_H */
