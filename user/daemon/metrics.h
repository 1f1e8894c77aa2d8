/* SPDX-License-Identifier: GPL-2.0 */
/*
 * GET /metrics in the Prometheus text format (version 0.0.4): the data
 * plane's counters read from the pinned maps at scrape time (the same sums
 * `chlb -j stats` prints), the model's weights and states, and the
 * daemon's own figures (health checks, applies). Served by libmicrohttpd
 * on the daemon's event loop (its epoll descriptor watched there, no
 * thread of its own).
 */
#ifndef CHLB_DAEMON_METRICS_H
#define CHLB_DAEMON_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include "core/err.h"
#include "health.h"
#include "loop.h"

/* What only the daemon knows. */
struct metrics_daemon {
	const char *pin_dir;
	const struct hc *hc;		/* health results by (vip, backend); NULL: none */
	uint64_t applies_ok;		/* chlb_config_applies_total{result="success"} */
	uint64_t applies_failed;	/* {result="failure"} */
	double last_apply_s;		/* unix time of the last successful apply; 0: none */
	int source;			/* enum chlb_source */
	int source_up;			/* etcd: reachable (chlb_source_up) */
	uint64_t source_revision;	/* etcd: last revision applied */
};

/*
 * The exposition text (malloc'ed, NUL-terminated, *len bytes). Every
 * series of an object that exists is present, at 0 if nothing happened.
 * Opens d->pin_dir read-only for the call (the CLI's shared lock, released
 * before returning), so an instance detached meanwhile is an error here,
 * not a crash. chlb_healthcheck_total exists for VIPs with a check (at 0
 * until d->hc knows the backend); chlb_source_* only for etcd.
 */
int metrics_render(const struct metrics_daemon *d, char **text, size_t *len,
		   struct chlb_err *e);
/* A label value as the text format wants it: \\, \" and \n escaped. */
void metrics_escape(FILE *f, const char *value);

struct metrics_server;

/*
 * Listen on ADDR:PORT ([ADDR]:PORT for IPv6; that address only) and serve
 * GET (and HEAD) /metrics from d, read at each scrape: 200 with the text,
 * 500 with the message when it cannot be rendered, 405 for other methods,
 * 404 for other paths. A bad ADDR:PORT is a usage error, a failed bind a
 * run-time one. libmicrohttpd's epoll descriptor is added to l; requests
 * are served from its callback, on the loop's thread.
 */
int metrics_server_new(struct loop *l, const char *addr_port, const struct metrics_daemon *d,
		       struct metrics_server **s, struct chlb_err *e);
void metrics_server_free(struct metrics_server *s);
/*
 * ms until libmicrohttpd needs metrics_server_run() even if its descriptor
 * stays quiet (idle connections time out; 0: it has buffered work to do
 * now); -1: none. The loop's owner calls metrics_server_run() when that
 * time has come.
 */
int metrics_server_timeout(struct metrics_server *s);
void metrics_server_run(struct metrics_server *s);

#endif /* CHLB_DAEMON_METRICS_H */
