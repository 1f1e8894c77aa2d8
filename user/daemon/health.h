/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Health checks: which backends are up. A probe is one address, port and
 * kind (tcp, or http with its path and expected status) and is shared by
 * every (VIP, backend) that checks the same thing; each of those
 * subscribers keeps its own rise/fall count over the probe's results.
 *
 * The scheduler is pure: time comes in as an argument (milliseconds of
 * CLOCK_MONOTONIC) and probes are started through a callback, so tests
 * drive it with a virtual clock and fake probes, never sleeping.
 */
#ifndef CHLB_DAEMON_HEALTH_H
#define CHLB_DAEMON_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <chlb/chlb.h>

/* One (VIP, backend) to check, as configured. */
struct hc_sub {
	struct chlb_vip_key vip;
	struct chlb_addr addr;
	struct chlb_health cfg;		/* the VIP's check: type, port, path, ... */
};

/* What a probe is: subscribers with equal keys share one probe. */
struct hc_probe_key {
	struct chlb_addr addr;
	uint16_t port;
	uint32_t type;			/* CHLB_HEALTH_TCP or CHLB_HEALTH_HTTP */
	char path[CHLB_HEALTH_PATH_LEN];	/* http only */
	uint16_t expect;		/* http only */
};

/* A subscriber's state, as reported to the callback and by hc_state(). */
struct hc_state {
	bool down;
	uint32_t result;		/* enum chlb_check_result of the last probe */
	uint32_t detail;		/* HTTP status or errno */
	uint64_t counts[CHLB_CHECK_MAX];	/* results seen, by result */
	uint64_t last_ms;		/* when the last result came */
};

struct hc;

struct hc_env {
	void *arg;
	/*
	 * Start a probe; id is passed back to hc_done() with its result.
	 * timeout_ms is for the prober's own use (the scheduler also times it
	 * out itself and ignores a late result). Returns 0 or -errno (counted
	 * as a failed probe with CHLB_CHECK_ERROR).
	 */
	int (*start)(void *arg, uint64_t id, const struct hc_probe_key *k, uint32_t timeout_ms);
	/* Abandon a probe (timed out, or no subscriber left). */
	void (*cancel)(void *arg, uint64_t id);
	/* A subscriber went down or came back up. */
	void (*changed)(void *arg, const struct hc_sub *s, const struct hc_state *st);
	/*
	 * Callbacks run inside hc_run(), hc_done() and hc_set() (cancel) and
	 * must not call hc_set() or hc_free(); start() may call hc_done() for
	 * the id it was given (a prober that knows the answer at once).
	 */
	/* A uniform random number in [0, 1), for jitter; NULL: drand48(). */
	double (*random)(void *arg);
};

/*
 * hc_set replaces the whole set of subscribers, which are named by (vip,
 * addr): a pair given twice, or an invalid check (type none, interval,
 * timeout, rise, fall or port 0, an http check without expect or with a
 * path not NUL-terminated), is -EINVAL and changes nothing, as does
 * -ENOMEM. New subscribers start up (alpha off: a backend is served until
 * it fails `fall` times); those in both the old and new set keep their
 * state and counts (and their consecutive results too, unless their check
 * changed). Probes with no subscriber left are cancelled. A probe runs every
 * min(interval_ms) of its subscribers, with jitter (each run is placed at
 * a random point of +-10% of the interval, so checks of many backends do
 * not fire in lockstep; a new probe's first run at a random point of its
 * first interval), and times out after min(timeout_ms). A shorter interval
 * applies at once.
 */
int hc_new(const struct hc_env *env, struct hc **h);
void hc_free(struct hc *h);
int hc_set(struct hc *h, const struct hc_sub *subs, int n, uint64_t now_ms);

/*
 * Start what is due and time out what is late (a timeout is a
 * CHLB_CHECK_TIMEOUT result; the run is cancelled); returns ms until the
 * next deadline (-1: none), at most INT_MAX.
 */
int hc_run(struct hc *h, uint64_t now_ms);
/*
 * A probe's result (result: enum chlb_check_result, detail: status or
 * errno). A result for a run that timed out, was cancelled or is unknown
 * is ignored; one out of range counts as CHLB_CHECK_ERROR.
 */
void hc_done(struct hc *h, uint64_t id, uint32_t result, uint32_t detail, uint64_t now_ms);

/* The state of one subscriber; -ENOENT if it is not one. */
int hc_state(const struct hc *h, const struct chlb_vip_key *vip, const struct chlb_addr *addr,
	     struct hc_state *st);
/* Number of probes (distinct keys) and of subscribers. */
int hc_probes(const struct hc *h);
int hc_subs(const struct hc *h);

#endif /* CHLB_DAEMON_HEALTH_H */
