/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pin directory: where an instance's state lives in bpffs, and the
 * lock that serialises every chlb process acting on it.
 */
#ifndef CHLB_CORE_PINDIR_H
#define CHLB_CORE_PINDIR_H

#include <stdbool.h>
#include <chlb/shared.h>
#include "err.h"

/*
 * Open and flock() the pin directory (exclusive for writers, shared for
 * readers). Returns the locked fd or a negative error with its message
 * ("chlb is not attached (no DIR); try 'chlb attach DEV'" for -ENOENT).
 */
int pindir_lock(const char *dir, bool write, struct chlb_err *e);

/*
 * Refuse to act from a network namespace other than the one the instance
 * was attached in: ifindexes and neighbours would be another namespace's.
 */
int pindir_check_netns(const struct chlb_config *cfg, struct chlb_err *e);

#endif /* CHLB_CORE_PINDIR_H */
