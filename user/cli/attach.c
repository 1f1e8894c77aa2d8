// SPDX-License-Identifier: GPL-2.0
/*
 * chlb attach / detach.
 *
 * attach goes in an order that leaves every interrupted state one that
 * detach cleans up: the maps are pinned (by libbpf, at load), the config is
 * written, the program is pinned, and only then attached. A chlb program
 * that runs is therefore always pinned, with its config beside it. On an
 * error attach undoes every step it took.
 *
 * detach goes the other way and copes with any subset of the pins (an
 * attach or detach killed half way): detach the pinned program from
 * wherever it runs, unpin it, then the maps, then remove the directory.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "chlb/shared.h"	/* the skeleton names its types */
#include "chlb.skel.h"
#include "cli.h"
#include "core/encap_src.h"
#include "core/parse.h"
#include "core/pindir.h"
#include "core/teardown.h"
#include "dp/dataplane.h"
#include "dp/xdp.h"

#define MIB (1ull << 20)
/* The most the maps of one instance may pin: this, or half the RAM if less. */
#define ATTACH_MEM_MAX (4ull << 30)

/* What one flow-table entry costs: its share of a CHLB_FLOW_WAYS-way bucket. */
#define FLOW_ENTRY_BYTES (sizeof(struct chlb_flow_bucket) / CHLB_FLOW_WAYS)

static int attach_help(void)
{
	printf("Usage: chlb attach DEV [--xdp-mode native|skb] [--table-size M] [--vnodes V]\n"
	       "                  [--seed HEX] [--algo NAME] [--max-vips N] [--max-backends N]\n"
	       "                  [--flow-table N|off] [--udp-timeout SECONDS] [--dst-mac own|any]\n"
	       "                  [--encap-src ADDR[/LEN]|own]...\n"
	       "       loads the XDP program with these limits, pins it and its maps under the\n"
	       "       pin directory, then attaches it to DEV\n"
	       "       defaults: native mode, M=%u, V=%u, random seed, algo ring,\n"
	       "       %u VIPs, %u backends (all VIPs together),\n"
	       "       flow table of %u entries (%llu MiB, %zu bytes an entry),\n"
	       "       UDP flows re-hashed after %u s idle (at least %u)\n"
	       "       --flow-table: live flows keep their backend across backend changes;\n"
	       "       off: every packet follows the current table (stateless)\n"
	       "       --dst-mac own (default): VIP frames not addressed to DEV's MAC\n"
	       "       (another host's, broadcast, multicast) are passed to the kernel\n"
	       "       (pass_not_for_us); any: forwarded whatever their destination MAC\n"
	       "       (a VRRP virtual MAC, a macvlan's frames seen on its lower device)\n"
	       "       --encap-src: the outer source addresses of ipip VIPs' packets, one\n"
	       "       range per family (give it twice for both): each flow's source is\n"
	       "       picked from ADDR/LEN by its hash (LEN %u..32 or %u..128), so a\n"
	       "       backend's NIC spreads flows over its queues; the range must be routed\n"
	       "       back to this host, and networks that drop unknown sources need a\n"
	       "       single address. own (the default for a family not given): DEV's own\n"
	       "       primary address of that family (one source for every flow); a\n"
	       "       family DEV has no address of gets none, and its backends are\n"
	       "       refused for ipip\n"
	       "       --seed: the cluster's secret (it keeps flows' buckets unpredictable);\n"
	       "       without it $CHLB_SEED, else random. A command line is readable by every\n"
	       "       local user (/proc/PID/cmdline), a process's environment only by its owner.\n"
	       "       'chlb status' shows the seed; attach prints it only with -j\n"
	       "       limits: the maps may pin at most %llu GiB or half the RAM, whichever\n"
	       "       is less (attach prints what they can pin); tables above %u slots are\n"
	       "       built by sorting V x weight points a backend, at most %llu for a VIP,\n"
	       "       so there V x 256 x N must not exceed that\n",
	       CHLB_DEFAULT_TABLE_SIZE, CHLB_DEFAULT_VNODES, CHLB_DEFAULT_MAX_VIPS,
	       CHLB_DEFAULT_MAX_BACKENDS, CHLB_DEFAULT_FLOW_ENTRIES,
	       (unsigned long long)CHLB_DEFAULT_FLOW_ENTRIES * FLOW_ENTRY_BYTES / MIB,
	       FLOW_ENTRY_BYTES, CHLB_DEFAULT_UDP_TIMEOUT, CHLB_MIN_UDP_TIMEOUT,
	       32 - CHLB_ENCAP_SRC_MAX_BITS, 128 - CHLB_ENCAP_SRC_MAX_BITS, ATTACH_MEM_MAX >> 30,
	       CHLB_RING_BUCKET_MAX_M, (unsigned long long)CHLB_RING_MAX_POINTS);
	return 0;
}

static int detach_help(void)
{
	printf("Usage: chlb detach\n"
	       "       detaches chlb's XDP program from its interface and removes everything\n"
	       "       under the pin directory; also cleans up what an interrupted attach or\n"
	       "       detach left there\n");
	return 0;
}

static int if_mac(const char *dev, __u8 mac[6])
{
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cli_fail(-errno, "socket: %s", strerror(errno));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = cli_fail(-errno, "cannot read the MAC of '%s': %s", dev, strerror(errno));
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

struct attach_args {
	const char *dev;
	int ifindex;
	struct chlb_config cfg;
	unsigned long long memory;	/* the most the maps can pin */
};

enum { O_MODE, O_TABLE, O_VNODES, O_SEED, O_ALGO, O_VIPS, O_BACKENDS, O_FLOWS, O_UDP_TIMEOUT,
       O_DST_MAC, O_ENCAP, O_ENCAP2 };

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
	/* a way's time is refreshed once a second: shorter ones expire live flows */
	if (c->udp_timeout < CHLB_MIN_UDP_TIMEOUT)
		return cli_err(-EINVAL, "UDP timeout %u s is below the minimum of %u s: a flow's "
			       "entry is refreshed at most once a second, so a shorter timeout "
			       "would expire flows that are still sending", c->udp_timeout,
			       CHLB_MIN_UDP_TIMEOUT);
	return 0;
}

/* Options into a config; defaults from chlb.h and shared.h. */
static int parse_config(struct cli_opt *o, struct chlb_config *c)
{
	/* $CHLB_SEED: unlike a command line, only its owner reads a process's environment */
	const char *seed = o[O_SEED].val ? o[O_SEED].val : getenv("CHLB_SEED");
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
	    (seed && parse_seed(seed, &c->seed, CLI_E)) || parse_flow_opts(o, c))
		return -EINVAL;
	if (!seed && getrandom(&c->seed, sizeof(c->seed), 0) != sizeof(c->seed))
		return cli_fail(-errno, "getrandom: %s", strerror(errno));
	if (o[O_ALGO].val && (err = chlb_algo_parse(o[O_ALGO].val, &algo)))
		return cli_err(err, "invalid algorithm '%s': %s", o[O_ALGO].val,
			       chlb_strerror(err));
	c->algo = algo;
	if (o[O_DST_MAC].val && !strcmp(o[O_DST_MAC].val, "any"))
		c->flags |= CHLB_CFG_F_ANY_DST_MAC;
	else if (o[O_DST_MAC].val && strcmp(o[O_DST_MAC].val, "own"))
		return cli_err(-EINVAL, "invalid --dst-mac '%s': expected own or any",
			       o[O_DST_MAC].val);
	return 0;
}

/* --encap-src ranges given, then DEV's own address for each family still unset. */
static int parse_encap(struct cli_opt *o, struct attach_args *a)
{
	bool own = false;
	int i, err;

	for (i = O_ENCAP; i <= O_ENCAP2; i++) {
		if (!o[i].val)
			continue;
		if (strcmp(o[i].val, "own")) {
			err = encap_src_add(o[i].val, a->cfg.encap, CLI_E);
			if (err)
				return err;
		} else if (own) {
			return cli_err(-EINVAL, "invalid --encap-src: 'own' given twice");
		}
		own |= !strcmp(o[i].val, "own");
	}
	return encap_src_own(a->dev, a->cfg.encap, CLI_E);
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
			       [O_DST_MAC] = CLI_OPT("--dst-mac", CLI_ARG_REQ),
			       /* twice: one range per family */
			       [O_ENCAP] = CLI_OPT("--encap-src", CLI_ARG_REQ),
			       [O_ENCAP2] = CLI_OPT("--encap-src", CLI_ARG_REQ),
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
	err = if_mac(a->dev, a->cfg.if_mac);
	/* no MAC (lo, L3 devices): nothing to compare a destination with */
	if (!err && !memcmp(a->cfg.if_mac, (__u8[6]){ 0 }, 6))
		a->cfg.flags |= CHLB_CFG_F_ANY_DST_MAC;
	return err ? err : parse_encap(o, a);
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

/*
 * One VIP may hold every backend at weight 256: V x 256 x N points. The
 * ring builds small tables (M <= CHLB_RING_BUCKET_MAX_M) from bucket minima,
 * whatever the points; larger ones sort every point, at most
 * CHLB_RING_MAX_POINTS. Refuse now what a later backend add would fail on.
 */
static int check_points(const struct chlb_config *c)
{
	unsigned long long worst = (unsigned long long)c->vnodes * CHLB_MAX_WEIGHT * c->max_backends;

	if (chlb_ring_points_fit(worst, c->table_size))
		return 0;
	return err_usage(CLI_E, -E2BIG,
			 "--vnodes %u x weight %u x --max-backends %u = %llu ring points for one VIP, more than the %llu a table of %u slots (> %u) can be built from; lower --vnodes, --max-backends or --table-size",
			 c->vnodes, CHLB_MAX_WEIGHT, c->max_backends, worst,
			 (unsigned long long)CHLB_RING_MAX_POINTS, c->table_size, CHLB_RING_BUCKET_MAX_M);
}

/* ATTACH_MEM_MAX, or half of the RAM when that is less. */
static unsigned long long mem_bound(void)
{
	unsigned long long half;
	struct sysinfo si;

	if (sysinfo(&si))
		return ATTACH_MEM_MAX;
	half = (unsigned long long)si.totalram * si.mem_unit / 2;
	return half < ATTACH_MEM_MAX ? half : ATTACH_MEM_MAX;
}

static int check_memory(struct attach_args *a)
{
	struct chlb_dp_opts o = { .max_vips = a->cfg.max_vips, .max_backends = a->cfg.max_backends,
				  .table_size = a->cfg.table_size,
				  .flow_entries = a->cfg.flow_entries };
	int ncpus = libbpf_num_possible_cpus();
	unsigned long long bound = mem_bound();
	__u64 mem[CHLB_DP_MEM_N];
	int i;

	if (ncpus < 0)
		return cli_fail(ncpus, "cannot count the possible CPUs: %s", strerror(-ncpus));
	chlb_dp__memory(&o, ncpus, mem);
	a->memory = 0;
	for (i = 0; i < CHLB_DP_MEM_N; i++) {
		cli_debug("chlb: maps: %-17s up to %llu bytes\n", chlb_dp_mem_names[i],
			  (unsigned long long)mem[i]);
		a->memory += mem[i];
	}
	cli_debug("chlb: maps: total             up to %llu bytes (%llu MiB), bound %llu\n",
		  a->memory, a->memory / MIB, bound);
	if (a->memory <= bound)
		return 0;
	return err_usage(CLI_E, -E2BIG,
			 "these sizes can pin %llu bytes (%llu MiB: tables %llu, flow table %llu), more than %llu (%llu GiB or half the RAM, whichever is less); lower --max-vips, --table-size or --flow-table",
			 a->memory, a->memory / MIB, (unsigned long long)mem[CHLB_DP_MEM_TABLES],
			 (unsigned long long)mem[CHLB_DP_MEM_FLOWS], bound,
			 ATTACH_MEM_MAX >> 30);
}

/* Every limit together, before anything is created. */
static int check_limits(struct attach_args *a)
{
	int err = check_ring_opts(&a->cfg);

	if (!err)
		err = check_points(&a->cfg);
	if (!err)
		err = check_memory(a);
	return err;
}

/* Load (maps pinned), write the config, pin and attach the program. */
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
		.dst_mac_check = !(a->cfg.flags & CHLB_CFG_F_ANY_DST_MAC),
	};
	struct chlb_config loaded;
	struct chlb *skel = NULL;
	__u32 zero = 0;
	int fd, err;

	memcpy(opts.if_mac, a->cfg.if_mac, 6);
	memcpy(opts.encap, a->cfg.encap, sizeof(opts.encap));
	err = chlb_dp__load(&opts, &skel);
	if (err) {
		cli_fail(err, "cannot load the XDP program: %s", strerror(-err));
		goto out;
	}
	/* the data plane's part as it wrote it: the flow table in whole buckets */
	fd = bpf_map__fd(skel->maps.chlb_config);
	err = bpf_map_lookup_elem(fd, &zero, &loaded);
	if (!err) {
		a->cfg.flow_entries = loaded.flow_entries;
		a->cfg.flow_map_flags = loaded.flow_map_flags;
		a->cfg.netns_ino = pindir_netns_ino();
		err = bpf_map_update_elem(fd, &zero, &a->cfg, BPF_ANY);
	}
	if (err) {
		cli_fail(err, "cannot write the config: %s", strerror(-err));
		goto out;
	}
	err = xdp_attach(skel->obj, a->ifindex, a->cfg.xdp_mode, cli.pin_dir, CLI_E);
out:
	chlb__destroy(skel);
	return err;
}

/*
 * Attach only into a directory without our pins. Anything there is either
 * a running instance or what an interrupted attach or detach left; only
 * detach removes state, so both are sent there.
 */
static int check_unused(const char *dir)
{
	struct chlb_config cfg;
	__u32 id;
	int attached = 0;

	if (!teardown_has_pins(dir))
		return 0;
	if (teardown_read_config(dir, &cfg) || xdp_prog_id(dir, cfg.ifindex, &id, &attached))
		return cli_err(-EEXIST,
			       "%s holds an incomplete chlb instance (an attach or detach was interrupted); run 'chlb detach' to clean it up",
			       dir);
	if (!attached)
		return cli_err(-EEXIST,
			       "%s holds a chlb instance whose program is not attached (interrupted, or its interface went away); run 'chlb detach' to clean it up",
			       dir);
	return cli_err(-EEXIST, "chlb is already attached under %s; 'chlb detach' first", dir);
}

/*
 * The seed is a secret (it keeps flows' buckets unpredictable): the plain
 * line, which the daemon's --attach sends to the journal, leaves it out;
 * JSON, asked for by a script, and 'chlb status' give it.
 */
static void print_attached(const struct attach_args *a)
{
	struct json_object *o;
	char seed[32];

	snprintf(seed, sizeof(seed), "%016llx", (unsigned long long)a->cfg.seed);
	if (!cli.json) {
		printf("attached to %s (%s mode), maps up to %llu MiB, ipip outer sources: ",
		       a->dev, xdp_mode_name(a->cfg.xdp_mode), a->memory / MIB);
		print_encap_src(a->cfg.encap);
		printf("\n");
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "interface", json_object_new_string(a->dev));
	json_object_object_add(o, "xdp_mode", json_object_new_string(xdp_mode_name(a->cfg.xdp_mode)));
	json_object_object_add(o, "seed", json_object_new_string(seed));
	json_object_object_add(o, "dst_mac", json_object_new_string(
		a->cfg.flags & CHLB_CFG_F_ANY_DST_MAC ? "any" : "own"));
	json_object_object_add(o, "encap_src", encap_src_json(a->cfg.encap));
	json_object_object_add(o, "pin_dir", json_object_new_string(cli.pin_dir));
	json_object_object_add(o, "memory_max_bytes", json_object_new_uint64(a->memory));
	cli_json_print(o);
}

int do_attach(int argc, char **argv)
{
	struct attach_args a = {};
	bool created = false;
	int lock, err;

	err = parse_attach(argc, argv, &a);
	if (err)
		return err == CLI_HELP ? attach_help() : err;
	err = check_limits(&a);
	if (!err)
		err = cli_ensure_bpffs(cli.pin_dir);
	if (err)
		return err;
	lock = pindir_create_lock(cli.pin_dir, &created, CLI_E);
	if (lock < 0)
		return lock;
	/* what an interrupted attach left goes first: a retry must succeed */
	if (teardown_interrupted(cli.pin_dir))
		err = teardown(cli.pin_dir, true, NULL, CLI_E);
	if (!err)
		err = check_unused(cli.pin_dir);
	if (err)
		goto out;
	err = attach_locked(&a);
	if (err)
		teardown_unpin(cli.pin_dir);
out:
	if (err && created)
		rmdir(cli.pin_dir);
	close(lock);
	if (!err)
		print_attached(&a);
	return err;
}

static void print_detached(int ifindex)
{
	char name[IF_NAMESIZE] = "";
	struct json_object *o;

	if (ifindex && !if_indextoname(ifindex, name))
		snprintf(name, sizeof(name), "%d", ifindex);
	if (!cli.json) {
		if (ifindex)
			printf("detached from %s\n", name);
		else
			printf("detached (no chlb program was attached; %s removed)\n", cli.pin_dir);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "detached", json_object_new_boolean(true));
	json_object_object_add(o, "interface", ifindex ? json_object_new_string(name) : NULL);
	json_object_object_add(o, "pin_dir", json_object_new_string(cli.pin_dir));
	cli_json_print(o);
}

int do_detach(int argc, char **argv)
{
	int n, lock, where = 0, err;

	err = cli_args(argc, argv, NULL, NULL, 0, 0, NULL, &n);
	if (err)
		return err == CLI_HELP ? detach_help() : err;
	lock = pindir_lock(cli.pin_dir, true, CLI_E);
	if (lock < 0)
		return lock;
	err = teardown(cli.pin_dir, false, &where, CLI_E);
	close(lock);
	if (!err)
		print_detached(where);
	return err;
}
