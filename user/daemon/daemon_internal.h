/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by the daemon's files: daemon.c, apply.c and the sources (source_*.c). */
#ifndef CHLB_DAEMON_INTERNAL_H
#define CHLB_DAEMON_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/doc.h"
#include "daemon.h"
#include "health.h"
#include "loop.h"
#include "metrics.h"
#include "probe.h"

struct daemon;
struct inst;

/*
 * A configuration source: it keeps d->doc the configuration it holds
 * (read() fills it; a source whose content changed sets d->reload_at, or
 * fills d->doc itself and sets d->apply_at), and may need the loop's time.
 */
struct source_ops {
	__u32 kind;			/* enum chlb_source */
	int (*open)(struct daemon *d, struct chlb_err *e);
	/* Fill d->doc from the source; an invalid source leaves it as it was. */
	int (*read)(struct daemon *d, struct chlb_err *e);
	void (*close)(struct daemon *d);
	/* ms until run() is due (-1: never); NULL: no timers. */
	int (*timeout)(struct daemon *d);
	void (*run)(struct daemon *d);
	/* After each successful apply, the instance still open; NULL: nothing. */
	void (*applied)(struct daemon *d, struct inst *in);
};

extern const struct source_ops source_file;
extern const struct source_ops source_etcd;

struct daemon {
	const struct daemon_opts *o;
	const struct source_ops *src;
	char src_desc[232];		/* the source as status shows it */
	void *src_state;		/* the source's own */
	struct loop *loop;
	struct loop_watch sig;		/* signalfd: TERM, INT, HUP */
	struct loop_watch ino;		/* inotify on the config's directory */
	struct doc doc;			/* the last good document */
	bool have_doc;
	struct hc *hc;
	struct hc_sub *subs;		/* what hc checks, from doc */
	struct chlb_backend_health *written;	/* per sub: last result written */
	int nsubs;
	struct prober *prober;
	struct metrics_server *ms;
	struct metrics_daemon md;
	uint64_t reload_at;		/* re-read the source then (0: no) */
	uint64_t burst_at;		/* the first change of the burst pending */
	uint64_t apply_at;		/* apply then (0: no) */
	uint64_t watchdog_at;		/* next WATCHDOG=1 (0: no watchdog) */
	uint64_t results_at;		/* next write of the checks' results */
	uint64_t watchdog_ms;
	bool stop;
	bool ready;			/* READY=1 sent */
};

/* The source changed: re-read it once the burst settles (DAEMON_SETTLE_MS). */
void daemon_changed(struct daemon *d);

/* One line per event on stderr (journald keeps it). */
void dlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Make the instance equal d->doc with the health checks' verdicts. */
int daemon_apply(struct daemon *d, struct chlb_err *e);
/* Write each checked backend's last result where `backend list` reads it. */
int daemon_results(struct daemon *d);
/* The subscribers hc must check for d->doc. */
int daemon_subs(struct daemon *d, struct chlb_err *e);

#endif /* CHLB_DAEMON_INTERNAL_H */
