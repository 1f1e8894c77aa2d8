/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The model of an instance: its cluster parameters, VIPs and backends, as
 * recorded in the pinned maps (chlb_config, chlb_vips + chlb_vip_health,
 * chlb_backends). Everything else the data plane holds (slot tables, the
 * VIP index, the port filter) is derived from it and can be rebuilt.
 */
#ifndef CHLB_CORE_MODEL_H
#define CHLB_CORE_MODEL_H

#include <stdbool.h>
#include <chlb/chlb.h>
#include "dp/dataplane.h"

struct model_vip {
	struct chlb_vip_key key;
	struct chlb_vip_info info;
	struct chlb_health health;
};

struct model {
	struct chlb_config cfg;
	__u32 max_vips;
	__u32 max_backends;
	__u32 table_size;
	struct model_vip *vips;		/* nvips of max_vips, sorted by id */
	int nvips;
	struct chlb_backend *backends;	/* max_backends, indexed by id */
};

/* Read the model from an instance's maps (one batched read of backends). */
int model_read(struct chlb_dp *dp, struct model *m);
int model_copy(struct model *dst, const struct model *src);
void model_free(struct model *m);

struct model_vip *model_find_vip(const struct model *m, const struct chlb_vip_key *key);
struct model_vip *model_vip_by_id(const struct model *m, __u32 id);
/* Backend id is in use in VIP vip_id. */
bool model_in_vip(const struct model *m, __u32 id, __u32 vip_id);
/* The id of VIP vip_id's backend at addr, or -ENOENT. */
int model_find_backend(const struct model *m, __u32 vip_id, const struct chlb_addr *addr);
int model_count_backends(const struct model *m, __u32 vip_id);
/* Insert a VIP (keeps the id order) / remove one; -ENOSPC when full. */
int model_put_vip(struct model *m, const struct model_vip *v);
void model_remove_vip(struct model *m, const struct chlb_vip_key *key);
/* Backends in use whose VIP is gone are not part of the model: unuse them. */
void model_drop_orphans(struct model *m);

static inline bool backend_in_use(const struct chlb_backend *b)
{
	return b->flags & CHLB_BACKEND_F_IN_USE;
}

#endif /* CHLB_CORE_MODEL_H */
