// SPDX-License-Identifier: GPL-2.0
/*
 * The health-check scheduler; see health.h. Every probe sits in one binary
 * min-heap keyed by its next deadline (the timeout of its run in flight,
 * or the start of its next run), so hc_run costs O(log n) per event and
 * nothing per idle probe. Subscribers live in one array rebuilt by hc_set,
 * hashed by (VIP, address) and chained per probe.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

/* A run id carries its probe's slot in the low bits: hc_done needs no lookup. */
#define SLOT_BITS	24
#define SLOT_MASK	((1ull << SLOT_BITS) - 1)
/* Each run is placed within +-interval/JITTER_DIV of its nominal time. */
#define JITTER_DIV	10
/* Consecutive counts saturate here (rise and fall are 16-bit). */
#define RUN_MAX		UINT16_MAX

struct probe {
	struct hc_probe_key key;
	uint32_t interval_ms;	/* min over the subscribers */
	uint32_t timeout_ms;	/* min over the subscribers */
	uint64_t next_ms;	/* when the next run starts */
	uint64_t due_ms;	/* heap key: the run's deadline while one is in flight, else next_ms */
	uint64_t run;		/* id of the run in flight; 0: none */
	uint64_t gen;		/* the last hc_set that kept it */
	uint32_t slot;
	int hidx;		/* position in the heap */
	int first;		/* first subscriber (index in h->subs), chained by sub.pnext */
	struct probe *knext;	/* key hash chain */
	struct probe *fresh;	/* probes created by the hc_set in progress */
};

struct sub {
	struct hc_sub cfg;
	struct hc_state st;
	uint32_t oks;		/* consecutive successes */
	uint32_t fails;		/* consecutive failures */
	struct probe *p;
	int pnext;		/* next subscriber of the same probe */
	int hnext;		/* (vip, addr) hash chain */
};

/* The subscribers and their (vip, addr) hash, replaced whole by hc_set. */
struct subset {
	struct sub *v;
	int n;
	int *buckets;		/* first index of each chain, -1: empty */
	uint32_t mask;
};

struct hc {
	struct hc_env env;
	struct subset subs;
	struct probe **slots;	/* by slot; NULL: free */
	uint32_t *free_slots;	/* stack of free slots below nslots */
	uint32_t nslots, nfree, cap_slots;
	struct probe **kbuckets;	/* probes by key */
	uint32_t kmask;
	struct probe **heap;
	int nheap, cap_heap;
	int nprobes;
	uint64_t seq;		/* runs started */
	uint64_t gen;		/* hc_set calls */
	struct probe *fresh;
};

/* ---- hashing ---------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	const uint8_t *b = data;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint32_t sub_hash(const struct chlb_vip_key *vip, const struct chlb_addr *addr)
{
	uint64_t h = fnv(0xcbf29ce484222325ull, vip, sizeof(*vip));

	h = fnv(h, addr, sizeof(*addr));
	return (uint32_t)(h ^ h >> 32);
}

static uint32_t key_hash(const struct hc_probe_key *k)
{
	uint64_t h = fnv(0xcbf29ce484222325ull, k, sizeof(*k));

	return (uint32_t)(h ^ h >> 32);
}

/* Keys are built zeroed (padding, the path's tail), so memcmp compares them. */
static void key_of(const struct hc_sub *s, struct hc_probe_key *k)
{
	memset(k, 0, sizeof(*k));
	k->addr = s->addr;
	k->port = s->cfg.port;
	k->type = s->cfg.type;
	if (k->type != CHLB_HEALTH_HTTP)
		return;
	memcpy(k->path, s->cfg.path, strnlen(s->cfg.path, sizeof(k->path)));
	k->expect = s->cfg.expect;
}

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

/* ---- the heap of deadlines -------------------------------------------- */

static void heap_put(struct hc *h, int i, struct probe *p)
{
	h->heap[i] = p;
	p->hidx = i;
}

static void sift_up(struct hc *h, int i)
{
	struct probe *p = h->heap[i];

	while (i > 0) {
		int parent = (i - 1) / 2;

		if (h->heap[parent]->due_ms <= p->due_ms)
			break;
		heap_put(h, i, h->heap[parent]);
		i = parent;
	}
	heap_put(h, i, p);
}

static void sift_down(struct hc *h, int i)
{
	struct probe *p = h->heap[i];

	for (;;) {
		int c = 2 * i + 1;

		if (c >= h->nheap)
			break;
		if (c + 1 < h->nheap && h->heap[c + 1]->due_ms < h->heap[c]->due_ms)
			c++;
		if (p->due_ms <= h->heap[c]->due_ms)
			break;
		heap_put(h, i, h->heap[c]);
		i = c;
	}
	heap_put(h, i, p);
}

static void set_due(struct hc *h, struct probe *p, uint64_t due_ms)
{
	p->due_ms = due_ms;
	sift_up(h, p->hidx);
	sift_down(h, p->hidx);
}

static void heap_push(struct hc *h, struct probe *p)
{
	heap_put(h, h->nheap++, p);
	sift_up(h, p->hidx);
}

static void heap_del(struct hc *h, struct probe *p)
{
	struct probe *last = h->heap[--h->nheap];

	if (last == p)
		return;
	heap_put(h, p->hidx, last);
	set_due(h, last, last->due_ms);
}

/* ---- life of a probe -------------------------------------------------- */

static double rnd(struct hc *h)
{
	return h->env.random ? h->env.random(h->env.arg) : drand48();
}

/*
 * The next run: one interval after this one's nominal time, +-10%. Taking
 * the nominal time, not now, keeps a probe on its grid; a loop late by more
 * than an interval restarts from now rather than firing a burst.
 */
static uint64_t next_run(struct hc *h, const struct probe *p, uint64_t now_ms)
{
	int64_t jitter = (int64_t)((rnd(h) * 2 - 1) * p->interval_ms / JITTER_DIV);
	uint64_t step = (uint64_t)((int64_t)p->interval_ms + jitter);

	if (p->next_ms + step > now_ms)
		return p->next_ms + step;
	return now_ms + step;
}

/* A result for every subscriber: its own rise/fall over the shared probe. */
static void sub_result(struct hc *h, struct sub *s, uint32_t result, uint32_t detail,
		       uint64_t now_ms)
{
	bool ok = result == CHLB_CHECK_OK;
	bool was = s->st.down;

	s->st.result = result;
	s->st.detail = detail;
	s->st.counts[result]++;
	s->st.last_ms = now_ms;
	s->oks = ok ? (s->oks < RUN_MAX ? s->oks + 1 : RUN_MAX) : 0;
	s->fails = ok ? 0 : (s->fails < RUN_MAX ? s->fails + 1 : RUN_MAX);
	if (s->st.down && s->oks >= s->cfg.cfg.rise)
		s->st.down = false;
	else if (!s->st.down && s->fails >= s->cfg.cfg.fall)
		s->st.down = true;
	if (s->st.down != was && h->env.changed)
		h->env.changed(h->env.arg, &s->cfg, &s->st);
}

/* The run in flight ended (result, timeout or failed start). */
static void finish(struct hc *h, struct probe *p, uint32_t result, uint32_t detail,
		   uint64_t now_ms)
{
	int i;

	if (result >= CHLB_CHECK_MAX || result == CHLB_CHECK_NONE)
		result = CHLB_CHECK_ERROR;
	p->run = 0;
	set_due(h, p, p->next_ms);
	for (i = p->first; i >= 0; i = h->subs.v[i].pnext)
		sub_result(h, &h->subs.v[i], result, detail, now_ms);
}

static void probe_start(struct hc *h, struct probe *p, uint64_t now_ms)
{
	uint64_t id = ++h->seq << SLOT_BITS | p->slot;
	int err;

	/* Set before start(): a prober may answer from inside it. */
	p->run = id;
	p->next_ms = next_run(h, p, now_ms);
	set_due(h, p, now_ms + p->timeout_ms);
	err = h->env.start(h->env.arg, id, &p->key, p->timeout_ms);
	if (err && p->run == id)
		finish(h, p, CHLB_CHECK_ERROR, (uint32_t)-err, now_ms);
}

static void probe_timeout(struct hc *h, struct probe *p, uint64_t now_ms)
{
	uint64_t id = p->run;

	p->run = 0;		/* a result from inside cancel() is late too */
	if (h->env.cancel)
		h->env.cancel(h->env.arg, id);
	finish(h, p, CHLB_CHECK_TIMEOUT, ETIMEDOUT, now_ms);
}

int hc_run(struct hc *h, uint64_t now_ms)
{
	uint64_t wait;

	while (h->nheap && h->heap[0]->due_ms <= now_ms) {
		struct probe *p = h->heap[0];

		if (p->run)
			probe_timeout(h, p, now_ms);
		else
			probe_start(h, p, now_ms);
	}
	if (!h->nheap)
		return -1;
	wait = h->heap[0]->due_ms - now_ms;
	return wait > INT_MAX ? INT_MAX : (int)wait;
}

void hc_done(struct hc *h, uint64_t id, uint32_t result, uint32_t detail, uint64_t now_ms)
{
	uint64_t slot = id & SLOT_MASK;
	struct probe *p;

	if (!id || slot >= h->nslots)
		return;
	p = h->slots[slot];
	/* Late (timed out), cancelled, or from a probe since replaced: ignored. */
	if (!p || p->run != id)
		return;
	finish(h, p, result, detail, now_ms);
}

/* ---- subscribers ------------------------------------------------------ */

static struct sub *sub_find(const struct subset *ss, const struct chlb_vip_key *vip,
			    const struct chlb_addr *addr)
{
	int i;

	if (!ss->buckets)
		return NULL;
	for (i = ss->buckets[sub_hash(vip, addr) & ss->mask]; i >= 0; i = ss->v[i].hnext)
		if (!memcmp(&ss->v[i].cfg.vip, vip, sizeof(*vip)) &&
		    !memcmp(&ss->v[i].cfg.addr, addr, sizeof(*addr)))
			return &ss->v[i];
	return NULL;
}

static bool sub_valid(const struct hc_sub *s)
{
	const struct chlb_health *c = &s->cfg;

	if (c->type != CHLB_HEALTH_TCP && c->type != CHLB_HEALTH_HTTP)
		return false;
	if (!c->interval_ms || !c->timeout_ms || !c->rise || !c->fall || !c->port)
		return false;
	if (c->type == CHLB_HEALTH_HTTP)
		return c->expect && memchr(c->path, 0, sizeof(c->path));
	return true;
}

static void subset_free(struct subset *ss)
{
	free(ss->v);
	free(ss->buckets);
	memset(ss, 0, sizeof(*ss));
}

/* The new subscribers, hashed; -EINVAL for an invalid or repeated one. */
static int subset_build(struct subset *ss, const struct hc_sub *subs, int n)
{
	int i;

	if (!n)
		return 0;
	ss->mask = pow2_at_least(2 * (uint64_t)n) - 1;
	ss->v = calloc(n, sizeof(*ss->v));
	ss->buckets = malloc((ss->mask + 1) * sizeof(*ss->buckets));
	if (!ss->v || !ss->buckets)
		return -ENOMEM;
	memset(ss->buckets, 0xff, (ss->mask + 1) * sizeof(*ss->buckets));
	for (i = 0; i < n; i++) {
		uint32_t b = sub_hash(&subs[i].vip, &subs[i].addr) & ss->mask;

		if (!sub_valid(&subs[i]) || sub_find(ss, &subs[i].vip, &subs[i].addr))
			return -EINVAL;
		ss->v[i].cfg = subs[i];
		ss->v[i].hnext = ss->buckets[b];
		ss->buckets[b] = i;
	}
	ss->n = n;
	return 0;
}

/* ---- probes by key and by slot ---------------------------------------- */

static struct probe *probe_find(const struct hc *h, const struct hc_probe_key *k)
{
	struct probe *p;

	for (p = h->kbuckets[key_hash(k) & h->kmask]; p; p = p->knext)
		if (!memcmp(&p->key, k, sizeof(*k)))
			return p;
	return NULL;
}

static void key_link(struct hc *h, struct probe *p)
{
	struct probe **b = &h->kbuckets[key_hash(&p->key) & h->kmask];

	p->knext = *b;
	*b = p;
}

static void key_unlink(struct hc *h, struct probe *p)
{
	struct probe **pp = &h->kbuckets[key_hash(&p->key) & h->kmask];

	while (*pp != p)
		pp = &(*pp)->knext;
	*pp = p->knext;
}

/* Room for n more probes, so that committing a new set cannot fail. */
static int reserve(struct hc *h, int n)
{
	uint64_t probes = (uint64_t)h->nprobes + n, slots = (uint64_t)h->nslots + n;
	void *a;

	if (slots > SLOT_MASK)
		return -E2BIG;
	if (slots > h->cap_slots) {
		a = realloc(h->slots, slots * sizeof(*h->slots));
		if (!a)
			return -ENOMEM;
		h->slots = a;
		a = realloc(h->free_slots, slots * sizeof(*h->free_slots));
		if (!a)
			return -ENOMEM;
		h->free_slots = a;
		h->cap_slots = slots;
	}
	if (probes > (uint64_t)h->cap_heap) {
		a = realloc(h->heap, probes * sizeof(*h->heap));
		if (!a)
			return -ENOMEM;
		h->heap = a;
		h->cap_heap = probes;
	}
	return 0;
}

/* Key buckets for n probes at a load of at most 1/2. */
static int rehash(struct hc *h, uint64_t n)
{
	uint32_t size = pow2_at_least(2 * n), i, old = h->kbuckets ? h->kmask + 1 : 0;
	struct probe **ob = h->kbuckets, *p, *next;

	if (size <= old)
		return 0;
	h->kbuckets = calloc(size, sizeof(*h->kbuckets));
	if (!h->kbuckets) {
		h->kbuckets = ob;
		return -ENOMEM;
	}
	h->kmask = size - 1;
	for (i = 0; i < old; i++)
		for (p = ob[i]; p; p = next) {
			next = p->knext;
			key_link(h, p);
		}
	free(ob);
	return 0;
}

static void probe_free(struct hc *h, struct probe *p)
{
	uint64_t id = p->run;

	p->run = 0;
	if (id && h->env.cancel)
		h->env.cancel(h->env.arg, id);
	heap_del(h, p);
	key_unlink(h, p);
	h->slots[p->slot] = NULL;
	h->free_slots[h->nfree++] = p->slot;
	h->nprobes--;
	free(p);
}

/* Undo probes_attach() when it runs out of memory. */
static void drop_fresh(struct hc *h)
{
	struct probe *p, *next;

	for (p = h->fresh; p; p = next) {
		next = p->fresh;
		key_unlink(h, p);
		free(p);
	}
	h->fresh = NULL;
}

/* Each new subscriber's probe: the existing one for its key, or a fresh one. */
static int probes_attach(struct hc *h, struct subset *ss)
{
	struct hc_probe_key k;
	struct probe *p;
	int i;

	h->gen++;
	for (i = 0; i < ss->n; i++) {
		key_of(&ss->v[i].cfg, &k);
		p = probe_find(h, &k);
		if (!p) {
			p = calloc(1, sizeof(*p));
			if (!p) {
				drop_fresh(h);
				return -ENOMEM;
			}
			p->key = k;
			key_link(h, p);
			p->fresh = h->fresh;
			h->fresh = p;
		}
		p->gen = h->gen;
		ss->v[i].p = p;
	}
	return 0;
}

/* ---- hc_set's commit: nothing below can fail ------------------------- */

/* Subscribers in both sets keep their state; their runs only if the check is the same. */
static void carry_state(struct hc *h, struct subset *ss)
{
	int i;

	for (i = 0; i < ss->n; i++) {
		struct sub *n = &ss->v[i];
		struct sub *o = sub_find(&h->subs, &n->cfg.vip, &n->cfg.addr);

		if (!o)
			continue;
		n->st = o->st;
		if (o->p == n->p) {
			n->oks = o->oks;
			n->fails = o->fails;
		}
	}
}

static void drop_unused(struct hc *h)
{
	uint32_t s;

	for (s = 0; s < h->nslots; s++)
		if (h->slots[s] && h->slots[s]->gen != h->gen)
			probe_free(h, h->slots[s]);
}

/* Chain each probe's subscribers and take the shortest interval and timeout. */
static void link_subs(struct hc *h)
{
	struct probe *p;
	uint32_t s;
	int i;

	for (s = 0; s < h->nslots; s++)
		if ((p = h->slots[s]))
			p->first = -1;
	for (p = h->fresh; p; p = p->fresh)
		p->first = -1;
	for (i = h->subs.n - 1; i >= 0; i--) {
		struct sub *sb = &h->subs.v[i];

		p = sb->p;
		if (p->first < 0 || sb->cfg.cfg.interval_ms < p->interval_ms)
			p->interval_ms = sb->cfg.cfg.interval_ms;
		if (p->first < 0 || sb->cfg.cfg.timeout_ms < p->timeout_ms)
			p->timeout_ms = sb->cfg.cfg.timeout_ms;
		sb->pnext = p->first;
		p->first = i;
	}
}

/* A probe whose interval shrank runs within its new interval. */
static void reschedule(struct hc *h, uint64_t now_ms)
{
	struct probe *p;
	uint32_t s;

	for (s = 0; s < h->nslots; s++) {
		p = h->slots[s];
		/* the latest a run of an unchanged interval can be placed */
		if (!p || p->next_ms <= now_ms + p->interval_ms + p->interval_ms / JITTER_DIV)
			continue;
		p->next_ms = now_ms + (uint64_t)(rnd(h) * p->interval_ms);
		if (!p->run)
			set_due(h, p, p->next_ms);
	}
}

/* New probes start at a random point of their first interval: no lockstep. */
static void place_fresh(struct hc *h, uint64_t now_ms)
{
	struct probe *p;

	for (p = h->fresh; p; p = p->fresh) {
		p->slot = h->nfree ? h->free_slots[--h->nfree] : h->nslots++;
		h->slots[p->slot] = p;
		p->next_ms = now_ms + (uint64_t)(rnd(h) * p->interval_ms);
		p->due_ms = p->next_ms;
		heap_push(h, p);
		h->nprobes++;
	}
	h->fresh = NULL;
}

static void commit(struct hc *h, struct subset *ss, uint64_t now_ms)
{
	struct subset old = h->subs;

	carry_state(h, ss);
	drop_unused(h);
	h->subs = *ss;
	*ss = old;		/* freed by the caller */
	link_subs(h);
	reschedule(h, now_ms);
	place_fresh(h, now_ms);
}

int hc_set(struct hc *h, const struct hc_sub *subs, int n, uint64_t now_ms)
{
	struct subset ss = { 0 };
	int err;

	if (n < 0 || (n && !subs))
		return -EINVAL;
	err = subset_build(&ss, subs, n);
	if (err)
		goto out;
	err = reserve(h, n);
	if (!err)
		err = rehash(h, (uint64_t)h->nprobes + n);
	if (!err)
		err = probes_attach(h, &ss);
	if (!err)
		commit(h, &ss, now_ms);
out:
	subset_free(&ss);
	return err;
}

/* ---- the rest of the API ---------------------------------------------- */

int hc_new(const struct hc_env *env, struct hc **hp)
{
	struct hc *h;
	int err;

	if (!env || !env->start)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->env = *env;
	err = rehash(h, 0);
	if (err) {
		free(h);
		return err;
	}
	*hp = h;
	return 0;
}

void hc_free(struct hc *h)
{
	uint32_t s;

	if (!h)
		return;
	for (s = 0; s < h->nslots; s++)
		if (h->slots[s])
			probe_free(h, h->slots[s]);
	subset_free(&h->subs);
	free(h->slots);
	free(h->free_slots);
	free(h->kbuckets);
	free(h->heap);
	free(h);
}

int hc_state(const struct hc *h, const struct chlb_vip_key *vip, const struct chlb_addr *addr,
	     struct hc_state *st)
{
	const struct sub *s = sub_find(&h->subs, vip, addr);

	if (!s)
		return -ENOENT;
	*st = s->st;
	return 0;
}

int hc_probes(const struct hc *h)
{
	return h->nprobes;
}

int hc_subs(const struct hc *h)
{
	return h->subs.n;
}
