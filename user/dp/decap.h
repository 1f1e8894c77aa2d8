/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The decapsulating XDP program (bpf/decap.bpf.c) seen from userspace:
 * load it, attach it to an interface with its pins in a directory of its
 * own, read its configuration and counters, detach it. Nothing here knows
 * the command line; nothing here touches chlb's load-balancer pins.
 */
#ifndef CHLB_DP_DECAP_H
#define CHLB_DP_DECAP_H

#include <stddef.h>
#include <chlb/decap.h>
#include "core/err.h"

struct decap;	/* the skeleton, build/decap.skel.h */

/* snake_case names of enum chlb_decap_counter, for tables and JSON. */
extern const char *const chlb_decap_cnt_names[CHLB_DECAP_CNT_MAX];

/*
 * Open and load the program with cfg as its configuration, read-only from
 * then on. pin_dir: its maps are pinned there (the configuration as
 * CHLB_DECAP_MAP_CFG, the counters as CHLB_DECAP_MAP_STATS); NULL: no pins
 * (tests, benches).
 */
int chlb_decap__load(const char *pin_dir, const struct chlb_decap_cfg *cfg,
		     struct decap **skelp);

/*
 * The interface's own addresses (IPv4 and IPv6, aliases too) into cfg's
 * lists. More than CHLB_DECAP_MAX_ADDRS of a family, or none at all, is
 * the caller's to resolve (--dst): a usage error.
 */
int chlb_decap__own_addrs(const char *dev, struct chlb_decap_cfg *cfg, struct chlb_err *e);

/*
 * Create dir (0700), load the program with its maps pinned there, write
 * cfg, pin the program as dir/prog and attach it to cfg->ifindex in
 * cfg->xdp_mode. On failure nothing is left attached or pinned, and dir
 * is gone.
 */
int chlb_decap__attach(const char *dir, const struct chlb_decap_cfg *cfg, struct chlb_err *e);

/*
 * Detach the program pinned in dir from wherever it runs in this network
 * namespace (*where: that ifindex, 0 if it ran nowhere), then remove the
 * pins and dir. Copes with any subset of the pins (an interrupted attach).
 */
int chlb_decap__detach(const char *dir, int *where, struct chlb_err *e);

struct chlb_decap_state {
	struct chlb_decap_cfg cfg;
	struct chlb_decap_stats stats;	/* summed over the CPUs */
	__u32 prog_id;			/* 0: no program pinned */
	int attached;			/* it runs on cfg.ifindex */
};

/* The state of the instance pinned in dir; -ENOENT when dir holds no config. */
int chlb_decap__read(const char *dir, struct chlb_decap_state *st, struct chlb_err *e);

/* Sum the per-CPU decap_stats behind fd. */
int chlb_decap__stats(int fd, struct chlb_decap_stats *sum);

#endif /* CHLB_DP_DECAP_H */
