// SPDX-License-Identifier: GPL-2.0
/* What the data plane picks for a flow; see lookup.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>

#include "lookup.h"

/* The flow key of a packet from client to the VIP, as bpf/ builds it. */
static void flow_key(const struct chlb_vip_key *vip, const struct chlb_addr *client,
		     __u16 cport, struct chlb_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, client->bytes, CHLB_ADDR_LEN);
	memcpy(k->dst, vip->addr, CHLB_ADDR_LEN);
	k->sport = htons(cport);
	k->dport = vip->port;
	k->proto = vip->proto;
	k->family = vip->family;
}

/*
 * The flow table's record, judged as bpf/flow.h does: the way whose key
 * and check match, its backend still in use in this VIP with the same
 * generation, and for UDP not idle too long.
 */
static int flow_record(struct inst *in, const struct model_vip *vip,
		       const struct chlb_flow_key *k)
{
	struct chlb_flow_bucket bucket;
	struct chlb_flow_way w, key;
	const struct chlb_backend *b;
	struct timespec now;
	__u32 idx, id;
	__u64 h;

	if (!in->dp.flow_entries)
		return -1;
	h = chlb_flow_hash64(k, in->m.cfg.seed);
	idx = chlb_flow_bucket(h >> 32, in->dp.flow_entries / CHLB_FLOW_WAYS);
	chlb_flow_way_key(k, vip->info.id, &key);
	if (bpf_map_lookup_elem(in->dp.flows_fd, &idx, &bucket) ||
	    chlb_flow_find(&bucket, &key, (__u32)h, &w) < 0)
		return -1;
	id = w.backend & CHLB_FLOW_ID_MASK;
	if (id >= in->dp.max_backends)
		return -1;
	b = &in->m.backends[id];
	if (!(b->flags & CHLB_BACKEND_F_IN_USE) || !chlb_flow_gen_eq(w.backend, b->gen) ||
	    b->vip_id != vip->info.id)
		return -1;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (k->proto == IPPROTO_UDP &&
	    chlb_flow_age(w.seen, chlb_flow_clock(now.tv_sec * 1000000000ULL + now.tv_nsec)) >
		    chlb_flow_ticks(in->m.cfg.udp_timeout * 1000000000ULL))
		return -1;
	return id;
}

/* The live table's owner of slot, as the XDP program reads it; -1: none. */
static int live_owner(struct inst *in, const struct model_vip *vip, __u32 slot,
		      struct chlb_err *e)
{
	__u32 *slots = calloc(in->m.table_size, sizeof(*slots)), id;
	int err;

	if (!slots)
		return -ENOMEM;
	err = chlb_dp__get_table(&in->dp, vip->info.id, slots);
	id = slots[slot];
	free(slots);
	if (err == -ENOENT)
		return -1;
	if (err)
		return err_fail(e, err, "cannot read the table of VIP %u: %s", vip->info.id,
				strerror(-err));
	if (id >= in->m.max_backends || !model_in_vip(&in->m, id, vip->info.id))
		return -1;	/* the data plane drops it */
	return id;
}

int lookup_outer_src(const struct model *m, const __u8 *addr, __u32 h, struct chlb_addr *src)
{
	struct chlb_addr a;
	const struct chlb_encap_src *r;
	__u32 last;

	memcpy(a.bytes, addr, CHLB_ADDR_LEN);
	r = &m->cfg.encap[chlb_addr_is_v4(&a) ? 0 : 1];
	if (!r->family)
		return -ENOENT;
	memcpy(src->bytes, r->addr, CHLB_ADDR_LEN);
	memcpy(&last, src->bytes + 12, 4);
	last |= htonl(h & chlb_encap_src_mask(r));
	memcpy(src->bytes + 12, &last, 4);
	return 0;
}

int lookup_flow(struct inst *in, const struct model_vip *vip, const struct chlb_addr *client,
		__u16 cport, struct lookup_result *r, struct chlb_err *e)
{
	struct chlb_flow_key k;
	int id;

	flow_key(&vip->key, client, cport, &k);
	r->key = k;
	r->flow_id = flow_record(in, vip, &k);
	r->hash = chlb_flow_hash(&k, in->m.cfg.seed);
	r->slot = chlb_hash_to_slot(r->hash, in->m.table_size);
	id = live_owner(in, vip, r->slot, e);
	if (id < -1)
		return id;
	r->id = id;
	if (id >= 0)
		memcpy(r->backend.bytes, in->m.backends[id].addr, CHLB_ADDR_LEN);
	/* the source follows the hash alone: an existing flow on another backend of the
	 * same family has the same one */
	r->has_outer_src = vip->info.method == CHLB_METHOD_IPIP && id >= 0 &&
			   !lookup_outer_src(&in->m, in->m.backends[id].addr, r->hash,
					     &r->outer_src);
	return 0;
}
