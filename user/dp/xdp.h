/* SPDX-License-Identifier: GPL-2.0 */
/* Attaching the loaded program to an interface with libxdp, and back. */
#ifndef CHLB_XDP_H
#define CHLB_XDP_H

#include <linux/types.h>
#include "core/err.h"

struct bpf_object;

#define CHLB_PIN_PROG "prog"

enum cli_xdp_mode {
	CLI_XDP_NATIVE = 1,	/* chlb_config.xdp_mode values */
	CLI_XDP_SKB = 2,
};

const char *xdp_mode_name(__u32 mode);
/*
 * Pin obj's XDP program as pin_dir/prog, then attach it: a chlb program
 * that runs is always pinned, so a later detach finds it whatever happens
 * to this process. On failure nothing is left attached or pinned.
 */
int xdp_attach(struct bpf_object *obj, int ifindex, __u32 mode, const char *pin_dir,
	       struct chlb_err *e);
/*
 * Detach the program pinned as pin_dir/prog from wherever it runs in this
 * network namespace: ifindex first (the config's; 0 when unknown), then
 * every interface. Without that pin, or when it runs nowhere, a program
 * using the pinned chlb_gstats is ours as well (attached, never pinned).
 * *where: the ifindex it was detached from, 0 when none ran (fine too).
 * The pins stay.
 */
int xdp_detach(const char *pin_dir, int ifindex, int *where, struct chlb_err *e);
/* Id of the pinned program, and whether it still runs on ifindex. */
int xdp_prog_id(const char *pin_dir, int ifindex, __u32 *id, int *attached);

#endif /* CHLB_XDP_H */
