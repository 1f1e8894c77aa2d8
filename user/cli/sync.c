// SPDX-License-Identifier: GPL-2.0
/*
 * chlb sync: finish or roll back an interrupted change, then re-publish
 * every VIP whose live table drifted from what the model builds.
 */
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "core/inst.h"
#include "core/txn.h"

static int sync_help(void)
{
	printf("Usage: chlb sync\n"
	       "       rolls back a change that was interrupted, then re-publishes every\n"
	       "       VIP whose live table differs from the one its backends build\n"
	       "       ('drift' in chlb status), and rebuilds the VIP index\n");
	return 0;
}

int do_sync(int argc, char **argv)
{
	struct inst in = { .lock_fd = -1, .verbose = cli.verbose };
	struct json_object *o;
	int n, repaired = 0, err;

	err = cli_args(argc, argv, NULL, NULL, 0, 0, NULL, &n);
	if (err)
		return err == CLI_HELP ? sync_help() : err;
	err = inst_open(&in, cli.pin_dir, true, CLI_E);
	if (!err)
		err = txn_sync(&in, &repaired, CLI_E);
	if (!err && cli.json) {
		o = json_object_new_object();
		json_object_object_add(o, "recovered", json_object_new_boolean(in.recovered));
		json_object_object_add(o, "repaired", json_object_new_int(repaired));
		cli_json_print(o);
	} else if (!err) {
		printf("%s%d entries and tables rewritten\n",
		       in.recovered ? "an interrupted change was rolled back; " : "", repaired);
	}
	inst_close(&in);
	return err;
}
