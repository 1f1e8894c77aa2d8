/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which addresses may be a VIP or a backend, and which MACs a backend's
 * frames may be sent to. parse_addr() only says that text is an address;
 * these say whether forwarding to or from it makes sense, so that a typo
 * like 10.0.0.255 or 224.0.0.1 is refused instead of flooding the segment.
 *
 * Every function returns 0 or a negative errno with a message naming the
 * value and the reason recorded in e (e may be NULL).
 */
#ifndef CHLB_CORE_ADDRCHECK_H
#define CHLB_CORE_ADDRCHECK_H

#include <stdbool.h>
#include <linux/types.h>
#include <chlb/chlb.h>
#include "err.h"

/*
 * A VIP's address. Refused, with err_usage(e, -EINVAL, ...):
 *   unspecified   0.0.0.0, ::
 *   broadcast     255.255.255.255
 *   multicast     224.0.0.0/4, ff00::/8
 *   loopback      127.0.0.0/8, ::1
 *   link-local    169.254.0.0/16, fe80::/10
 *   a key whose family field does not match its address bytes
 *   an address of an interface of this host in the caller's network
 *     namespace (getifaddrs): the VIP would take the host's own traffic
 *     to that port (e.g. SSH to the LB) and send it to the backends.
 * -errno with err_fail() when the host's addresses cannot be listed.
 */
int addrcheck_vip(const struct chlb_vip_key *key, struct chlb_err *e);

/*
 * A backend's address for vip forwarded by method (enum chlb_method).
 * Refused with err_usage(e, -EINVAL, ...), both methods: unspecified,
 * broadcast, multicast, loopback as for VIPs, any IPv4 address in
 * 0.0.0.0/8.
 *   dsr: a family other than the VIP's (DSR sends the client's packet
 *     unchanged, so the backend must own the VIP's family). Link-local
 *     backends are allowed: DSR backends are on the LB's link, and the
 *     address is only used to find their MAC.
 *   ipip: link-local addresses (the outer packet is routed), an IPv4
 *     backend for an IPv6 VIP (IPv6 in IPv4 is not built), and an address
 *     of this host (the encapsulated frame would come back to the LB).
 *     The backend need not be on the LB's segment. Whether the instance has
 *     an outer source for the backend's family is the caller's check.
 * -errno with err_fail() when the host's addresses cannot be listed.
 */
int addrcheck_backend(const struct chlb_addr *addr, const struct chlb_vip_key *vip,
		      __u32 method, struct chlb_err *e);

/*
 * An outer source address of method ipip (attach --encap-src), or its
 * range's first address: refused as for VIPs and backends together
 * (unspecified, 0.0.0.0/8, broadcast, multicast, loopback, link-local):
 * routers drop packets from them, or the backend cannot answer them.
 * text: the value as given, named in the message (e may be NULL).
 */
int addrcheck_encap_src(const char *text, const struct chlb_addr *addr, struct chlb_err *e);

/* An AF_INET or AF_INET6 socket address as a chlb address; false for others. */
struct sockaddr;
bool addr_of_sockaddr(const struct sockaddr *sa, struct chlb_addr *a);

/*
 * A MAC usable as a unicast destination: the I/G bit clear (not multicast,
 * not broadcast) and not all zero. what is a noun phrase naming where the
 * MAC came from; the message reads "<what> is <mac>, ...", e.g.
 * "the neighbour table's MAC for 10.0.0.5 is 01:00:5e:00:00:01, a multicast
 * MAC ...". Refused with err_usage(e, -EINVAL, ...).
 */
int addrcheck_mac(const __u8 mac[6], const char *what, struct chlb_err *e);

#endif /* CHLB_CORE_ADDRCHECK_H */
