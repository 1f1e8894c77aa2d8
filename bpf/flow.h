/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The flow table's rules, BPF side: is a recorded flow still good, which
 * way a new flow takes, and recording it. Layout and check words: struct
 * chlb_flow_way in include/chlb/shared.h.
 *
 * Flood resilience. A way is busy while its flow is confirmed (a packet
 * came after the one that recorded it) and was seen within flow_busy
 * ticks (flow_closing after a FIN or RST). A new flow takes an empty way,
 * else the idle way seen longest ago, and never a busy one: when all four
 * are busy the flow is forwarded by the slot table without being recorded
 * (CHLB_CNT_FLOW_REFUSED). A SYN flood from random sources records only
 * unconfirmed flows, which push out each other and never an established
 * connection, however fast they come, and a legitimate new connection is
 * still recorded (its second packet confirms it). Chosen by measurement
 * against a per-CPU insert budget, with and without this rule
 * (tests/bench_xdp.c, "flood"; README): the budget alone let a flood evict
 * established flows at its rate, and with the rule it added nothing but
 * unrecorded legitimate flows. The other policies stay as load-time knobs
 * for that bench (struct chlb_flow_policy).
 *
 * TCP flags. Only a plain SYN (SYN without ACK, RST or FIN) is a new
 * connection: it takes the slot table and replaces the flow's record (a
 * five-tuple reused). Any other flag set (SYN|RST, SYN|FIN, ...) is looked
 * up like data, so a spoofed odd segment cannot move a live flow. FIN and
 * RST keep the record and its backend (the connection's last segments
 * still reach it), and only shorten its protection to flow_closing: an
 * entry is never deleted by a segment anyone can spoof, and a spoofed RST
 * on a live flow changes nothing while that flow keeps sending within
 * flow_closing (every packet refreshes the way).
 */
#ifndef CHLB_BPF_FLOW_H
#define CHLB_BPF_FLOW_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include "chlb/shared.h"
#include "maps.h"
#include "parse.h"

/* Chosen at load time by the controller (struct chlb_dp_opts). */
const volatile __u32 flow_buckets = 1;	/* chlb_flows' entries */
const volatile __u64 udp_timeout_ns = CHLB_DEFAULT_UDP_TIMEOUT * 1000000000ULL;
/* Flood policy (struct chlb_flow_policy): busy 0 = nothing is busy (LRU). */
const volatile __u64 flow_busy_ns = CHLB_FLOW_BUSY_NS;
const volatile __u64 flow_closing_ns = CHLB_FLOW_CLOSING_NS;
const volatile __u32 flow_evict_busy = 0;	/* all busy: 1 evict the oldest, 0 refuse */
const volatile __u64 flow_budget_ns = 0;	/* per CPU: ns a budgeted eviction costs */
const volatile __u64 flow_budget_burst_ns = 0;	/* the budget's depth, in ns */
const volatile __u32 flow_budget_all = 0;	/* budget every eviction, not only busy */

#define CHLB_TCP_FIN 0x01
#define CHLB_TCP_SYN 0x02
#define CHLB_TCP_RST 0x04
#define CHLB_TCP_ACK 0x10

enum chlb_flow_kind {
	CHLB_FLOW_DATA,		/* UDP, or TCP without SYN, FIN or RST */
	CHLB_FLOW_SYN,		/* a plain SYN: a new connection */
	CHLB_FLOW_CLOSE,	/* FIN or RST (not a plain SYN) */
};

/* gs NULL: not counted (an ICMP error's read-only lookup, chlb_icmp_steer()). */
static __always_inline void chlb_gcount(struct chlb_global_stats *gs, __u32 c)
{
	if (gs && c < CHLB_CNT_MAX)
		gs->counters[c]++;
}

/* What a frame means to the flow table, by its TCP flags (byte 13). */
static __always_inline int chlb_flow_kind(const struct chlb_pkt *p)
{
	__u8 f;

	if (p->proto != IPPROTO_TCP)
		return CHLB_FLOW_DATA;
	f = ((const __u8 *)p->l4)[13];
	if ((f & (CHLB_TCP_SYN | CHLB_TCP_ACK | CHLB_TCP_RST | CHLB_TCP_FIN)) == CHLB_TCP_SYN)
		return CHLB_FLOW_SYN;
	return f & (CHLB_TCP_RST | CHLB_TCP_FIN) ? CHLB_FLOW_CLOSE : CHLB_FLOW_DATA;
}

/*
 * The backend of a validated copy c of a way, or NULL when the flow must
 * be re-hashed: a UDP entry idle past the timeout (expired), or a backend
 * that was removed, or whose id now names another backend (stale). A
 * draining backend is still in use: its flows stay.
 */
static __always_inline struct chlb_backend *
chlb_flow_backend(const struct chlb_flow_way *c, __u8 proto, __u32 vip_id, __u32 clock,
		  struct chlb_global_stats *gs)
{
	struct chlb_backend *be;
	__u32 id = c->backend & CHLB_FLOW_ID_MASK;

	if (proto == IPPROTO_UDP &&
	    chlb_flow_age(c->seen, clock) > chlb_flow_ticks(udp_timeout_ns)) {
		chlb_gcount(gs, CHLB_CNT_FLOW_EXPIRED);
		return NULL;
	}
	be = bpf_map_lookup_elem(&chlb_backends, &id);
	if (!be || !(be->flags & CHLB_BACKEND_F_IN_USE) || !chlb_flow_gen_eq(c->backend, be->gen) ||
	    be->vip_id != vip_id) {
		chlb_gcount(gs, CHLB_CNT_FLOW_STALE);
		return NULL;
	}
	return be;
}

/*
 * After a hit: the way's time and flags. Written only when they change
 * (first confirmation, a FIN or RST) or the time is older than
 * CHLB_FLOW_REFRESH_NS, so a busy flow's line stays shared between CPUs.
 * seen is the copy's: if another CPU replaced the way meanwhile, this
 * only moves the new flow's time, never a forwarding decision.
 */
static __always_inline void chlb_flow_touch(struct chlb_flow_way *w, __u32 seen, int kind,
					    __u32 clock)
{
	__u32 f = CHLB_FLOW_F_CONFIRMED | (seen & CHLB_FLOW_F_CLOSING) |
		  (kind == CHLB_FLOW_CLOSE ? CHLB_FLOW_F_CLOSING : 0);

	if ((seen & CHLB_FLOW_F_MASK) != f ||
	    chlb_flow_age(seen, clock) > chlb_flow_ticks(CHLB_FLOW_REFRESH_NS))
		w->seen = clock | f;
}

/*
 * One eviction from this CPU's budget (a GCRA: the budget is full when
 * tat <= now, each eviction moves tat flow_budget_ns on, and none is left
 * when tat would be more than flow_budget_burst_ns ahead). 1 when taken.
 */
static __always_inline int chlb_flow_budget(__u64 now)
{
	struct chlb_flow_cpu *c;
	__u32 zero = 0;
	__u64 tat;

	c = bpf_map_lookup_elem(&chlb_flow_cpu, &zero);
	if (!c)
		return 0;
	tat = c->budget_tat > now ? c->budget_tat : now;
	if (tat - now > flow_budget_burst_ns)
		return 0;
	c->budget_tat = tat + flow_budget_ns;
	return 1;
}

/* When this CPU last refused or evicted a busy way: `chlb stats` reads it. */
static __always_inline void chlb_flow_mark(__u32 counter, __u64 now,
					   struct chlb_global_stats *gs)
{
	struct chlb_flow_cpu *c;
	__u32 zero = 0;

	chlb_gcount(gs, counter);
	c = bpf_map_lookup_elem(&chlb_flow_cpu, &zero);
	if (!c)
		return;
	if (counter == CHLB_CNT_FLOW_REFUSED)
		c->refused_ns = now;
	else if (counter == CHLB_CNT_FLOW_EVICT_BUSY)
		c->evict_busy_ns = now;
	else
		c->evict_new_ns = now;
}

/*
 * An eviction score of a way's seen word: idle ways (unconfirmed, or
 * quiet past their busy time) above busy ones, older above younger
 * within each; an empty way above all.
 */
static __always_inline __u32 chlb_flow_score(__u32 seen, __u32 clock)
{
	__u32 age = chlb_flow_age(seen, clock);
	__u64 limit = seen & CHLB_FLOW_F_CLOSING ? flow_closing_ns : flow_busy_ns;

	if (!seen)
		return ~0u;
	if (!flow_busy_ns || !(seen & CHLB_FLOW_F_CONFIRMED) || age > chlb_flow_ticks(limit))
		return (1u << 30) | age;
	return age;
}

/*
 * The way a new record takes in b: own (the way that held the flow, >= 0)
 * if any, else the best by chlb_flow_score(); -1: refused (all busy and no
 * eviction allowed, or out of budget). Evictions are counted.
 */
static __always_inline int chlb_flow_victim(struct chlb_flow_bucket *b, int own, __u32 clock,
					    __u64 now, struct chlb_global_stats *gs)
{
	__u32 best = 0, score, seen = 0, s;
	int i, v = 0;

	if (own >= 0)
		return own;
	for (i = 0; i < CHLB_FLOW_WAYS; i++) {
		s = *(volatile __u32 *)&b->way[i].seen;
		score = chlb_flow_score(s, clock);
		if (score >= best) {
			best = score;
			seen = s;
			v = i;
		}
	}
	if (best == ~0u)
		return v;
	if (best & (1u << 30)) {
		if (flow_budget_all && flow_budget_ns && !chlb_flow_budget(now))
			goto refuse;
		if (!(seen & CHLB_FLOW_F_CONFIRMED))
			chlb_flow_mark(CHLB_CNT_FLOW_EVICT_NEW, now, gs);
		return v;
	}
	if (!flow_evict_busy || (flow_budget_ns && !chlb_flow_budget(now)))
		goto refuse;
	chlb_flow_mark(CHLB_CNT_FLOW_EVICT_BUSY, now, gs);
	return v;
refuse:
	chlb_flow_mark(CHLB_CNT_FLOW_REFUSED, now, gs);
	return -1;
}

/*
 * Record the flow (key k, lo the low half of its hash) on backend field
 * backend in way v of b: the key first, the check last, behind a compiler
 * barrier (x86 keeps stores in order), though a reader's check does not
 * depend on that order (shared.h).
 */
static __always_inline void chlb_flow_write(struct chlb_flow_bucket *b, int v,
					    const struct chlb_flow_way *k, __u32 lo,
					    __u32 backend, __u32 seen)
{
	struct chlb_flow_way *w = &b->way[v & (CHLB_FLOW_WAYS - 1)];

	w->words[0] = k->words[0];
	w->words[1] = k->words[1];
	w->port_vip = k->port_vip;
	w->backend = backend;
	w->seen = seen;
	asm volatile("" ::: "memory");
	w->check = chlb_flow_check(lo, backend);
}

/*
 * Record a flow (key k) the slot table sent to bid: in own (the way that held it)
 * or the way chlb_flow_victim() picks, at now (coarse ns). 1 when recorded,
 * 0 when refused.
 */
static __always_inline int chlb_flow_record(struct chlb_flow_bucket *b, int own,
					    const struct chlb_flow_way *k, __u32 lo, __u32 bid,
					    const struct chlb_backend *be, int kind, __u64 now,
					    struct chlb_global_stats *gs)
{
	__u32 clock = chlb_flow_clock(now);
	int v;

	v = chlb_flow_victim(b, own, clock, now, gs);
	if (v < 0)
		return 0;
	chlb_flow_write(b, v, k, lo, chlb_flow_backend_of(bid, be->gen),
			clock | (kind == CHLB_FLOW_CLOSE ? CHLB_FLOW_F_CLOSING : 0));
	chlb_gcount(gs, CHLB_CNT_FLOW_INSERT);
	return 1;
}

#endif /* CHLB_BPF_FLOW_H */
