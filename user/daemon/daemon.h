/* SPDX-License-Identifier: GPL-2.0 */
/*
 * chlb daemon (SPEC §10): keeps an attached instance equal to a
 * configuration source, health checks its backends, serves metrics. It
 * holds no state the instance needs: stopped, killed or restarted, the
 * data plane keeps forwarding by its pinned maps.
 */
#ifndef CHLB_DAEMON_DAEMON_H
#define CHLB_DAEMON_DAEMON_H

#include "core/err.h"

/*
 * A burst of source changes is applied once: after the source has been
 * quiet this long, or at the latest DAEMON_SETTLE_MAX_MS after the burst's
 * first change (1000 backends registering at once: one or a few swaps).
 */
#define DAEMON_SETTLE_MS	50
#define DAEMON_SETTLE_MAX_MS	1000
#define DAEMON_HEALTH_SETTLE_MS	20	/* health changes at once: one apply */
#define DAEMON_RETRY_MS		5000	/* a failed apply is tried again */
#define DAEMON_RESULTS_MS	1000	/* checks' last results written this often */
#define DAEMON_SLACK_MS		5	/* timers may fire this late: fewer wake-ups */
#define DAEMON_ETCD_PREFIX	"/chlb/"

struct daemon_opts {
	const char *pin_dir;
	const char *config;	/* --config FILE: the document of SPEC §9 */
	const char *etcd;	/* or etcd endpoints "URL[,URL...]" (SPEC §10) */
	const char *prefix;	/* their keys' prefix; NULL: DAEMON_ETCD_PREFIX */
	const char *node;	/* the name published under P/nodes/; NULL: the host's */
	const char *metrics;	/* --metrics ADDR:PORT, or NULL */
	unsigned int settle_ms;	/* 0: DAEMON_SETTLE_MS */
	int verbose;
};

/* Run until SIGTERM or SIGINT (0), or a failure to start (an error). */
int daemon_run(const struct daemon_opts *o, struct chlb_err *e);

#endif /* CHLB_DAEMON_DAEMON_H */
