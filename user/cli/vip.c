// SPDX-License-Identifier: GPL-2.0
/* chlb vip add | del | list */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "cli.h"
#include "core/parse.h"
#include "core/inst.h"
#include "core/managed.h"
#include "core/txn.h"
#include "table.h"

static int vip_help(void)
{
	printf("Usage: chlb vip add VIP [--method dsr|ipip]\n"
	       "       chlb vip del VIP [--force]\n"
	       "       chlb vip list\n" CLI_HELP_GRAMMAR
	       "       --method dsr (default): the client's frame sent on unchanged to the\n"
	       "         backend's MAC; backends on the interface's own segment, of the VIP's\n"
	       "         family\n"
	       "       --method ipip: the frame encapsulated in an outer IP header to the\n"
	       "         backend (4in4, 6in6, or 4in6 for an IPv4 VIP on IPv6 backends), next\n"
	       "         hop from the kernel's routes: backends may sit behind routers; the\n"
	       "         outer source is set at attach (--encap-src)\n"
	       "       'vip del' also removes the VIP's backends.\n");
	return 0;
}

static void print_result(const char *action, const char *vip, __u32 id)
{
	struct json_object *o;

	if (!cli.json)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "action", json_object_new_string(action));
	json_object_object_add(o, "vip", json_object_new_string(vip));
	json_object_object_add(o, "id", json_object_new_int64(id));
	cli_json_print(o);
}

/* Open the instance for writing and start a transaction. */
static int begin(struct inst *in, struct txn **t)
{
	int err = inst_open(in, cli.pin_dir, true, CLI_E);

	return err ? err : txn_begin(in, t, CLI_E);
}

static int vip_add(int argc, char **argv)
{
	struct cli_opt o[] = { CLI_OPT("--method", CLI_ARG_REQ), {} };
	static const char *const names[] = { "VIP" };
	struct inst in = { .lock_fd = -1, .verbose = cli.verbose };
	__u32 method = CHLB_METHOD_DSR;
	struct chlb_vip_key key;
	struct txn *t = NULL;
	const char *text;
	int n, err;

	err = cli_args(argc, argv, o, &text, 1, 1, names, &n);
	if (err)
		return err == CLI_HELP ? vip_help() : err;
	if (o[0].val && parse_method(o[0].val, &method, CLI_E))
		return -EINVAL;
	err = parse_vip(text, &key, CLI_E);
	if (!err)
		err = begin(&in, &t);
	if (!err)
		err = txn_vip_add(t, &key, method, NULL, CLI_E);
	if (!err)
		err = txn_commit(t, NULL, CLI_E);
	if (!err)
		print_result("add", text, model_find_vip(&in.m, &key)->info.id);
	txn_free(t);
	inst_close(&in);
	return err;
}

static int vip_del(int argc, char **argv)
{
	struct cli_opt o[] = { CLI_OPT("--force", CLI_ARG_NONE), {} };
	static const char *const names[] = { "VIP" };
	struct inst in = { .lock_fd = -1, .verbose = cli.verbose };
	struct chlb_vip_key key;
	struct model_vip *vip;
	struct txn *t = NULL;
	const char *text;
	int n, err;
	__u32 id = 0;

	err = cli_args(argc, argv, o, &text, 1, 1, names, &n);
	if (err)
		return err == CLI_HELP ? vip_help() : err;
	err = parse_vip(text, &key, CLI_E);
	if (!err)
		err = begin(&in, &t);
	if (!err)
		err = inst_get_vip(&in, text, &vip, CLI_E);
	if (!err)
		err = managed_check(&in, &key, o[0].set, CLI_E);
	if (!err) {
		id = vip->info.id;
		err = txn_vip_del(t, &key, CLI_E);
	}
	if (!err)
		err = txn_commit(t, NULL, CLI_E);
	if (!err)
		print_result("del", text, id);
	txn_free(t);
	inst_close(&in);
	return err;
}

static void vip_list_json(struct inst *in)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	char vip[CLI_VIP_STRLEN], addr[CHLB_ADDR_STRLEN];
	int i;

	for (i = 0; i < in->m.nvips; i++) {
		struct model_vip *v = &in->m.vips[i];
		struct json_object *o = json_object_new_object();

		format_vip(&v->key, vip, sizeof(vip));
		format_addr(v->key.addr, addr, sizeof(addr));
		json_object_object_add(o, "vip", json_object_new_string(vip));
		json_object_object_add(o, "address", json_object_new_string(addr));
		json_object_object_add(o, "port", json_object_new_int(ntohs(v->key.port)));
		json_object_object_add(o, "protocol",
				       json_object_new_string(proto_name(v->key.proto)));
		json_object_object_add(o, "method",
				       json_object_new_string(method_name(v->info.method)));
		json_object_object_add(o, "id", json_object_new_int64(v->info.id));
		json_object_object_add(o, "backends",
				       json_object_new_int(model_count_backends(&in->m, v->info.id)));
		json_object_object_add(o, "managed",
				       json_object_new_boolean(v->info.flags & CHLB_VIP_F_MANAGED));
		json_object_object_add(o, "panic",
				       json_object_new_boolean(v->info.flags & CHLB_VIP_F_PANIC));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "vips", arr);
	cli_json_print(root);
}

static int vip_list_plain(struct inst *in)
{
	struct table *t = table_new(4, "VIP", "METHOD", ">ID", ">BACKENDS");
	char vip[CLI_VIP_STRLEN];
	int i;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < in->m.nvips; i++) {
		struct model_vip *v = &in->m.vips[i];

		format_vip(&v->key, vip, sizeof(vip));
		table_cell(t, "%s", vip);
		table_cell(t, "%s", method_name(v->info.method));
		table_cell(t, "%u", v->info.id);
		table_cell(t, "%d", model_count_backends(&in->m, v->info.id));
	}
	table_print(t, stdout);
	table_free(t);
	return 0;
}

static int vip_list(int argc, char **argv)
{
	struct inst in = { .lock_fd = -1 };
	int n, err;

	err = cli_args(argc, argv, NULL, NULL, 0, 0, NULL, &n);
	if (err)
		return err == CLI_HELP ? vip_help() : err;
	err = inst_open(&in, cli.pin_dir, false, CLI_E);
	if (!err && cli.json)
		vip_list_json(&in);
	else if (!err)
		err = vip_list_plain(&in);
	inst_close(&in);
	return err;
}

static const struct cli_cmd vip_cmds[] = {
	{ "add", vip_add },
	{ "del", vip_del },
	{ "list", vip_list },
	{ "show", vip_list },
	{}
};

int do_vip(int argc, char **argv)
{
	return cli_dispatch("vip", vip_cmds, argc, argv, vip_help);
}
