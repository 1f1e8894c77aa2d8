// SPDX-License-Identifier: GPL-2.0
/*
 * chlb status: where and how chlb runs, its limits and memory, and a
 * checksum of each VIP's table (equal on hosts with equal configuration).
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "cli.h"
#include "core/parse.h"
#include "core/build.h"
#include "core/encap_src.h"
#include "core/inst.h"
#include "core/live.h"
#include "core/managed.h"
#include "table.h"
#include "dp/xdp.h"

struct vip_status {
	char vip[CLI_VIP_STRLEN];
	int backends;
	uint64_t checksum;	/* of the live table: what the XDP program reads */
	uint64_t model_checksum;	/* of the table the model builds */
	bool drift;		/* they differ: 'chlb sync' repairs it */
};

struct status {
	char ifname[32];	/* IF_NAMESIZE, or "ifindex N (gone)" */
	__u32 prog_id;
	int attached;
	int backends;
	__u64 memory;
	__u64 flow_memory;	/* the flow table map's, as the kernel counts it */
	struct vip_status *vips;
	int drifted;
	struct chlb_daemon_info daemon;
	bool daemon_alive;
};

static int status_help(void)
{
	printf("Usage: chlb status\n");
	return 0;
}

struct json_object *encap_src_json(const struct chlb_encap_src *src)
{
	static const char *const keys[2] = { "ipv4", "ipv6" };
	struct json_object *o = json_object_new_object();
	char buf[ENCAP_SRC_STRLEN];
	int k;

	for (k = 0; k < 2; k++) {
		encap_src_format(&src[k], buf, sizeof(buf));
		json_object_object_add(o, keys[k], src[k].family ? json_object_new_string(buf) : NULL);
	}
	return o;
}

void print_encap_src(const struct chlb_encap_src *src)
{
	char buf[ENCAP_SRC_STRLEN];
	unsigned int n;
	int k;

	for (k = 0; k < 2; k++) {
		if (k)
			printf(", ");
		if (!src[k].family) {
			printf("no IPv%d", k ? 6 : 4);
			continue;
		}
		encap_src_format(&src[k], buf, sizeof(buf));
		n = encap_src_count(&src[k]);
		printf(n > 1 ? "%s (%u addresses)" : "%s", buf, n);
	}
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

static __u64 tables_memory(struct inst *in)
{
	__u64 sum = 0;
	int i;

	for (i = 0; i < in->m.nvips; i++)
		sum += inner_memory(in->dp.tables_fd, in->m.vips[i].info.id);
	return sum;
}

static __u64 memory_used(struct inst *in)
{
	const struct chlb_dp *d = &in->dp;
	int fds[] = { d->vips_fd,   d->tables_fd, d->backends_fd, d->bstats_fd,
		      d->vstats_fd, d->gstats_fd, d->config_fd, d->vip_index_fd,
		      d->vip_ports_fd, d->flows_fd, d->health_fd, d->journal_fd,
		      d->journal_head_fd, d->bhealth_fd, d->daemon_fd };
	__u64 sum = 0;
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		sum += map_memlock(fds[i]);
	return sum + inner_memory(d->vip_index_fd, 0) + tables_memory(in);
}

/*
 * The live table's checksum, and whether it is the table the model builds.
 * A VIP without a live table forwards nothing: drift unless it builds empty.
 */
static int vip_truth(struct inst *in, __u32 vip_id, __u32 *live, __u32 *built,
		     struct vip_status *v)
{
	size_t bytes = in->m.table_size * sizeof(*live);
	int err;

	err = live_checksum(in, vip_id, live, &v->checksum, CLI_E);
	if (!err)
		err = build_table(&in->m, vip_id, built, CLI_E);
	if (err)
		return err;
	v->model_checksum = build_checksum(&in->m, built);
	v->drift = memcmp(live, built, bytes) != 0;
	return 0;
}

static int gather_vips(struct inst *in, struct status *s)
{
	__u32 *live, *built;
	int i, err = 0;

	live = calloc(in->m.table_size, sizeof(*live));
	built = calloc(in->m.table_size, sizeof(*built));
	s->vips = calloc(in->m.nvips ? in->m.nvips : 1, sizeof(*s->vips));
	if (!live || !built || !s->vips)
		err = -ENOMEM;
	for (i = 0; !err && i < in->m.nvips; i++) {
		struct vip_status *v = &s->vips[i];

		format_vip(&in->m.vips[i].key, v->vip, sizeof(v->vip));
		v->backends = model_count_backends(&in->m, in->m.vips[i].info.id);
		err = vip_truth(in, in->m.vips[i].info.id, live, built, v);
		s->drifted += v->drift;
	}
	free(live);
	free(built);
	return err;
}

static int gather(struct inst *in, struct status *s)
{
	__u32 id;

	if (!if_indextoname(in->m.cfg.ifindex, s->ifname))
		snprintf(s->ifname, sizeof(s->ifname), "ifindex %u (gone)", in->m.cfg.ifindex);
	if (xdp_prog_id(cli.pin_dir, in->m.cfg.ifindex, &s->prog_id, &s->attached))
		s->prog_id = 0;
	for (id = 0; id < in->m.max_backends; id++)
		s->backends += backend_in_use(&in->m.backends[id]);
	s->memory = memory_used(in);
	s->flow_memory = map_memlock(in->dp.flows_fd);
	if (managed_daemon(in, &s->daemon, &s->daemon_alive, CLI_E))
		return -EIO;
	return gather_vips(in, s);
}

static const char *flow_mode(const struct chlb_config *c)
{
	if (!c->flow_entries)
		return "off";
	return "cache";
}

/* Bytes per flow entry: the map's memory over its entries. */
static __u64 flow_entry_bytes(const struct inst *in, const struct status *s)
{
	return in->m.cfg.flow_entries ? s->flow_memory / in->m.cfg.flow_entries : 0;
}

static struct json_object *flow_json(struct inst *in, struct status *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "mode", json_object_new_string(flow_mode(&in->m.cfg)));
	json_object_object_add(o, "entries", json_object_new_int64(in->m.cfg.flow_entries));
	json_object_object_add(o, "udp_timeout", json_object_new_int64(in->m.cfg.udp_timeout));
	json_object_object_add(o, "memory_bytes", json_object_new_uint64(s->flow_memory));
	json_object_object_add(o, "entry_bytes", json_object_new_uint64(flow_entry_bytes(in, s)));
	return o;
}

/* The daemon managing the instance, or null. */
static struct json_object *daemon_json(const struct status *s)
{
	struct json_object *o;

	if (!s->daemon_alive)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "pid", json_object_new_int64(s->daemon.pid));
	json_object_object_add(o, "source",
			       json_object_new_string(managed_source_name(s->daemon.source)));
	json_object_object_add(o, "config", json_object_new_string(s->daemon.desc));
	json_object_object_add(o, "since", json_object_new_int64(s->daemon.since_ns / 1000000000));
	return o;
}

static void print_json(struct inst *in, struct status *s)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	char buf[32];
	int i;

	snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)in->m.cfg.seed);
	json_object_object_add(o, "interface", json_object_new_string(s->ifname));
	json_object_object_add(o, "ifindex", json_object_new_int64(in->m.cfg.ifindex));
	json_object_object_add(o, "xdp_mode", json_object_new_string(xdp_mode_name(in->m.cfg.xdp_mode)));
	json_object_object_add(o, "prog_id", json_object_new_int64(s->prog_id));
	json_object_object_add(o, "attached", json_object_new_boolean(s->attached));
	json_object_object_add(o, "seed", json_object_new_string(buf));
	json_object_object_add(o, "dst_mac", json_object_new_string(
		in->m.cfg.flags & CHLB_CFG_F_ANY_DST_MAC ? "any" : "own"));
	json_object_object_add(o, "table_size", json_object_new_int64(in->m.cfg.table_size));
	json_object_object_add(o, "vnodes", json_object_new_int64(in->m.cfg.vnodes));
	json_object_object_add(o, "algo", json_object_new_string(algo_text(in->m.cfg.algo)));
	json_object_object_add(o, "vips_used", json_object_new_int(in->m.nvips));
	json_object_object_add(o, "vips_max", json_object_new_int64(in->m.max_vips));
	json_object_object_add(o, "backends_used", json_object_new_int(s->backends));
	json_object_object_add(o, "backends_max", json_object_new_int64(in->m.max_backends));
	json_object_object_add(o, "memory_bytes", json_object_new_uint64(s->memory));
	json_object_object_add(o, "flow_table", flow_json(in, s));
	json_object_object_add(o, "encap_src", encap_src_json(in->m.cfg.encap));
	for (i = 0; i < in->m.nvips; i++) {
		struct json_object *v = json_object_new_object();

		snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)s->vips[i].checksum);
		json_object_object_add(v, "vip", json_object_new_string(s->vips[i].vip));
		json_object_object_add(v, "backends", json_object_new_int(s->vips[i].backends));
		json_object_object_add(v, "checksum", json_object_new_string(buf));
		snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)s->vips[i].model_checksum);
		json_object_object_add(v, "model_checksum", json_object_new_string(buf));
		json_object_object_add(v, "drift", json_object_new_boolean(s->vips[i].drift));
		json_object_array_add(arr, v);
	}
	json_object_object_add(o, "vips", arr);
	json_object_object_add(o, "drifted", json_object_new_int(s->drifted));
	json_object_object_add(o, "daemon", daemon_json(s));
	json_object_object_add(o, "recovered", json_object_new_boolean(in->recovered));
	cli_json_print(o);
}

static int print_plain(struct inst *in, struct status *s)
{
	struct table *t = table_new(4, "VIP", ">BACKENDS", "TABLE CHECKSUM", "DRIFT");
	int i;

	if (!t)
		return -ENOMEM;
	printf("interface:   %s (%s mode, prog id %u%s)\n", s->ifname,
	       xdp_mode_name(in->m.cfg.xdp_mode), s->prog_id, s->attached ? "" : ", NOT ATTACHED");
	printf("seed:        %016llx\n", (unsigned long long)in->m.cfg.seed);
	if (in->m.cfg.flags & CHLB_CFG_F_ANY_DST_MAC)
		printf("frames:      VIP frames forwarded whatever their destination MAC\n");
	else
		printf("frames:      VIP frames to %02x:%02x:%02x:%02x:%02x:%02x only; others "
		       "passed (pass_not_for_us)\n", in->m.cfg.if_mac[0], in->m.cfg.if_mac[1],
		       in->m.cfg.if_mac[2], in->m.cfg.if_mac[3], in->m.cfg.if_mac[4],
		       in->m.cfg.if_mac[5]);
	printf("table size:  %u slots, %u vnodes per weight, algo %s\n", in->m.cfg.table_size,
	       in->m.cfg.vnodes, algo_text(in->m.cfg.algo));
	printf("limits:      VIPs %d/%u, backends %d/%u\n", in->m.nvips, in->m.max_vips,
	       s->backends, in->m.max_backends);
	if (in->m.cfg.flow_entries)
		printf("flow table:  %u entries (%s), UDP timeout %u s, %llu bytes (%llu a flow)\n",
		       in->m.cfg.flow_entries, flow_mode(&in->m.cfg), in->m.cfg.udp_timeout,
		       (unsigned long long)s->flow_memory,
		       (unsigned long long)flow_entry_bytes(in, s));
	else
		printf("flow table:  off (stateless: every packet follows the current table)\n");
	printf("ipip source: ");
	print_encap_src(in->m.cfg.encap);
	printf("\n");
	printf("memory:      %llu bytes (maps)\n", (unsigned long long)s->memory);
	if (s->daemon_alive)
		printf("daemon:      pid %u manages it (source: %s %s)\n", s->daemon.pid,
		       managed_source_name(s->daemon.source), s->daemon.desc);
	else
		printf("daemon:      none (the CLI manages every VIP)\n");
	if (in->recovered)
		printf("journal:     an interrupted change was found and rolled back\n");
	if (s->drifted)
		printf("drift:       %d VIP(s) forward by a table the model does not build; "
		       "'chlb sync' repairs it\n", s->drifted);
	printf("\n");
	for (i = 0; i < in->m.nvips; i++) {
		table_cell(t, "%s", s->vips[i].vip);
		table_cell(t, "%d", s->vips[i].backends);
		table_cell(t, "%016llx", (unsigned long long)s->vips[i].checksum);
		if (s->vips[i].drift)
			table_cell(t, "yes (model %016llx)",
				   (unsigned long long)s->vips[i].model_checksum);
		else
			table_cell(t, "-");
	}
	table_print(t, stdout);
	table_free(t);
	return 0;
}

int do_status(int argc, char **argv)
{
	struct inst in = { .lock_fd = -1 };
	struct status s = {};
	int n, err;

	err = cli_args(argc, argv, NULL, NULL, 0, 0, NULL, &n);
	if (err)
		return err == CLI_HELP ? status_help() : err;
	err = inst_open(&in, cli.pin_dir, false, CLI_E);
	if (!err)
		err = gather(&in, &s);
	if (!err && cli.json)
		print_json(&in, &s);
	else if (!err)
		err = print_plain(&in, &s);
	free(s.vips);
	inst_close(&in);
	return err;
}
