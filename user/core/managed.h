/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which chlb daemon manages an instance (the chlb_daemon map), and the CLI's
 * respect for it: a change to a VIP the daemon's source configures would be
 * overwritten by the next change of that source, so it is refused unless
 * forced.
 */
#ifndef CHLB_CORE_MANAGED_H
#define CHLB_CORE_MANAGED_H

#include <stdbool.h>
#include "inst.h"

/* The registered daemon; *alive: that process still runs (pid and start time). */
int managed_daemon(struct inst *in, struct chlb_daemon_info *d, bool *alive,
		   struct chlb_err *e);
/* Register this process as the instance's daemon; -EBUSY if another lives. */
int managed_claim(struct inst *in, __u32 source, const char *desc, struct chlb_err *e);
/* Unregister (only if this process is the one registered). */
int managed_release(struct inst *in);
/*
 * Refuse (usage error) a CLI change to VIP key, or to any managed VIP when
 * key is NULL (config apply), while a live daemon manages it; force: allow.
 */
int managed_check(struct inst *in, const struct chlb_vip_key *key, bool force,
		  struct chlb_err *e);
/* The start time of process pid (/proc/PID/stat field 22); 0 if gone. */
__u64 managed_start_time(__u32 pid);
const char *managed_source_name(__u32 source);

#endif /* CHLB_CORE_MANAGED_H */
