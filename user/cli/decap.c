// SPDX-License-Identifier: GPL-2.0
/*
 * chlb decap attach / detach / status: the decapsulating XDP program on a
 * backend of ipip VIPs (bpf/decap.bpf.c). Each interface's instance lives
 * in <pin dir>-decap/DEV (default /sys/fs/bpf/chlb-decap/DEV), apart from
 * the load balancer's pins: a host may run both, or only this. The root
 * directory is created 0700 and locked like chlb's own pin directory, so
 * concurrent decap commands are serialised.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "core/parse.h"
#include "core/pindir.h"
#include "dp/decap.h"
#include "dp/xdp.h"

#define DECAP_MAX_DEVS 256	/* instances status lists */

static int decap_help(void)
{
	printf("Usage: chlb decap attach DEV [--xdp-mode native|skb] [--dst own|any|ADDR[,ADDR...]]\n"
	       "       chlb decap detach DEV\n"
	       "       chlb decap status [DEV]\n"
	       "       On a backend of ipip VIPs: an XDP program on DEV strips IPv4-in-IPv4,\n"
	       "       IPv6-in-IPv6 and IPv4-in-IPv6 addressed to this host and passes the\n"
	       "       inner packet up the stack as if it had arrived unencapsulated (no\n"
	       "       tunnel device needed); everything else is passed unmodified.\n"
	       "       --dst own (default): tunnels to DEV's own addresses as they are at\n"
	       "       attach (at most %d a family; detach and attach again after changing\n"
	       "       them); ADDR,...: to these addresses (e.g. a loopback address the\n"
	       "       load balancer encapsulates to); any: whatever the outer destination.\n"
	       "       --xdp-mode: native (default) or skb (any NIC, slower)\n"
	       "       Pins live in <pin dir>-decap/DEV (%s-decap/DEV by default).\n"
	       "       status shows each instance's addresses and counters.\n",
	       CHLB_DECAP_MAX_ADDRS, CLI_DEFAULT_PIN_DIR);
	return 0;
}

/* <pin dir>-decap: beside chlb's pin directory, never inside it. */
static void decap_root(char *buf, size_t len)
{
	size_t n = strlen(cli.pin_dir);

	while (n > 1 && cli.pin_dir[n - 1] == '/')
		n--;
	snprintf(buf, len, "%.*s-decap", (int)n, cli.pin_dir);
}

/* root/dev, once dev is a name an interface can have (it becomes a path). */
static int decap_dir(const char *dev, char *buf, size_t len)
{
	char root[PATH_MAX];

	if (!dev[0] || strlen(dev) >= IF_NAMESIZE || strchr(dev, '/') || !strcmp(dev, ".") ||
	    !strcmp(dev, ".."))
		return cli_err(-EINVAL, "invalid interface name '%s'", dev);
	decap_root(root, sizeof(root));
	if (snprintf(buf, len, "%s/%s", root, dev) >= (int)len)
		return err_usage(CLI_E, -ENAMETOOLONG, "pin directory too long: %s/%s", root, dev);
	return 0;
}

/* The instance was attached in another network namespace that still exists. */
static int other_netns(const struct chlb_decap_cfg *cfg)
{
	return cfg->netns_ino && cfg->netns_ino != pindir_netns_ino() &&
	       pindir_netns_exists(cfg->netns_ino);
}

static int netns_err(const char *dev, const char *dir, const struct chlb_decap_cfg *cfg)
{
	return cli_err(-EEXIST,
		       "%s belongs to a %s of another network namespace (inode %u): run chlb decap there (nsenter --net=...), or give this one its own -d",
		       dir, dev, cfg->netns_ino);
}

/* ---- attach -------------------------------------------------------------- */

static int add_dst(struct chlb_decap_cfg *cfg, const char *s)
{
	struct chlb_addr a;

	if (parse_addr("--dst address", s, &a, CLI_E))
		return -EINVAL;
	if (chlb_addr_is_v4(&a)) {
		if (cfg->n4 >= CHLB_DECAP_MAX_ADDRS)
			return err_usage(CLI_E, -E2BIG, "--dst: more than %d IPv4 addresses",
					 CHLB_DECAP_MAX_ADDRS);
		memcpy(&cfg->v4[cfg->n4++], a.bytes + 12, 4);
		return 0;
	}
	if (cfg->n6 >= CHLB_DECAP_MAX_ADDRS)
		return err_usage(CLI_E, -E2BIG, "--dst: more than %d IPv6 addresses",
				 CHLB_DECAP_MAX_ADDRS);
	memcpy(cfg->v6[cfg->n6++], a.bytes, 16);
	return 0;
}

/* --dst own|any|ADDR[,ADDR...] into cfg. */
static int parse_dst(const char *s, const char *dev, struct chlb_decap_cfg *cfg)
{
	char *copy, *tok, *save = NULL;
	int err = 0;

	if (!s || !strcmp(s, "own"))
		return chlb_decap__own_addrs(dev, cfg, CLI_E);
	if (!strcmp(s, "any")) {
		cfg->flags |= CHLB_DECAP_F_ANY_DST;
		return 0;
	}
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	cfg->flags |= CHLB_DECAP_F_LISTED;
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save))
		err = add_dst(cfg, tok);
	free(copy);
	if (!err && !cfg->n4 && !cfg->n6)
		err = cli_err(-EINVAL, "invalid --dst '%s': expected own, any or ADDR[,ADDR...]", s);
	return err;
}

enum { O_MODE, O_DST };

static int parse_attach(int argc, char **argv, const char **dev, struct chlb_decap_cfg *cfg)
{
	struct cli_opt o[] = { [O_MODE] = CLI_OPT("--xdp-mode", CLI_ARG_REQ),
			       [O_DST] = CLI_OPT("--dst", CLI_ARG_REQ), {} };
	static const char *const names[] = { "DEV" };
	int n, err;

	err = cli_args(argc, argv, o, dev, 1, 1, names, &n);
	if (err)
		return err;
	*cfg = (struct chlb_decap_cfg){ .version = CHLB_DECAP_ABI_VERSION,
					.xdp_mode = CLI_XDP_NATIVE,
					.netns_ino = pindir_netns_ino() };
	if (o[O_MODE].val && !strcmp(o[O_MODE].val, "skb"))
		cfg->xdp_mode = CLI_XDP_SKB;
	else if (o[O_MODE].val && strcmp(o[O_MODE].val, "native"))
		return cli_err(-EINVAL, "invalid XDP mode '%s': expected native or skb",
			       o[O_MODE].val);
	cfg->ifindex = if_nametoindex(*dev);
	if (!cfg->ifindex)
		return cli_err(-ENODEV, "no such interface '%s'", *dev);
	return parse_dst(o[O_DST].val, *dev, cfg);
}

/*
 * An instance already in dir: a running one is refused; what an
 * interrupted attach or a deleted interface left is cleaned up, so that
 * attach can be retried.
 */
static int check_existing(const char *dev, const char *dir)
{
	struct chlb_decap_state st;
	int where, err;

	if (access(dir, F_OK))
		return 0;
	err = chlb_decap__read(dir, &st, CLI_E);
	if (err && err != -ENOENT)
		return err;
	if (!err && other_netns(&st.cfg))
		return netns_err(dev, dir, &st.cfg);
	if (!err && st.attached)
		return cli_err(-EEXIST, "chlb decap is already attached to %s; 'chlb decap detach %s' first",
			       dev, dev);
	cli_debug("chlb: removing what an earlier decap attach left in %s\n", dir);
	return chlb_decap__detach(dir, &where, CLI_E);
}

static const char *dst_name(const struct chlb_decap_cfg *cfg)
{
	if (cfg->flags & CHLB_DECAP_F_ANY_DST)
		return "any";
	return cfg->flags & CHLB_DECAP_F_LISTED ? "listed" : "own";
}

/* The outer destinations as text, "a, b, c"; "any" for --dst any. */
static void format_dsts(const struct chlb_decap_cfg *cfg, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	size_t off = 0;
	int i;

	snprintf(buf, len, "%s", cfg->flags & CHLB_DECAP_F_ANY_DST ? "any" : "");
	for (i = 0; i < cfg->n4 + cfg->n6 && i < 2 * CHLB_DECAP_MAX_ADDRS && off < len; i++) {
		if (i < cfg->n4)
			inet_ntop(AF_INET, &cfg->v4[i], a, sizeof(a));
		else
			inet_ntop(AF_INET6, cfg->v6[i - cfg->n4], a, sizeof(a));
		off += snprintf(buf + off, len - off, "%s%s", i ? ", " : "", a);
	}
}

static struct json_object *json_dsts(const struct chlb_decap_cfg *cfg)
{
	struct json_object *arr = json_object_new_array();
	char a[INET6_ADDRSTRLEN];
	int i;

	for (i = 0; i < cfg->n4 && i < CHLB_DECAP_MAX_ADDRS; i++)
		json_object_array_add(arr, json_object_new_string(
			inet_ntop(AF_INET, &cfg->v4[i], a, sizeof(a))));
	for (i = 0; i < cfg->n6 && i < CHLB_DECAP_MAX_ADDRS; i++)
		json_object_array_add(arr, json_object_new_string(
			inet_ntop(AF_INET6, cfg->v6[i], a, sizeof(a))));
	return arr;
}

static void print_attached(const char *dev, const char *dir, const struct chlb_decap_cfg *cfg)
{
	struct json_object *o;
	char dsts[1024];

	if (!cli.json) {
		format_dsts(cfg, dsts, sizeof(dsts));
		printf("decap attached to %s (%s mode), outer destinations: %s\n", dev,
		       xdp_mode_name(cfg->xdp_mode), dsts);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "interface", json_object_new_string(dev));
	json_object_object_add(o, "xdp_mode", json_object_new_string(xdp_mode_name(cfg->xdp_mode)));
	json_object_object_add(o, "dst", json_object_new_string(dst_name(cfg)));
	json_object_object_add(o, "addresses", json_dsts(cfg));
	json_object_object_add(o, "pin_dir", json_object_new_string(dir));
	cli_json_print(o);
}

static int decap_attach(int argc, char **argv)
{
	char root[PATH_MAX], dir[PATH_MAX];
	struct chlb_decap_cfg cfg;
	const char *dev = NULL;
	bool created = false;
	int lock, err;

	err = parse_attach(argc, argv, &dev, &cfg);
	if (err)
		return err == CLI_HELP ? decap_help() : err;
	decap_root(root, sizeof(root));
	err = decap_dir(dev, dir, sizeof(dir));
	if (!err)
		err = cli_ensure_bpffs(root);
	if (err)
		return err;
	lock = pindir_create_lock(root, &created, CLI_E);
	if (lock < 0)
		return lock;
	err = check_existing(dev, dir);
	if (!err)
		err = chlb_decap__attach(dir, &cfg, CLI_E);
	if (err && created)
		rmdir(root);
	close(lock);
	if (!err)
		print_attached(dev, dir, &cfg);
	return err;
}

/* ---- detach -------------------------------------------------------------- */

static int not_attached(const char *dev, const char *dir)
{
	return cli_err(-ENOENT, "chlb decap is not attached to %s (no %s)", dev, dir);
}

/* Lock root for dev's instance; -ENOENT when there is none. */
static int lock_for(const char *dev, const char *dir, bool write)
{
	char root[PATH_MAX];
	int lock;

	decap_root(root, sizeof(root));
	if (access(root, F_OK))
		return not_attached(dev, dir);
	lock = pindir_lock(root, write, CLI_E);
	if (lock >= 0 && access(dir, F_OK)) {
		close(lock);
		return not_attached(dev, dir);
	}
	return lock;
}

static void print_detached(const char *dev, const char *dir, int where)
{
	struct json_object *o;

	if (!cli.json) {
		if (where)
			printf("decap detached from %s\n", dev);
		else
			printf("decap detached (it ran nowhere, %s is gone); %s removed\n", dev, dir);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "detached", json_object_new_boolean(true));
	json_object_object_add(o, "interface", json_object_new_string(dev));
	json_object_object_add(o, "was_attached", json_object_new_boolean(where != 0));
	json_object_object_add(o, "pin_dir", json_object_new_string(dir));
	cli_json_print(o);
}

static int decap_detach(int argc, char **argv)
{
	static const char *const names[] = { "DEV" };
	char root[PATH_MAX], dir[PATH_MAX];
	struct chlb_decap_state st;
	const char *dev = NULL;
	int n, lock, where = 0, err;

	err = cli_args(argc, argv, NULL, &dev, 1, 1, names, &n);
	if (err)
		return err == CLI_HELP ? decap_help() : err;
	err = decap_dir(dev, dir, sizeof(dir));
	if (err)
		return err;
	lock = lock_for(dev, dir, true);
	if (lock < 0)
		return lock;
	err = chlb_decap__read(dir, &st, CLI_E);
	if (!err && other_netns(&st.cfg))
		err = netns_err(dev, dir, &st.cfg);
	else if (!err || err == -ENOENT)
		err = chlb_decap__detach(dir, &where, CLI_E);
	/* the last instance takes the root with it; others keep it */
	decap_root(root, sizeof(root));
	if (!err)
		rmdir(root);
	close(lock);
	if (!err)
		print_detached(dev, dir, where);
	return err;
}

/* ---- status -------------------------------------------------------------- */

static const char *state_name(const struct chlb_decap_state *st)
{
	if (other_netns(&st->cfg))
		return "other_netns";
	if (!st->prog_id)
		return "incomplete";
	return st->attached ? "attached" : "not_attached";
}

static struct json_object *json_instance(const char *dev, const char *dir,
					 const struct chlb_decap_state *st)
{
	struct json_object *o = json_object_new_object(), *c = json_object_new_object();
	int i;

	json_object_object_add(o, "interface", json_object_new_string(dev));
	json_object_object_add(o, "state", json_object_new_string(state_name(st)));
	json_object_object_add(o, "xdp_mode",
			       json_object_new_string(xdp_mode_name(st->cfg.xdp_mode)));
	json_object_object_add(o, "prog_id", json_object_new_int64(st->prog_id));
	json_object_object_add(o, "dst", json_object_new_string(dst_name(&st->cfg)));
	json_object_object_add(o, "addresses", json_dsts(&st->cfg));
	for (i = 0; i < CHLB_DECAP_CNT_MAX; i++)
		json_object_object_add(c, chlb_decap_cnt_names[i],
				       json_object_new_uint64(st->stats.counters[i]));
	json_object_object_add(o, "counters", c);
	json_object_object_add(o, "pin_dir", json_object_new_string(dir));
	return o;
}

static void print_instance(const char *dev, const struct chlb_decap_state *st, int first)
{
	const char *state = state_name(st);
	char dsts[1024], kind[16] = "";
	int i;

	format_dsts(&st->cfg, dsts, sizeof(dsts));
	if (!(st->cfg.flags & CHLB_DECAP_F_ANY_DST))	/* "any" says it already */
		snprintf(kind, sizeof(kind), " (%s)", dst_name(&st->cfg));
	printf("%s%s: %s (%s mode, prog id %u), outer destinations: %s%s\n", first ? "" : "\n",
	       dev, state, xdp_mode_name(st->cfg.xdp_mode), st->prog_id, dsts, kind);
	if (!strcmp(state, "not_attached") || !strcmp(state, "incomplete"))
		printf("  not running: 'chlb decap detach %s' cleans up\n", dev);
	printf("%-18s %12s\n", "COUNTER", "VALUE");
	for (i = 0; i < CHLB_DECAP_CNT_MAX; i++)
		printf("%-18s %12llu\n", chlb_decap_cnt_names[i],
		       (unsigned long long)st->stats.counters[i]);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The instances' names under root, sorted; *n of them (freed by the caller). */
static int list_devs(const char *root, char **names, int *n)
{
	struct dirent *d;
	DIR *dir = opendir(root);

	*n = 0;
	if (!dir)
		return cli_fail(-errno, "cannot list %s: %s", root, strerror(errno));
	while ((d = readdir(dir)) && *n < DECAP_MAX_DEVS)
		if (d->d_name[0] != '.' && d->d_type == DT_DIR)
			names[(*n)++] = strdup(d->d_name);
	closedir(dir);
	qsort(names, *n, sizeof(*names), cmp_names);
	return 0;
}

/* One instance into arr (JSON) or onto stdout; *shown counts them. */
static int show_instance(const char *dev, struct json_object *arr, int *shown)
{
	char dir[PATH_MAX];
	struct chlb_decap_state st;
	int err;

	err = decap_dir(dev, dir, sizeof(dir));
	if (!err)
		err = chlb_decap__read(dir, &st, CLI_E);
	/* no config: an interrupted attach, shown as incomplete */
	if (err && err != -ENOENT)
		return err;
	if (arr)
		json_object_array_add(arr, json_instance(dev, dir, &st));
	else
		print_instance(dev, &st, !*shown);
	(*shown)++;
	return 0;
}

static int show_none(const char *root)
{
	struct json_object *o;

	if (!cli.json) {
		printf("chlb decap is not attached anywhere (nothing in %s)\n", root);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "decap", json_object_new_array());
	cli_json_print(o);
	return 0;
}

/* Every instance under root, or only the one named. */
static int show_all(const char *root, const char *only)
{
	struct json_object *arr = cli.json ? json_object_new_array() : NULL, *o;
	char *names[DECAP_MAX_DEVS];
	int i, n = 1, shown = 0, err = 0;

	if (only)
		names[0] = strdup(only);
	else
		err = list_devs(root, names, &n);
	for (i = 0; i < n; i++) {
		if (!err && names[i])
			err = show_instance(names[i], arr, &shown);
		free(names[i]);
	}
	if (err || !shown) {
		json_object_put(arr);
		return err ? err : show_none(root);
	}
	if (!arr)
		return 0;
	o = json_object_new_object();
	json_object_object_add(o, "decap", arr);
	cli_json_print(o);
	return 0;
}

static int decap_status(int argc, char **argv)
{
	static const char *const names[] = { "DEV" };
	char root[PATH_MAX], dir[PATH_MAX];
	const char *dev = NULL;
	int n, lock, err;

	err = cli_args(argc, argv, NULL, &dev, 0, 1, names, &n);
	if (err)
		return err == CLI_HELP ? decap_help() : err;
	decap_root(root, sizeof(root));
	if (n && (err = decap_dir(dev, dir, sizeof(dir))))
		return err;
	if (n)
		lock = lock_for(dev, dir, false);
	else if (access(root, F_OK))	/* nothing attached is an answer, not an error */
		return show_none(root);
	else
		lock = pindir_lock(root, false, CLI_E);
	if (lock < 0)
		return lock;
	err = show_all(root, n ? dev : NULL);
	close(lock);
	return err;
}

int do_decap(int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "attach", decap_attach },
		{ "detach", decap_detach },
		{ "status", decap_status },
		{},
	};

	return cli_dispatch("decap", cmds, argc, argv, decap_help);
}
