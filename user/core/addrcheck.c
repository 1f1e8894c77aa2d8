// SPDX-License-Identifier: GPL-2.0
/*
 * Address policy for VIPs and backends; see addrcheck.h. The refused
 * ranges are one table over the 16-byte form, where IPv4 is ::ffff:a.b.c.d,
 * so both families are matched by the same prefix test.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "addrcheck.h"
#include "parse.h"

enum { FOR_VIP = 1, FOR_BACKEND = 2, FOR_BOTH = FOR_VIP | FOR_BACKEND };

struct addr_range {
	__u8 prefix[CHLB_ADDR_LEN];
	__u8 bits;		/* prefix length over the 16 bytes */
	__u8 applies;		/* FOR_VIP, FOR_BACKEND */
	const char *why;	/* completes "ADDR is ..." */
};

#define V4(a, b, c, d) { [10] = 0xff, [11] = 0xff, [12] = a, [13] = b, [14] = c, [15] = d }
#define V4_BITS(n) (96 + (n))

/* First match wins, so exact addresses come before the ranges holding them. */
static const struct addr_range refused[] = {
	{ {}, 128, FOR_BOTH, "the unspecified address, which names no host" },
	{ V4(0, 0, 0, 0), V4_BITS(32), FOR_BOTH, "the unspecified address, which names no host" },
	{ V4(0, 0, 0, 0), V4_BITS(8), FOR_BACKEND,
	  "in 0.0.0.0/8 ('this network'), which is never a destination" },
	{ V4(255, 255, 255, 255), V4_BITS(32), FOR_BOTH,
	  "the limited broadcast address, which names every host on the link" },
	{ V4(224, 0, 0, 0), V4_BITS(4), FOR_BOTH,
	  "a multicast address (224.0.0.0/4), which names a group, not a host" },
	{ { 0xff }, 8, FOR_BOTH, "a multicast address (ff00::/8), which names a group, not a host" },
	{ V4(127, 0, 0, 0), V4_BITS(8), FOR_BOTH,
	  "a loopback address (127.0.0.0/8), which never arrives from the network" },
	{ { [15] = 1 }, 128, FOR_BOTH, "the loopback address, which never arrives from the network" },
	{ V4(169, 254, 0, 0), V4_BITS(16), FOR_VIP,
	  "a link-local address (169.254.0.0/16), which routers do not forward" },
	{ { 0xfe, 0x80 }, 10, FOR_VIP,
	  "a link-local address (fe80::/10), which routers do not forward" },
};

static bool prefix_match(const __u8 *a, const __u8 *p, unsigned int bits)
{
	unsigned int n = bits / 8, rest = bits % 8;

	if (memcmp(a, p, n))
		return false;
	return !rest || !((a[n] ^ p[n]) & (__u8)(0xff00 >> rest));
}

/* Why addr may not be used as `applies`, or NULL when it may. */
static const char *refused_why(const __u8 *addr, unsigned int applies)
{
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if ((refused[i].applies & applies) &&
		    prefix_match(addr, refused[i].prefix, refused[i].bits))
			return refused[i].why;
	return NULL;
}

bool addr_of_sockaddr(const struct sockaddr *sa, struct chlb_addr *a)
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		chlb_addr_from_v4(a->bytes, ((const struct sockaddr_in *)sa)->sin_addr.s_addr);
	else if (sa->sa_family == AF_INET6)
		memcpy(a->bytes, &((const struct sockaddr_in6 *)sa)->sin6_addr, CHLB_ADDR_LEN);
	else
		return false;
	return true;
}

static bool sockaddr_is(const struct sockaddr *sa, const __u8 *addr)
{
	struct chlb_addr a;

	return addr_of_sockaddr(sa, &a) && !memcmp(a.bytes, addr, CHLB_ADDR_LEN);
}

/*
 * 1 and the interface's name in ifname when an interface of this network
 * namespace holds addr, 0 when none does, or -errno.
 */
static int host_owns(const __u8 *addr, char ifname[IF_NAMESIZE])
{
	struct ifaddrs *ifs = NULL, *i;
	int found = 0;

	if (getifaddrs(&ifs))
		return -errno;
	for (i = ifs; i && !found; i = i->ifa_next) {
		if (sockaddr_is(i->ifa_addr, addr)) {
			snprintf(ifname, IF_NAMESIZE, "%s", i->ifa_name);
			found = 1;
		}
	}
	freeifaddrs(ifs);
	return found;
}

static bool family_is_v4(const __u8 *addr)
{
	struct chlb_addr a;

	memcpy(a.bytes, addr, CHLB_ADDR_LEN);
	return chlb_addr_is_v4(&a);
}

static const char *family_name(bool v4)
{
	return v4 ? "IPv4" : "IPv6";
}

int addrcheck_vip(const struct chlb_vip_key *key, struct chlb_err *e)
{
	char vip[CLI_VIP_STRLEN], addr[CHLB_ADDR_STRLEN], ifname[IF_NAMESIZE];
	bool v4 = family_is_v4(key->addr);
	const char *why;
	int owned;

	format_vip(key, vip, sizeof(vip));
	format_addr(key->addr, addr, sizeof(addr));
	if (key->family != (v4 ? CHLB_FAMILY_INET : CHLB_FAMILY_INET6))
		return err_usage(e, -EINVAL, "invalid VIP '%s': family %u, but %s is %s", vip,
				 key->family, addr, family_name(v4));
	why = refused_why(key->addr, FOR_VIP);
	if (why)
		return err_usage(e, -EINVAL, "invalid VIP '%s': %s is %s", vip, addr, why);
	owned = host_owns(key->addr, ifname);
	if (owned < 0)
		return err_fail(e, owned, "cannot list this host's addresses to check VIP '%s': %s",
				vip, strerror(-owned));
	if (owned)
		return err_usage(e, -EINVAL,
				 "invalid VIP '%s': %s is this host's own address (on %s); "
				 "the host's traffic to port %u/%s would go to the backends",
				 vip, addr, ifname, ntohs(key->port), proto_name(key->proto));
	return 0;
}

static int backend_dsr(const struct chlb_addr *addr, const struct chlb_vip_key *vip,
		       const char *text, struct chlb_err *e)
{
	char vtext[CLI_VIP_STRLEN];
	bool v4 = chlb_addr_is_v4(addr);

	if (v4 == family_is_v4(vip->addr))
		return 0;
	format_vip(vip, vtext, sizeof(vtext));
	return err_usage(e, -EINVAL,
			 "invalid backend address '%s' for VIP '%s': an %s backend for an "
			 "%s VIP; DSR sends the client's packet unchanged, so the backend "
			 "must own the VIP's family",
			 text, vtext, family_name(v4), family_name(!v4));
}

static int backend_ipip(const struct chlb_addr *addr, const struct chlb_vip_key *vip,
			const char *text, struct chlb_err *e)
{
	char vtext[CLI_VIP_STRLEN], ifname[IF_NAMESIZE];
	const char *why = refused_why(addr->bytes, FOR_VIP);
	int owned;

	if (why)	/* link-local: the outer packet is routed */
		return err_usage(e, -EINVAL, "invalid backend address '%s' for ipip: %s", text,
				 why);
	if (chlb_addr_is_v4(addr) && !family_is_v4(vip->addr)) {
		format_vip(vip, vtext, sizeof(vtext));
		return err_usage(e, -EINVAL,
				 "invalid backend address '%s' for VIP '%s': an IPv4 backend for "
				 "an IPv6 VIP (IPv6 in IPv4) is not supported by ipip; use IPv6 "
				 "backends", text, vtext);
	}
	owned = host_owns(addr->bytes, ifname);
	if (owned < 0)
		return err_fail(e, owned, "cannot list this host's addresses to check backend "
				"'%s': %s", text, strerror(-owned));
	if (owned)
		return err_usage(e, -EINVAL,
				 "invalid backend address '%s': this host's own address (on %s); "
				 "the encapsulated frames would come back to the load balancer",
				 text, ifname);
	return 0;
}

int addrcheck_backend(const struct chlb_addr *addr, const struct chlb_vip_key *vip,
		      __u32 method, struct chlb_err *e)
{
	char text[CHLB_ADDR_STRLEN];
	const char *why = refused_why(addr->bytes, FOR_BACKEND);

	format_addr(addr->bytes, text, sizeof(text));
	if (why)
		return err_usage(e, -EINVAL, "invalid backend address '%s': %s", text, why);
	if (method == CHLB_METHOD_IPIP)
		return backend_ipip(addr, vip, text, e);
	return backend_dsr(addr, vip, text, e);
}

int addrcheck_encap_src(const char *text, const struct chlb_addr *addr, struct chlb_err *e)
{
	const char *why = refused_why(addr->bytes, FOR_BOTH);
	char a[CHLB_ADDR_STRLEN];

	if (!why)
		return 0;
	format_addr(addr->bytes, a, sizeof(a));
	return err_usage(e, -EINVAL, "invalid --encap-src '%s': %s is %s", text ? text : a, a,
			 why);
}

int addrcheck_mac(const __u8 mac[6], const char *what, struct chlb_err *e)
{
	static const __u8 zero[6], bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	char text[CLI_MAC_STRLEN];

	format_mac(mac, text, sizeof(text));
	/* The I/G bit: set for group addresses, which switches flood. */
	if (mac[0] & 1)
		return err_usage(e, -EINVAL,
				 "%s is %s, a %s MAC, not one host's: the backend's flows would "
				 "be flooded to the segment",
				 what, text, memcmp(mac, bcast, 6) ? "multicast" : "broadcast");
	if (!memcmp(mac, zero, 6))
		return err_usage(e, -EINVAL, "%s is %s, the all-zero MAC, which no NIC owns", what,
				 text);
	return 0;
}
