// SPDX-License-Identifier: GPL-2.0
/*
 * The CLI's value parsers and argument splitter: every accepted form gives
 * the exact bytes the data plane matches on, every rejected one an error
 * with a message naming the value.
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <CUnit/Basic.h>

#include "cli/cli.h"
#include "core/parse.h"
#include "helpers/cu_main.h"

static void test_vip_ok(void)
{
	struct chlb_vip_key k;
	char buf[CLI_VIP_STRLEN];

	cli_clear_err();
	CU_ASSERT_EQUAL_FATAL(parse_vip("10.0.0.100:80/tcp", &k, CLI_E), 0);
	CU_ASSERT_EQUAL(k.family, CHLB_FAMILY_INET);
	CU_ASSERT_EQUAL(k.proto, IPPROTO_TCP);
	CU_ASSERT_EQUAL(k.port, htons(80));
	CU_ASSERT_EQUAL(k.addr[10], 0xff);
	CU_ASSERT_EQUAL(k.addr[11], 0xff);
	CU_ASSERT_EQUAL(k.addr[12], 10);
	CU_ASSERT_EQUAL(k.addr[15], 100);
	format_vip(&k, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "10.0.0.100:80/tcp");

	CU_ASSERT_EQUAL_FATAL(parse_vip("[2001:DB8::1]:65535/udp", &k, CLI_E), 0);
	CU_ASSERT_EQUAL(k.family, CHLB_FAMILY_INET6);
	CU_ASSERT_EQUAL(k.proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(k.port, htons(65535));
	CU_ASSERT_EQUAL(k.addr[0], 0x20);
	CU_ASSERT_EQUAL(k.addr[15], 1);
	format_vip(&k, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "[2001:db8::1]:65535/udp");
	CU_ASSERT_PTR_NULL(cli_errmsg());
}

/* Each bad VIP is rejected with a message that quotes what was wrong. */
static void test_vip_bad(void)
{
	static const struct {
		const char *in, *quoted;
	} bad[] = {
		{ "10.0.0.256:80/tcp", "'10.0.0.256'" },  { "10.0.0.1:0/tcp", "'0'" },
		{ "10.0.0.1:65536/tcp", "'65536'" },	  { "10.0.0.1:80/sctp", "'sctp'" },
		{ "10.0.0.1:80/TCP", "'TCP'" },		  { "10.0.0.1:80", "'10.0.0.1:80'" },
		{ "10.0.0.1/tcp", "'10.0.0.1'" },	  { "2001:db8::1:80/tcp", "'2001:db8::1:80'" },
		{ "[10.0.0.1]:80/tcp", "'[10.0.0.1]:80'" }, { "[::1:80/tcp", "'[::1:80'" },
		{ "[::1]80/tcp", "'[::1]80'" },		  { "10.0.0.1:+80/tcp", "'+80'" },
		{ "10.0.0.1:-80/tcp", "'-80'" },	  { "10.0.0.1: 80/tcp", "' 80'" },
		{ "", "''" },				  { "/tcp", "''" },
		{ "10.0.0.1:80/tcp/udp", "'80/tcp'" },
	};
	struct chlb_vip_key k, before;
	size_t i;

	memset(&k, 0xa5, sizeof(k));
	before = k;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cli_clear_err();
		CU_ASSERT(parse_vip(bad[i].in, &k, CLI_E) < 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(cli_errmsg());
		if (!strstr(cli_errmsg(), bad[i].quoted))
			fprintf(stderr, "'%s': message '%s' does not quote %s\n", bad[i].in,
				cli_errmsg(), bad[i].quoted);
		CU_ASSERT_PTR_NOT_NULL(strstr(cli_errmsg(), bad[i].quoted));
	}
	CU_ASSERT(!memcmp(&k, &before, sizeof(k)));	/* untouched on error */
}

static void test_endpoint(void)
{
	struct chlb_addr a;
	__u16 port = 0;

	CU_ASSERT_EQUAL(parse_endpoint("192.0.2.1:1", &a, &port, CLI_E), 0);
	CU_ASSERT_EQUAL(port, 1);
	CU_ASSERT(chlb_addr_is_v4(&a));
	CU_ASSERT_EQUAL(parse_endpoint("[2001:db8::7]:40000", &a, &port, CLI_E), 0);
	CU_ASSERT_EQUAL(port, 40000);
	CU_ASSERT(!chlb_addr_is_v4(&a));
	CU_ASSERT(parse_endpoint("192.0.2.1", &a, &port, CLI_E) < 0);
	CU_ASSERT(parse_endpoint("192.0.2.1:", &a, &port, CLI_E) < 0);
	CU_ASSERT(parse_endpoint(":80", &a, &port, CLI_E) < 0);
}

static void test_mac(void)
{
	__u8 mac[6], want[6] = { 0x02, 0xab, 0xcd, 0xef, 0x01, 0x23 };
	char buf[CLI_MAC_STRLEN];
	static const char *const bad[] = {
		"02:ab:cd:ef:01",    "02:ab:cd:ef:01:23:45", "02-ab-cd-ef-01-23", "02:ab:cd:ef:01:2g",
		"2:ab:cd:ef:01:23",  "02:ab:cd:ef:01:23 ",	  "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01",
		"00:00:00:00:00:00", "",		  "02:ab:cd:ef:1:023",
	};
	size_t i;

	CU_ASSERT_EQUAL_FATAL(parse_mac("02:AB:cd:EF:01:23", mac, CLI_E), 0);
	CU_ASSERT(!memcmp(mac, want, 6));
	format_mac(mac, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "02:ab:cd:ef:01:23");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cli_clear_err();
		CU_ASSERT(parse_mac(bad[i], mac, CLI_E) < 0);
		CU_ASSERT_PTR_NOT_NULL(cli_errmsg());
	}
}

static void test_numbers(void)
{
	unsigned int w = 0;
	__u32 v = 0;
	__u64 seed = 0;

	CU_ASSERT(parse_weight("1", &w, CLI_E) == 0 && w == 1);
	CU_ASSERT(parse_weight("256", &w, CLI_E) == 0 && w == 256);
	CU_ASSERT(parse_weight("0", &w, CLI_E) < 0);
	CU_ASSERT(parse_weight("257", &w, CLI_E) < 0);
	CU_ASSERT(parse_weight("01", &w, CLI_E) < 0);
	CU_ASSERT(parse_weight("-1", &w, CLI_E) < 0);
	CU_ASSERT(parse_weight("1.5", &w, CLI_E) < 0);
	CU_ASSERT(parse_weight("", &w, CLI_E) < 0);
	CU_ASSERT(parse_weight("99999999999999999999999", &w, CLI_E) < 0);
	CU_ASSERT(parse_u32("x", "16777216", 1, 1 << 24, &v, CLI_E) == 0 && v == 1 << 24);
	CU_ASSERT(parse_u32("x", "16777217", 1, 1 << 24, &v, CLI_E) < 0);
	CU_ASSERT(parse_seed("0xDEADbeef", &seed, CLI_E) == 0 && seed == 0xdeadbeef);
	CU_ASSERT(parse_seed("ffffffffffffffff", &seed, CLI_E) == 0 && seed == ~0ULL);
	CU_ASSERT(parse_seed("1ffffffffffffffff", &seed, CLI_E) < 0);
	CU_ASSERT(parse_seed("0x", &seed, CLI_E) < 0);
	CU_ASSERT(parse_seed("12g", &seed, CLI_E) < 0);
}

static void test_args(void)
{
	struct cli_opt o[] = { CLI_OPT("--weight", CLI_ARG_REQ), CLI_OPT("--drain", CLI_ARG_NONE),
			       CLI_OPT("--watch", CLI_ARG_OPT_NUM), {} };
	static const char *const names[] = { "VIP", "ADDR" };
	char *a1[] = { "V", "--weight", "3", "A", "--drain" };
	char *a2[] = { "V", "--watch", "A" };
	char *a3[] = { "V" };
	char *a4[] = { "V", "A", "B" };
	char *a5[] = { "V", "A", "--help" };
	const char *pos[2];
	int n = 0, i;

	CU_ASSERT_EQUAL(cli_args(5, a1, o, pos, 2, 2, names, &n), 0);
	CU_ASSERT(n == 2 && !strcmp(pos[0], "V") && !strcmp(pos[1], "A"));
	CU_ASSERT(o[0].set && !strcmp(o[0].val, "3") && o[1].set && !o[2].set);
	for (i = 0; i < 3; i++)
		o[i].set = false, o[i].val = NULL;
	/* --watch takes a value only when it is a number. */
	CU_ASSERT_EQUAL(cli_args(3, a2, o, pos, 1, 2, names, &n), 0);
	CU_ASSERT(n == 2 && o[2].set && !o[2].val);
	cli_clear_err();
	CU_ASSERT_EQUAL(cli_args(1, a3, o, pos, 2, 2, names, &n), -EINVAL);
	CU_ASSERT_STRING_EQUAL(cli_errmsg(), "missing ADDR");
	cli_clear_err();
	CU_ASSERT_EQUAL(cli_args(3, a4, o, pos, 2, 2, names, &n), -EINVAL);
	CU_ASSERT_STRING_EQUAL(cli_errmsg(), "unexpected argument 'B'");
	CU_ASSERT_EQUAL(cli_args(3, a5, o, pos, 2, 2, names, &n), CLI_HELP);
}

int main(void)
{
	static CU_TestInfo tests[] = {
		{ "VIPs accepted, exact key bytes", test_vip_ok },
		{ "bad VIPs rejected, value quoted", test_vip_bad },
		{ "client endpoints", test_endpoint },
		{ "MACs", test_mac },
		{ "weights, sizes, seeds", test_numbers },
		{ "argument splitting", test_args },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("cli_parse", NULL, NULL, tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
