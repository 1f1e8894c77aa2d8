// SPDX-License-Identifier: GPL-2.0
/* Taking an instance down, and what an interrupted attach left; see teardown.h. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "dp/xdp.h"
#include "pindir.h"
#include "teardown.h"

/* Our pins are chlb_* maps and "prog"; anything else in the dir is not ours. */
static bool is_our_pin(const char *name)
{
	return !strncmp(name, "chlb_", 5) || !strcmp(name, CHLB_PIN_PROG);
}

int teardown_unpin(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int err = 0;

	/* the program first: while it is pinned, its maps and config stay beside it */
	snprintf(path, sizeof(path), "%s/%s", dir, CHLB_PIN_PROG);
	if (unlink(path) && errno != ENOENT)
		return -errno;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)))
		if (is_our_pin(de->d_name)) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (unlink(path) && !err)
				err = -errno;
		}
	closedir(d);
	return err;
}

bool teardown_has_pins(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d)))
		found = is_our_pin(de->d_name);
	closedir(d);
	return found;
}

static int pinned_fd(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bpf_obj_get(path);
}

int teardown_read_config(const char *dir, struct chlb_config *cfg)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	int fd, err;

	fd = pinned_fd(dir, CHLB_MAP_CONFIG);
	if (fd < 0)
		return fd;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (!err && info.value_size != sizeof(*cfg))
		err = -EPROTO;
	if (!err)
		err = bpf_map_lookup_elem(fd, &zero, cfg);
	close(fd);
	return err;
}

static bool holds_vips(const char *dir)
{
	struct chlb_vip_key key;
	int fd = pinned_fd(dir, CHLB_MAP_VIPS);
	bool any;

	if (fd < 0)
		return false;
	any = !bpf_map_get_next_key(fd, NULL, &key);
	close(fd);
	return any;
}

bool teardown_interrupted(const char *dir)
{
	struct chlb_config cfg;
	int prog, attached = 0;
	__u32 id;

	/* a VIP is the user's configuration: never taken away unasked */
	if (!teardown_has_pins(dir) || holds_vips(dir))
		return false;
	prog = pinned_fd(dir, CHLB_PIN_PROG);
	if (prog < 0)
		return true;
	close(prog);
	if (teardown_read_config(dir, &cfg) || cfg.netns_ino != pindir_netns_ino())
		return false;	/* not ours to judge from here: detach says why */
	return !xdp_prog_id(dir, cfg.ifindex, &id, &attached) && !attached;
}

int teardown(const char *dir, bool keep_dir, int *where, struct chlb_err *e)
{
	struct chlb_config cfg = {};
	bool have_cfg = !teardown_read_config(dir, &cfg);
	int at = 0, err = 0;

	/* the attach's namespace gone, its interface went with it: clean up */
	if (have_cfg && !(cfg.netns_ino && cfg.netns_ino != pindir_netns_ino() &&
			  !pindir_netns_exists(cfg.netns_ino)))
		err = pindir_check_netns(&cfg, e);
	if (!err)
		err = xdp_detach(dir, have_cfg ? (int)cfg.ifindex : 0, &at, e);
	if (where)
		*where = at;
	if (err)
		return err;
	err = teardown_unpin(dir);
	if (err)
		return err_fail(e, err, "cannot unpin under %s: %s", dir, strerror(-err));
	if (!keep_dir && rmdir(dir))
		return err_fail(e, -errno, "cannot remove %s: %s%s", dir, strerror(errno),
				errno == ENOTEMPTY ? " (it holds files chlb did not make)" : "");
	return 0;
}
