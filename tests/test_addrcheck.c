// SPDX-License-Identifier: GPL-2.0
/*
 * Address policy: every refused class of VIP and backend address with a
 * message naming the value and the reason, the addresses next to each
 * refused range accepted, the one spelling of IPv4, MACs, and, inside a
 * network namespace of the test's own, a VIP equal to one of the host's
 * addresses and neighbour entries holding group or zero MACs.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <CUnit/Basic.h>

#include "core/addrcheck.h"
#include "core/parse.h"
#include "net/neigh.h"
#include "helpers/cu_main.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The message must contain want; say which case failed when it does not. */
static void expect_msg(const char *in, const struct chlb_err *e, const char *want)
{
	if (!want)
		return;
	if (!strstr(e->msg, want))
		fprintf(stderr, "'%s': message '%s' lacks '%s'\n", in, e->msg, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(e->msg, want));
}

/* addrcheck_vip on a VIP given as text: 0, or the error with msg checked. */
static int check_vip(const char *text, const char *want1, const char *want2)
{
	struct chlb_err e = {};
	struct chlb_vip_key k;
	int err;

	CU_ASSERT_EQUAL_FATAL(parse_vip(text, &k, &e), 0);
	err = addrcheck_vip(&k, &e);
	if (err) {
		CU_ASSERT_EQUAL(e.kind, CHLB_EK_USAGE);
		expect_msg(text, &e, want1);
		expect_msg(text, &e, want2);
	} else if (want1) {
		fprintf(stderr, "VIP '%s' accepted, expected '%s'\n", text, want1);
	}
	return err;
}

static void test_vip_refused(void)
{
	static const struct {
		const char *vip, *addr, *why;
	} bad[] = {
		{ "0.0.0.0:80/tcp", "0.0.0.0", "unspecified" },
		{ "[::]:80/tcp", "::", "unspecified" },
		{ "255.255.255.255:80/udp", "255.255.255.255", "broadcast" },
		{ "224.0.0.1:80/tcp", "224.0.0.1", "multicast address (224.0.0.0/4)" },
		{ "239.255.255.250:1900/udp", "239.255.255.250", "multicast" },
		{ "[ff02::1]:80/tcp", "ff02::1", "multicast address (ff00::/8)" },
		{ "[ff0e::1:3]:53/udp", "ff0e::1:3", "multicast" },
		{ "127.0.0.1:80/tcp", "127.0.0.1", "loopback address (127.0.0.0/8)" },
		{ "127.255.255.254:80/tcp", "127.255.255.254", "loopback" },
		{ "[::1]:80/tcp", "::1", "loopback" },
		{ "169.254.0.1:80/tcp", "169.254.0.1", "link-local address (169.254.0.0/16)" },
		{ "169.254.255.255:80/tcp", "169.254.255.255", "link-local" },
		{ "[fe80::1]:80/tcp", "fe80::1", "link-local address (fe80::/10)" },
		{ "[febf:ffff::1]:80/tcp", "febf:ffff::1", "link-local" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		CU_ASSERT_EQUAL(check_vip(bad[i].vip, bad[i].why, bad[i].vip), -EINVAL);
		check_vip(bad[i].vip, bad[i].addr, NULL);
	}
}

/* A key whose family byte disagrees with its address is corrupt, not a VIP. */
static void test_vip_family_field(void)
{
	struct chlb_err e = {};
	struct chlb_vip_key k;

	CU_ASSERT_EQUAL_FATAL(parse_vip("192.0.2.1:80/tcp", &k, &e), 0);
	k.family = CHLB_FAMILY_INET6;
	CU_ASSERT_EQUAL(addrcheck_vip(&k, &e), -EINVAL);
	expect_msg("family 6", &e, "192.0.2.1 is IPv4");
}

/* addrcheck_backend on text for a VIP's text, forwarded by method. */
static int check_backend_m(const char *addr, const char *vip, __u32 method, const char *want)
{
	struct chlb_err e = {};
	struct chlb_vip_key k;
	struct chlb_addr a;
	int err;

	CU_ASSERT_EQUAL_FATAL(parse_vip(vip, &k, &e), 0);
	CU_ASSERT_EQUAL_FATAL(parse_addr("backend address", addr, &a, &e), 0);
	err = addrcheck_backend(&a, &k, method, &e);
	if (err) {
		CU_ASSERT_EQUAL(e.kind, CHLB_EK_USAGE);
		expect_msg(addr, &e, addr);
		expect_msg(addr, &e, want);
	} else if (want) {
		fprintf(stderr, "backend '%s' (%s) accepted, expected '%s'\n", addr,
			method_name(method), want);
	}
	return err;
}

static int check_backend(const char *addr, const char *vip, const char *want)
{
	return check_backend_m(addr, vip, CHLB_METHOD_DSR, want);
}

static void test_backend_refused(void)
{
	static const struct {
		const char *addr, *vip, *why;
	} bad[] = {
		{ "0.0.0.0", "10.0.0.1:80/tcp", "unspecified" },
		{ "0.1.2.3", "10.0.0.1:80/tcp", "0.0.0.0/8" },
		{ "0.255.255.255", "10.0.0.1:80/tcp", "0.0.0.0/8" },
		{ "255.255.255.255", "10.0.0.1:80/tcp", "broadcast" },
		{ "224.0.0.5", "10.0.0.1:80/tcp", "multicast" },
		{ "239.1.1.1", "10.0.0.1:80/tcp", "multicast" },
		{ "127.0.0.1", "10.0.0.1:80/tcp", "loopback" },
		{ "::", "[2001:db8::1]:80/tcp", "unspecified" },
		{ "ff02::1:ff00:5", "[2001:db8::1]:80/tcp", "multicast" },
		{ "::1", "[2001:db8::1]:80/tcp", "loopback" },
		/* DSR: the backend must own the VIP's family. */
		{ "2001:db8::5", "10.0.0.1:80/tcp", "an IPv6 backend for an IPv4 VIP; DSR" },
		{ "10.0.0.5", "[2001:db8::1]:80/tcp", "an IPv4 backend for an IPv6 VIP; DSR" },
		{ "fe80::5", "10.0.0.1:80/tcp", "'10.0.0.1:80/tcp'" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CU_ASSERT_EQUAL(check_backend(bad[i].addr, bad[i].vip, bad[i].why), -EINVAL);
}

/*
 * ipip: the same classes refused, link-local too (the outer packet is
 * routed), IPv4 backends of IPv6 VIPs (6in4 is not built); IPv6 backends
 * of IPv4 VIPs are fine (4in6).
 */
static void test_backend_ipip_refused(void)
{
	static const struct {
		const char *addr, *vip, *why;
	} bad[] = {
		{ "0.0.0.0", "10.0.0.1:80/tcp", "unspecified" },
		{ "0.1.2.3", "10.0.0.1:80/tcp", "0.0.0.0/8" },
		{ "255.255.255.255", "10.0.0.1:80/tcp", "broadcast" },
		{ "224.0.0.5", "10.0.0.1:80/tcp", "multicast" },
		{ "127.0.0.1", "10.0.0.1:80/tcp", "loopback" },
		{ "169.254.1.1", "10.0.0.1:80/tcp", "link-local address (169.254.0.0/16)" },
		{ "::", "[2001:db8::1]:80/tcp", "unspecified" },
		{ "::", "10.0.0.1:80/tcp", "unspecified" },
		{ "ff02::1:ff00:5", "10.0.0.1:80/tcp", "multicast" },
		{ "::1", "[2001:db8::1]:80/tcp", "loopback" },
		{ "fe80::5", "[2001:db8::1]:80/tcp", "link-local address (fe80::/10)" },
		{ "fe80::5", "10.0.0.1:80/tcp", "for ipip" },
		{ "10.0.0.5", "[2001:db8::1]:80/tcp",
		  "an IPv4 backend for an IPv6 VIP (IPv6 in IPv4) is not supported by ipip" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CU_ASSERT_EQUAL(check_backend_m(bad[i].addr, bad[i].vip, CHLB_METHOD_IPIP,
						bad[i].why), -EINVAL);
}

/* The addresses just outside each refused range, and link-local backends. */
static void test_backend_ok(void)
{
	static const struct {
		const char *addr, *vip;
	} good[] = {
		{ "1.0.0.0", "10.0.0.1:80/tcp" },	    { "10.0.0.5", "10.0.0.1:80/tcp" },
		{ "126.255.255.255", "10.0.0.1:80/tcp" }, { "128.0.0.0", "10.0.0.1:80/tcp" },
		{ "223.255.255.255", "10.0.0.1:80/tcp" }, { "240.0.0.1", "10.0.0.1:80/tcp" },
		{ "169.254.7.7", "10.0.0.1:80/tcp" },	    { "10.0.0.255", "10.0.0.1:80/tcp" },
		{ "2001:db8::5", "[2001:db8::1]:80/tcp" }, { "fe80::5", "[2001:db8::1]:80/udp" },
		{ "::2", "[2001:db8::1]:80/tcp" },	    { "fe00::1", "[2001:db8::1]:80/tcp" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++)
		CU_ASSERT_EQUAL(check_backend(good[i].addr, good[i].vip, NULL), 0);
}

static void test_mac(void)
{
	static const struct {
		__u8 mac[6];
		const char *text, *why;
	} cases[] = {
		{ { 0x02, 0, 0, 0, 0, 0x01 }, "02:00:00:00:00:01", NULL },
		{ { 0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc }, "00:1b:21:aa:bb:cc", NULL },
		{ { 0, 0, 0, 0, 0, 1 }, "00:00:00:00:00:01", NULL },
		{ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, "ff:ff:ff:ff:ff:ff", "a broadcast MAC" },
		{ { 0x01, 0x00, 0x5e, 0, 0, 0x01 }, "01:00:5e:00:00:01", "a multicast MAC" },
		{ { 0x33, 0x33, 0, 0, 0, 0x01 }, "33:33:00:00:00:01", "a multicast MAC" },
		{ { 0x03, 0, 0, 0, 0, 0 }, "03:00:00:00:00:00", "a multicast MAC" },
		{ { 0, 0, 0, 0, 0, 0 }, "00:00:00:00:00:00", "all-zero" },
	};
	const char *what = "the neighbour table's MAC for 10.0.0.5";
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct chlb_err e = {};
		int err = addrcheck_mac(cases[i].mac, what, &e);

		CU_ASSERT_EQUAL(err, cases[i].why ? -EINVAL : 0);
		if (!err)
			continue;
		expect_msg(cases[i].text, &e, "the neighbour table's MAC for 10.0.0.5 is ");
		expect_msg(cases[i].text, &e, cases[i].text);
		expect_msg(cases[i].text, &e, cases[i].why);
	}
}

/* IPv4 has one spelling: IPv6 text for a v4-mapped address is refused. */
static void test_mapped_spelling(void)
{
	static const char *const mapped[] = {
		"::ffff:10.0.0.1", "::FFFF:10.0.0.1", "::ffff:a00:1", "0:0:0:0:0:ffff:10.0.0.1",
	};
	struct chlb_addr a, before;
	struct chlb_vip_key k;
	struct chlb_err e = {};
	char want[128];
	size_t i;

	memset(&a, 0xa5, sizeof(a));
	before = a;
	for (i = 0; i < ARRAY_SIZE(mapped); i++) {
		err_clear(&e);
		CU_ASSERT_EQUAL(parse_addr("backend address", mapped[i], &a, &e), -EINVAL);
		snprintf(want, sizeof(want), "invalid backend address '%s': write IPv4 as 10.0.0.1",
			 mapped[i]);
		CU_ASSERT_STRING_EQUAL(e.msg, want);
		CU_ASSERT_EQUAL(e.kind, CHLB_EK_USAGE);
	}
	CU_ASSERT(!memcmp(&a, &before, sizeof(a)));	/* untouched on error */
	err_clear(&e);
	CU_ASSERT_EQUAL(parse_vip("[::ffff:192.0.2.1]:80/tcp", &k, &e), -EINVAL);
	expect_msg("VIP", &e, "write IPv4 as 192.0.2.1");
	/* Neighbours of the mapped prefix are IPv6 addresses, spelled as such. */
	CU_ASSERT_EQUAL(parse_addr("backend address", "::ffff:0:a00:1", &a, &e), 0);
	CU_ASSERT(!chlb_addr_is_v4(&a));
	CU_ASSERT_EQUAL(parse_addr("backend address", "::10.0.0.1", &a, &e), 0);
	CU_ASSERT(!chlb_addr_is_v4(&a));
	CU_ASSERT_EQUAL(parse_addr("backend address", "10.0.0.1", &a, &e), 0);
	CU_ASSERT(chlb_addr_is_v4(&a));
}

/* ---- inside a network namespace of our own -------------------------------- */

static int outer_ns = -1;	/* the namespace to return to */
static bool have_ns, have_lo, have_veth;

static bool sh(const char *cmd)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s >/dev/null 2>&1", cmd);
	return system(buf) == 0;
}

/*
 * lo holds 198.51.100.7 and 2001:db8:1::7; chlbt0 (a veth) holds
 * 192.0.2.10/24 with its broadcast, 2001:db8::10, and permanent
 * neighbours written by hand: 192.0.2.20 at a unicast MAC, 192.0.2.30 at
 * a multicast one, 192.0.2.40 at the zero MAC.
 */
static int netns_init(void)
{
	outer_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (outer_ns < 0 || unshare(CLONE_NEWNET)) {
		printf("\n  SKIPPED: own-address and neighbour cases: cannot create a network "
		       "namespace (%s)\n", strerror(errno));
		return 0;
	}
	have_ns = true;
	have_lo = sh("ip link set lo up") && sh("ip addr add 198.51.100.7/32 dev lo") &&
		  sh("ip -6 addr add 2001:db8:1::7/128 dev lo");
	have_veth = have_lo && sh("ip link add chlbt0 type veth peer name chlbt1") &&
		    sh("ip link set chlbt0 up") && sh("ip link set chlbt1 up") &&
		    sh("ip addr add 192.0.2.10/24 brd + dev chlbt0") &&
		    sh("ip -6 addr add 2001:db8::10/64 dev chlbt0 nodad") &&
		    sh("ip neigh add 192.0.2.20 lladdr 02:00:00:00:00:20 dev chlbt0 nud permanent") &&
		    sh("ip neigh add 192.0.2.30 lladdr 01:00:5e:01:02:03 dev chlbt0 nud permanent") &&
		    sh("ip neigh add 192.0.2.40 lladdr 00:00:00:00:00:00 dev chlbt0 nud permanent");
	if (!have_lo || !have_veth)
		printf("\n  SKIPPED: %s: 'ip' could not set up the namespace\n",
		       have_lo ? "veth cases" : "own-address and neighbour cases");
	return 0;
}

/* Back to the outer namespace; ours, and its veth, go with the last reference. */
static int netns_clean(void)
{
	int err = 0;

	if (have_ns && setns(outer_ns, CLONE_NEWNET))
		err = -1;
	if (outer_ns >= 0)
		close(outer_ns);
	return err;
}

/* Next to every refused range; none is an address of the test's namespace. */
static void test_vip_ok(void)
{
	static const char *const good[] = {
		"1.0.0.0:80/tcp",	  "10.0.0.100:80/tcp",	     "126.255.255.255:80/tcp",
		"128.0.0.0:80/tcp",	  "169.253.255.255:80/tcp",  "169.255.0.0:80/tcp",
		"223.255.255.255:80/tcp", "240.0.0.1:53/udp",	     "203.0.113.9:443/tcp",
		"[2001:db8::99]:80/tcp",  "[::2]:80/tcp",	     "[fe7f::1]:80/tcp",
		"[fec0::1]:80/tcp",	  "[fc00::1]:80/udp",	     "[feff::1]:80/tcp",
	};
	size_t i;

	if (!have_ns)
		printf("(in the host's namespace) ");
	for (i = 0; i < ARRAY_SIZE(good); i++)
		CU_ASSERT_EQUAL(check_vip(good[i], NULL, NULL), 0);
}

/* ipip backends anywhere routable, of either family for an IPv4 VIP. */
static void test_backend_ipip_ok(void)
{
	static const struct {
		const char *addr, *vip;
	} good[] = {
		{ "203.0.113.5", "10.0.0.1:80/tcp" },	{ "2001:db8:77::5", "10.0.0.1:80/tcp" },
		{ "1.0.0.0", "10.0.0.1:80/udp" },	{ "169.253.255.255", "10.0.0.1:80/tcp" },
		{ "2001:db8:77::5", "[2001:db8::1]:80/tcp" }, { "fec0::1", "[2001:db8::1]:80/tcp" },
		{ "::ffff:0:a00:1", "[2001:db8::1]:80/tcp" },
	};
	size_t i;

	if (!have_ns)
		printf("(in the host's namespace) ");
	for (i = 0; i < ARRAY_SIZE(good); i++)
		CU_ASSERT_EQUAL(check_backend_m(good[i].addr, good[i].vip, CHLB_METHOD_IPIP, NULL), 0);
}

/* An ipip backend at this host's own address: the frames would come back. */
static void test_backend_ipip_own(void)
{
	if (!have_lo) {
		printf("SKIPPED ");
		return;
	}
	CU_ASSERT_EQUAL(check_backend_m("198.51.100.7", "10.0.0.1:80/tcp", CHLB_METHOD_IPIP,
					"this host's own address (on lo)"), -EINVAL);
	CU_ASSERT_EQUAL(check_backend_m("2001:db8:1::7", "10.0.0.1:80/tcp", CHLB_METHOD_IPIP,
					"own address (on lo)"), -EINVAL);
	/* dsr leaves that to neighbour resolution, as before */
	CU_ASSERT_EQUAL(check_backend("198.51.100.7", "10.0.0.1:80/tcp", NULL), 0);
	if (have_veth)
		CU_ASSERT_EQUAL(check_backend_m("192.0.2.10", "10.0.0.1:80/tcp", CHLB_METHOD_IPIP,
						"own address (on chlbt0)"), -EINVAL);
}

static void test_own_address(void)
{
	static const struct {
		const char *vip, *ifname;	/* ifname NULL: not ours, accepted */
		bool veth;
	} cases[] = {
		{ "198.51.100.7:22/tcp", "lo", false },
		{ "[2001:db8:1::7]:22/tcp", "lo", false },
		{ "198.51.100.8:22/tcp", NULL, false },
		{ "[2001:db8:1::8]:22/tcp", NULL, false },
		{ "192.0.2.10:22/tcp", "chlbt0", true },
		{ "[2001:db8::10]:443/udp", "chlbt0", true },
		{ "192.0.2.11:22/tcp", NULL, true },
		{ "[2001:db8::11]:443/udp", NULL, true },
	};
	char on[32];
	size_t i;

	if (!have_lo) {
		printf("SKIPPED ");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		if (cases[i].veth && !have_veth)
			continue;
		if (!cases[i].ifname) {
			CU_ASSERT_EQUAL(check_vip(cases[i].vip, NULL, NULL), 0);
			continue;
		}
		snprintf(on, sizeof(on), "own address (on %s)", cases[i].ifname);
		CU_ASSERT_EQUAL(check_vip(cases[i].vip, on, cases[i].vip), -EINVAL);
		check_vip(cases[i].vip, strrchr(cases[i].vip, ':') + 1, NULL);
	}
}

/*
 * The kernel answers a broadcast or multicast address from the neighbour
 * table with a group MAC (192.0.2.255 is the subnet broadcast of chlbt0),
 * and hand-written entries may hold anything: neigh_resolve() refuses
 * group and zero MACs with -EBADMSG and hands the MAC back.
 */
static void test_neigh_group_macs(void)
{
	static const struct {
		const char *dev, *addr, *mac;
		int err;
	} cases[] = {
		{ "chlbt0", "192.0.2.255", "ff:ff:ff:ff:ff:ff", -EBADMSG },
		{ "chlbt0", "255.255.255.255", "ff:ff:ff:ff:ff:ff", -EBADMSG },
		{ "chlbt0", "224.0.0.5", "01:00:5e:00:00:05", -EBADMSG },
		{ "chlbt0", "ff02::1", "33:33:00:00:00:01", -EBADMSG },
		{ "chlbt0", "192.0.2.30", "01:00:5e:01:02:03", -EBADMSG },
		{ "chlbt0", "192.0.2.20", "02:00:00:00:00:20", 0 },
		{ "chlbt0", "192.0.2.40", "00:00:00:00:00:00", -EBADMSG },
	};
	char text[CLI_MAC_STRLEN], what[96];
	struct chlb_err e = {};
	struct chlb_addr a;
	__u8 mac[6];
	size_t i;
	int err;

	if (!have_veth) {
		printf("SKIPPED ");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		CU_ASSERT_EQUAL_FATAL(parse_addr("address", cases[i].addr, &a, &e), 0);
		memset(mac, 0xee, sizeof(mac));
		err = neigh_resolve(if_nametoindex(cases[i].dev), &a, 500, mac);
		format_mac(mac, text, sizeof(text));
		if (err != cases[i].err || strcmp(text, cases[i].mac))
			fprintf(stderr, "%s on %s: %d %s, expected %d %s\n", cases[i].addr,
				cases[i].dev, err, text, cases[i].err, cases[i].mac);
		CU_ASSERT_EQUAL(err, cases[i].err);
		CU_ASSERT_STRING_EQUAL(text, cases[i].mac);
		/* How the caller reports it. */
		snprintf(what, sizeof(what), "the neighbour table's MAC for %s", cases[i].addr);
		err_clear(&e);
		CU_ASSERT_EQUAL(addrcheck_mac(mac, what, &e), cases[i].err ? -EINVAL : 0);
	}
}

int main(void)
{
	static CU_TestInfo policy[] = {
		{ "VIPs: every refused class, value and reason named", test_vip_refused },
		{ "VIPs: family byte must match the address", test_vip_family_field },
		{ "backends: refused classes and family mismatch", test_backend_refused },
		{ "backends: neighbours of refused ranges accepted", test_backend_ok },
		{ "ipip backends: refused classes, link-local, 6in4", test_backend_ipip_refused },
		{ "MACs: unicast only", test_mac },
		{ "::ffff:a.b.c.d refused, write a.b.c.d", test_mapped_spelling },
		CU_TEST_INFO_NULL,
	};
	static CU_TestInfo host[] = {
		{ "VIPs: neighbours of refused ranges accepted", test_vip_ok },
		{ "VIPs: this host's own addresses refused", test_own_address },
		{ "ipip backends: routable, both families for IPv4 VIPs", test_backend_ipip_ok },
		{ "ipip backends: this host's own addresses refused", test_backend_ipip_own },
		{ "neighbour table: group and zero MACs refused", test_neigh_group_macs },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("addrcheck", NULL, NULL, policy),
		CU_SUITE("addrcheck in a network namespace", netns_init, netns_clean, host),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
