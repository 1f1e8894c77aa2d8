// SPDX-License-Identifier: GPL-2.0
/*
 * chlb lookup VIP CLIENT:PORT and chlb route VIP KEY. lookup hashes the
 * flow key exactly as the XDP program builds it (shared.h), so its answer
 * is the data plane's choice; route is the library's string-key demo.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>

#include "cli.h"
#include "lookup.h"
#include "core/parse.h"
#include "core/state.h"

static int lookup_help(void)
{
	printf("Usage: chlb lookup VIP CLIENT_ADDR:CLIENT_PORT\n"
	       "       chlb route VIP KEY\n" CLI_HELP_GRAMMAR
	       "       lookup: the backend the data plane picks for that client's flow\n"
	       "               (and, with a flow table, the one an existing flow keeps)\n"
	       "       route:  the backend the VIP's ring gives an arbitrary string key\n");
	return 0;
}

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
 * The flow table's record, judged as bpf/flow.h does: its backend still in
 * use in this VIP with the same generation, and for UDP not idle too long.
 */
static int flow_record(struct state *st, const struct state_vip *vip,
		       const struct chlb_flow_key *k)
{
	struct chlb_flow_bucket bucket;
	const struct chlb_backend *b;
	const struct chlb_flow *f;
	struct timespec now;
	__u32 h, idx;
	__u64 now_ns;
	int w;

	if (!st->dp.flow_entries)
		return -1;
	h = chlb_flow_hash(k, st->cfg.seed);
	idx = chlb_flow_bucket(h, st->dp.flow_entries / CHLB_FLOW_WAYS);
	if (bpf_map_lookup_elem(st->dp.flows_fd, &idx, &bucket))
		return -1;
	w = chlb_flow_find(&bucket, k, h);
	if (w < 0)
		return -1;
	f = &bucket.way[w].f;
	if (f->backend_id >= st->dp.max_backends)
		return -1;
	b = &st->backends[f->backend_id];
	if (!(b->flags & CHLB_BACKEND_F_IN_USE) || b->gen != f->backend_gen ||
	    b->vip_id != vip->info.id)
		return -1;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	now_ns = now.tv_sec * 1000000000ULL + now.tv_nsec;
	if (k->proto == IPPROTO_UDP && now_ns > f->last_seen &&
	    now_ns - f->last_seen > st->cfg.udp_timeout * 1000000000ULL)
		return -1;
	return f->backend_id;
}

int lookup_flow(struct state *st, const struct state_vip *vip, struct chlb_ring *ring,
		const struct chlb_addr *client, __u16 cport, struct lookup_result *r)
{
	struct chlb_flow_key k;
	int err;

	flow_key(&vip->key, client, cport, &k);
	r->key = k;
	r->flow_id = flow_record(st, vip, &k);
	r->hash = chlb_flow_hash(&k, st->cfg.seed);
	r->slot = chlb_hash_to_slot(r->hash, st->cfg.table_size);
	r->id = -1;
	err = chlb_ring__lookup_hash(ring, r->hash, &r->backend);
	if (err == -CHLB_ERR_NO_BACKENDS)
		return 0;
	if (err)
		return err;
	r->id = state_find_backend(st, vip->info.id, &r->backend);
	return r->id < 0 ? -EIO : 0;
}

static void print_choice(struct state *st, const char *vip, struct json_object *extra,
			 const struct chlb_addr *backend, __u32 vip_id, const char *what)
{
	char addr[CHLB_ADDR_STRLEN] = "", mac[CLI_MAC_STRLEN] = "";
	int id = backend ? state_find_backend(st, vip_id, backend) : -1;

	if (backend)
		chlb_addr_format(backend, addr, sizeof(addr));
	if (id >= 0)
		format_mac(st->backends[id].mac, mac, sizeof(mac));
	if (cli.json) {
		json_object_object_add(extra, "vip", json_object_new_string(vip));
		json_object_object_add(extra, "backend",
				       backend ? json_object_new_string(addr) : NULL);
		json_object_object_add(extra, "backend_id",
				       id >= 0 ? json_object_new_int(id) : NULL);
		json_object_object_add(extra, "mac", id >= 0 ? json_object_new_string(mac) : NULL);
		cli_json_print(extra);
		return;
	}
	json_object_put(extra);
	if (backend)
		printf("%s -> %s (id %d, mac %s)\n", what, addr, id, mac);
	else
		printf("%s -> no active backend: the data plane drops it\n", what);
}

int lookup_open_ring(struct state *st, const char *text, struct state_vip **vip,
		     struct chlb_ring **ring)
{
	int err = state_open(st, false);

	if (!err)
		err = state_get_vip(st, text, vip);
	if (!err)
		err = state_vip_ring(st, (*vip)->info.id, ring);
	return err;
}

/* An existing flow's recorded backend: JSON flow_backend(_id), or a line. */
static void flow_text(struct state *st, const struct lookup_result *r, struct json_object *o,
		      char *line, size_t len)
{
	char addr[CHLB_ADDR_STRLEN] = "";

	line[0] = '\0';
	if (r->flow_id >= 0)
		format_addr(st->backends[r->flow_id].addr, addr, sizeof(addr));
	json_object_object_add(o, "flow_backend",
			       r->flow_id >= 0 ? json_object_new_string(addr) : NULL);
	json_object_object_add(o, "flow_backend_id",
			       r->flow_id >= 0 ? json_object_new_int(r->flow_id) : NULL);
	if (r->flow_id >= 0 && r->flow_id != r->id)
		snprintf(line, len, "existing flow: stays on %s (id %d, flow table); "
			 "a new connection:", addr, r->flow_id);
}

int do_lookup(int argc, char **argv)
{
	static const char *const names[] = { "VIP", "CLIENT_ADDR:CLIENT_PORT" };
	struct chlb_ring *ring = NULL;
	struct state st = { .lock_fd = -1 };
	struct lookup_result r;
	struct chlb_vip_key key;
	struct chlb_addr client;
	struct state_vip *vip;
	struct json_object *o;
	const char *pos[2];
	char what[CLI_VIP_STRLEN + 24];
	__u16 cport;
	int n, err;

	err = cli_args(argc, argv, NULL, pos, 2, 2, names, &n);
	if (err)
		return err == CLI_HELP ? lookup_help() : err;
	if (parse_vip(pos[0], &key, CLI_E) || parse_endpoint(pos[1], &client, &cport, CLI_E))
		return -EINVAL;
	if (chlb_addr_is_v4(&client) != (key.family == CHLB_FAMILY_INET))
		return cli_err(-EINVAL, "client '%s' and VIP '%s' are of different families",
			       pos[1], pos[0]);
	err = lookup_open_ring(&st, pos[0], &vip, &ring);
	if (err)
		goto out;
	err = lookup_flow(&st, vip, ring, &client, cport, &r);
	if (err) {
		cli_err(err, "lookup failed: %s", chlb_strerror(err));
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "client", json_object_new_string(pos[1]));
	json_object_object_add(o, "hash", json_object_new_int64(r.hash));
	json_object_object_add(o, "slot", json_object_new_int64(r.slot));
	flow_text(&st, &r, o, what, sizeof(what));
	if (!cli.json && what[0])
		printf("%s\n", what);
	snprintf(what, sizeof(what), "%s (slot %u)", pos[1], r.slot);
	print_choice(&st, pos[0], o, r.id >= 0 ? &r.backend : NULL, vip->info.id, what);
out:
	chlb_ring__free(ring);
	state_close(&st);
	return err;
}

int do_route(int argc, char **argv)
{
	static const char *const names[] = { "VIP", "KEY" };
	struct chlb_ring *ring = NULL;
	struct state st = { .lock_fd = -1 };
	struct chlb_addr backend;
	struct state_vip *vip;
	struct json_object *o;
	const char *pos[2];
	int n, err;

	err = cli_args(argc, argv, NULL, pos, 2, 2, names, &n);
	if (err)
		return err == CLI_HELP ? lookup_help() : err;
	err = lookup_open_ring(&st, pos[0], &vip, &ring);
	if (err)
		goto out;
	err = chlb_ring__route(ring, pos[1], strlen(pos[1]), &backend);
	if (err && err != -CHLB_ERR_NO_BACKENDS) {
		cli_err(err, "route failed: %s", chlb_strerror(err));
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "key", json_object_new_string(pos[1]));
	print_choice(&st, pos[0], o, err ? NULL : &backend, vip->info.id, pos[1]);
	err = 0;
out:
	chlb_ring__free(ring);
	state_close(&st);
	return err;
}
