/* SPDX-License-Identifier: GPL-2.0 */
/* A backend's MAC from the kernel neighbour table (netlink, libmnl). */
#ifndef CHLB_NEIGH_H
#define CHLB_NEIGH_H

#include <linux/types.h>
#include <chlb/chlb.h>

/*
 * Look addr up on ifindex; if absent or incomplete, ask the kernel to
 * resolve it and poll for up to timeout_ms. -EHOSTUNREACH when it cannot.
 */
int neigh_resolve(int ifindex, const struct chlb_addr *addr, int timeout_ms, __u8 mac[6]);

#endif /* CHLB_NEIGH_H */
