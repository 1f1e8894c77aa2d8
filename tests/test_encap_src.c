// SPDX-License-Identifier: GPL-2.0
/*
 * The outer source ranges of method ipip (attach --encap-src): the exact
 * bytes each accepted form gives (IPv4-mapped, host bits zeroed, prefix in
 * the family's bits), every refused form's message naming the value, one
 * range per family, the interface's own addresses in a network namespace
 * of the test's own, the addresses lookup predicts, and an option listed
 * twice in a command's table given once, twice, not three times.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <CUnit/Basic.h>

#include "cli/cli.h"
#include "core/encap_src.h"
#include "core/lookup.h"
#include "core/parse.h"
#include "helpers/cu_main.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void test_parse_ok(void)
{
	static const struct {
		const char *in, *out;
		__u8 family, len;
		unsigned int count;
	} ok[] = {
		{ "172.16.0.0/16", "172.16.0.0/16", 4, 16, 65536 },
		{ "172.16.77.9/16", "172.16.0.0/16", 4, 16, 65536 },
		{ "10.1.2.255/24", "10.1.2.0/24", 4, 24, 256 },
		{ "10.1.2.3/31", "10.1.2.2/31", 4, 31, 2 },
		{ "198.51.100.7", "198.51.100.7/32", 4, 32, 1 },
		{ "198.51.100.7/32", "198.51.100.7/32", 4, 32, 1 },
		{ "2001:db8::1", "2001:db8::1/128", 6, 128, 1 },
		{ "2001:db8:ff::abcd/112", "2001:db8:ff::/112", 6, 112, 65536 },
		{ "2001:DB8::1:ff/120", "2001:db8::1:0/120", 6, 120, 256 },
		{ "100::/112", "100::/112", 6, 112, 65536 },
	};
	char buf[ENCAP_SRC_STRLEN];
	struct chlb_encap_src s;
	struct chlb_err e = {};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ok); i++) {
		memset(&s, 0xa5, sizeof(s));
		CU_ASSERT_EQUAL_FATAL(encap_src_parse(ok[i].in, &s, &e), 0);
		encap_src_format(&s, buf, sizeof(buf));
		if (strcmp(buf, ok[i].out))
			fprintf(stderr, "%s: %s, expected %s\n", ok[i].in, buf, ok[i].out);
		CU_ASSERT_STRING_EQUAL(buf, ok[i].out);
		CU_ASSERT_EQUAL(s.family, ok[i].family);
		CU_ASSERT_EQUAL(s.prefix_len, ok[i].len);
		CU_ASSERT(s.pad[0] == 0 && s.pad[1] == 0);
		CU_ASSERT_EQUAL(encap_src_count(&s), ok[i].count);
		if (s.family == CHLB_FAMILY_INET)	/* IPv4-mapped: ::ffff:a.b.c.d */
			CU_ASSERT(s.addr[10] == 0xff && s.addr[11] == 0xff && !s.addr[0] && !s.addr[9]);
	}
}

static void test_parse_refused(void)
{
	static const struct {
		const char *in, *why;
	} bad[] = {
		{ "10.0.0.0/8", "the prefix length must be 16 to 32 for IPv4" },
		{ "10.0.0.0/15", "16 to 32" },
		{ "10.0.0.0/33", "16 to 32" },
		{ "10.0.0.0/", "16 to 32" },
		{ "10.0.0.0/016", "16 to 32" },
		{ "10.0.0.0/-1", "16 to 32" },
		{ "2001:db8::/64", "112 to 128 for IPv6" },
		{ "2001:db8::/129", "112 to 128" },
		{ "foo", "invalid --encap-src address 'foo'" },
		{ "", "invalid --encap-src address ''" },
		{ "10.0.0.256/24", "'10.0.0.256'" },
		{ "::ffff:10.0.0.1", "write IPv4 as 10.0.0.1" },
		{ "0.0.0.0", "unspecified" },
		{ "0.0.0.5/16", "0.0.0.0/8" },
		{ "127.0.0.1", "loopback" },
		{ "224.0.0.1/24", "multicast" },
		{ "255.255.255.255", "broadcast" },
		{ "169.254.0.0/16", "link-local" },
		{ "::", "unspecified" },
		{ "::1", "loopback" },
		{ "::1/112", "loopback" },
		{ "fe80::1", "link-local" },
		{ "ff02::1/128", "multicast" },
	};
	struct chlb_encap_src s, before;
	size_t i;

	memset(&s, 0x5a, sizeof(s));
	before = s;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct chlb_err e = {};

		CU_ASSERT(encap_src_parse(bad[i].in, &s, &e) < 0);
		CU_ASSERT_EQUAL(e.kind, CHLB_EK_USAGE);
		if (!strstr(e.msg, bad[i].why))
			fprintf(stderr, "'%s': '%s' lacks '%s'\n", bad[i].in, e.msg, bad[i].why);
		CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, bad[i].why));
	}
	CU_ASSERT(!memcmp(&s, &before, sizeof(s)));	/* untouched on error */
}

static void test_one_per_family(void)
{
	struct chlb_encap_src src[2] = {};
	struct chlb_err e = {};

	CU_ASSERT_EQUAL(encap_src_add("2001:db8::/112", src, &e), 0);
	CU_ASSERT_EQUAL(encap_src_add("172.16.0.0/16", src, &e), 0);
	CU_ASSERT(src[0].family == CHLB_FAMILY_INET && src[1].family == CHLB_FAMILY_INET6);
	CU_ASSERT_EQUAL(encap_src_add("172.17.0.0/16", src, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "'172.17.0.0/16': a second IPv4 range "
					     "(172.16.0.0/16 given already)"));
	err_clear(&e);
	CU_ASSERT_EQUAL(encap_src_add("2001:db8::1", src, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "a second IPv6 range (2001:db8::/112"));
}

/* lookup's outer source: the range with the hash's low bits in its last word. */
static void test_outer_src(void)
{
	struct model m = {};
	struct chlb_err e = {};
	struct chlb_addr b4, b6, src;
	char buf[CHLB_ADDR_STRLEN];

	CU_ASSERT_EQUAL_FATAL(encap_src_add("172.16.0.0/16", m.cfg.encap, &e), 0);
	CU_ASSERT_EQUAL_FATAL(encap_src_add("2001:db8:ff::/120", m.cfg.encap, &e), 0);
	CU_ASSERT_EQUAL_FATAL(parse_addr("b", "203.0.113.5", &b4, &e), 0);
	CU_ASSERT_EQUAL_FATAL(parse_addr("b", "2001:db8:77::5", &b6, &e), 0);
	CU_ASSERT_EQUAL(lookup_outer_src(&m, b4.bytes, 0xdeadbeef, &src), 0);
	chlb_addr_format(&src, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "172.16.190.239");
	CU_ASSERT_EQUAL(lookup_outer_src(&m, b6.bytes, 0xdeadbeef, &src), 0);
	chlb_addr_format(&src, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2001:db8:ff::ef");
	memset(&m.cfg.encap[1], 0, sizeof(m.cfg.encap[1]));
	CU_ASSERT_EQUAL(lookup_outer_src(&m, b6.bytes, 1, &src), -ENOENT);
	/* a /32 is one address whatever the hash */
	memset(m.cfg.encap, 0, sizeof(m.cfg.encap));
	CU_ASSERT_EQUAL_FATAL(encap_src_add("198.51.100.7", m.cfg.encap, &e), 0);
	CU_ASSERT_EQUAL(lookup_outer_src(&m, b4.bytes, 0xffffffff, &src), 0);
	chlb_addr_format(&src, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "198.51.100.7");
}

static void test_repeated_option(void)
{
	struct cli_opt o[] = { CLI_OPT("--encap-src", CLI_ARG_REQ),
			       CLI_OPT("--encap-src", CLI_ARG_REQ), CLI_OPT("--seed", CLI_ARG_REQ),
			       {} };
	char *a2[] = { "--encap-src", "a", "--seed", "1", "--encap-src", "b" };
	char *a3[] = { "--encap-src", "a", "--encap-src", "b", "--encap-src", "c" };
	char *s2[] = { "--seed", "1", "--seed", "2" };
	int n;

	cli_clear_err();
	CU_ASSERT_EQUAL(cli_args(6, a2, o, NULL, 0, 0, NULL, &n), 0);
	CU_ASSERT(o[0].set && o[1].set && !strcmp(o[0].val, "a") && !strcmp(o[1].val, "b"));
	CU_ASSERT_STRING_EQUAL(o[2].val, "1");
	for (n = 0; n < 3; n++)
		o[n] = (struct cli_opt)CLI_OPT(o[n].name, CLI_ARG_REQ);
	CU_ASSERT_EQUAL(cli_args(6, a3, o, NULL, 0, 0, NULL, &n), -EINVAL);
	CU_ASSERT_STRING_EQUAL(cli_errmsg(), "option '--encap-src' given more than 2 times");
	cli_clear_err();
	for (n = 0; n < 3; n++)
		o[n] = (struct cli_opt)CLI_OPT(o[n].name, CLI_ARG_REQ);
	CU_ASSERT_EQUAL(cli_args(4, s2, o, NULL, 0, 0, NULL, &n), -EINVAL);
	CU_ASSERT_STRING_EQUAL(cli_errmsg(), "option '--seed' given twice");
	cli_clear_err();
}

/* ---- DEV's own addresses, in a network namespace of our own ---------------- */

static int outer_ns = -1;
static bool have_ns;

static bool sh(const char *cmd)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s >/dev/null 2>&1", cmd);
	return system(buf) == 0;
}

/*
 * chlbe0: link-local first (the kernel's fe80::), then 192.0.2.10 primary,
 * 192.0.2.11 secondary, 2001:db8::10. chlbe1: link-local addresses only.
 * chlbe2: none (a veth: no dummy module here).
 */
static int netns_init(void)
{
	outer_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (outer_ns < 0 || unshare(CLONE_NEWNET)) {
		printf("\n  SKIPPED: own addresses: cannot create a network namespace\n");
		return 0;
	}
	have_ns = sh("ip link add chlbe0 type veth peer name chlbe1") &&
		  sh("ip link add chlbe2 type veth peer name chlbe3") && sh("ip link set chlbe0 up") &&
		  sh("ip link set chlbe1 up") && sh("ip addr add 169.254.9.9/16 dev chlbe0") &&
		  sh("ip addr add 192.0.2.10/24 dev chlbe0") &&
		  sh("ip addr add 192.0.2.11/24 dev chlbe0") &&
		  sh("ip -6 addr add fe80::99/64 dev chlbe0 nodad") &&
		  sh("ip -6 addr add 2001:db8::10/64 dev chlbe0 nodad") &&
		  sh("ip -6 addr add fe80::98/64 dev chlbe1 nodad") &&
		  sh("ip addr add 169.254.1.1/16 dev chlbe1");
	if (!have_ns)
		printf("\n  SKIPPED: own addresses: 'ip' could not set up the namespace\n");
	return 0;
}

static int netns_clean(void)
{
	int err = 0;

	if (outer_ns >= 0 && setns(outer_ns, CLONE_NEWNET))
		err = -1;
	if (outer_ns >= 0)
		close(outer_ns);
	return err;
}

static void test_own(void)
{
	struct chlb_encap_src src[2] = {};
	struct chlb_err e = {};
	char a[ENCAP_SRC_STRLEN], b[ENCAP_SRC_STRLEN];

	if (!have_ns) {
		printf("SKIPPED ");
		return;
	}
	CU_ASSERT_EQUAL(encap_src_own("chlbe0", src, &e), 0);
	encap_src_format(&src[0], a, sizeof(a));
	encap_src_format(&src[1], b, sizeof(b));
	CU_ASSERT_STRING_EQUAL(a, "192.0.2.10/32");	/* not link-local, the primary */
	CU_ASSERT_STRING_EQUAL(b, "2001:db8::10/128");
	/* a family given keeps its range */
	memset(src, 0, sizeof(src));
	CU_ASSERT_EQUAL_FATAL(encap_src_add("172.16.0.0/16", src, &e), 0);
	CU_ASSERT_EQUAL(encap_src_own("chlbe0", src, &e), 0);
	encap_src_format(&src[0], a, sizeof(a));
	encap_src_format(&src[1], b, sizeof(b));
	CU_ASSERT_STRING_EQUAL(a, "172.16.0.0/16");
	CU_ASSERT_STRING_EQUAL(b, "2001:db8::10/128");
	/* link-local only, or nothing: no source */
	memset(src, 0, sizeof(src));
	CU_ASSERT_EQUAL(encap_src_own("chlbe1", src, &e), 0);
	CU_ASSERT(!src[0].family && !src[1].family);
	CU_ASSERT_EQUAL(encap_src_own("chlbe2", src, &e), 0);
	CU_ASSERT(!src[0].family && !src[1].family);
}

int main(void)
{
	static CU_TestInfo parse[] = {
		{ "ADDR[/LEN]: exact bytes, host bits zeroed", test_parse_ok },
		{ "refused values, each named", test_parse_refused },
		{ "one range per family", test_one_per_family },
		{ "lookup's outer source from the hash", test_outer_src },
		{ "an option listed twice may be given twice", test_repeated_option },
		CU_TEST_INFO_NULL,
	};
	static CU_TestInfo own[] = {
		{ "own: DEV's primary non-link-local address of each family", test_own },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("encap_src", NULL, NULL, parse),
		CU_SUITE("encap_src in a network namespace", netns_init, netns_clean, own),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
