/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Running frames through a loaded XDP program with BPF_PROG_TEST_RUN
 * (no attach, no pins), for data plane tests and benches.
 */
#ifndef CHLB_TEST_XDP_RUN_H
#define CHLB_TEST_XDP_RUN_H

#include <linux/types.h>

struct xdp_result {
	__u32 verdict;
	__u32 len;		/* bytes in out */
	__u8 out[1600];
};

/* Run one frame once; 0 or -errno (the kernel refuses frames < 14 bytes). */
int xdp_run(int prog_fd, const void *frame, __u32 len, struct xdp_result *res);

#endif /* CHLB_TEST_XDP_RUN_H */
