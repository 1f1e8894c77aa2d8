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

/* How long a command waits for the lock; $CHLB_LOCK_TIMEOUT (seconds) overrides. */
#define PINDIR_LOCK_TIMEOUT_S	10

/*
 * Open and flock() the pin directory (exclusive for writers, shared for
 * readers). The directory must be a real directory (not a symlink) on
 * bpffs, owned by us and writable by nobody else: whoever can write it can
 * swap the pins we are about to trust. Waits for the lock up to the
 * timeout, then fails ("another chlb holds the lock on DIR"). Once locked,
 * the path must still name the locked directory (a detach may have removed
 * it while we waited, an attach created another): else retry, or
 * "not attached" when it is gone.
 * Returns the locked fd or a negative error with its message
 * ("chlb is not attached (no DIR); try 'chlb attach DEV'" for -ENOENT).
 */
int pindir_lock(const char *dir, bool write, struct chlb_err *e);

/*
 * Turn the lock held on fd (from pindir_lock) shared <-> exclusive, with
 * the same bounded wait. flock() converts by unlocking first, so another
 * process may run in between (a detach may even remove the directory):
 * -ESTALE when dir no longer names the locked directory. On an error the
 * caller closes fd (it may hold no lock, or one on a removed directory).
 */
int pindir_relock(int fd, const char *dir, bool write, struct chlb_err *e);

/*
 * For attach: create the directory (mode 0700) unless it exists, then
 * lock it exclusively as pindir_lock() does, creating it again if a detach
 * removed it meanwhile. *created: this call made the directory.
 */
int pindir_create_lock(const char *dir, bool *created, struct chlb_err *e);

/* Inode of this process's network namespace (/proc/self/ns/net); 0 if unknown. */
__u32 pindir_netns_ino(void);

/*
 * Whether network namespace ino still exists, as far as we can see: a name
 * under /run/netns or a process in it (a namespace kept only by an open fd
 * is missed).
 */
bool pindir_netns_exists(__u32 ino);

/*
 * Refuse to act from a network namespace other than the one the instance
 * was attached in: ifindexes and neighbours would be another namespace's.
 * The message says how to enter it (nsenter --net=PATH), or that it is
 * gone. A config without a namespace (netns_ino 0) is accepted.
 */
int pindir_check_netns(const struct chlb_config *cfg, struct chlb_err *e);

#endif /* CHLB_CORE_PINDIR_H */
