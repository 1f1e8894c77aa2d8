// SPDX-License-Identifier: GPL-2.0
/*
 * libxdp attach and detach. libxdp tries its multi-program dispatcher first
 * and falls back to attaching the program alone where the kernel refuses
 * the dispatcher; both end up here as "the program with our pinned id".
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "cli/cli.h"
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

int xdp_attach(struct bpf_object *obj, int ifindex, __u32 mode, const char *pin_dir)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, opts, .obj = obj);
	struct xdp_program *prog;
	char path[PATH_MAX];
	int err;

	prog = xdp_program__create(&opts);
	err = libxdp_get_error(prog);
	if (err)
		return cli_err(err, "cannot prepare the XDP program: %s", strerror(-err));
	err = xdp_program__attach(prog, ifindex, lib_mode(mode), 0);
	if (err) {
		cli_err(err, "cannot attach XDP (%s mode): %s", xdp_mode_name(mode),
			strerror(-err));
		goto out;
	}
	prog_pin_path(pin_dir, path, sizeof(path));
	err = bpf_obj_pin(xdp_program__fd(prog), path);
	if (err) {
		cli_err(err, "cannot pin %s: %s", path, strerror(-err));
		xdp_program__detach(prog, ifindex, lib_mode(mode), 0);
	}
out:
	xdp_program__close(prog);
	return err;
}

int xdp_detach(const char *pin_dir, int ifindex, __u32 mode)
{
	struct xdp_program *prog;
	char path[PATH_MAX];
	int fd, err;

	prog_pin_path(pin_dir, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return fd == -ENOENT ? 0 : cli_err(fd, "cannot open %s: %s", path, strerror(-fd));
	prog = xdp_program__from_fd(fd);
	err = libxdp_get_error(prog);
	if (err) {
		close(fd);
		return cli_err(err, "cannot read the pinned program: %s", strerror(-err));
	}
	err = xdp_program__detach(prog, ifindex, lib_mode(mode), 0);
	if (err == -ENOENT || err == -ENODEV || err == -EINVAL) {
		cli_debug("chlb: program already gone from ifindex %d (%s)\n", ifindex,
			  strerror(-err));
		err = 0;
	}
	if (err)
		cli_err(err, "cannot detach XDP from ifindex %d: %s", ifindex, strerror(-err));
	xdp_program__close(prog);	/* closes fd */
	return err;
}

static bool runs_on(int ifindex, __u32 id)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;
	bool found = false;

	if (libxdp_get_error(mp))
		return false;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		found = p && xdp_program__id(p) == id;
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p && !found;
		     p = xdp_multiprog__next_prog(p, mp))
			found = xdp_program__id(p) == id;
	}
	xdp_multiprog__close(mp);
	return found;
}

int xdp_prog_id(const char *pin_dir, int ifindex, __u32 *id, int *attached)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	prog_pin_path(pin_dir, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return fd;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (err)
		return err;
	*id = info.id;
	*attached = runs_on(ifindex, info.id);
	return 0;
}
