/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Running health probes on the daemon's event loop: tcp (a non-blocking
 * connect) and http (GET path with libcurl's multi interface, its sockets
 * and timer driven by the same loop). Results go to hc_done() through the
 * callback given at creation.
 */
#ifndef CHLB_DAEMON_PROBE_H
#define CHLB_DAEMON_PROBE_H

#include <stdint.h>
#include "health.h"
#include "loop.h"

struct prober;

/*
 * done(arg, id, result, detail): result enum chlb_check_result, detail:
 *   tcp:  OK 0; REFUSED ECONNREFUSED; TIMEOUT ETIMEDOUT (timeout_ms passed,
 *         or the kernel gave up); ERROR the connect's errno.
 *   http: OK and HTTP_STATUS the status; REFUSED ECONNREFUSED; TIMEOUT
 *         ETIMEDOUT; ERROR the socket's errno, or EPROTO when the server
 *         broke HTTP (closed without an answer, sent garbage).
 * Called from a loop callback or prober_run(), never from prober_start();
 * it may start and cancel probes.
 */
typedef void (*prober_done_fn)(void *arg, uint64_t id, uint32_t result, uint32_t detail);

int prober_new(struct loop *l, prober_done_fn done, void *arg, struct prober **p);
void prober_free(struct prober *p);
/*
 * hc_env.start / cancel. prober_start: -EINVAL for a type other than tcp
 * or http or a timeout of 0, -EEXIST for an id in flight, or socket(2)'s
 * and curl's failures. prober_cancel: no done() for that id; nothing for
 * an id that already finished or is unknown.
 */
int prober_start(struct prober *p, uint64_t id, const struct hc_probe_key *k, uint32_t timeout_ms);
void prober_cancel(struct prober *p, uint64_t id);
/*
 * ms until the prober needs prober_run() (curl's timer, tcp timeouts,
 * results known at start); -1: not needed. Call it before each
 * loop_once(), outside loop callbacks: it also frees what ended during the
 * last one (freed there, not in the callback, because an event for it
 * may still be waiting in the same epoll batch).
 */
int prober_timeout(struct prober *p);
/*
 * Deliver results known at start, time out tcp connects, let curl act on
 * its timers. Call after loop_once() when prober_timeout() has passed
 * (calling it early is harmless), outside loop callbacks.
 */
void prober_run(struct prober *p);
/* In-flight probes, for tests and metrics. */
int prober_inflight(const struct prober *p);

#endif /* CHLB_DAEMON_PROBE_H */
