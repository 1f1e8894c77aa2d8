/* SPDX-License-Identifier: GPL-2.0 */
/* A backend's MAC from the kernel neighbour table (netlink, libmnl). */
#ifndef CHLB_NEIGH_H
#define CHLB_NEIGH_H

#include <linux/types.h>
#include <chlb/chlb.h>

/*
 * Look addr up on ifindex; if absent or incomplete, ask the kernel to
 * resolve it and poll for up to timeout_ms. Returns 0 with a unicast MAC
 * in mac, or:
 *   -EHOSTUNREACH  no valid entry within timeout_ms;
 *   -EBADMSG       the table holds a MAC that is no single host's:
 *                  multicast, broadcast (I/G bit set) or all zero, as the
 *                  kernel gives for a broadcast or multicast address
 *                  (e.g. a subnet's x.x.x.255) or a hand-written entry. mac
 *                  holds that MAC so the caller can name it, e.g. with
 *                  addrcheck_mac(mac, "the neighbour table's MAC for X", e);
 *   -errno         netlink failed.
 */
int neigh_resolve(int ifindex, const struct chlb_addr *addr, int timeout_ms, __u8 mac[6]);

#endif /* CHLB_NEIGH_H */
