// SPDX-License-Identifier: GPL-2.0
/*
 * chlb lookup VIP CLIENT:PORT and chlb route VIP KEY. lookup reads what the
 * XDP program reads (core/lookup.c: the live table and the flow table), so
 * its answer is the data plane's choice; route is the library's demo.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "cli.h"
#include "core/parse.h"
#include "core/build.h"
#include "core/lookup.h"

static int lookup_help(void)
{
	printf("Usage: chlb lookup VIP CLIENT_ADDR:CLIENT_PORT\n"
	       "       chlb route VIP KEY\n" CLI_HELP_GRAMMAR
	       "       lookup: the backend the data plane picks for that client's flow\n"
	       "               (and, with a flow table, the one an existing flow keeps)\n"
	       "       route:  the backend the VIP's ring gives an arbitrary string key\n");
	return 0;
}

static void print_choice(struct inst *in, const char *vip, struct json_object *extra,
			 const struct chlb_addr *backend, __u32 vip_id, const char *what,
			 const struct chlb_addr *outer_src)
{
	char src[CHLB_ADDR_STRLEN] = "";
	char addr[CHLB_ADDR_STRLEN] = "", mac[CLI_MAC_STRLEN] = "";
	int id = backend ? model_find_backend(&in->m, vip_id, backend) : -1;
	const struct model_vip *v = model_vip_by_id(&in->m, vip_id);
	bool ipip = v && v->info.method == CHLB_METHOD_IPIP;

	if (backend)
		chlb_addr_format(backend, addr, sizeof(addr));
	if (id >= 0 && !ipip)	/* ipip: the next hop's MAC comes from the FIB */
		format_mac(in->m.backends[id].mac, mac, sizeof(mac));
	if (outer_src)
		chlb_addr_format(outer_src, src, sizeof(src));
	if (cli.json) {
		json_object_object_add(extra, "vip", json_object_new_string(vip));
		json_object_object_add(extra, "backend",
				       backend ? json_object_new_string(addr) : NULL);
		json_object_object_add(extra, "backend_id",
				       id >= 0 ? json_object_new_int(id) : NULL);
		json_object_object_add(extra, "mac", mac[0] ? json_object_new_string(mac) : NULL);
		if (ipip)
			json_object_object_add(extra, "outer_src",
					       src[0] ? json_object_new_string(src) : NULL);
		cli_json_print(extra);
		return;
	}
	json_object_put(extra);
	if (backend && ipip && src[0])
		printf("%s -> %s (id %d, ipip from %s)\n", what, addr, id, src);
	else if (backend && ipip)
		printf("%s -> %s (id %d, ipip)\n", what, addr, id);
	else if (backend)
		printf("%s -> %s (id %d, mac %s)\n", what, addr, id, mac);
	else
		printf("%s -> no active backend: the data plane drops it\n", what);
}

/* An existing flow's recorded backend: JSON flow_backend(_id), or a line. */
static void flow_text(struct inst *in, const struct lookup_result *r, struct json_object *o,
		      char *line, size_t len)
{
	char addr[CHLB_ADDR_STRLEN] = "";

	line[0] = '\0';
	if (r->flow_id >= 0)
		format_addr(in->m.backends[r->flow_id].addr, addr, sizeof(addr));
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
	struct inst in = { .lock_fd = -1 };
	struct lookup_result r;
	struct chlb_vip_key key;
	struct chlb_addr client;
	struct model_vip *vip;
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
	err = inst_open(&in, cli.pin_dir, false, CLI_E);
	if (!err)
		err = inst_get_vip(&in, pos[0], &vip, CLI_E);
	if (!err)
		err = lookup_flow(&in, vip, &client, cport, &r, CLI_E);
	if (err)
		goto out;
	o = json_object_new_object();
	json_object_object_add(o, "client", json_object_new_string(pos[1]));
	json_object_object_add(o, "hash", json_object_new_int64(r.hash));
	json_object_object_add(o, "slot", json_object_new_int64(r.slot));
	flow_text(&in, &r, o, what, sizeof(what));
	if (!cli.json && what[0])
		printf("%s\n", what);
	snprintf(what, sizeof(what), "%s (slot %u)", pos[1], r.slot);
	print_choice(&in, pos[0], o, r.id >= 0 ? &r.backend : NULL, vip->info.id, what,
		     r.has_outer_src ? &r.outer_src : NULL);
out:
	inst_close(&in);
	return err;
}

int do_route(int argc, char **argv)
{
	static const char *const names[] = { "VIP", "KEY" };
	struct inst in = { .lock_fd = -1 };
	struct chlb_ring *ring = NULL;
	struct chlb_addr backend;
	struct model_vip *vip;
	__u32 *ids = NULL;
	struct json_object *o;
	const char *pos[2];
	int n, err;

	err = cli_args(argc, argv, NULL, pos, 2, 2, names, &n);
	if (err)
		return err == CLI_HELP ? lookup_help() : err;
	err = inst_open(&in, cli.pin_dir, false, CLI_E);
	if (!err)
		err = inst_get_vip(&in, pos[0], &vip, CLI_E);
	if (!err)
		err = build_ring(&in.m, vip->info.id, &ring, &ids, CLI_E);
	if (err)
		goto out;
	err = chlb_ring__route(ring, pos[1], strlen(pos[1]), &backend);
	if (err && err != -CHLB_ERR_NO_BACKENDS) {
		cli_err(err, "route failed: %s", chlb_strerror(err));
		goto out;
	}
	o = json_object_new_object();
	json_object_object_add(o, "key", json_object_new_string(pos[1]));
	print_choice(&in, pos[0], o, err ? NULL : &backend, vip->info.id, pos[1], NULL);
	err = 0;
out:
	chlb_ring__free(ring);
	free(ids);
	inst_close(&in);
	return err;
}
