// SPDX-License-Identifier: GPL-2.0
/*
 * libxdp attach and detach. libxdp tries its multi-program dispatcher first
 * and falls back to attaching the program alone where the kernel refuses
 * the dispatcher; both end up here as "the program with our pinned id".
 * Every failure here is the kernel refusing at run time (exit status 1).
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <chlb/shared.h>
#include "xdp.h"

const char *xdp_mode_name(__u32 mode)
{
	return mode == CLI_XDP_NATIVE ? "native" : mode == CLI_XDP_SKB ? "skb" : "unknown";
}

static enum xdp_attach_mode lib_mode(__u32 mode)
{
	return mode == CLI_XDP_SKB ? XDP_MODE_SKB : XDP_MODE_NATIVE;
}

static void prog_pin_path(const char *pin_dir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", pin_dir, CHLB_PIN_PROG);
}

static int prog_fd_id(int fd, __u32 *id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err = bpf_obj_get_info_by_fd(fd, &info, &len);

	if (err)
		return err;
	*id = info.id;
	return 0;
}

/* Which program we look for on an interface: by id, or by a map it uses. */
struct prog_match {
	bool (*fn)(__u32 prog_id, __u32 key);
	__u32 key;
};

static bool is_id(__u32 prog_id, __u32 id)
{
	return prog_id == id;
}

/*
 * A chlb program is also known by its maps: one whose pin is missing (an
 * attach of an older chlb killed before it pinned the program, a pin
 * removed by hand) still counts every frame in the pinned chlb_gstats.
 */
static bool uses_map(__u32 prog_id, __u32 map_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[64], i;
	bool found = false;
	int fd = bpf_prog_get_fd_by_id(prog_id);

	if (fd < 0)
		return false;
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		for (i = 0; i < info.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++)
			found |= ids[i] == map_id;
	close(fd);
	return found;
}

/*
 * The mode the first program on ifindex that m matches runs in, its id in
 * *id; XDP_MODE_UNSPEC when none does.
 */
static enum xdp_attach_mode find_on(int ifindex, const struct prog_match *m, __u32 *id)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	enum xdp_attach_mode mode = XDP_MODE_UNSPEC;
	struct xdp_program *p;
	bool found = false;

	if (!mp || libxdp_get_error(mp))
		return XDP_MODE_UNSPEC;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		found = p && m->fn(xdp_program__id(p), m->key);
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p && !found;
		     p = xdp_multiprog__next_prog(p, mp))
			found = m->fn(xdp_program__id(p), m->key);
	}
	if (found) {
		mode = xdp_multiprog__attach_mode(mp);
		*id = xdp_program__id(p);
	}
	xdp_multiprog__close(mp);
	return mode;
}

static enum xdp_attach_mode runs_on(int ifindex, __u32 id)
{
	struct prog_match m = { is_id, id };
	__u32 found;

	return find_on(ifindex, &m, &found);
}

/* Attach the program pinned at path; it must then run there as that very id. */
static int attach_pinned(struct bpf_object *obj, int ifindex, __u32 mode, __u32 id,
			 struct chlb_err *e)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, opts, .obj = obj);
	struct xdp_program *prog;
	int err;

	prog = xdp_program__create(&opts);
	err = libxdp_get_error(prog);
	if (err)
		return err_fail(e, err, "cannot prepare the XDP program: %s", strerror(-err));
	err = xdp_program__attach(prog, ifindex, lib_mode(mode), 0);
	if (err) {
		err_fail(e, err, "cannot attach XDP (%s mode): %s", xdp_mode_name(mode),
			 strerror(-err));
	} else if (runs_on(ifindex, id) == XDP_MODE_UNSPEC) {
		/* libxdp ran a copy: detach would not find it by the pinned id */
		xdp_program__detach(prog, ifindex, lib_mode(mode), 0);
		err = err_fail(e, -EPROTO, "the attached XDP program is not the pinned one (id %u)",
			       id);
	}
	xdp_program__close(prog);
	return err;
}

int xdp_attach(struct bpf_object *obj, int ifindex, __u32 mode, const char *pin_dir,
	       struct chlb_err *e)
{
	struct bpf_program *bp = bpf_object__next_program(obj, NULL);
	char path[PATH_MAX];
	__u32 id = 0;
	int fd, err;

	fd = bp ? bpf_program__fd(bp) : -ENOENT;
	if (fd < 0)
		return err_fail(e, fd, "the XDP program is not loaded: %s", strerror(-fd));
	prog_pin_path(pin_dir, path, sizeof(path));
	err = prog_fd_id(fd, &id);
	if (!err)
		err = bpf_obj_pin(fd, path);
	if (err)
		return err_fail(e, err, "cannot pin %s: %s", path, strerror(-err));
	err = attach_pinned(obj, ifindex, mode, id, e);
	if (err)
		unlink(path);
	return err;
}

/*
 * Where m's program runs in this namespace: ifindex first, then every
 * interface. Returns the ifindex (0: nowhere), its id and mode.
 */
static int locate(int ifindex, const struct prog_match *m, __u32 *id,
		  enum xdp_attach_mode *mode)
{
	struct if_nameindex *ifs, *i;
	int found = 0;

	*mode = ifindex > 0 ? find_on(ifindex, m, id) : XDP_MODE_UNSPEC;
	if (*mode != XDP_MODE_UNSPEC)
		return ifindex;
	ifs = if_nameindex();
	for (i = ifs; i && i->if_index && !found; i++) {
		*mode = find_on(i->if_index, m, id);
		if (*mode != XDP_MODE_UNSPEC)
			found = i->if_index;
	}
	if (ifs)
		if_freenameindex(ifs);
	return found;
}

/* The id of the program or map pinned at pin_dir/name; 0 when there is none. */
static int pinned_id(const char *pin_dir, const char *name, __u32 *id, struct chlb_err *e)
{
	union {
		struct bpf_prog_info prog;
		struct bpf_map_info map;
	} info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	*id = 0;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return err_fail(e, fd, "cannot open %s: %s", path, strerror(-fd));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err)
		return err_fail(e, err, "cannot read %s: %s", path, strerror(-err));
	*id = strcmp(name, CHLB_PIN_PROG) ? info.map.id : info.prog.id;
	return 0;
}

static int detach_id(__u32 id, int ifindex, enum xdp_attach_mode mode, struct chlb_err *e)
{
	struct xdp_program *prog = xdp_program__from_id(id);
	int err = libxdp_get_error(prog);

	if (err)
		return err_fail(e, err, "cannot open XDP program %u: %s", id, strerror(-err));
	err = xdp_program__detach(prog, ifindex, mode, 0);
	if (err)
		err_fail(e, err, "cannot detach XDP from ifindex %d: %s", ifindex, strerror(-err));
	xdp_program__close(prog);
	return err;
}

int xdp_detach(const char *pin_dir, int ifindex, int *where, struct chlb_err *e)
{
	enum xdp_attach_mode mode = XDP_MODE_UNSPEC;
	struct prog_match by_id = { .fn = is_id }, by_map = { .fn = uses_map };
	__u32 id = 0;
	int err;

	*where = 0;
	err = pinned_id(pin_dir, CHLB_PIN_PROG, &by_id.key, e);
	if (!err)
		err = pinned_id(pin_dir, CHLB_MAP_GSTATS, &by_map.key, e);
	if (err)
		return err;
	if (by_id.key)
		*where = locate(ifindex, &by_id, &id, &mode);
	if (!*where && by_map.key)
		*where = locate(ifindex, &by_map, &id, &mode);
	return *where ? detach_id(id, *where, mode, e) : 0;
}

int xdp_prog_id(const char *pin_dir, int ifindex, __u32 *id, int *attached)
{
	char path[PATH_MAX];
	int fd, err;

	prog_pin_path(pin_dir, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return fd;
	err = prog_fd_id(fd, id);
	close(fd);
	if (err)
		return err;
	*attached = runs_on(ifindex, *id) != XDP_MODE_UNSPEC;
	return 0;
}
