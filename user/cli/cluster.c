// SPDX-License-Identifier: GPL-2.0
/*
 * chlb cluster status (SPEC §12): the LB nodes' records under P/nodes/
 * (each daemon publishes its VIPs' live table checksums there), and
 * whether their tables agree: behind ECMP a flow that moves to another
 * node keeps its backend only if that node's table is the same.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "cli.h"
#include "commands.h"
#include "daemon/daemon.h"
#include "net/etcd.h"
#include "table.h"

struct node {
	const char *name;
	const char *version;
	int64_t revision;
	json_object *vips;	/* VIP -> checksum */
	json_object *root;	/* owns the above */
};

struct cluster {
	struct node *nodes;
	int n;
	json_object *all;	/* every VIP of any node -> true if all agree */
	int differ;
};

static int cluster_help(void)
{
	printf("Usage: chlb cluster status --etcd URL[,URL...] [--prefix P]\n"
	       "       the LB nodes whose daemons (chlb daemon --etcd) publish under\n"
	       "       P/nodes/ (P default /chlb/): version, etcd revision applied, each\n"
	       "       VIP's live table checksum; and whether their tables agree, naming\n"
	       "       the VIPs that differ (or that some node lacks).\n"
	       "       Exit status: 0 the tables agree, 1 they differ (or no node is\n"
	       "       published, or etcd cannot be read), 2 bad usage.\n");
	return 0;
}

static const char *str_of(json_object *o, const char *k, const char *dflt)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) : dflt;
}

/* A node's record; one that does not parse is shown without VIPs. */
static void parse_node(const struct etcd_kv *kv, size_t plen, struct node *n)
{
	json_object *v;

	n->root = json_tokener_parse(kv->value);
	n->name = kv->key + plen;
	n->version = "?";
	if (!n->root || !json_object_is_type(n->root, json_type_object))
		return;
	n->version = str_of(n->root, "version", "?");
	if (json_object_object_get_ex(n->root, "revision", &v))
		n->revision = json_object_get_int64(v);
	if (json_object_object_get_ex(n->root, "vips", &v) &&
	    json_object_is_type(v, json_type_object))
		n->vips = v;
}

/* A VIP agrees when every node has it, with one checksum. */
static bool vip_agrees(const struct cluster *c, const char *vip)
{
	const char *first = NULL, *s;
	int i;

	for (i = 0; i < c->n; i++) {
		s = c->nodes[i].vips ? str_of(c->nodes[i].vips, vip, NULL) : NULL;
		if (!s || (first && strcmp(first, s)))
			return false;
		first = s;
	}
	return true;
}

static void compare(struct cluster *c)
{
	int i;

	c->all = json_object_new_object();
	for (i = 0; i < c->n; i++) {
		if (!c->nodes[i].vips)
			continue;
		json_object_object_foreach(c->nodes[i].vips, vip, sum) {
			(void)sum;
			if (!json_object_object_get_ex(c->all, vip, NULL))
				json_object_object_add(c->all, vip, NULL);
		}
	}
	json_object_object_foreach(c->all, vip, val) {
		bool ok = vip_agrees(c, vip);

		(void)val;
		json_object_object_add(c->all, vip, json_object_new_boolean(ok));
		c->differ += !ok;
	}
	/* a node whose record says nothing cannot be said to agree */
	for (i = 0; i < c->n; i++)
		c->differ += !c->nodes[i].vips;
}

static int gather(struct cluster *c, const char *urls, const char *prefix)
{
	char key[256 + 8];
	struct etcd_reply r = {};
	struct etcd *e = NULL;
	size_t plen;
	int i, err;

	if (etcd_key_prefix(prefix, key, 256, CLI_E))
		return -EINVAL;
	strcat(key, "nodes/");
	plen = strlen(key);
	err = etcd_new(urls, NULL, &e, CLI_E);
	if (!err)
		err = etcd_do(e, &(struct etcd_req){ .call = ETCD_RANGE, .key = key, .prefix = true },
			      &r, CLI_E);
	if (!err && !r.nkvs)
		err = cli_fail(-ENOENT, "no chlb node publishes under %s (is 'chlb daemon --etcd' "
			       "running with this prefix?)", key);
	c->nodes = err ? NULL : calloc(r.nkvs, sizeof(*c->nodes));
	if (!err && !c->nodes)
		err = cli_fail(-ENOMEM, "out of memory");
	for (i = 0; !err && i < r.nkvs; i++, c->n++) {
		parse_node(&r.kvs[i], plen, &c->nodes[i]);
		c->nodes[i].name = strdup(c->nodes[i].name);
	}
	if (!err)
		compare(c);
	etcd_reply_free(&r);
	etcd_free(e);
	return err;
}

static void print_json(const struct cluster *c)
{
	json_object *o = json_object_new_object(), *nodes = json_object_new_array();
	json_object *differ = json_object_new_array();
	int i;

	for (i = 0; i < c->n; i++) {
		json_object *n = json_object_new_object();

		json_object_object_add(n, "node", json_object_new_string(c->nodes[i].name));
		json_object_object_add(n, "version", json_object_new_string(c->nodes[i].version));
		json_object_object_add(n, "revision", json_object_new_int64(c->nodes[i].revision));
		json_object_object_add(n, "vips", c->nodes[i].vips ? json_object_get(c->nodes[i].vips) :
						  NULL);
		json_object_array_add(nodes, n);
	}
	json_object_object_foreach(c->all, vip, ok)
		if (!json_object_get_boolean(ok))
			json_object_array_add(differ, json_object_new_string(vip));
	json_object_object_add(o, "nodes", nodes);
	json_object_object_add(o, "agree", json_object_new_boolean(!c->differ));
	json_object_object_add(o, "differ", differ);
	cli_json_print(o);
}

static void print_vips(const struct cluster *c)
{
	int i;

	json_object_object_foreach(c->all, vip, ok) {
		printf("%-24s %s", vip, json_object_get_boolean(ok) ? "agree " : "DIFFER");
		for (i = 0; i < c->n; i++)
			printf("  %s %s", c->nodes[i].name,
			       c->nodes[i].vips ? str_of(c->nodes[i].vips, vip, "-") : "-");
		printf("\n");
	}
}

static int print_plain(const struct cluster *c)
{
	struct table *t = table_new(4, "NODE", "VERSION", ">REVISION", ">VIPS");
	int i, n;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < c->n; i++) {
		n = c->nodes[i].vips ? json_object_object_length(c->nodes[i].vips) : 0;
		table_cell(t, "%s", c->nodes[i].name);
		table_cell(t, "%s", c->nodes[i].vips ? c->nodes[i].version : "(invalid record)");
		table_cell(t, "%lld", (long long)c->nodes[i].revision);
		table_cell(t, "%d", n);
	}
	table_print(t, stdout);
	table_free(t);
	printf("\n");
	print_vips(c);
	printf("\n");
	if (!c->differ) {
		printf("tables agree: %d node%s\n", c->n, c->n == 1 ? "" : "s");
		return 0;
	}
	printf("tables differ:");
	json_object_object_foreach(c->all, vip, ok)
		if (!json_object_get_boolean(ok))
			printf(" %s", vip);
	for (i = 0; i < c->n; i++)
		if (!c->nodes[i].vips)
			printf(" (node %s: invalid record)", c->nodes[i].name);
	printf("\n");
	return 0;
}

static void cluster_free(struct cluster *c)
{
	int i;

	for (i = 0; i < c->n; i++) {
		free((char *)c->nodes[i].name);
		json_object_put(c->nodes[i].root);
	}
	free(c->nodes);
	json_object_put(c->all);
}

enum { C_ETCD, C_PREFIX, C_N };

static int do_cluster_status(int argc, char **argv)
{
	struct cli_opt o[C_N + 1] = {
		[C_ETCD] = CLI_OPT("--etcd", CLI_ARG_REQ),
		[C_PREFIX] = CLI_OPT("--prefix", CLI_ARG_REQ),
	};
	struct cluster c = {};
	int n, err;

	err = cli_args(argc, argv, o, NULL, 0, 0, NULL, &n);
	if (err)
		return err == CLI_HELP ? cluster_help() : err;
	if (!o[C_ETCD].val)
		return cli_err(-EINVAL, "cluster status: give --etcd URL[,URL...]");
	err = gather(&c, o[C_ETCD].val, o[C_PREFIX].val ? o[C_PREFIX].val : DAEMON_ETCD_PREFIX);
	if (!err && cli.json)
		print_json(&c);
	else if (!err)
		err = print_plain(&c);
	if (!err && c.differ)
		err = CLI_EXIT_FAILED;	/* said on stdout already: exit 1, no error line */
	cluster_free(&c);
	return err;
}

int do_cluster(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = { { "status", do_cluster_status }, {} };

	return cli_dispatch("cluster", cmds, argc, argv, cluster_help);
}
