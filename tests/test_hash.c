// SPDX-License-Identifier: GPL-2.0
/*
 * The shared flow hash and slot mapping.
 *
 * Distribution: chi-square of hash -> slot counts against uniform. With B
 * bins the statistic follows chi-square with B - 1 degrees of freedom; we
 * accept it when it lies inside the central 1 - 2e-6 of that distribution
 * (each tail 1e-6, z = 4.753), computed with the Wilson-Hilferty cube-root
 * approximation. A good hash fails this once in 500,000 runs; the inputs are
 * fixed, so the verdict never changes between runs. Too-regular counts
 * (lower tail) fail too: they mean the hash is not random, e.g. a counter.
 */
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include <chlb/shared.h>
#include "helpers/cu_main.h"

#define SAMPLES	(1u << 16)
#define Z_TAIL	4.753

/* Newton's square root: the unit tests are not linked with libm. */
static double nsqrt(double x)
{
	double r = x > 1 ? x : 1;
	int i;

	for (i = 0; i < 60; i++)
		r = 0.5 * (r + x / r);
	return r;
}

static double chi2_quantile(double df, double z)
{
	double c = 2.0 / (9.0 * df), t = 1.0 - c + z * nsqrt(c);

	return df * t * t * t;
}

static void key_v4(struct chlb_flow_key *k, __u32 src, __u16 sport)
{
	memset(k, 0, sizeof(*k));
	chlb_addr_from_v4(k->src, __builtin_bswap32(src));
	chlb_addr_from_v4(k->dst, __builtin_bswap32(0x0a000064));
	k->sport = __builtin_bswap16(sport);
	k->dport = __builtin_bswap16(80);
	k->proto = 6;
	k->family = CHLB_FAMILY_INET;
}

static void key_v6(struct chlb_flow_key *k, __u32 low, __u16 sport)
{
	static const __u8 pfx[8] = { 0x20, 0x01, 0x0d, 0xb8 };

	memset(k, 0, sizeof(*k));
	memcpy(k->src, pfx, 8);
	k->src[12] = low >> 24;
	k->src[13] = low >> 16;
	k->src[14] = low >> 8;
	k->src[15] = low;
	memcpy(k->dst, pfx, 8);
	k->dst[15] = 1;
	k->sport = __builtin_bswap16(sport);
	k->dport = __builtin_bswap16(443);
	k->proto = 17;
	k->family = CHLB_FAMILY_INET6;
}

enum vary { SPORT_V4, ADDR_V4, SPORT_V6, ADDR_V6 };

static void make_key(struct chlb_flow_key *k, enum vary v, __u32 i)
{
	switch (v) {
	case SPORT_V4:
		key_v4(k, 0xc0a80001, (__u16)i);
		break;
	case ADDR_V4:
		key_v4(k, 0x0a000000 + i, 40000);
		break;
	case SPORT_V6:
		key_v6(k, 1, (__u16)i);
		break;
	case ADDR_V6:
		key_v6(k, i, 40000);
		break;
	}
}

static void chi2_case(enum vary v, __u32 bins, __u64 seed)
{
	struct chlb_flow_key k;
	double exp = (double)SAMPLES / bins, chi2 = 0, d, lo, hi;
	__u32 *cnt, i;

	cnt = calloc(bins, sizeof(*cnt));
	CU_ASSERT_PTR_NOT_NULL_FATAL(cnt);
	for (i = 0; i < SAMPLES; i++) {
		make_key(&k, v, i);
		cnt[chlb_hash_to_slot(chlb_flow_hash(&k, seed), bins)]++;
	}
	for (i = 0; i < bins; i++) {
		d = cnt[i] - exp;
		chi2 += d * d / exp;
	}
	lo = chi2_quantile(bins - 1, -Z_TAIL);
	hi = chi2_quantile(bins - 1, Z_TAIL);
	if (chi2 < lo || chi2 > hi)
		fprintf(stderr, "\nvary %d bins %u seed %llx: chi2 %.1f not in [%.1f, %.1f]\n",
			v, bins, (unsigned long long)seed, chi2, lo, hi);
	CU_ASSERT(chi2 >= lo && chi2 <= hi);
	free(cnt);
}

static void test_chi2(enum vary v)
{
	static const __u32 bins[] = { 256, 1000, 4093 };
	static const __u64 seeds[] = { 0, 1, 0x5eed5eed5eed5eedULL };
	size_t b, s;

	for (b = 0; b < 3; b++)
		for (s = 0; s < 3; s++)
			chi2_case(v, bins[b], seeds[s]);
}

static void test_chi2_sport_v4(void) { test_chi2(SPORT_V4); }
static void test_chi2_addr_v4(void) { test_chi2(ADDR_V4); }
static void test_chi2_sport_v6(void) { test_chi2(SPORT_V6); }
static void test_chi2_addr_v6(void) { test_chi2(ADDR_V6); }

/* Flipping any one input bit flips each output bit with probability 1/2. */
static void test_avalanche(void)
{
	struct chlb_flow_key k, k2;
	unsigned long flips = 0, trials = 0;
	unsigned int r = 1, i, bit;
	__u32 h;
	double mean;

	for (i = 0; i < 200; i++) {
		make_key(&k, i & 1 ? ADDR_V6 : SPORT_V4, (__u32)rand_r(&r));
		h = chlb_flow_hash(&k, 42);
		for (bit = 0; bit < 8 * 38; bit++) {	/* all but pad */
			k2 = k;
			((__u8 *)&k2)[bit / 8] ^= (__u8)(1u << (bit % 8));
			flips += __builtin_popcount(h ^ chlb_flow_hash(&k2, 42));
			trials++;
		}
	}
	mean = (double)flips / trials;
	/* 60,800 trials x 32 bits: sd of the mean about 0.01 */
	CU_ASSERT(mean > 15.9 && mean < 16.1);
	CU_ASSERT_NOT_EQUAL(chlb_flow_hash(&k, 1), chlb_flow_hash(&k, 2));
}

/* position(s) is slot s's first hash; position(s + 1) - 1 its last. */
static void check_slot(__u32 s, __u32 m)
{
	__u32 pos = chlb_slot_position(s, m);
	__u64 next = s + 1 == m ? 1ull << 32 : chlb_slot_position(s + 1, m);
	__u64 width = next - pos, floor_w = (1ull << 32) / m;

	CU_ASSERT_EQUAL(chlb_hash_to_slot(pos, m), s);
	CU_ASSERT_EQUAL(chlb_hash_to_slot((__u32)(next - 1), m), s);
	if (pos)
		CU_ASSERT_EQUAL(chlb_hash_to_slot(pos - 1, m), s - 1);
	/* no bias: every slot gets floor or ceil of 2^32 / m hashes */
	CU_ASSERT(width == floor_w || width == floor_w + 1);
}

static void test_slot_mapping(void)
{
	static const __u32 ms[] = { 1, 2, 3, 7, 1000, 4093, 65536, 65537,
				    1u << 20, 1000003, CHLB_MAX_TABLE_SIZE };
	unsigned int r = 3;
	__u32 s, h, m;
	size_t i;
	int j;

	for (i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		m = ms[i];
		CU_ASSERT_EQUAL(chlb_slot_position(0, m), 0);
		for (s = 0; s < m && s < 5000; s++)
			check_slot(s, m);
		for (s = m > 5000 ? m - 5000 : m; s < m; s++)
			check_slot(s, m);
		/* random hashes land in the slot whose range holds them */
		for (j = 0; j < 20000; j++) {
			h = (__u32)rand_r(&r) << 16 ^ (__u32)rand_r(&r);
			s = chlb_hash_to_slot(h, m);
			CU_ASSERT_FATAL(s < m);
			CU_ASSERT(chlb_slot_position(s, m) <= h);
			if (s + 1 < m)
				CU_ASSERT(h < chlb_slot_position(s + 1, m));
		}
	}
}

int main(void)
{
	static CU_TestInfo hash_tests[] = {
		{ "chi-square, sequential source ports, IPv4", test_chi2_sport_v4 },
		{ "chi-square, sequential addresses, IPv4", test_chi2_addr_v4 },
		{ "chi-square, sequential source ports, IPv6", test_chi2_sport_v6 },
		{ "chi-square, sequential addresses, IPv6", test_chi2_addr_v6 },
		{ "avalanche", test_avalanche },
		CU_TEST_INFO_NULL,
	};
	static CU_TestInfo slot_tests[] = {
		{ "hash_to_slot and slot_position agree", test_slot_mapping },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("flow_hash", NULL, NULL, hash_tests),
		CU_SUITE("slot_mapping", NULL, NULL, slot_tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
