// SPDX-License-Identifier: GPL-2.0
/*
 * The file source: the document at --config, re-read when it changes. The
 * directory is watched, not the file, because editors and config managers
 * replace files by renaming a new one over them: a watch on the old inode
 * would go quiet.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/epoll.h>

#include "daemon_internal.h"

#define INO_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM | \
		    IN_ATTRIB)

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Events about our file's name: re-read it once the burst settles. */
static void on_inotify(struct loop_watch *w, uint32_t events)
{
	struct daemon *d = w->arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const char *name = base_name(d->o->config);
	ssize_t n, off;

	(void)events;
	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < n;) {
			const struct inotify_event *ev = (const void *)(buf + off);

			if (ev->len && !strcmp(ev->name, name))
				daemon_changed(d);
			off += sizeof(*ev) + ev->len;
		}
	}
}

static int file_open(struct daemon *d, struct chlb_err *e)
{
	char dir[PATH_MAX];
	int fd;

	snprintf(dir, sizeof(dir), "%s", d->o->config);
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return err_fail(e, -errno, "inotify: %s", strerror(errno));
	if (inotify_add_watch(fd, dirname(dir), INO_EVENTS) < 0) {
		int err = -errno;

		close(fd);
		return err_fail(e, err, "cannot watch %s: %s", dir, strerror(-err));
	}
	d->ino = (struct loop_watch){ .fd = fd, .fn = on_inotify, .arg = d };
	snprintf(d->src_desc, sizeof(d->src_desc), "%s", d->o->config);
	return loop_add(d->loop, &d->ino, EPOLLIN);
}

static void file_close(struct daemon *d)
{
	if (d->ino.fd <= 0)
		return;
	loop_del(d->loop, &d->ino);
	close(d->ino.fd);
	d->ino.fd = -1;
}

/* A valid document replaces the last good one; an invalid one changes nothing. */
static int file_read(struct daemon *d, struct chlb_err *e)
{
	struct doc doc;
	int err;

	err = doc_read(d->o->config, &doc, e);
	if (err) {
		err_prefix(e, "%s: ", d->o->config);
		return err;
	}
	doc_free(&d->doc);
	d->doc = doc;
	d->have_doc = true;
	return 0;
}

const struct source_ops source_file = {
	.kind = CHLB_SOURCE_FILE,
	.open = file_open,
	.read = file_read,
	.close = file_close,
};
