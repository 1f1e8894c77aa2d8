// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's life: start (signals, source, health checks, metrics, the
 * first apply, READY=1), then one loop whose wait ends at the nearest
 * deadline of its parts, and a stop that leaves the data plane as it is.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>

#include "core/inst.h"
#include "core/managed.h"
#include "core/parse.h"
#include "daemon_internal.h"

void dlog(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "chlb daemon: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void daemon_changed(struct daemon *d)
{
	uint64_t now = loop_now_ms(), quiet = d->o->settle_ms ?: DAEMON_SETTLE_MS;

	if (!d->reload_at)
		d->burst_at = now;
	d->reload_at = now + quiet;
	if (d->reload_at > d->burst_at + DAEMON_SETTLE_MAX_MS)
		d->reload_at = d->burst_at + DAEMON_SETTLE_MAX_MS;
}

static void on_signal(struct loop_watch *w, uint32_t events)
{
	struct daemon *d = w->arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			dlog("SIGHUP: re-reading %s", d->src_desc);
			sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
				   (unsigned long long)loop_now_ms() * 1000);
			d->reload_at = loop_now_ms();
			d->ready = false;	/* READY=1 again after the reload */
		} else {
			dlog("%s: stopping; the data plane keeps forwarding",
			     strsignal(si.ssi_signo));
			d->stop = true;
		}
	}
}

static int signals_open(struct daemon *d, struct chlb_err *e)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return err_fail(e, -errno, "signalfd: %s", strerror(errno));
	d->sig = (struct loop_watch){ .fd = fd, .fn = on_signal, .arg = d };
	return loop_add(d->loop, &d->sig, EPOLLIN);
}

/* hc_env callbacks: probes run by the prober, state changes logged and applied. */
static int hc_start(void *arg, uint64_t id, const struct hc_probe_key *k, uint32_t timeout_ms)
{
	return prober_start(((struct daemon *)arg)->prober, id, k, timeout_ms);
}

static void hc_cancel(void *arg, uint64_t id)
{
	prober_cancel(((struct daemon *)arg)->prober, id);
}

static void hc_changed(void *arg, const struct hc_sub *s, const struct hc_state *st)
{
	struct daemon *d = arg;
	char vip[CLI_VIP_STRLEN], addr[CHLB_ADDR_STRLEN], why[64];

	format_vip(&s->vip, vip, sizeof(vip));
	chlb_addr_format(&s->addr, addr, sizeof(addr));
	format_check(st->result, st->detail, why, sizeof(why));
	dlog("VIP %s backend %s: %s (%s)", vip, addr, st->down ? "down" : "up again", why);
	if (!d->apply_at)
		d->apply_at = loop_now_ms() + DAEMON_HEALTH_SETTLE_MS;
}

static void probe_done(void *arg, uint64_t id, uint32_t result, uint32_t detail)
{
	hc_done(((struct daemon *)arg)->hc, id, result, detail, loop_now_ms());
}

static int health_open(struct daemon *d, struct chlb_err *e)
{
	struct hc_env env = { .arg = d, .start = hc_start, .cancel = hc_cancel,
			      .changed = hc_changed };
	int err;

	err = prober_new(d->loop, probe_done, d, &d->prober);
	if (!err)
		err = hc_new(&env, &d->hc);
	if (err)
		return err_fail(e, err, "cannot start the health checks: %s", strerror(-err));
	d->md.hc = d->hc;
	return 0;
}

static double unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Apply now; a failure is logged, counted and tried again later. */
static int apply(struct daemon *d)
{
	struct chlb_err e = {};
	int err;

	d->apply_at = 0;
	err = daemon_apply(d, &e);
	if (err) {
		dlog("apply failed: %s; retrying in %d s", e.msg, DAEMON_RETRY_MS / 1000);
		d->md.applies_failed++;
		d->apply_at = loop_now_ms() + DAEMON_RETRY_MS;
		return err;
	}
	d->md.applies_ok++;
	d->md.last_apply_s = unix_now();
	if (!d->ready) {
		sd_notify(0, "READY=1\nSTATUS=applied the configuration");
		d->ready = true;
	}
	return 0;
}

/* Re-read the source: a valid document is checked for and applied. */
static void reload(struct daemon *d)
{
	struct chlb_err e = {};

	d->reload_at = 0;
	if (d->src->read(d, &e) || daemon_subs(d, &e)) {
		dlog("%s; keeping the last good configuration", e.msg);
		d->md.applies_failed++;
		if (!d->ready) {	/* SIGHUP: still serving the old one */
			sd_notify(0, "READY=1");
			d->ready = true;
		}
		return;
	}
	apply(d);
}

static uint64_t min_deadline(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* Run what is due; the ms the loop may wait (-1: no limit). */
static int tick(struct daemon *d)
{
	uint64_t now = loop_now_ms(), next = 0;
	int t;

	if (d->reload_at && now >= d->reload_at)
		reload(d);
	if (d->apply_at && now >= d->apply_at)
		apply(d);
	if (d->nsubs && now >= d->results_at) {
		daemon_results(d);
		d->results_at = now + DAEMON_RESULTS_MS;
	}
	if (d->watchdog_at && now >= d->watchdog_at) {
		sd_notify(0, "WATCHDOG=1");
		d->watchdog_at = now + d->watchdog_ms;
	}
	if (prober_timeout(d->prober) == 0)
		prober_run(d->prober);
	if (d->ms && metrics_server_timeout(d->ms) == 0)
		metrics_server_run(d->ms);
	if (d->src->timeout && d->src->timeout(d) == 0)
		d->src->run(d);
	now = loop_now_ms();
	t = hc_run(d->hc, now);
	next = t >= 0 ? now + t : 0;
	t = prober_timeout(d->prober);
	next = min_deadline(next, t >= 0 ? now + t : 0);
	t = d->ms ? metrics_server_timeout(d->ms) : -1;
	next = min_deadline(next, t >= 0 ? now + t : 0);
	t = d->src->timeout ? d->src->timeout(d) : -1;
	next = min_deadline(next, t >= 0 ? now + t : 0);
	next = min_deadline(next, min_deadline(d->reload_at, min_deadline(d->apply_at,
									  d->watchdog_at)));
	if (d->nsubs)
		next = min_deadline(next, d->results_at);
	/*
	 * A few ms of slack let the checks due within them start in one
	 * wake-up: 1000 checks a second cost half the CPU (measured) and
	 * detection stays inside its budget.
	 */
	return !next ? -1 : next <= now ? 0 : (int)(next - now) + DAEMON_SLACK_MS;
}

static void watchdog_init(struct daemon *d)
{
	uint64_t usec;

	if (sd_watchdog_enabled(0, &usec) > 0) {
		d->watchdog_ms = usec / 2000;	/* twice per period */
		d->watchdog_at = loop_now_ms();
	}
}

static int start(struct daemon *d, struct chlb_err *e)
{
	int err;

	err = loop_new(&d->loop);
	if (err)
		return err_fail(e, err, "cannot create the event loop: %s", strerror(-err));
	err = signals_open(d, e);
	if (!err)
		err = d->src->open(d, e);
	if (!err)
		err = health_open(d, e);
	if (!err && d->o->metrics)
		err = metrics_server_new(d->loop, d->o->metrics, &d->md, &d->ms, e);
	if (!err)
		err = d->src->read(d, e);
	if (err == -EAGAIN) {	/* etcd unreachable: the pinned state stays */
		dlog("%s", e->msg);
		err_clear(e);
		return 0;
	}
	if (!err)
		err = daemon_subs(d, e);
	if (!err)
		err = daemon_apply(d, e);
	return err;
}

static void release(struct daemon *d)
{
	struct inst in = { .lock_fd = -1 };
	struct chlb_err e = {};

	if (!inst_open(&in, d->o->pin_dir, true, &e))
		managed_release(&in);
	inst_close(&in);
}

static void stop(struct daemon *d)
{
	sd_notify(0, "STOPPING=1");
	release(d);
	metrics_server_free(d->ms);
	hc_free(d->hc);
	prober_free(d->prober);
	if (d->src)
		d->src->close(d);
	if (d->sig.fd > 0) {
		loop_del(d->loop, &d->sig);
		close(d->sig.fd);
	}
	loop_free(d->loop);
	doc_free(&d->doc);
	free(d->subs);
	free(d->written);
}

int daemon_run(const struct daemon_opts *o, struct chlb_err *e)
{
	const struct source_ops *src = o->etcd ? &source_etcd : &source_file;
	struct daemon d = { .o = o, .src = src,
			    .md = { .pin_dir = o->pin_dir, .source = src->kind } };
	int err;

	err = start(&d, e);
	if (!err && d.have_doc) {
		d.md.applies_ok++;
		d.md.last_apply_s = unix_now();
	}
	if (!err) {
		dlog("%s %s from %s (%d VIPs, %d health checks)%s%s",
		     d.have_doc ? "managing" : "waiting to manage", o->pin_dir, d.src_desc,
		     d.doc.nvips, d.nsubs, o->metrics ? ", metrics on " : "",
		     o->metrics ? o->metrics : "");
		sd_notify(0, d.have_doc ? "READY=1\nSTATUS=applied the configuration" :
					  "READY=1\nSTATUS=source unreachable: forwarding as pinned");
		d.ready = true;
		watchdog_init(&d);
	}
	while (!err && !d.stop) {
		err = loop_once(d.loop, tick(&d));
		err = err < 0 ? err_fail(e, err, "event loop: %s", strerror(-err)) : 0;
	}
	stop(&d);
	return err;
}
