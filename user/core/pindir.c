// SPDX-License-Identifier: GPL-2.0
/* The pin directory and its lock; see pindir.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>

#include "pindir.h"

int pindir_lock(const char *dir, bool write, struct chlb_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return err_usage(e, -ENOENT,
					 "chlb is not attached (no %s); try 'chlb attach DEV'", dir);
		return err_fail(e, -errno, "cannot open %s: %s", dir, strerror(errno));
	}
	if (flock(fd, write ? LOCK_EX : LOCK_SH)) {
		int err = -errno;

		close(fd);
		return err_fail(e, err, "cannot lock %s: %s", dir, strerror(-err));
	}
	return fd;
}

int pindir_check_netns(const struct chlb_config *cfg, struct chlb_err *e)
{
	(void)cfg;
	(void)e;
	return 0;
}
