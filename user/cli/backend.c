// SPDX-License-Identifier: GPL-2.0
/*
 * chlb backend add | del | set: each is a one-change transaction of the
 * core (core/txn.h), which orders the writes and rolls back failures.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "cli.h"
#include "core/parse.h"
#include "core/inst.h"
#include "core/managed.h"
#include "core/txn.h"

int backend_help(void)
{
	printf("Usage: chlb backend add VIP ADDR [--weight W] [--mac MAC]\n"
	       "       chlb backend del VIP ADDR\n"
	       "       chlb backend set VIP ADDR (--weight W | --drain | --undrain)\n"
	       "       chlb backend list [VIP]\n"
	       "       (add, del, set: --force to change a VIP a chlb daemon manages)\n"
	       CLI_HELP_GRAMMAR
	       "       W    := 1..256 (default 1), share proportional to weight\n"
	       "       MAC  := aa:bb:cc:dd:ee:ff (default: from the neighbour table);\n"
	       "               dsr only: ipip VIPs reach backends through the kernel's routes\n"
	       "       add:     new connections may land on it; live ones stay where\n"
	       "                they are (flow table)\n"
	       "       --drain: no new connections; its live ones continue (flow table)\n"
	       "       del:     its connections are re-hashed to the other backends\n"
	       "                (they break); the others' are untouched\n");
	return 0;
}

/* The VIP and backend address every backend change starts with. */
struct target {
	struct inst in;
	struct txn *t;
	struct chlb_vip_key vip;
	struct txn_backend b;
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
	t->b.state = -1;
	err = parse_vip(t->vip_text, &t->vip, CLI_E);
	return err ? err : parse_addr("backend address", t->addr_text, &t->b.addr, CLI_E);
}

/* Open for writing, refuse a daemon's VIP unless forced, start the transaction. */
static int begin(struct target *t, const struct cli_opt *force)
{
	int err = inst_open(&t->in, cli.pin_dir, true, CLI_E);

	if (!err)
		err = managed_check(&t->in, &t->vip, force->set, CLI_E);
	return err ? err : txn_begin(&t->in, &t->t, CLI_E);
}

static int commit(struct target *t)
{
	struct txn_result r;
	int err = txn_commit(t->t, &r, CLI_E);

	if (!err)
		cli_debug("chlb: %d tables swapped, %d entries written\n", r.swaps, r.entries);
	return err;
}

static void finish(struct target *t)
{
	txn_free(t->t);
	inst_close(&t->in);
}

static void print_result(const char *action, struct target *t)
{
	const struct model_vip *v = model_find_vip(&t->in.m, &t->vip);
	int id = v ? model_find_backend(&t->in.m, v->info.id, &t->b.addr) : -1;
	const struct chlb_backend *b = id >= 0 ? &t->in.m.backends[id] : NULL;
	struct json_object *o;
	char mac[CLI_MAC_STRLEN];

	if (!cli.json)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "action", json_object_new_string(action));
	json_object_object_add(o, "vip", json_object_new_string(t->vip_text));
	json_object_object_add(o, "address", json_object_new_string(t->addr_text));
	if (b) {
		format_mac(b->mac, mac, sizeof(mac));
		json_object_object_add(o, "id", json_object_new_int(id));
		json_object_object_add(o, "weight", json_object_new_int(b->weight));
		json_object_object_add(o, "mac", v->info.method == CHLB_METHOD_IPIP ? NULL :
				       json_object_new_string(mac));
		json_object_object_add(o, "state",
				       json_object_new_string(backend_state_name(b->flags)));
	}
	cli_json_print(o);
}

const char *backend_state_name(__u32 flags)
{
	if (flags & CHLB_BACKEND_F_DOWN)
		return "down";
	return flags & CHLB_BACKEND_F_DRAINING ? "draining" : "active";
}

static int backend_add(int argc, char **argv)
{
	struct cli_opt o[] = { CLI_OPT("--weight", CLI_ARG_REQ), CLI_OPT("--mac", CLI_ARG_REQ),
			       CLI_OPT("--force", CLI_ARG_NONE), {} };
	struct target t = { .in.lock_fd = -1, .in.verbose = cli.verbose };
	unsigned int w = 1;
	__u8 mac[6];
	int err;

	err = target_args(argc, argv, o, &t);
	if (err)
		return err == CLI_HELP ? 0 : err;
	if ((o[0].val && parse_weight(o[0].val, &w, CLI_E)) ||
	    (o[1].val && parse_mac(o[1].val, mac, CLI_E)))
		return -EINVAL;
	t.b.weight = w;
	t.b.mac = o[1].val ? mac : NULL;
	t.b.state = CHLB_STATE_ACTIVE;
	err = begin(&t, &o[2]);
	if (!err)
		err = txn_backend_add(t.t, &t.vip, &t.b, CLI_E);
	if (!err)
		err = commit(&t);
	if (!err)
		print_result("add", &t);
	finish(&t);
	return err;
}

static int backend_del(int argc, char **argv)
{
	struct cli_opt o[] = { CLI_OPT("--force", CLI_ARG_NONE), {} };
	struct target t = { .in.lock_fd = -1, .in.verbose = cli.verbose };
	int err;

	err = target_args(argc, argv, o, &t);
	if (err)
		return err == CLI_HELP ? 0 : err;
	err = begin(&t, &o[0]);
	if (!err)
		err = txn_backend_del(t.t, &t.vip, &t.b.addr, CLI_E);
	if (!err)
		err = commit(&t);
	if (!err)
		print_result("del", &t);
	finish(&t);
	return err;
}

/* The contract is (--weight W | --drain | --undrain): exactly one. */
static int set_opts(struct cli_opt *o, struct txn_backend *b)
{
	unsigned int w;

	if (!o[0].set && !o[1].set && !o[2].set)
		return cli_err(-EINVAL, "backend set: give --weight W, --drain or --undrain");
	if (o[1].set && o[2].set)
		return cli_err(-EINVAL, "backend set: --drain and --undrain conflict");
	if (o[0].set && (o[1].set || o[2].set))
		return cli_err(-EINVAL, "backend set: --weight and --%s conflict",
			       o[1].set ? "drain" : "undrain");
	if (o[0].val && parse_weight(o[0].val, &w, CLI_E))
		return -EINVAL;
	b->weight = o[0].val ? w : 0;
	b->state = o[1].set ? CHLB_STATE_DRAINING : o[2].set ? CHLB_STATE_ACTIVE : -1;
	return 0;
}

static int backend_set(int argc, char **argv)
{
	struct cli_opt o[] = { CLI_OPT("--weight", CLI_ARG_REQ), CLI_OPT("--drain", CLI_ARG_NONE),
			       CLI_OPT("--undrain", CLI_ARG_NONE), CLI_OPT("--force", CLI_ARG_NONE),
			       {} };
	struct target t = { .in.lock_fd = -1, .in.verbose = cli.verbose };
	int err;

	err = target_args(argc, argv, o, &t);
	if (err)
		return err == CLI_HELP ? 0 : err;
	err = set_opts(o, &t.b);
	if (!err)
		err = begin(&t, &o[3]);
	if (!err)
		err = txn_backend_set(t.t, &t.vip, &t.b, CLI_E);
	if (!err)
		err = commit(&t);
	if (!err)
		print_result("set", &t);
	finish(&t);
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
