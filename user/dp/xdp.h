/* SPDX-License-Identifier: GPL-2.0 */
/* Attaching the loaded program to an interface with libxdp, and back. */
#ifndef CHLB_XDP_H
#define CHLB_XDP_H

#include <linux/types.h>

struct bpf_object;

#define CHLB_PIN_PROG "prog"

enum cli_xdp_mode {
	CLI_XDP_NATIVE = 1,	/* chlb_config.xdp_mode values */
	CLI_XDP_SKB = 2,
};

const char *xdp_mode_name(__u32 mode);
/* Attach obj's XDP program and pin it as pin_dir/prog. */
int xdp_attach(struct bpf_object *obj, int ifindex, __u32 mode, const char *pin_dir);
/* Detach the program pinned as pin_dir/prog; gone already is fine. */
int xdp_detach(const char *pin_dir, int ifindex, __u32 mode);
/* Id of the pinned program, and whether it still runs on ifindex. */
int xdp_prog_id(const char *pin_dir, int ifindex, __u32 *id, int *attached);

#endif /* CHLB_XDP_H */
