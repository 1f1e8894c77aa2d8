// SPDX-License-Identifier: GPL-2.0
/*
 * Loading, attaching, reading and detaching the decapsulating program;
 * see decap.h. attach goes in the order chlb's own attach does, so that
 * every interrupted state is one detach cleans up: the maps are pinned
 * (by libbpf, at load), the config written, the program pinned, and only
 * then attached.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "decap.h"	/* before the skeleton: it names struct chlb_decap_cfg */
#include "decap.skel.h"
#include "xdp.h"

const char *const chlb_decap_cnt_names[CHLB_DECAP_CNT_MAX] = {
	[CHLB_DECAP_CNT_4IN4] = "decap_4in4",
	[CHLB_DECAP_CNT_6IN6] = "decap_6in6",
	[CHLB_DECAP_CNT_4IN6] = "decap_4in6",
	[CHLB_DECAP_CNT_PASS_NOT_TUNNEL] = "pass_not_tunnel",
	[CHLB_DECAP_CNT_PASS_NOT_FOR_US] = "pass_not_for_us",
	[CHLB_DECAP_CNT_PASS_FRAGMENT] = "pass_fragment",
	[CHLB_DECAP_CNT_PASS_MALFORMED] = "pass_malformed",
	[CHLB_DECAP_CNT_DROP_ECN] = "drop_ecn",
};

/* What attach pins in an instance's directory, and nothing else. */
static const char *const decap_pins[] = { CHLB_PIN_PROG, CHLB_DECAP_MAP_CFG,
					  CHLB_DECAP_MAP_STATS };

/* The configuration is read-only once loaded: pinned by hand, as libbpf pins only .maps. */
static int decap_pin_cfg(struct decap *skel, const char *pin_dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, CHLB_DECAP_MAP_CFG);
	return bpf_map__pin(skel->maps.rodata_cfg, path);
}

int chlb_decap__load(const char *pin_dir, const struct chlb_decap_cfg *cfg,
		     struct decap **skelp)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir);
	struct decap *skel;
	int err;

	*skelp = NULL;
	skel = decap__open_opts(&oo);
	if (!skel)
		return -errno;
	memcpy((void *)&skel->rodata_cfg->decap_cfg, cfg, sizeof(*cfg));
	err = pin_dir ? 0 : bpf_map__set_pin_path(skel->maps.decap_stats, NULL);
	if (!err)
		err = decap__load(skel);
	if (!err && pin_dir)
		err = decap_pin_cfg(skel, pin_dir);
	if (err) {
		decap__destroy(skel);
		return err;
	}
	*skelp = skel;
	return 0;
}

/* dev's own address a into cfg; -E2BIG when its family's list is full. */
static int decap_add_addr(struct chlb_decap_cfg *cfg, const struct sockaddr *a)
{
	if (a->sa_family == AF_INET) {
		if (cfg->n4 >= CHLB_DECAP_MAX_ADDRS)
			return -E2BIG;
		cfg->v4[cfg->n4++] = ((const struct sockaddr_in *)a)->sin_addr.s_addr;
	} else if (a->sa_family == AF_INET6) {
		if (cfg->n6 >= CHLB_DECAP_MAX_ADDRS)
			return -E2BIG;
		memcpy(cfg->v6[cfg->n6++], &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
	}
	return 0;
}

/* IPv4 aliases are listed under their label, "dev:label". */
static int decap_is_dev(const char *name, const char *dev)
{
	size_t n = strlen(dev);

	return !strncmp(name, dev, n) && (!name[n] || name[n] == ':');
}

int chlb_decap__own_addrs(const char *dev, struct chlb_decap_cfg *cfg, struct chlb_err *e)
{
	struct ifaddrs *ifs, *i;
	int err = 0;

	cfg->n4 = cfg->n6 = 0;
	if (getifaddrs(&ifs))
		return err_fail(e, -errno, "cannot list the addresses of %s: %s", dev,
				strerror(errno));
	for (i = ifs; i && !err; i = i->ifa_next)
		if (i->ifa_addr && decap_is_dev(i->ifa_name, dev))
			err = decap_add_addr(cfg, i->ifa_addr);
	freeifaddrs(ifs);
	if (err)
		return err_usage(e, err,
				 "%s has more than %d IPv4 or IPv6 addresses: name the tunnels' outer destinations with --dst ADDR[,ADDR...] or use --dst any",
				 dev, CHLB_DECAP_MAX_ADDRS);
	if (!cfg->n4 && !cfg->n6)
		return err_usage(e, -EADDRNOTAVAIL,
				 "%s has no IPv4 or IPv6 address: name the tunnels' outer destinations with --dst ADDR[,ADDR...] or use --dst any",
				 dev);
	return 0;
}

/* Remove what attach pins in dir, then dir; pins of no instance are not ours. */
static int decap_unpin(const char *dir)
{
	char path[PATH_MAX];
	size_t i;
	int err = 0;

	for (i = 0; i < sizeof(decap_pins) / sizeof(decap_pins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, decap_pins[i]);
		if (unlink(path) && errno != ENOENT && !err)
			err = -errno;
	}
	if (rmdir(dir) && errno != ENOENT && !err)
		err = -errno;
	return err;
}

int chlb_decap__attach(const char *dir, const struct chlb_decap_cfg *cfg, struct chlb_err *e)
{
	struct decap *skel = NULL;
	int err;

	if (mkdir(dir, 0700))
		return err_fail(e, -errno, "cannot create %s: %s", dir, strerror(errno));
	err = chlb_decap__load(dir, cfg, &skel);
	if (err) {
		err_fail(e, err, "cannot load the decap XDP program: %s", strerror(-err));
		goto out;
	}
	err = xdp_attach(skel->obj, cfg->ifindex, cfg->xdp_mode, dir, e);
out:
	decap__destroy(skel);
	if (err)
		decap_unpin(dir);
	return err;
}

int chlb_decap__detach(const char *dir, int *where, struct chlb_err *e)
{
	struct chlb_decap_state st;
	int err;

	*where = 0;
	err = chlb_decap__read(dir, &st, e);
	if (err == -ENOENT)	/* no config: attach stopped before the program was pinned */
		st.cfg.ifindex = 0;
	else if (err)
		return err;
	err = xdp_detach(dir, st.cfg.ifindex, where, e);
	if (err)
		return err;
	err = decap_unpin(dir);
	if (err)
		return err_fail(e, err, "cannot remove %s: %s", dir,
				err == -ENOTEMPTY ? "it holds files chlb did not pin" :
				strerror(-err));
	return 0;
}

int chlb_decap__stats(int fd, struct chlb_decap_stats *sum)
{
	int ncpus = libbpf_num_possible_cpus(), cpu, i;
	struct chlb_decap_stats *vals;
	__u32 zero = 0;
	int err = 0;

	if (ncpus < 0)
		return ncpus;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &zero, vals)) {
		err = -errno;
		goto out;
	}
	memset(sum, 0, sizeof(*sum));
	for (cpu = 0; cpu < ncpus; cpu++)
		for (i = 0; i < CHLB_DECAP_CNT_MAX; i++)
			sum->counters[i] += vals[cpu].counters[i];
out:
	free(vals);
	return err;
}

/* The pinned map dir/name; -ENOENT (no message) when it is not there. */
static int decap_pinned(const char *dir, const char *name, struct chlb_err *e)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0 && fd != -ENOENT)
		return err_fail(e, fd, "cannot open %s: %s", path, strerror(-fd));
	return fd;
}

static int decap_read_cfg(const char *dir, struct chlb_decap_cfg *cfg, struct chlb_err *e)
{
	__u32 zero = 0;
	int fd, err = 0;

	fd = decap_pinned(dir, CHLB_DECAP_MAP_CFG, e);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, cfg))
		err = err_fail(e, -errno, "cannot read %s/%s: %s", dir, CHLB_DECAP_MAP_CFG,
			       strerror(errno));
	else if (cfg->version != CHLB_DECAP_ABI_VERSION)
		err = err_fail(e, -EPROTO,
			       "%s was pinned by another chlb version (decap ABI %u, this one %u); detach it with that version",
			       dir, cfg->version, CHLB_DECAP_ABI_VERSION);
	close(fd);
	return err;
}

int chlb_decap__read(const char *dir, struct chlb_decap_state *st, struct chlb_err *e)
{
	int fd, err;

	memset(st, 0, sizeof(*st));
	err = decap_read_cfg(dir, &st->cfg, e);
	if (err)
		return err;
	fd = decap_pinned(dir, CHLB_DECAP_MAP_STATS, e);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	err = chlb_decap__stats(fd, &st->stats);
	close(fd);
	if (err)
		return err_fail(e, err, "cannot read %s/%s: %s", dir, CHLB_DECAP_MAP_STATS,
				strerror(-err));
	/* no program pinned (an interrupted attach): id 0, not attached */
	if (xdp_prog_id(dir, st->cfg.ifindex, &st->prog_id, &st->attached))
		st->prog_id = 0;
	return 0;
}
