/* SPDX-License-Identifier: GPL-2.0 */
/*
 * From a model to data-plane tables: a VIP's ring built with the library,
 * its slot table as backend ids, and a checksum that names owners by
 * address, so equal configurations on two hosts have equal checksums
 * whatever ids their backends got.
 */
#ifndef CHLB_CORE_BUILD_H
#define CHLB_CORE_BUILD_H

#include "err.h"
#include "model.h"

/*
 * The VIP's ring, and ids[i] = the backend id of the ring's i-th backend
 * in chlb_ring__backends() order (canonical: by address). *ids is
 * malloc'ed (NULL when the VIP has no backends).
 */
int build_ring(const struct model *m, __u32 vip_id, struct chlb_ring **ring, __u32 **ids,
	       struct chlb_err *e);
/* The VIP's table, table_size backend ids or CHLB_NO_BACKEND. */
int build_table(const struct model *m, __u32 vip_id, __u32 *slots, struct chlb_err *e);
/* The checksum of a table of ids, naming owners by their address in m. */
__u64 build_checksum(const struct model *m, const __u32 *slots);

#endif /* CHLB_CORE_BUILD_H */
