/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A routed network for method ipip's tests and benches: bpf_fib_lookup()
 * needs routes and neighbours, so the calling process moves into a network
 * namespace of its own (it dies with the process: nothing to clean up)
 * and builds there two veth pairs with addresses, forwarding on, routes to
 * the backends' subnets via gateways with PERMANENT neighbour entries,
 * and the routes each forwarding outcome needs. Frames are then run with
 * BPF_PROG_TEST_RUN as if received on IPIP_IF0.
 *
 *   IPIP_IF0 (MAC ipip_if0_mac, the LB's): 192.0.2.1/24, 2001:db8:1::1/64
 *   IPIP_IF1 (MAC ipip_if1_mac):           198.51.100.1/24, 2001:db8:2::1/64
 *
 *   10.1/16, 2001:db8:b::/48  via IPIP_GW0 on IPIP_IF0       (XDP_TX)
 *   10.2/16, 2001:db8:c::/48  via IPIP_GW1 on IPIP_IF1       (redirect)
 *   10.3/16, 2001:db8:d::/48  via a gateway with no neighbour entry
 *   10.7/16                   via a gateway whose entry is INCOMPLETE
 *   10.8/16                   via a gateway whose entry is FAILED
 *   10.4/16, 2001:db8:e::/48  blackhole
 *   10.5/16                   unreachable
 *   10.6/16                   via IPIP_GW0, route MTU 1400
 *   2001:db8:f::/48           via IPIP_GW0, route MTU 1300
 *
 * The route MTUs are locked: the FIB lookup of a forwarded packet honours
 * a route's MTU only then (ip_mtu_from_fib_result, ip6_mtu_from_fib6),
 * else the interface's.
 *   10.9/16                   no route at all
 */
#ifndef CHLB_TEST_IPIP_NET_H
#define CHLB_TEST_IPIP_NET_H

#include <stddef.h>
#include <linux/types.h>
#include "xdp_run.h"

#define IPIP_IF0	"lb0"
#define IPIP_IF1	"lb1"
#define IPIP_MTU	1500	/* both interfaces' */
#define IPIP_MTU_ROUTE4	1400	/* 10.6/16 */
#define IPIP_MTU_ROUTE6	1300	/* 2001:db8:f::/48 */

extern const __u8 ipip_if0_mac[6];	/* the LB's interface */
extern const __u8 ipip_if1_mac[6];
extern const __u8 ipip_gw0_mac[6];	/* the gateways' (neighbour entries) */
extern const __u8 ipip_gw1_mac[6];

struct ipip_net {
	__u32 if0, if1;		/* ifindexes */
};

/*
 * Move this process into a new network namespace and build the network;
 * 0 or -errno, with why (len bytes) saying what failed. *skip is set when
 * the namespace itself could not be made (no privilege, no kernel
 * support): the caller reports SKIPPED instead of a failure.
 */
int ipip_net_setup(struct ipip_net *n, int *skip, char *why, size_t len);

/* Run frame once through prog as received on ifindex; 0 or -errno. */
int xdp_run_ingress(int prog_fd, __u32 ifindex, const void *frame, __u32 len,
		    struct xdp_result *res);

#endif /* CHLB_TEST_IPIP_NET_H */
