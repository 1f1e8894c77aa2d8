// SPDX-License-Identifier: GPL-2.0
/*
 * chlb status: where and how chlb runs, its limits and memory, and a
 * checksum of each VIP's table (equal on hosts with equal configuration).
 */
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "cli.h"
#include "core/parse.h"
#include "core/state.h"
#include "table.h"
#include "dp/xdp.h"

struct vip_status {
	char vip[CLI_VIP_STRLEN];
	int backends;
	uint64_t checksum;
};

struct status {
	char ifname[32];	/* IF_NAMESIZE, or "ifindex N (gone)" */
	__u32 prog_id;
	int attached;
	int backends;
	__u64 memory;
	__u64 flow_memory;	/* the flow table map's, as the kernel counts it */
	struct vip_status *vips;
};

static int status_help(void)
{
	printf("Usage: chlb status\n");
	return 0;
}

/* The kernel's own accounting of a map's memory, from fdinfo. */
static __u64 map_memlock(int fd)
{
	unsigned long long v = 0;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* The inner map at outer[key] of a map-in-map, found by its id; 0 if none. */
static __u64 inner_memory(int outer_fd, __u32 key)
{
	__u64 sum = 0;
	__u32 inner;
	int fd;

	if (bpf_map_lookup_elem(outer_fd, &key, &inner))
		return 0;
	fd = bpf_map_get_fd_by_id(inner);
	if (fd < 0)
		return 0;
	sum = map_memlock(fd);
	close(fd);
	return sum;
}

static __u64 tables_memory(struct state *st)
{
	__u64 sum = 0;
	int i;

	for (i = 0; i < st->nvips; i++)
		sum += inner_memory(st->dp.tables_fd, st->vips[i].info.id);
	return sum;
}

static __u64 memory_used(struct state *st)
{
	const struct chlb_dp *d = &st->dp;
	int fds[] = { d->vips_fd,   d->tables_fd, d->backends_fd, d->bstats_fd,
		      d->vstats_fd, d->gstats_fd, d->config_fd, d->vip_index_fd,
		      d->vip_ports_fd, d->flows_fd };
	__u64 sum = 0;
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		sum += map_memlock(fds[i]);
	return sum + inner_memory(d->vip_index_fd, 0) + tables_memory(st);
}

static int vip_checksum(struct state *st, __u32 vip_id, uint64_t *sum)
{
	struct chlb_ring *ring;
	int err = state_vip_ring(st, vip_id, &ring);

	if (!err)
		err = chlb_ring__checksum(ring, sum);
	if (err)
		cli_err(err, "cannot checksum VIP %u: %s", vip_id, chlb_strerror(err));
	chlb_ring__free(ring);
	return err;
}

static int gather(struct state *st, struct status *s)
{
	__u32 id;
	int i, err;

	if (!if_indextoname(st->cfg.ifindex, s->ifname))
		snprintf(s->ifname, sizeof(s->ifname), "ifindex %u (gone)", st->cfg.ifindex);
	if (xdp_prog_id(cli.pin_dir, st->cfg.ifindex, &s->prog_id, &s->attached))
		s->prog_id = 0;
	for (id = 0; id < st->dp.max_backends; id++)
		s->backends += !!(st->backends[id].flags & CHLB_BACKEND_F_IN_USE);
	s->memory = memory_used(st);
	s->flow_memory = map_memlock(st->dp.flows_fd);
	s->vips = calloc(st->nvips ? st->nvips : 1, sizeof(*s->vips));
	if (!s->vips)
		return -ENOMEM;
	for (i = 0; i < st->nvips; i++) {
		struct vip_status *v = &s->vips[i];

		format_vip(&st->vips[i].key, v->vip, sizeof(v->vip));
		v->backends = state_count_backends(st, st->vips[i].info.id);
		err = vip_checksum(st, st->vips[i].info.id, &v->checksum);
		if (err)
			return err;
	}
	return 0;
}

static const char *flow_mode(const struct chlb_config *c)
{
	if (!c->flow_entries)
		return "off";
	return "cache";
}

/* Bytes per flow entry: the map's memory over its entries. */
static __u64 flow_entry_bytes(const struct state *st, const struct status *s)
{
	return st->cfg.flow_entries ? s->flow_memory / st->cfg.flow_entries : 0;
}

static struct json_object *flow_json(struct state *st, struct status *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "mode", json_object_new_string(flow_mode(&st->cfg)));
	json_object_object_add(o, "entries", json_object_new_int64(st->cfg.flow_entries));
	json_object_object_add(o, "udp_timeout", json_object_new_int64(st->cfg.udp_timeout));
	json_object_object_add(o, "memory_bytes", json_object_new_uint64(s->flow_memory));
	json_object_object_add(o, "entry_bytes", json_object_new_uint64(flow_entry_bytes(st, s)));
	return o;
}

static void print_json(struct state *st, struct status *s)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	char buf[32];
	int i;

	snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)st->cfg.seed);
	json_object_object_add(o, "interface", json_object_new_string(s->ifname));
	json_object_object_add(o, "ifindex", json_object_new_int64(st->cfg.ifindex));
	json_object_object_add(o, "xdp_mode", json_object_new_string(xdp_mode_name(st->cfg.xdp_mode)));
	json_object_object_add(o, "prog_id", json_object_new_int64(s->prog_id));
	json_object_object_add(o, "attached", json_object_new_boolean(s->attached));
	json_object_object_add(o, "seed", json_object_new_string(buf));
	json_object_object_add(o, "table_size", json_object_new_int64(st->cfg.table_size));
	json_object_object_add(o, "vnodes", json_object_new_int64(st->cfg.vnodes));
	json_object_object_add(o, "algo", json_object_new_string(chlb_algo_name(st->cfg.algo)));
	json_object_object_add(o, "vips_used", json_object_new_int(st->nvips));
	json_object_object_add(o, "vips_max", json_object_new_int64(st->dp.max_vips));
	json_object_object_add(o, "backends_used", json_object_new_int(s->backends));
	json_object_object_add(o, "backends_max", json_object_new_int64(st->dp.max_backends));
	json_object_object_add(o, "memory_bytes", json_object_new_uint64(s->memory));
	json_object_object_add(o, "flow_table", flow_json(st, s));
	for (i = 0; i < st->nvips; i++) {
		struct json_object *v = json_object_new_object();

		snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)s->vips[i].checksum);
		json_object_object_add(v, "vip", json_object_new_string(s->vips[i].vip));
		json_object_object_add(v, "backends", json_object_new_int(s->vips[i].backends));
		json_object_object_add(v, "checksum", json_object_new_string(buf));
		json_object_array_add(arr, v);
	}
	json_object_object_add(o, "vips", arr);
	cli_json_print(o);
}

static int print_plain(struct state *st, struct status *s)
{
	struct table *t = table_new(3, "VIP", ">BACKENDS", "TABLE CHECKSUM");
	int i;

	if (!t)
		return -ENOMEM;
	printf("interface:   %s (%s mode, prog id %u%s)\n", s->ifname,
	       xdp_mode_name(st->cfg.xdp_mode), s->prog_id, s->attached ? "" : ", NOT ATTACHED");
	printf("seed:        %016llx\n", (unsigned long long)st->cfg.seed);
	printf("table size:  %u slots, %u vnodes per weight, algo %s\n", st->cfg.table_size,
	       st->cfg.vnodes, chlb_algo_name(st->cfg.algo));
	printf("limits:      VIPs %d/%u, backends %d/%u\n", st->nvips, st->dp.max_vips,
	       s->backends, st->dp.max_backends);
	if (st->cfg.flow_entries)
		printf("flow table:  %u entries (%s), UDP timeout %u s, %llu bytes (%llu a flow)\n",
		       st->cfg.flow_entries, flow_mode(&st->cfg), st->cfg.udp_timeout,
		       (unsigned long long)s->flow_memory,
		       (unsigned long long)flow_entry_bytes(st, s));
	else
		printf("flow table:  off (stateless: every packet follows the current table)\n");
	printf("memory:      %llu bytes (maps)\n\n", (unsigned long long)s->memory);
	for (i = 0; i < st->nvips; i++) {
		table_cell(t, "%s", s->vips[i].vip);
		table_cell(t, "%d", s->vips[i].backends);
		table_cell(t, "%016llx", (unsigned long long)s->vips[i].checksum);
	}
	table_print(t, stdout);
	table_free(t);
	return 0;
}

int do_status(int argc, char **argv)
{
	struct status s = {};
	struct state st;
	int n, err;

	err = cli_args(argc, argv, NULL, NULL, 0, 0, NULL, &n);
	if (err)
		return err == CLI_HELP ? status_help() : err;
	err = state_open(&st, false);
	if (!err)
		err = gather(&st, &s);
	if (!err && cli.json)
		print_json(&st, &s);
	else if (!err)
		err = print_plain(&st, &s);
	free(s.vips);
	state_close(&st);
	return err;
}
