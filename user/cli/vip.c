// SPDX-License-Identifier: GPL-2.0
/* chlb vip add | del | list */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "cli.h"
#include "core/parse.h"
#include "core/state.h"
#include "table.h"

static int vip_help(void)
{
	printf("Usage: chlb vip add VIP [--method dsr]\n"
	       "       chlb vip del VIP\n"
	       "       chlb vip list\n" CLI_HELP_GRAMMAR
	       "       'vip del' also removes the VIP's backends.\n");
	return 0;
}

static const char *method_name(__u32 m)
{
	return m == CHLB_METHOD_DSR ? "dsr" : "unknown";
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

static int vip_add(int argc, char **argv)
{
	struct cli_opt o[] = { CLI_OPT("--method", CLI_ARG_REQ), {} };
	static const char *const names[] = { "VIP" };
	struct chlb_vip_info info = { .method = CHLB_METHOD_DSR };
	struct chlb_vip_key key;
	const char *text;
	struct state st;
	int n, id, err;

	err = cli_args(argc, argv, o, &text, 1, 1, names, &n);
	if (err)
		return err == CLI_HELP ? vip_help() : err;
	if (o[0].val && strcmp(o[0].val, "dsr"))
		return cli_err(-EINVAL, "unsupported method '%s': only dsr", o[0].val);
	err = parse_vip(text, &key, CLI_E);
	if (err)
		return err;
	err = state_open(&st, true);
	if (err)
		goto out;
	if (state_find_vip(&st, &key)) {
		err = cli_err(-EEXIST, "VIP '%s' already exists", text);
		goto out;
	}
	id = state_free_vip_id(&st);
	if (id < 0) {
		err = id;
		goto out;
	}
	info.id = id;
	/* The table exists (all "no backend") before the VIP can match. */
	err = chlb_dp__reset_vip_stats(&st.dp, id);
	if (!err)
		err = state_apply(&st, id);
	if (err)
		goto out;
	err = chlb_dp__vip_add(&st.dp, &key, &info);
	if (err) {
		cli_err(err, "cannot add VIP '%s': %s", text, strerror(-err));
		chlb_dp__clear_table(&st.dp, id);
	}
	if (!err)
		print_result("add", text, id);
out:
	state_close(&st);
	return err;
}

static int vip_del(int argc, char **argv)
{
	static const char *const names[] = { "VIP" };
	struct state_vip *vip;
	const char *text;
	struct state st;
	__u32 id, bid;
	int n, err;

	err = cli_args(argc, argv, NULL, &text, 1, 1, names, &n);
	if (err)
		return err == CLI_HELP ? vip_help() : err;
	err = state_open(&st, true);
	if (!err)
		err = state_get_vip(&st, text, &vip);
	if (err)
		goto out;
	/* Stop matching first, then take the table and backends away. */
	id = vip->info.id;
	err = chlb_dp__vip_del(&st.dp, &vip->key);
	if (err) {
		cli_err(err, "cannot delete VIP '%s': %s", text, strerror(-err));
		goto out;
	}
	err = chlb_dp__clear_table(&st.dp, id);
	if (err == -ENOENT)
		err = 0;
	for (bid = 0; !err && bid < st.dp.max_backends; bid++)
		if ((st.backends[bid].flags & CHLB_BACKEND_F_IN_USE) &&
		    st.backends[bid].vip_id == id)
			err = state_clear_backend(&st, bid);
	if (!err)
		err = chlb_dp__reset_vip_stats(&st.dp, id);
	if (err)
		cli_err(err, "VIP '%s' deleted, but cleaning up failed: %s", text,
			strerror(-err));
	else
		print_result("del", text, id);
out:
	state_close(&st);
	return err;
}

static void vip_list_json(struct state *st)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	char vip[CLI_VIP_STRLEN], addr[CHLB_ADDR_STRLEN];
	int i;

	for (i = 0; i < st->nvips; i++) {
		struct state_vip *v = &st->vips[i];
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
				       json_object_new_int(state_count_backends(st, v->info.id)));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "vips", arr);
	cli_json_print(root);
}

static int vip_list_plain(struct state *st)
{
	struct table *t = table_new(4, "VIP", "METHOD", ">ID", ">BACKENDS");
	char vip[CLI_VIP_STRLEN];
	int i;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < st->nvips; i++) {
		struct state_vip *v = &st->vips[i];

		format_vip(&v->key, vip, sizeof(vip));
		table_cell(t, "%s", vip);
		table_cell(t, "%s", method_name(v->info.method));
		table_cell(t, "%u", v->info.id);
		table_cell(t, "%d", state_count_backends(st, v->info.id));
	}
	table_print(t, stdout);
	table_free(t);
	return 0;
}

static int vip_list(int argc, char **argv)
{
	struct state st;
	int n, err;

	err = cli_args(argc, argv, NULL, NULL, 0, 0, NULL, &n);
	if (err)
		return err == CLI_HELP ? vip_help() : err;
	err = state_open(&st, false);
	if (!err && cli.json)
		vip_list_json(&st);
	else if (!err)
		err = vip_list_plain(&st);
	state_close(&st);
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
