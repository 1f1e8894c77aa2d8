/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Snapshots of the counters for `chlb stats`: everything copied out of the
 * maps under a shared lock, so --watch holds the lock only while reading.
 */
#ifndef CHLB_STATS_H
#define CHLB_STATS_H

#include <chlb/shared.h>

struct vsnap {
	struct chlb_vip_key key;
	__u32 id;
	struct chlb_vip_stats s;
};

struct bsnap {
	struct chlb_vip_key vip;
	__u8 addr[CHLB_ADDR_LEN];
	__u32 id;
	struct chlb_backend_stats s;
};

struct snap {
	struct vsnap *v;
	struct bsnap *b;
	int nv, nb;
	struct chlb_global_stats g;
	struct chlb_flow_cpu flow;	/* the flow table's pressure, latest times */
	__u64 coarse_ns;		/* CLOCK_MONOTONIC_COARSE when taken */
	double t;
};

/* Counters of one VIP (text) or of all VIPs (NULL), with a timestamp. */
int snap_take(const char *vip_text, struct snap *s);
void snap_free(struct snap *s);
/* The same VIP / backend in an earlier snapshot, if the id still means it. */
const struct vsnap *snap_prev_vip(const struct snap *p, const struct vsnap *v);
const struct bsnap *snap_prev_backend(const struct snap *p, const struct bsnap *b);
double snap_now(void);

#endif /* CHLB_STATS_H */
