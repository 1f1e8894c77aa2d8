/* SPDX-License-Identifier: GPL-2.0 */
/* Removing the bpffs pin directories tests create (one per test process). */
#ifndef CHLB_TEST_PIN_DIR_H
#define CHLB_TEST_PIN_DIR_H

/* Unlink every pin in dir, then dir itself; missing dir is fine. */
void pin_dir_remove(const char *dir);

/*
 * Remove /sys/fs/bpf/<prefix><pid> directories left by earlier runs whose
 * process is gone (a crashed run never reached its clean-up).
 */
void pin_dir_remove_stale(const char *prefix);

#endif /* CHLB_TEST_PIN_DIR_H */
