/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Method ipip (SPEC §11): the frame is wrapped in an outer IPv4 or IPv6
 * header to the backend and leaves by the kernel's FIB. Placeholder until
 * the encapsulation lands: every ipip frame is dropped as DROP_ENCAP.
 */
#ifndef CHLB_BPF_ENCAP_H
#define CHLB_BPF_ENCAP_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "chlb/shared.h"
#include "parse.h"

static __always_inline int chlb_encap(struct xdp_md *ctx, const struct chlb_pkt *p,
				      const struct chlb_backend *be, __u32 h,
				      struct chlb_global_stats *gs, __u32 *ifindex)
{
	(void)ctx; (void)p; (void)be; (void)h; (void)gs; (void)ifindex;
	return CHLB_CNT_DROP_ENCAP;
}

#endif /* CHLB_BPF_ENCAP_H */
