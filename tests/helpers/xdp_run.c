// SPDX-License-Identifier: GPL-2.0
/* Running frames through an XDP program with BPF_PROG_TEST_RUN; see xdp_run.h. */
#include <errno.h>
#include <bpf/bpf.h>

#include "xdp_run.h"

int xdp_run(int prog_fd, const void *frame, __u32 len, struct xdp_result *res)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len,
		    .data_out = res->out, .data_size_out = sizeof(res->out), .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	res->verdict = o.retval;
	res->len = o.data_size_out;
	return 0;
}
