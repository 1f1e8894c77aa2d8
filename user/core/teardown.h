/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Taking an instance down (detach), and recognising what an interrupted
 * attach left: the next command removes that, as it rolls back an
 * interrupted change, so a retried attach starts clean.
 */
#ifndef CHLB_CORE_TEARDOWN_H
#define CHLB_CORE_TEARDOWN_H

#include <stdbool.h>
#include <chlb/shared.h>
#include "err.h"

/* Any of our pins (chlb_* maps, the program) under dir. */
bool teardown_has_pins(const char *dir);
/* The pinned config; -ENOENT without one, -EPROTO when its layout is not ours. */
int teardown_read_config(const char *dir, struct chlb_config *cfg);
/*
 * What an attach killed before it finished leaves: an instance holding no
 * VIP (nothing of the user's to lose) whose program is not pinned (the
 * last thing attach pins) or is pinned but runs nowhere. An instance with
 * VIPs is never taken for one (its interface may have gone away: detach).
 */
bool teardown_interrupted(const char *dir);
/*
 * Under the exclusive lock: detach the program from wherever it runs in
 * this namespace, unpin everything, remove dir unless keep_dir (an attach
 * that goes on in it). Refused from another namespace while the attach's
 * exists. where (may be NULL): the ifindex it ran on, or 0.
 */
int teardown(const char *dir, bool keep_dir, int *where, struct chlb_err *e);
/* Our pins only, the program's first (a failed attach: nothing runs). */
int teardown_unpin(const char *dir);

#endif /* CHLB_CORE_TEARDOWN_H */
