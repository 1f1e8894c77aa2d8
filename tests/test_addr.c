// SPDX-License-Identifier: GPL-2.0
/* Address parsing, canonical formatting, error messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <chlb/chlb.h>
#include "helpers/cu_main.h"

struct bad_case {
	const char *text;
	int err;
};

static const struct bad_case bad[] = {
	{ "", -CHLB_ERR_ADDR_EMPTY },
	{ "10.0.0.256", -CHLB_ERR_ADDR_V4_OCTET },
	{ "1.2.3.1000", -CHLB_ERR_ADDR_V4_OCTET },
	{ "1.2.3", -CHLB_ERR_ADDR_V4_FORM },
	{ "010.0.0.1", -CHLB_ERR_ADDR_V4_FORM },
	{ "10.0.0.01", -CHLB_ERR_ADDR_V4_FORM },
	{ "1..2.3", -CHLB_ERR_ADDR_V4_FORM },
	{ "1.2.3.4.", -CHLB_ERR_ADDR_V4_FORM },
	{ "1.2.3.4.5", -CHLB_ERR_ADDR_V4_FORM },
	{ ".1.2.3", -CHLB_ERR_ADDR_V4_FORM },
	{ "::g", -CHLB_ERR_ADDR_V6 },
	{ ":::1", -CHLB_ERR_ADDR_V6 },
	{ "1::2::3", -CHLB_ERR_ADDR_V6 },
	{ "fe80::1%eth0", -CHLB_ERR_ADDR_V6 },
	{ "::ffff:010.0.0.1", -CHLB_ERR_ADDR_V6 },
	{ "10.0.0.1/24", -CHLB_ERR_ADDR_PREFIX },
	{ "2001:db8::/32", -CHLB_ERR_ADDR_PREFIX },
	{ "1234:5678:9abc:def0:1234:5678:9abc:def0:1234:5", -CHLB_ERR_ADDR_TOO_LONG },
	{ "abc", -CHLB_ERR_ADDR_SYNTAX },
	{ " 10.0.0.1", -CHLB_ERR_ADDR_SYNTAX },
	{ "10.0.0.1 ", -CHLB_ERR_ADDR_SYNTAX },
	{ "10.0.0.1a", -CHLB_ERR_ADDR_SYNTAX },
	{ "-1.0.0.0", -CHLB_ERR_ADDR_SYNTAX },
};

static void test_bad_inputs(void)
{
	struct chlb_addr a, before;
	size_t i;

	memset(&a, 0xa5, sizeof(a));
	before = a;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = chlb_addr_parse(bad[i].text, &a);

		if (err != bad[i].err)
			fprintf(stderr, "\n'%s': got %d, want %d\n", bad[i].text,
				err, bad[i].err);
		CU_ASSERT_EQUAL(err, bad[i].err);
		/* a rejected parse leaves the output alone */
		CU_ASSERT_EQUAL(memcmp(&a, &before, sizeof(a)), 0);
	}
}

static void test_very_long(void)
{
	struct chlb_addr a;
	char *s = malloc(4097);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memset(s, '1', 4096);
	s[4096] = 0;
	CU_ASSERT_EQUAL(chlb_addr_parse(s, &a), -CHLB_ERR_ADDR_TOO_LONG);
	free(s);
	CU_ASSERT_EQUAL(chlb_addr_parse(NULL, &a), -EINVAL);
}

/* The seven cases give seven different codes. */
static void test_distinct_codes(void)
{
	static const char *const cases[] = {
		"", "10.0.0.256", "1.2.3", "::g", "10.0.0.1/24",
		"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555", "x.y",
	};
	int codes[7];
	struct chlb_addr a;
	int i, j;

	for (i = 0; i < 7; i++) {
		codes[i] = chlb_addr_parse(cases[i], &a);
		CU_ASSERT(codes[i] < 0);
		for (j = 0; j < i; j++)
			CU_ASSERT_NOT_EQUAL(codes[i], codes[j]);
	}
}

static void expect_canon(const char *in, const char *want)
{
	char buf[CHLB_ADDR_STRLEN];
	struct chlb_addr a;

	CU_ASSERT_EQUAL_FATAL(chlb_addr_parse(in, &a), 0);
	CU_ASSERT_EQUAL_FATAL(chlb_addr_format(&a, buf, sizeof(buf)), 0);
	if (strcmp(buf, want))
		fprintf(stderr, "\n'%s' -> '%s', want '%s'\n", in, buf, want);
	CU_ASSERT_STRING_EQUAL(buf, want);
}

static void test_canonical(void)
{
	static const uint8_t v4[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 1 };
	struct chlb_addr a, b;

	expect_canon("10.0.0.1", "10.0.0.1");
	expect_canon("0.0.0.0", "0.0.0.0");
	expect_canon("255.255.255.255", "255.255.255.255");
	expect_canon("::ffff:10.0.0.1", "10.0.0.1");
	expect_canon("2001:DB8:0:0:0:0:0:1", "2001:db8::1");
	expect_canon("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
	expect_canon("::", "::");
	expect_canon("::1", "::1");
	CU_ASSERT_EQUAL(chlb_addr_parse("10.0.0.1", &a), 0);
	CU_ASSERT_EQUAL(memcmp(a.bytes, v4, 16), 0);
	CU_ASSERT(chlb_addr_is_v4(&a));
	CU_ASSERT_EQUAL(chlb_addr_parse("::ffff:10.0.0.1", &b), 0);
	CU_ASSERT_EQUAL(chlb_addr_cmp(&a, &b), 0);
	CU_ASSERT_EQUAL(chlb_addr_parse("::1", &b), 0);
	CU_ASSERT(!chlb_addr_is_v4(&b));
	CU_ASSERT(chlb_addr_cmp(&b, &a) < 0);
	CU_ASSERT(chlb_addr_format(&a, (char[4]){ 0 }, 4) < 0);
}

/* format(parse(x)) is stable and parse(format(a)) == a for any 16 bytes */
static void test_round_trip(void)
{
	char buf[CHLB_ADDR_STRLEN];
	struct chlb_addr a, b;
	unsigned int seed = 7;
	int i, j;

	for (i = 0; i < 5000; i++) {
		for (j = 0; j < 16; j++)
			a.bytes[j] = (uint8_t)rand_r(&seed);
		if (i % 3 == 0) /* IPv4-mapped */
			memcpy(a.bytes, (uint8_t[12]){ [10] = 0xff, 0xff }, 12);
		if (i % 5 == 0) /* zero runs exercise '::' */
			memset(a.bytes + (i % 7), 0, 6);
		CU_ASSERT_EQUAL_FATAL(chlb_addr_format(&a, buf, sizeof(buf)), 0);
		CU_ASSERT_EQUAL_FATAL(chlb_addr_parse(buf, &b), 0);
		CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
	}
}

static void test_strerror(void)
{
	const char *m, *prev[CHLB_ERR_MAX - CHLB_ERR_BASE];
	int e, k;

	for (e = CHLB_ERR_BASE + 1; e < CHLB_ERR_MAX; e++) {
		m = chlb_strerror(-e);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m);
		CU_ASSERT(strlen(m) > 5);
		CU_ASSERT_PTR_NULL(strchr(m, '\n'));
		CU_ASSERT_STRING_EQUAL(m, chlb_strerror(e));
		for (k = CHLB_ERR_BASE + 1; k < e; k++)
			CU_ASSERT(strcmp(m, prev[k - CHLB_ERR_BASE]) != 0);
		prev[e - CHLB_ERR_BASE] = m;
	}
	CU_ASSERT_STRING_EQUAL(chlb_strerror(-ENOMEM), "Cannot allocate memory");
	CU_ASSERT_STRING_EQUAL(chlb_strerror(-EEXIST), "File exists");
	CU_ASSERT_PTR_NOT_NULL(chlb_strerror(-CHLB_ERR_MAX));
	CU_ASSERT_PTR_NOT_NULL(chlb_strerror(-3999));
}

static void test_algo(void)
{
	enum chlb_algo al = 0;

	CU_ASSERT_EQUAL(chlb_algo_parse("ring", &al), 0);
	CU_ASSERT_EQUAL(al, CHLB_ALGO_RING);
	CU_ASSERT_STRING_EQUAL(chlb_algo_name(CHLB_ALGO_RING), "ring");
	CU_ASSERT_EQUAL(chlb_algo_parse("maglev", &al), -CHLB_ERR_ALGO);
	CU_ASSERT_PTR_NULL(chlb_algo_name((enum chlb_algo)42));
}

int main(void)
{
	static CU_TestInfo tests[] = {
		{ "bad inputs give their own codes", test_bad_inputs },
		{ "very long and NULL", test_very_long },
		{ "issue's cases are distinct", test_distinct_codes },
		{ "canonical formatting", test_canonical },
		{ "round trips", test_round_trip },
		{ "strerror", test_strerror },
		{ "algorithm names", test_algo },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("addr", NULL, NULL, tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
