/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the data plane's files (user/dataplane.c, user/dp_*.c). */
#ifndef CHLB_DP_INTERNAL_H
#define CHLB_DP_INTERNAL_H

#include <stddef.h>
#include "dataplane.h"

/* New, empty inner maps of the spec chlb_tables / chlb_vip_index expect. */
int dp_create_table(__u32 table_size);
int dp_create_vip_index(__u32 max_vips);
/* Copy n values of vsize bytes into (write) or out of a mappable array. */
int dp_map_copy(int fd, void *buf, __u32 n, size_t vsize, int write);

/* Open and check every pinned map of an instance (abi.c). */
int dp_abi_open(const char *pin_dir, struct chlb_dp *dp, char *why, size_t len);

#endif /* CHLB_DP_INTERNAL_H */
