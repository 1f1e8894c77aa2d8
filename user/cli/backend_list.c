// SPDX-License-Identifier: GPL-2.0
/*
 * chlb backend list [VIP]: configuration from chlb_backends, slots and share
 * counted in the live table, so it shows what the data plane really uses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "backend.h"
#include "cli.h"
#include "core/parse.h"
#include "core/inst.h"
#include "table.h"

struct row {
	__u32 id;
	const struct chlb_backend *b;
	const struct model_vip *vip;
	__u32 slots;
	struct chlb_backend_health h;	/* the daemon's last check; result 0: none */
};

static int cmp_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->vip->info.id != y->vip->info.id)
		return x->vip->info.id < y->vip->info.id ? -1 : 1;
	return memcmp(x->b->addr, y->b->addr, CHLB_ADDR_LEN);
}

/* Count each backend's slots in a VIP's live table into per-id counts. */
static int count_slots(struct inst *in, __u32 vip_id, __u32 *per_id)
{
	__u32 m = in->dp.table_size, s, *slots = calloc(m, sizeof(*slots));
	int err;

	if (!slots)
		return -ENOMEM;
	err = chlb_dp__get_table(&in->dp, vip_id, slots);
	if (err == -ENOENT)
		err = 0;
	else if (!err)
		for (s = 0; s < m; s++)
			if (slots[s] < in->dp.max_backends)
				per_id[slots[s]]++;
	free(slots);
	if (err)
		cli_err(err, "cannot read the table of VIP %u: %s", vip_id, strerror(-err));
	return err;
}

/* The MAC frames go to; "" for ipip, whose next hop comes from the FIB per packet. */
static void row_mac(const struct row *r, char *buf, size_t len)
{
	buf[0] = '\0';
	if (r->vip->info.method != CHLB_METHOD_IPIP)
		format_mac(r->b->mac, buf, len);
}

static void print_json(struct row *rows, int n, __u32 m)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
	char vip[CLI_VIP_STRLEN], addr[CHLB_ADDR_STRLEN], mac[CLI_MAC_STRLEN], check[64];
	int i;

	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		format_vip(&rows[i].vip->key, vip, sizeof(vip));
		format_addr(rows[i].b->addr, addr, sizeof(addr));
		row_mac(&rows[i], mac, sizeof(mac));
		json_object_object_add(o, "vip", json_object_new_string(vip));
		json_object_object_add(o, "address", json_object_new_string(addr));
		json_object_object_add(o, "id", json_object_new_int64(rows[i].id));
		json_object_object_add(o, "weight", json_object_new_int(rows[i].b->weight));
		json_object_object_add(o, "state",
				       json_object_new_string(backend_state_name(rows[i].b->flags)));
		json_object_object_add(o, "mac", mac[0] ? json_object_new_string(mac) : NULL);
		json_object_object_add(o, "slots", json_object_new_int64(rows[i].slots));
		json_object_object_add(o, "share", json_object_new_double((double)rows[i].slots / m));
		format_check(rows[i].h.result, rows[i].h.detail, check, sizeof(check));
		json_object_object_add(o, "check", rows[i].h.result ?
					   json_object_new_string(check_result_name(rows[i].h.result)) : NULL);
		json_object_object_add(o, "check_detail", rows[i].h.result ?
					   json_object_new_string(check) : NULL);
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "table_size", json_object_new_int64(m));
	json_object_object_add(root, "backends", arr);
	cli_json_print(root);
}

static int print_plain(struct row *rows, int n, __u32 m)
{
	struct table *t = table_new(8, "VIP", "BACKEND", ">WEIGHT", "STATE", "MAC", ">SLOTS",
				    ">SHARE", "CHECK");
	char vip[CLI_VIP_STRLEN], addr[CHLB_ADDR_STRLEN], mac[CLI_MAC_STRLEN], check[64];
	int i;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		format_vip(&rows[i].vip->key, vip, sizeof(vip));
		format_addr(rows[i].b->addr, addr, sizeof(addr));
		row_mac(&rows[i], mac, sizeof(mac));
		table_cell(t, "%s", vip);
		table_cell(t, "%s", addr);
		table_cell(t, "%u", rows[i].b->weight);
		table_cell(t, "%s", backend_state_name(rows[i].b->flags));
		table_cell(t, "%s", mac[0] ? mac : "-");
		table_cell(t, "%u", rows[i].slots);
		table_cell(t, "%.2f%%", 100.0 * rows[i].slots / m);
		format_check(rows[i].h.result, rows[i].h.detail, check, sizeof(check));
		table_cell(t, "%s", check);
	}
	table_print(t, stdout);
	table_free(t);
	return 0;
}

/* Rows for one VIP, or for all of them when only is NULL. */
static int collect(struct inst *in, const struct model_vip *only, struct row *rows,
		   __u32 *per_id)
{
	int i, n = 0, err = 0;
	__u32 id;

	for (i = 0; !err && i < in->m.nvips; i++)
		if (!only || only == &in->m.vips[i])
			err = count_slots(in, in->m.vips[i].info.id, per_id);
	for (id = 0; !err && id < in->m.max_backends; id++) {
		const struct chlb_backend *b = &in->m.backends[id];
		const struct model_vip *v;

		if (!(b->flags & CHLB_BACKEND_F_IN_USE))
			continue;
		v = model_vip_by_id(&in->m, b->vip_id);
		if (!v || (only && v != only))
			continue;
		rows[n] = (struct row){ .id = id, .b = b, .vip = v, .slots = per_id[id] };
		/* the daemon's last result, if it is about this life of the id */
		if (bpf_map_lookup_elem(in->dp.bhealth_fd, &id, &rows[n].h) ||
		    rows[n].h.gen != b->gen)
			memset(&rows[n].h, 0, sizeof(rows[n].h));
		n++;
	}
	return err ? err : n;
}

int backend_list(int argc, char **argv)
{
	static const char *const names[] = { "VIP" };
	struct inst in = { .lock_fd = -1 };
	struct model_vip *only = NULL;
	struct row *rows = NULL;
	__u32 *per_id = NULL;
	const char *text;
	int n, err;

	err = cli_args(argc, argv, NULL, &text, 0, 1, names, &n);
	if (err)
		return err == CLI_HELP ? backend_help() : err;
	err = inst_open(&in, cli.pin_dir, false, CLI_E);
	if (!err && n)
		err = inst_get_vip(&in, text, &only, CLI_E);
	if (err)
		goto out;
	rows = calloc(in.m.max_backends, sizeof(*rows));
	per_id = calloc(in.m.max_backends, sizeof(*per_id));
	n = err = rows && per_id ? collect(&in, only, rows, per_id) : -ENOMEM;
	if (err < 0)
		goto out;
	err = 0;
	qsort(rows, n, sizeof(*rows), cmp_row);
	if (cli.json)
		print_json(rows, n, in.m.table_size);
	else
		err = print_plain(rows, n, in.m.table_size);
out:
	free(per_id);
	free(rows);
	inst_close(&in);
	return err;
}
