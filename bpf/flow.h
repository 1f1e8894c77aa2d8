/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The flow table's rules, BPF side: is a recorded flow still good, and
 * recording one. chlb.bpf.c decides when to consult it (SYNs never do:
 * a new connection always takes the current slot table).
 */
#ifndef CHLB_BPF_FLOW_H
#define CHLB_BPF_FLOW_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include "chlb/shared.h"
#include "maps.h"

static __always_inline void chlb_gcount(struct chlb_global_stats *gs, __u32 c)
{
	if (c < CHLB_CNT_MAX)
		gs->counters[c]++;
}

/*
 * The backend a recorded flow goes to, or NULL when the flow must be
 * re-hashed: a UDP entry idle past the timeout (expired), or a backend
 * that was removed, or whose id now names another backend (stale). A
 * draining backend is still in use: its flows stay. Every hit refreshes
 * last_seen (only UDP expires by it): a full bucket evicts the way seen
 * longest ago, so a busy long-lived TCP connection is never the one pushed
 * out by a burst of new flows. The write happens only when last_seen is
 * old, so a busy flow's line stays shared between CPUs.
 */
static __always_inline struct chlb_backend *
chlb_flow_backend(struct chlb_flow *f, __u8 proto, __u32 vip_id, __u64 udp_timeout_ns,
		  struct chlb_global_stats *gs, __u32 *bid)
{
	struct chlb_backend *be;
	__u32 id = f->backend_id;
	__u64 now = bpf_ktime_get_coarse_ns();

	if (proto == IPPROTO_UDP && now > f->last_seen && now - f->last_seen > udp_timeout_ns) {
		chlb_gcount(gs, CHLB_CNT_FLOW_EXPIRED);
		return NULL;
	}
	be = bpf_map_lookup_elem(&chlb_backends, &id);
	if (!be || !(be->flags & CHLB_BACKEND_F_IN_USE) || be->gen != f->backend_gen ||
	    be->vip_id != vip_id) {
		chlb_gcount(gs, CHLB_CNT_FLOW_STALE);
		return NULL;
	}
	if (now > f->last_seen && now - f->last_seen > CHLB_FLOW_REFRESH_NS)
		f->last_seen = now;
	*bid = id;
	return be;
}

/*
 * Record (or overwrite) the flow's backend in its bucket b, h its hash:
 * the way already holding the key, else the one seen longest ago (an
 * empty way's last_seen is 0). The check is stored last, behind a
 * compiler barrier (x86 keeps stores in order), so a reader sees a way
 * torn by concurrent writers fail it. 1 when written.
 */
static __always_inline int chlb_flow_record(struct chlb_flow_bucket *b,
					    const struct chlb_flow_key *k, __u32 h, __u32 bid,
					    const struct chlb_backend *be,
					    struct chlb_global_stats *gs)
{
	struct chlb_flow f = { .backend_id = bid, .backend_gen = be->gen,
			       .last_seen = bpf_ktime_get_coarse_ns() };
	struct chlb_flow_way *w;
	__u64 oldest = ~0ULL;
	int i, v = 0;

	for (i = 0; i < CHLB_FLOW_WAYS; i++) {
		if (chlb_flow_key_eq(&b->way[i].key, k)) {
			v = i;
			break;
		}
		if (b->way[i].f.last_seen < oldest) {
			oldest = b->way[i].f.last_seen;
			v = i;
		}
	}
	w = &b->way[v & (CHLB_FLOW_WAYS - 1)];
	w->key = *k;
	w->f = f;
	asm volatile("" ::: "memory");
	w->check = chlb_flow_check(h, &f);
	chlb_gcount(gs, CHLB_CNT_FLOW_INSERT);
	return 1;
}

#endif /* CHLB_BPF_FLOW_H */
