// SPDX-License-Identifier: GPL-2.0
/*
 * chlb attach / detach. attach either completes (maps pinned, config
 * written, program attached and pinned) or undoes every step it took.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <bpf/bpf.h>

#include "chlb.skel.h"
#include "cli.h"
#include "core/parse.h"
#include "core/state.h"
#include "dp/xdp.h"

#define BPFFS "/sys/fs/bpf"

static int attach_help(void)
{
	printf("Usage: chlb attach DEV [--xdp-mode native|skb] [--table-size M] [--vnodes V]\n"
	       "                  [--seed HEX] [--algo NAME] [--max-vips N] [--max-backends N]\n"
	       "                  [--flow-table N|off] [--udp-timeout SECONDS]\n"
	       "       chlb detach\n"
	       "       defaults: native mode, M=%u, V=%u, random seed, algo ring,\n"
	       "       %u VIPs, %u backends (all VIPs together),\n"
	       "       flow table of %u entries (~%u MB), UDP flows re-hashed after %u s idle\n"
	       "       --flow-table: live flows keep their backend across backend changes;\n"
	       "       off: every packet follows the current table (stateless)\n",
	       CHLB_DEFAULT_TABLE_SIZE, CHLB_DEFAULT_VNODES, CHLB_DEFAULT_MAX_VIPS,
	       CHLB_DEFAULT_MAX_BACKENDS, CHLB_DEFAULT_FLOW_ENTRIES,
	       CHLB_DEFAULT_FLOW_ENTRIES / 8192 /* ~128 bytes an entry */,
	       CHLB_DEFAULT_UDP_TIMEOUT);
	return 0;
}

/* Our pins are chlb_* maps and "prog"; anything else in the dir is not ours. */
static bool is_our_pin(const char *name)
{
	return !strncmp(name, "chlb_", 5) || !strcmp(name, CHLB_PIN_PROG);
}

static int remove_pins(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);
	int err = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)))
		if (is_our_pin(e->d_name)) {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			if (unlink(path) && !err)
				err = -errno;
		}
	closedir(d);
	return err;
}

static bool has_pins(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d)))
		found = is_our_pin(e->d_name);
	closedir(d);
	return found;
}

static int ensure_bpffs(void)
{
	struct statfs fs;

	if (strncmp(cli.pin_dir, BPFFS "/", strlen(BPFFS) + 1))
		return 0;
	if (!statfs(BPFFS, &fs) && fs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", BPFFS, "bpf", 0, "mode=0700"))
		return cli_err(-errno, "cannot mount bpffs at %s: %s", BPFFS, strerror(errno));
	return 0;
}

static int if_mac(const char *dev, __u8 mac[6])
{
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = cli_err(-errno, "cannot read the MAC of '%s': %s", dev, strerror(errno));
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

struct attach_args {
	const char *dev;
	int ifindex;
	struct chlb_config cfg;
};

enum { O_MODE, O_TABLE, O_VNODES, O_SEED, O_ALGO, O_VIPS, O_BACKENDS, O_FLOWS, O_UDP_TIMEOUT };

/* --flow-table N|off and --udp-timeout SECONDS. */
static int parse_flow_opts(struct cli_opt *o, struct chlb_config *c)
{
	c->flow_entries = CHLB_DEFAULT_FLOW_ENTRIES;
	c->udp_timeout = CHLB_DEFAULT_UDP_TIMEOUT;
	if (o[O_FLOWS].val && !strcmp(o[O_FLOWS].val, "off"))
		c->flow_entries = 0;
	else if (o[O_FLOWS].val && parse_u32("flow table size (N or off)", o[O_FLOWS].val, 1,
					     CHLB_MAX_FLOW_ENTRIES, &c->flow_entries, CLI_E))
		return -EINVAL;
	if (o[O_UDP_TIMEOUT].val && parse_u32("UDP timeout", o[O_UDP_TIMEOUT].val, 1,
					      CHLB_MAX_UDP_TIMEOUT, &c->udp_timeout, CLI_E))
		return -EINVAL;
	return 0;
}

/* Options into a config; defaults from chlb.h and shared.h. */
static int parse_config(struct cli_opt *o, struct chlb_config *c)
{
	enum chlb_algo algo = CHLB_ALGO_RING;
	int err;

	*c = (struct chlb_config){ .xdp_mode = CLI_XDP_NATIVE, .version = CHLB_ABI_VERSION,
				   .table_size = CHLB_DEFAULT_TABLE_SIZE,
				   .vnodes = CHLB_DEFAULT_VNODES,
				   .max_vips = CHLB_DEFAULT_MAX_VIPS,
				   .max_backends = CHLB_DEFAULT_MAX_BACKENDS };
	if (o[O_MODE].val && !strcmp(o[O_MODE].val, "skb"))
		c->xdp_mode = CLI_XDP_SKB;
	else if (o[O_MODE].val && strcmp(o[O_MODE].val, "native"))
		return cli_err(-EINVAL, "invalid XDP mode '%s': expected native or skb",
			       o[O_MODE].val);
	if ((o[O_TABLE].val && parse_u32("table size", o[O_TABLE].val, 1, CHLB_MAX_TABLE_SIZE,
					 &c->table_size, CLI_E)) ||
	    (o[O_VNODES].val && parse_u32("vnodes", o[O_VNODES].val, 1, CHLB_MAX_VNODES,
					  &c->vnodes, CLI_E)) ||
	    (o[O_VIPS].val && parse_u32("max VIPs", o[O_VIPS].val, 1, 65536, &c->max_vips, CLI_E)) ||
	    (o[O_BACKENDS].val && parse_u32("max backends", o[O_BACKENDS].val, 1, 1 << 20,
					    &c->max_backends, CLI_E)) ||
	    (o[O_SEED].val && parse_seed(o[O_SEED].val, &c->seed, CLI_E)) || parse_flow_opts(o, c))
		return -EINVAL;
	if (!o[O_SEED].val && getrandom(&c->seed, sizeof(c->seed), 0) != sizeof(c->seed))
		return cli_err(-errno, "getrandom: %s", strerror(errno));
	if (o[O_ALGO].val && (err = chlb_algo_parse(o[O_ALGO].val, &algo)))
		return cli_err(err, "invalid algorithm '%s': %s", o[O_ALGO].val,
			       chlb_strerror(err));
	c->algo = algo;
	return 0;
}

static int parse_attach(int argc, char **argv, struct attach_args *a)
{
	struct cli_opt o[] = { [O_MODE] = CLI_OPT("--xdp-mode", CLI_ARG_REQ),
			       [O_TABLE] = CLI_OPT("--table-size", CLI_ARG_REQ),
			       [O_VNODES] = CLI_OPT("--vnodes", CLI_ARG_REQ),
			       [O_SEED] = CLI_OPT("--seed", CLI_ARG_REQ),
			       [O_ALGO] = CLI_OPT("--algo", CLI_ARG_REQ),
			       [O_VIPS] = CLI_OPT("--max-vips", CLI_ARG_REQ),
			       [O_BACKENDS] = CLI_OPT("--max-backends", CLI_ARG_REQ),
			       [O_FLOWS] = CLI_OPT("--flow-table", CLI_ARG_REQ),
			       [O_UDP_TIMEOUT] = CLI_OPT("--udp-timeout", CLI_ARG_REQ),
			       {} };
	static const char *const names[] = { "DEV" };
	int n, err;

	err = cli_args(argc, argv, o, &a->dev, 1, 1, names, &n);
	if (!err)
		err = parse_config(o, &a->cfg);
	if (err)
		return err;
	a->ifindex = if_nametoindex(a->dev);
	if (!a->ifindex)
		return cli_err(-ENODEV, "no such interface '%s'", a->dev);
	a->cfg.ifindex = a->ifindex;
	return if_mac(a->dev, a->cfg.if_mac);
}

/* Load, configure, attach. On failure the caller removes our pins. */
static int attach_locked(struct attach_args *a)
{
	struct chlb_dp_opts opts = {
		.pin_dir = cli.pin_dir,
		.max_vips = a->cfg.max_vips,
		.max_backends = a->cfg.max_backends,
		.table_size = a->cfg.table_size,
		.seed = a->cfg.seed,
		.flow_entries = a->cfg.flow_entries,
		.udp_timeout = a->cfg.udp_timeout,
	};
	struct chlb *skel = NULL;
	struct chlb_dp dp;
	__u32 zero = 0;
	int err;

	memcpy(opts.if_mac, a->cfg.if_mac, 6);
	err = chlb_dp__load(&opts, &skel);
	if (err) {
		cli_err(err, "cannot load the XDP program: %s", strerror(-err));
		goto out;
	}
	err = chlb_dp__from_skel(skel, &dp);
	/* the flow table as loaded: rounded to whole buckets */
	a->cfg.flow_entries = dp.flow_entries;
	a->cfg.flow_map_flags = 0;
	if (!err)
		err = bpf_map_update_elem(dp.config_fd, &zero, &a->cfg, BPF_ANY);
	if (err) {
		cli_err(err, "cannot write the config: %s", strerror(-err));
		goto out;
	}
	err = xdp_attach(skel->obj, a->ifindex, a->cfg.xdp_mode, cli.pin_dir);
out:
	chlb__destroy(skel);
	return err;
}

/* Refuse bad ring parameters before touching anything. */
static int check_ring_opts(const struct chlb_config *c)
{
	struct chlb_ring_opts ro = { .sz = sizeof(ro), .vnodes = c->vnodes,
				     .table_size = c->table_size, .seed = c->seed,
				     .algo = c->algo, .max_backends = c->max_backends };
	struct chlb_ring *ring = NULL;
	int err = chlb_ring__new(&ro, &ring);

	chlb_ring__free(ring);
	if (err)
		return cli_err(err, "invalid ring parameters: %s", chlb_strerror(err));
	return 0;
}

int do_attach(int argc, char **argv)
{
	struct attach_args a = {};
	bool created = false;
	int lock = -1, err;

	err = parse_attach(argc, argv, &a);
	if (err)
		return err == CLI_HELP ? attach_help() : err;
	err = check_ring_opts(&a.cfg);
	if (!err)
		err = ensure_bpffs();
	if (err)
		return err;
	if (!mkdir(cli.pin_dir, 0700))
		created = true;
	else if (errno != EEXIST)
		return cli_err(-errno, "cannot create %s: %s", cli.pin_dir, strerror(errno));
	lock = state_lock(cli.pin_dir, true);
	if (lock < 0) {
		err = lock;
		goto out;
	}
	if (has_pins(cli.pin_dir)) {
		err = cli_err(-EEXIST, "chlb is already attached under %s; 'chlb detach' first",
			      cli.pin_dir);
		goto out;
	}
	err = attach_locked(&a);
	if (err)
		remove_pins(cli.pin_dir);
	else if (!cli.json)
		printf("attached to %s (%s mode), seed %016llx\n", a.dev,
		       xdp_mode_name(a.cfg.xdp_mode), (unsigned long long)a.cfg.seed);
out:
	if (err && created)
		rmdir(cli.pin_dir);
	if (lock >= 0)
		close(lock);
	if (!err && cli.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "interface", json_object_new_string(a.dev));
		json_object_object_add(o, "xdp_mode",
				       json_object_new_string(xdp_mode_name(a.cfg.xdp_mode)));
		cli_json_print(o);
	}
	return err;
}

int do_detach(int argc, char **argv)
{
	struct state st;
	int n, err;

	err = cli_args(argc, argv, NULL, NULL, 0, 0, NULL, &n);
	if (err)
		return err == CLI_HELP ? attach_help() : err;
	err = state_open(&st, true);
	if (!err)
		err = xdp_detach(cli.pin_dir, st.cfg.ifindex, st.cfg.xdp_mode);
	if (!err) {
		err = remove_pins(cli.pin_dir);
		if (err)
			cli_err(err, "cannot unpin under %s: %s", cli.pin_dir, strerror(-err));
	}
	if (!err && rmdir(cli.pin_dir))
		err = cli_err(-errno, "cannot remove %s: %s", cli.pin_dir, strerror(errno));
	state_close(&st);
	if (!err && cli.json)
		cli_json_print(json_object_new_object());
	else if (!err)
		printf("detached\n");
	return err;
}
