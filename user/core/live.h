/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the data plane forwards by: a VIP's live table as the XDP program
 * reads it, and its checksum (build_checksum's, so equal on two hosts with
 * equal configuration). `chlb status` and the daemon's node record in etcd
 * (SPEC §12) report the same figure.
 */
#ifndef CHLB_CORE_LIVE_H
#define CHLB_CORE_LIVE_H

#include <stdint.h>
#include "inst.h"

/*
 * The live table of VIP vip_id into slots (table_size entries). A VIP
 * without one forwards nothing: every slot CHLB_NO_BACKEND.
 */
int live_table(struct inst *in, __u32 vip_id, __u32 *slots, struct chlb_err *e);
/* Its checksum; slots is scratch space of table_size entries. */
int live_checksum(struct inst *in, __u32 vip_id, __u32 *slots, uint64_t *sum, struct chlb_err *e);

#endif /* CHLB_CORE_LIVE_H */
