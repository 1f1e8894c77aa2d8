// SPDX-License-Identifier: GPL-2.0
/*
 * chlb backend add | del | set. Each change is written so the data plane
 * never sees a table that refers to a missing entry: add writes the entry
 * (unreferenced) before the swap, del swaps before clearing the entry.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "cli.h"
#include "net/neigh.h"
#include "core/parse.h"
#include "core/state.h"

#define NEIGH_TIMEOUT_MS 1500

int backend_help(void)
{
	printf("Usage: chlb backend add VIP ADDR [--weight W] [--mac MAC]\n"
	       "       chlb backend del VIP ADDR\n"
	       "       chlb backend set VIP ADDR (--weight W | --drain | --undrain)\n"
	       "       chlb backend list [VIP]\n" CLI_HELP_GRAMMAR
	       "       W    := 1..256 (default 1), share proportional to weight\n"
	       "       MAC  := aa:bb:cc:dd:ee:ff (default: from the neighbour table)\n"
	       "       add:     new connections may land on it; live ones stay where\n"
	       "                they are (flow table)\n"
	       "       --drain: no new connections; its live ones continue (flow table)\n"
	       "       del:     its connections are re-hashed to the other backends\n"
	       "                (they break); the others' are untouched\n");
	return 0;
}

/* The VIP and backend address every backend command starts with. */
struct target {
	struct state st;
	struct state_vip *vip;
	struct chlb_addr addr;
	const char *vip_text, *addr_text;
};

/*
 * "VIP ADDR [options]", the words every backend change starts with, into t.
 * CLI_HELP once the usage is printed.
 */
static int target_args(int argc, char **argv, struct cli_opt *o, struct target *t)
{
	static const char *const names[] = { "VIP", "ADDR" };
	const char *pos[2];
	int n, err;

	err = cli_args(argc, argv, o, pos, 2, 2, names, &n);
	if (err == CLI_HELP)
		backend_help();
	if (err)
		return err;
	t->vip_text = pos[0];
	t->addr_text = pos[1];
	return 0;
}

static int open_target(struct target *t, bool must_exist)
{
	int err, id;

	err = parse_addr("backend address", t->addr_text, &t->addr, CLI_E);
	if (err)
		return err;
	err = state_open(&t->st, true);
	if (!err)
		err = state_get_vip(&t->st, t->vip_text, &t->vip);
	if (err)
		return err;
	id = state_find_backend(&t->st, t->vip->info.id, &t->addr);
	if (must_exist && id < 0)
		return cli_err(-ENOENT, "unknown backend '%s' in VIP '%s'", t->addr_text,
			       t->vip_text);
	if (!must_exist && id >= 0)
		return cli_err(-EEXIST, "backend '%s' already in VIP '%s'", t->addr_text,
			       t->vip_text);
	return must_exist ? id : 0;
}

static void print_result(const char *action, struct target *t, int id)
{
	const struct chlb_backend *b = &t->st.backends[id];
	struct json_object *o;
	char mac[CLI_MAC_STRLEN];

	if (!cli.json)
		return;
	o = json_object_new_object();
	format_mac(b->mac, mac, sizeof(mac));
	json_object_object_add(o, "action", json_object_new_string(action));
	json_object_object_add(o, "vip", json_object_new_string(t->vip_text));
	json_object_object_add(o, "address", json_object_new_string(t->addr_text));
	json_object_object_add(o, "id", json_object_new_int(id));
	if (b->flags & CHLB_BACKEND_F_IN_USE) {
		json_object_object_add(o, "weight", json_object_new_int(b->weight));
		json_object_object_add(o, "mac", json_object_new_string(mac));
		json_object_object_add(o, "state",
				       json_object_new_string(backend_state_name(b->flags)));
	}
	cli_json_print(o);
}

const char *backend_state_name(__u32 flags)
{
	return flags & CHLB_BACKEND_F_DRAINING ? "draining" : "active";
}

static int resolve_mac(struct target *t, __u8 mac[6])
{
	char ifname[IF_NAMESIZE] = "?";
	int err;

	err = neigh_resolve(t->st.cfg.ifindex, &t->addr, NEIGH_TIMEOUT_MS, mac);
	if (err) {
		if_indextoname(t->st.cfg.ifindex, ifname);
		return cli_err(err, "cannot resolve the MAC of %s on %s (%s); give --mac",
			       t->addr_text, ifname, strerror(-err));
	}
	return 0;
}

static int backend_add(int argc, char **argv)
{
	struct cli_opt o[] = { CLI_OPT("--weight", CLI_ARG_REQ), CLI_OPT("--mac", CLI_ARG_REQ), {} };
	struct chlb_backend b = { .weight = 1, .flags = CHLB_BACKEND_F_IN_USE };
	struct target t = { .st.lock_fd = -1 };
	unsigned int w;
	int id, err;

	err = target_args(argc, argv, o, &t);
	if (err)
		return err == CLI_HELP ? 0 : err;
	if ((o[0].val && parse_weight(o[0].val, &w, CLI_E)) || (o[1].val && parse_mac(o[1].val, b.mac, CLI_E)))
		return -EINVAL;
	if (o[0].val)
		b.weight = w;
	err = open_target(&t, false);
	if (err < 0)
		goto out;
	id = state_free_backend_id(&t.st);
	err = id < 0 ? id : o[1].val ? 0 : resolve_mac(&t, b.mac);
	if (err)
		goto out;
	memcpy(b.addr, t.addr.bytes, CHLB_ADDR_LEN);
	b.vip_id = t.vip->info.id;
	/* a new life of the id: flows recorded for its last backend re-hash */
	b.gen = t.st.backends[id].gen + 1;
	err = chlb_dp__reset_backend_stats(&t.st.dp, id);
	if (!err)
		err = state_write_backend(&t.st, id, &b);
	if (!err) {
		err = state_apply(&t.st, b.vip_id);
		if (err)
			state_clear_backend(&t.st, id);
	}
	if (!err)
		print_result("add", &t, id);
out:
	state_close(&t.st);
	return err;
}

static int backend_del(int argc, char **argv)
{
	struct chlb_backend old;
	struct target t = { .st.lock_fd = -1 };
	int id, err;

	err = target_args(argc, argv, NULL, &t);
	if (err)
		return err == CLI_HELP ? 0 : err;
	id = err = open_target(&t, true);
	if (err < 0)
		goto out;
	/* Swap in a table without it, then retire the entry. */
	old = t.st.backends[id];
	t.st.backends[id].flags = 0;
	err = state_apply(&t.st, old.vip_id);
	t.st.backends[id] = old;
	if (!err)
		err = state_clear_backend(&t.st, id);
	if (!err)
		print_result("del", &t, id);
out:
	state_close(&t.st);
	return err;
}

static int set_flags(struct cli_opt *o, struct chlb_backend *b)
{
	/* The contract is (--weight W | --drain | --undrain): exactly one. */
	if (!o[0].set && !o[1].set && !o[2].set)
		return cli_err(-EINVAL, "backend set: give --weight W, --drain or --undrain");
	if (o[1].set && o[2].set)
		return cli_err(-EINVAL, "backend set: --drain and --undrain conflict");
	if (o[0].set && (o[1].set || o[2].set))
		return cli_err(-EINVAL, "backend set: --weight and --%s conflict",
			       o[1].set ? "drain" : "undrain");
	if (o[1].set)
		b->flags |= CHLB_BACKEND_F_DRAINING;
	if (o[2].set)
		b->flags &= ~CHLB_BACKEND_F_DRAINING;
	return 0;
}

static int backend_set(int argc, char **argv)
{
	struct cli_opt o[] = { CLI_OPT("--weight", CLI_ARG_REQ), CLI_OPT("--drain", CLI_ARG_NONE),
			       CLI_OPT("--undrain", CLI_ARG_NONE), {} };
	struct chlb_backend old, b = {};
	struct target t = { .st.lock_fd = -1 };
	unsigned int w = 0;
	int id, err;

	err = target_args(argc, argv, o, &t);
	if (err)
		return err == CLI_HELP ? 0 : err;
	if ((o[0].val && parse_weight(o[0].val, &w, CLI_E)) || set_flags(o, &b))
		return -EINVAL;
	id = err = open_target(&t, true);
	if (err < 0)
		goto out;
	old = b = t.st.backends[id];
	set_flags(o, &b);
	if (w)
		b.weight = w;
	err = state_write_backend(&t.st, id, &b);
	if (!err) {
		err = state_apply(&t.st, b.vip_id);
		if (err)
			state_write_backend(&t.st, id, &old);
	}
	if (!err)
		print_result("set", &t, id);
out:
	state_close(&t.st);
	return err;
}

static const struct cli_cmd backend_cmds[] = {
	{ "add", backend_add },
	{ "del", backend_del },
	{ "set", backend_set },
	{ "list", backend_list },
	{ "show", backend_list },
	{}
};

int do_backend(int argc, char **argv)
{
	return cli_dispatch("backend", backend_cmds, argc, argv, backend_help);
}
