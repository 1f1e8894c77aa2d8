// SPDX-License-Identifier: GPL-2.0
/*
 * chlb config export [VIP] | apply FILE|- [--dry-run]: the instance as a
 * document (SPEC §9), and a document made the instance's configuration in
 * one transaction (one table swap per changed VIP).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "core/config.h"
#include "core/managed.h"
#include "core/parse.h"

static int config_help(void)
{
	printf("Usage: chlb config export [VIP]\n"
	       "       chlb config apply FILE|- [--dry-run] [--force]\n" CLI_HELP_GRAMMAR
	       "       export: the configuration as a JSON document (same state, same bytes)\n"
	       "       apply:  make the instance equal the document: VIPs and backends it\n"
	       "               lacks are removed, new ones added, changed ones set; each\n"
	       "               changed VIP's table is swapped once. An invalid document\n"
	       "               changes nothing and the error names the JSON path.\n"
	       "       --dry-run: print the plan (backends added, removed, changed; the\n"
	       "               share of each table that moves; its new max/mean share)\n"
	       "       --force: apply even though a chlb daemon manages some of the VIPs\n"
	       "               (its source's next change overwrites them)\n");
	return 0;
}

static int config_export_cmd(int argc, char **argv)
{
	static const char *const names[] = { "VIP" };
	struct inst in = { .lock_fd = -1 };
	struct model_vip *only = NULL;
	struct doc d = {};
	const char *text;
	char *out = NULL;
	int n, err;

	err = cli_args(argc, argv, NULL, &text, 0, 1, names, &n);
	if (err)
		return err == CLI_HELP ? config_help() : err;
	err = inst_open(&in, cli.pin_dir, false, CLI_E);
	if (!err && n)
		err = inst_get_vip(&in, text, &only, CLI_E);
	if (!err)
		err = config_export(&in.m, only ? &only->key : NULL, &d, CLI_E);
	if (!err) {
		out = doc_format(&d);
		err = out ? 0 : cli_fail(-ENOMEM, "cannot format the document");
	}
	if (!err)
		fputs(out, stdout);
	free(out);
	doc_free(&d);
	inst_close(&in);
	return err;
}

static const char *state_word(int s)
{
	return s == CHLB_STATE_DRAINING ? "draining" : "active";
}

static void print_backend_plain(const struct plan_backend *b)
{
	char a[CHLB_ADDR_STRLEN];

	chlb_addr_format(&b->addr, a, sizeof(a));
	if (b->what == '+')
		printf("  + %s weight %u, %s\n", a, b->weight[1], state_word(b->state[1]));
	else if (b->what == '-')
		printf("  - %s\n", a);
	else
		printf("  ~ %s weight %u -> %u, %s -> %s%s\n", a, b->weight[0], b->weight[1],
		       state_word(b->state[0]), state_word(b->state[1]),
		       b->mac_changed ? ", new MAC" : "");
}

static void print_plan_plain(const struct plan *p)
{
	static const char *what[] = { ['+'] = "new", ['-'] = "removed", ['~'] = "changed",
				      ['='] = "unchanged" };
	char vip[CLI_VIP_STRLEN];
	int i, j;

	for (i = 0; i < p->nvips; i++) {
		const struct plan_vip *v = &p->vips[i];

		format_vip(&v->key, vip, sizeof(vip));
		if (v->method[0] && v->method[1] && v->method[0] != v->method[1])
			printf("%s: %s (method %s -> %s)\n", vip, what[(int)v->what],
			       method_name(v->method[0]), method_name(v->method[1]));
		else
			printf("%s: %s\n", vip, what[(int)v->what]);
		for (j = 0; j < v->nbackends; j++)
			print_backend_plain(&v->backends[j]);
		if (v->what != '-' && v->what != '=')
			printf("  table: %.2f%% of slots move to another backend; "
			       "max/mean share %.3f\n", 100 * v->moved, v->max_mean);
	}
	printf("%d change%s; dry run: nothing applied\n", p->changes, p->changes == 1 ? "" : "s");
}

static struct json_object *plan_backend_json(const struct plan_backend *b)
{
	struct json_object *o = json_object_new_object();
	char a[CHLB_ADDR_STRLEN];

	chlb_addr_format(&b->addr, a, sizeof(a));
	json_object_object_add(o, "addr", json_object_new_string(a));
	if (b->what != '+') {
		json_object_object_add(o, "weight_before", json_object_new_int(b->weight[0]));
		json_object_object_add(o, "state_before",
				       json_object_new_string(state_word(b->state[0])));
	}
	if (b->what != '-') {
		json_object_object_add(o, "weight", json_object_new_int(b->weight[1]));
		json_object_object_add(o, "state", json_object_new_string(state_word(b->state[1])));
	}
	if (b->what == '~')
		json_object_object_add(o, "mac_changed", json_object_new_boolean(b->mac_changed));
	return o;
}

static void print_plan_json(const struct plan *p)
{
	static const char *what[] = { ['+'] = "add", ['-'] = "del", ['~'] = "change",
				      ['='] = "none" };
	static const char *key[] = { ['+'] = "added", ['-'] = "removed", ['~'] = "changed" };
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	char vip[CLI_VIP_STRLEN];
	int i, j;

	for (i = 0; i < p->nvips; i++) {
		const struct plan_vip *v = &p->vips[i];
		struct json_object *o = json_object_new_object(), *l[128] = {};

		format_vip(&v->key, vip, sizeof(vip));
		json_object_object_add(o, "vip", json_object_new_string(vip));
		json_object_object_add(o, "action", json_object_new_string(what[(int)v->what]));
		json_object_object_add(o, "method", json_object_new_string(
			method_name(v->method[1] ? v->method[1] : v->method[0])));
		if (v->method[0] && v->method[1] && v->method[0] != v->method[1])
			json_object_object_add(o, "method_before",
					       json_object_new_string(method_name(v->method[0])));
		l['+'] = json_object_new_array();
		l['-'] = json_object_new_array();
		l['~'] = json_object_new_array();
		for (j = 0; j < v->nbackends; j++)
			json_object_array_add(l[(int)v->backends[j].what],
					      plan_backend_json(&v->backends[j]));
		json_object_object_add(o, key['+'], l['+']);
		json_object_object_add(o, key['-'], l['-']);
		json_object_object_add(o, key['~'], l['~']);
		json_object_object_add(o, "moved_share", json_object_new_double(v->moved));
		json_object_object_add(o, "max_mean_share", json_object_new_double(v->max_mean));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "dry_run", json_object_new_boolean(1));
	json_object_object_add(root, "changes", json_object_new_int(p->changes));
	json_object_object_add(root, "vips", arr);
	cli_json_print(root);
}

static int dry_run(struct txn *t)
{
	struct plan p;
	int err = config_plan(t, &p, CLI_E);

	if (!err && cli.json)
		print_plan_json(&p);
	else if (!err)
		print_plan_plain(&p);
	plan_free(&p);
	return err;
}

static int commit(struct txn *t)
{
	struct txn_result r;
	struct json_object *o;
	int err = txn_commit(t, &r, CLI_E);

	if (err)
		return err;
	cli_debug("chlb: %d VIP tables swapped, %d entries written\n", r.swaps, r.entries);
	if (!cli.json)
		return 0;
	o = json_object_new_object();
	json_object_object_add(o, "applied", json_object_new_boolean(1));
	json_object_object_add(o, "vips_changed", json_object_new_int(r.vips_changed));
	json_object_object_add(o, "swaps", json_object_new_int(r.swaps));
	json_object_object_add(o, "entries", json_object_new_int(r.entries));
	cli_json_print(o);
	return 0;
}

static int config_apply_cmd(int argc, char **argv)
{
	struct cli_opt o[] = { CLI_OPT("--dry-run", CLI_ARG_NONE), CLI_OPT("--force", CLI_ARG_NONE),
			       {} };
	static const char *const names[] = { "FILE" };
	struct inst in = { .lock_fd = -1, .verbose = cli.verbose };
	struct txn *t = NULL;
	struct doc d = {};
	const char *path;
	int n, err;

	err = cli_args(argc, argv, o, &path, 1, 1, names, &n);
	if (err)
		return err == CLI_HELP ? config_help() : err;
	err = doc_read(path, &d, CLI_E);
	if (!err)
		err = inst_open(&in, cli.pin_dir, !o[0].set, CLI_E);
	if (!err && !o[0].set)
		err = managed_check(&in, NULL, o[1].set, CLI_E);
	if (!err)
		err = txn_begin(&in, &t, CLI_E);
	if (!err)
		err = config_reconcile(t, &d, 0, CLI_E);
	if (!err)
		err = o[0].set ? dry_run(t) : commit(t);
	txn_free(t);
	doc_free(&d);
	inst_close(&in);
	return err;
}

static const struct cli_cmd config_cmds[] = {
	{ "export", config_export_cmd },
	{ "apply", config_apply_cmd },
	{}
};

int do_config(int argc, char **argv)
{
	return cli_dispatch("config", config_cmds, argc, argv, config_help);
}
