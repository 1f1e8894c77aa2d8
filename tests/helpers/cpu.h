/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pinning the calling thread to a CPU. BPF_PROG_TEST_RUN runs a program
 * on the caller's CPU, so tests that read per-CPU state (a rate-limit
 * bucket, a cache entry) and benches that must not migrate mid-run pin
 * themselves first.
 */
#ifndef CHLB_TEST_CPU_H
#define CHLB_TEST_CPU_H

/* Run on cpu from now on; 0 or -errno. */
int cpu_pin(int cpu);
/* Stay on the CPU this thread is on now; 0 or -errno. */
int cpu_pin_here(void);

#endif /* CHLB_TEST_CPU_H */
