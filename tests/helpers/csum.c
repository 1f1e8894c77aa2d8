// SPDX-License-Identifier: GPL-2.0
/* The test side's own Internet checksum; see csum.h. */
#include "csum.h"

__u32 csum_add(__u32 sum, const void *p, size_t len)
{
	const __u8 *b = p;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (__u32)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (__u32)b[len - 1] << 8;
	return sum;
}

__u16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

void csum_fill(__u8 *p, size_t len, __u8 *csum, __u32 pseudo)
{
	put16(csum, 0);
	put16(csum, (__u16)~csum_fold(csum_add(pseudo, p, len)));
}

void csum_ip4(__u8 *ip)
{
	csum_fill(ip, (ip[0] & 0xf) * 4, ip + 10, 0);
}
