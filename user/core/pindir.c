// SPDX-License-Identifier: GPL-2.0
/* The pin directory and its lock; see pindir.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "pindir.h"

#define NS_PER_MS	1000000LL
#define POLL_MAX_MS	20	/* the longest nap between two tries */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / NS_PER_MS;
}

/* The wait in ms: PINDIR_LOCK_TIMEOUT_S, or $CHLB_LOCK_TIMEOUT seconds. */
static int lock_timeout_ms(long long *ms, struct chlb_err *e)
{
	const char *s = getenv("CHLB_LOCK_TIMEOUT");
	char *end;
	double v;

	*ms = PINDIR_LOCK_TIMEOUT_S * 1000LL;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0 || v > 86400)
		return err_usage(e, -EINVAL, "invalid CHLB_LOCK_TIMEOUT '%s': expected seconds, 0 to 86400",
				 s);
	*ms = (long long)(v * 1000);
	return 0;
}

/* Who could swap our pins: refuse anything but our own private bpffs directory. */
static int check_dir(const char *dir, int fd, struct chlb_err *e)
{
	struct statfs fs;
	struct stat st;

	if (fstatfs(fd, &fs) || fstat(fd, &st))
		return err_fail(e, -errno, "cannot stat %s: %s", dir, strerror(errno));
	if (fs.f_type != BPF_FS_MAGIC)
		return err_fail(e, -EPERM, "%s is not on a BPF filesystem (bpffs); pins live under /sys/fs/bpf",
				dir);
	if (st.st_uid != geteuid())
		return err_fail(e, -EPERM,
				"%s is owned by uid %u, not by uid %u (chlb): its owner could replace the pins; remove it and retry",
				dir, (unsigned int)st.st_uid, (unsigned int)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return err_fail(e, -EPERM,
				"%s is writable by group or others (mode %04o): they could replace the pins; remove it or chmod go-w",
				dir, (unsigned int)(st.st_mode & 07777));
	return 0;
}

static bool is_symlink(const char *path)
{
	struct stat st;

	return !lstat(path, &st) && S_ISLNK(st.st_mode);
}

/* The directory opened without following a link; -ENOENT (no message) when missing. */
static int open_dir(const char *dir, struct chlb_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int err;

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return -ENOENT;
	err = -errno;
	/* O_DIRECTORY answers ENOTDIR for a link to a directory: ask lstat */
	if (is_symlink(dir))
		return err_fail(e, -ELOOP,
				"%s is a symbolic link: refusing it (whoever made it chooses where the pins go); remove it",
				dir);
	if (err == -ENOTDIR)
		return err_fail(e, err, "%s is not a directory; remove it or pick another -d", dir);
	return err_fail(e, err, "cannot open %s: %s", dir, strerror(-err));
}

/*
 * flock() without blocking, retried with short naps until deadline: a
 * blocked chlb that never returns is worse than one that says who blocks it.
 */
static int flock_until(int fd, bool write, long long deadline, const char *dir,
		       struct chlb_err *e)
{
	long long nap = 1, left;
	struct timespec ts;
	int err;

	while (flock(fd, (write ? LOCK_EX : LOCK_SH) | LOCK_NB)) {
		err = -errno;
		if (err != -EWOULDBLOCK && err != -EINTR)
			return err_fail(e, err, "cannot lock %s: %s", dir, strerror(-err));
		left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		nap = nap < left ? nap : left;
		ts = (struct timespec){ .tv_sec = nap / 1000, .tv_nsec = nap % 1000 * NS_PER_MS };
		nanosleep(&ts, NULL);
		nap = nap * 2 < POLL_MAX_MS ? nap * 2 : POLL_MAX_MS;
	}
	return 0;
}

/* 0 when dir still names fd's directory; -ENOENT when gone; -EAGAIN when replaced. */
static int same_dir(const char *dir, int fd)
{
	struct stat path, locked;

	if (lstat(dir, &path))
		return errno == ENOENT ? -ENOENT : -errno;
	if (fstat(fd, &locked))
		return -errno;
	return path.st_dev == locked.st_dev && path.st_ino == locked.st_ino ? 0 : -EAGAIN;
}

/*
 * One try: the locked fd, or -ENOENT (missing or removed while we waited,
 * no message), -EAGAIN (replaced: try again), -ETIMEDOUT (no message), or
 * another error with its message.
 */
static int lock_once(const char *dir, bool write, long long deadline, struct chlb_err *e)
{
	int fd, err;

	fd = open_dir(dir, e);
	if (fd < 0)
		return fd;
	err = check_dir(dir, fd, e);
	if (!err)
		err = flock_until(fd, write, deadline, dir, e);
	if (!err)
		err = same_dir(dir, fd);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static int timed_out(const char *dir, long long ms, struct chlb_err *e)
{
	return err_fail(e, -ETIMEDOUT,
			"another chlb holds the lock on %s (waited %.1f s; CHLB_LOCK_TIMEOUT sets the wait in seconds)",
			dir, ms / 1000.0);
}

int pindir_lock(const char *dir, bool write, struct chlb_err *e)
{
	long long ms, deadline;
	int fd;

	fd = lock_timeout_ms(&ms, e);
	if (fd)
		return fd;
	deadline = now_ms() + ms;
	do
		fd = lock_once(dir, write, deadline, e);
	while (fd == -EAGAIN && now_ms() < deadline);
	if (fd == -ENOENT)
		return err_usage(e, -ENOENT, "chlb is not attached (no %s); try 'chlb attach DEV'", dir);
	if (fd == -ETIMEDOUT || fd == -EAGAIN)
		return timed_out(dir, ms, e);
	return fd;
}

int pindir_relock(int fd, const char *dir, bool write, struct chlb_err *e)
{
	long long ms;
	int err;

	err = lock_timeout_ms(&ms, e);
	if (!err)
		err = flock_until(fd, write, now_ms() + ms, dir, e);
	if (err == -ETIMEDOUT)
		return timed_out(dir, ms, e);
	if (!err)
		err = same_dir(dir, fd);
	if (err == -ENOENT || err == -EAGAIN)
		return err_fail(e, -ESTALE, "%s changed while its lock was converted; run the command again",
				dir);
	return err;
}

int pindir_create_lock(const char *dir, bool *created, struct chlb_err *e)
{
	long long ms, deadline;
	int fd;

	fd = lock_timeout_ms(&ms, e);
	if (fd)
		return fd;
	deadline = now_ms() + ms;
	do {
		*created = !mkdir(dir, 0700);
		if (!*created && errno != EEXIST)
			return err_set(e, -errno, "cannot create %s: %s", dir, strerror(errno));
		fd = lock_once(dir, true, deadline, e);
		/* removed or replaced by a detach while we waited: make it again */
	} while ((fd == -ENOENT || fd == -EAGAIN) && now_ms() < deadline);
	if (fd == -ETIMEDOUT || fd == -ENOENT || fd == -EAGAIN)
		return timed_out(dir, ms, e);
	/* refused (not bpffs): do not leave behind the directory we just made */
	if (fd < 0 && *created)
		rmdir(dir);
	return fd;
}

__u32 pindir_netns_ino(void)
{
	struct stat st;

	return stat("/proc/self/ns/net", &st) ? 0 : (__u32)st.st_ino;
}

/* path names network namespace ino: the same nsfs inode. */
static bool names_netns(const char *path, __u32 ino)
{
	struct stat st;

	return !stat(path, &st) && (__u32)st.st_ino == ino;
}

/*
 * A path naming network namespace ino, for nsenter --net=: its name under
 * /run/netns, else (with procs) /proc/PID/ns/net of a process in it; ""
 * when neither holds it.
 */
static void netns_path(__u32 ino, bool procs, char *buf, size_t len)
{
	const char *dirs[] = { "/run/netns", "/proc" };
	struct dirent *ent;
	unsigned int i;
	DIR *d;

	buf[0] = 0;
	for (i = 0; i < (procs ? 2 : 1) && !buf[0]; i++) {
		d = opendir(dirs[i]);
		while (d && !buf[0] && (ent = readdir(d))) {
			if (ent->d_name[0] == '.' || (i && (ent->d_name[0] < '0' || ent->d_name[0] > '9')))
				continue;
			snprintf(buf, len, i ? "/proc/%s/ns/net" : "/run/netns/%s", ent->d_name);
			if (!names_netns(buf, ino))
				buf[0] = 0;
		}
		if (d)
			closedir(d);
	}
}

bool pindir_netns_exists(__u32 ino)
{
	char path[300];

	netns_path(ino, true, path, sizeof(path));
	return path[0];
}

int pindir_check_netns(const struct chlb_config *cfg, struct chlb_err *e)
{
	char theirs[300], ours[300];
	__u32 here = pindir_netns_ino();

	if (!cfg->netns_ino || !here || cfg->netns_ino == here)
		return 0;
	netns_path(cfg->netns_ino, true, theirs, sizeof(theirs));
	if (!theirs[0])
		return err_usage(e, -EXDEV,
				 "chlb was attached in network namespace net:[%u], which no longer exists (no process or /run/netns name holds it): run 'chlb detach' to remove what is left",
				 cfg->netns_ino);
	netns_path(here, false, ours, sizeof(ours));
	return err_usage(e, -EXDEV,
			 "chlb was attached in network namespace net:[%u] (%s), this is net:[%u]%s%s%s: run chlb in the attach's namespace (nsenter --net=%s chlb ...)",
			 cfg->netns_ino, theirs, here, ours[0] ? " (" : "", ours, ours[0] ? ")" : "",
			 theirs);
}
