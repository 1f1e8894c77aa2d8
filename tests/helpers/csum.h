/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Internet checksum (RFC 1071) and big-endian fields, byte by byte,
 * for the tests and benches that build frames or check the data plane's:
 * one computation of the test side's own, apart from bpf/, so that a
 * checksum bug there is not also in what its output is checked against.
 * Byte by byte because headers inside a frame buffer are not aligned.
 */
#ifndef CHLB_TEST_CSUM_H
#define CHLB_TEST_CSUM_H

#include <stddef.h>
#include <linux/types.h>

static inline void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void put32(__u8 *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static inline __u16 get16(const __u8 *p)
{
	return p[0] << 8 | p[1];
}

/* sum plus the big-endian 16-bit words of p[0..len), unfolded. */
__u32 csum_add(__u32 sum, const void *p, size_t len);
/* sum folded to 16 bits, not inverted: 0xffff when a checksum holds. */
__u16 csum_fold(__u32 sum);
/* The checksum field at csum (inside p[0..len)) so that pseudo + p sums right. */
void csum_fill(__u8 *p, size_t len, __u8 *csum, __u32 pseudo);
/* An IPv4 header's checksum field, over the length its IHL says. */
void csum_ip4(__u8 *ip);

#endif /* CHLB_TEST_CSUM_H */
