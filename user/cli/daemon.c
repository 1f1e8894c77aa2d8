// SPDX-License-Identifier: GPL-2.0
/*
 * chlb daemon: its options, attaching first when asked and nothing is
 * attached, then the daemon proper (user/daemon/).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "core/parse.h"
#include "daemon/daemon.h"
#include "net/etcd.h"

static int daemon_help(void)
{
	printf("Usage: chlb daemon { --config FILE | --etcd URL[,URL...] [--prefix P] [--node NAME] }\n"
	       "                   [--attach DEV [ATTACH OPTIONS]] [--metrics ADDR:PORT]\n"
	       "                   [--settle-ms MS]\n"
	       "       keeps the instance equal to FILE (a document as 'chlb config export'\n"
	       "       writes), re-read when it changes and on SIGHUP (an invalid one is\n"
	       "       logged and the last good one kept); health checks the backends of\n"
	       "       VIPs with a \"health\" object; serves Prometheus metrics on\n"
	       "       http://ADDR:PORT/metrics. --attach DEV attaches first (with the\n"
	       "       options of 'chlb attach') unless chlb is attached already.\n"
	       "       SIGTERM stops it; the data plane keeps forwarding.\n"
	       "       Only the VIPs of FILE are the daemon's: the CLI refuses to change\n"
	       "       them (unless --force) and leaves the others to the CLI.\n"
	       "       --etcd: the same configuration as etcd keys under P (default /chlb/),\n"
	       "       watched: P/cluster the \"cluster\" object, P/vips/VIP a VIP object\n"
	       "       without backends, P/vips/VIP/backends/ADDR a backend object\n"
	       "       ({\"weight\": 2}); a key with an invalid value is logged and left out.\n"
	       "       While etcd is unreachable the last applied state stays. The daemon\n"
	       "       publishes P/nodes/NAME (default: the host name) with its tables'\n"
	       "       checksums, for 'chlb cluster status'.\n");
	return 0;
}

enum { D_CONFIG, D_ATTACH, D_METRICS, D_SETTLE, D_ETCD, D_PREFIX, D_NODE, D_ATTACH_OPTS };

/* The attach options the daemon passes on, in do_attach's spelling. */
static const char *const attach_opts[] = {
	"--xdp-mode", "--table-size", "--vnodes", "--seed", "--algo", "--max-vips",
	"--max-backends", "--flow-table", "--udp-timeout", "--dst-mac",
	"--encap-src", "--encap-src",	/* one per family */
};
#define N_ATTACH_OPTS (sizeof(attach_opts) / sizeof(attach_opts[0]))

static bool attached(void)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", cli.pin_dir, CHLB_MAP_CONFIG);
	return !access(path, F_OK);
}

/* --attach DEV [options]: do_attach with them, unless attached already. */
static int maybe_attach(const struct cli_opt *o)
{
	char *argv[2 + 2 * N_ATTACH_OPTS];
	size_t i;
	int argc = 0;

	if (!o[D_ATTACH].val) {
		for (i = 0; i < N_ATTACH_OPTS; i++)
			if (o[D_ATTACH_OPTS + i].set)
				return cli_err(-EINVAL, "%s needs --attach DEV", attach_opts[i]);
		return attached() ? 0 : cli_err(-ENOENT, "chlb is not attached under %s; give "
						 "--attach DEV or run 'chlb attach DEV'", cli.pin_dir);
	}
	if (attached()) {
		fprintf(stderr, "chlb daemon: attached already under %s: --attach %s ignored\n",
			cli.pin_dir, o[D_ATTACH].val);
		return 0;
	}
	argv[argc++] = (char *)o[D_ATTACH].val;
	for (i = 0; i < N_ATTACH_OPTS; i++)
		if (o[D_ATTACH_OPTS + i].set) {
			argv[argc++] = (char *)attach_opts[i];
			argv[argc++] = (char *)o[D_ATTACH_OPTS + i].val;
		}
	return do_attach(argc, argv);
}

/* Bad URLs or prefix: refused now, before anything is attached. */
static int check_etcd(const char *urls, const char *prefix)
{
	struct etcd *c = NULL;
	char p[256];
	int err;

	err = prefix ? etcd_key_prefix(prefix, p, sizeof(p), CLI_E) : 0;
	if (!err)
		err = etcd_new(urls, NULL, &c, CLI_E);
	etcd_free(c);
	return err;
}

int do_daemon(int argc, char **argv)
{
	struct cli_opt o[D_ATTACH_OPTS + N_ATTACH_OPTS + 1] = {
		[D_CONFIG] = CLI_OPT("--config", CLI_ARG_REQ),
		[D_ATTACH] = CLI_OPT("--attach", CLI_ARG_REQ),
		[D_METRICS] = CLI_OPT("--metrics", CLI_ARG_REQ),
		[D_SETTLE] = CLI_OPT("--settle-ms", CLI_ARG_REQ),
		[D_ETCD] = CLI_OPT("--etcd", CLI_ARG_REQ),
		[D_PREFIX] = CLI_OPT("--prefix", CLI_ARG_REQ),
		[D_NODE] = CLI_OPT("--node", CLI_ARG_REQ),
	};
	struct daemon_opts d = { .pin_dir = cli.pin_dir, .verbose = cli.verbose };
	size_t i;
	int n, err;

	for (i = 0; i < N_ATTACH_OPTS; i++)
		o[D_ATTACH_OPTS + i] = (struct cli_opt)CLI_OPT(attach_opts[i], CLI_ARG_REQ);
	err = cli_args(argc, argv, o, NULL, 0, 0, NULL, &n);
	if (err)
		return err == CLI_HELP ? daemon_help() : err;
	if (o[D_ETCD].val && o[D_CONFIG].val)
		return cli_err(-EINVAL, "daemon: give --config FILE or --etcd URLS, not both");
	if (!o[D_ETCD].val && (o[D_PREFIX].set || o[D_NODE].set))
		return cli_err(-EINVAL, "%s needs --etcd URLS", o[D_PREFIX].set ? "--prefix" : "--node");
	if (!o[D_CONFIG].val && !o[D_ETCD].val)
		return cli_err(-EINVAL, "daemon: give --config FILE or --etcd URLS");
	if (o[D_ETCD].val && check_etcd(o[D_ETCD].val, o[D_PREFIX].val))
		return -EINVAL;
	if (o[D_SETTLE].val &&
	    parse_u32("settle delay", o[D_SETTLE].val, 0, 60000, &d.settle_ms, CLI_E))
		return -EINVAL;
	d.config = o[D_CONFIG].val;
	d.etcd = o[D_ETCD].val;
	d.prefix = o[D_PREFIX].val;
	d.node = o[D_NODE].val;
	d.metrics = o[D_METRICS].val;
	err = maybe_attach(o);
	fflush(stdout);		/* attach's line before the daemon's log */
	return err ? err : daemon_run(&d, CLI_E);
}
