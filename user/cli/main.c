// SPDX-License-Identifier: GPL-2.0
/*
 * chlb: the controller CLI. Global options, then an object and a command
 * (like bpftool). Commands return 0 or a negative error and record one
 * message; only main() turns that into output and an exit status.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <chlb/chlb.h>
#include "cli.h"
#include "commands.h"

enum { EXIT_OK = 0 };

static int usage(void)
{
	printf("Usage: chlb [OPTIONS] OBJECT COMMAND ...\n"
	       "       chlb attach DEV [--xdp-mode native|skb] [--table-size M] [--vnodes V]\n"
	       "                       [--seed HEX] [--algo NAME] [--max-vips N] [--max-backends N]\n"
	       "                       [--flow-table N|off] [--udp-timeout SECONDS] [--dst-mac own|any]\n"
	       "                       [--encap-src ADDR[/LEN]|own]...\n"
	       "       chlb detach\n"
	       "       chlb status\n"
	       "       chlb vip { add VIP [--method dsr|ipip] | del VIP | list }\n"
	       "       chlb backend { add VIP ADDR [--weight W] [--mac MAC] | del VIP ADDR |\n"
	       "                      set VIP ADDR (--weight W | --drain | --undrain) | list [VIP] }\n"
	       "       chlb stats [VIP] [--watch [SECONDS]]\n"
	       "       chlb lookup VIP CLIENT_ADDR:CLIENT_PORT\n"
	       "       chlb route VIP KEY\n"
	       "       chlb sync\n"
	       "       chlb config { export [VIP] | apply FILE|- [--dry-run] [--force] }\n"
	       "       chlb daemon { --config FILE | --etcd URLS [--prefix P] [--node NAME] }\n"
	       "                   [--attach DEV [attach options]] [--metrics ADDR:PORT]\n"
	       "       chlb register --etcd URLS VIP ADDR [--weight W] [--ttl S] [--prefix P]\n"
	       "                     [--drain-wait S]\n"
	       "       chlb cluster status --etcd URLS [--prefix P]\n"
	       "       chlb decap { attach DEV [--xdp-mode native|skb] [--dst own|any|ADDR,...] |\n"
	       "                    detach DEV | status [DEV] }\n"
	       CLI_HELP_GRAMMAR
	       "OPTIONS: -j|--json  -p|--pretty  -d|--pin-dir DIR (default $CHLB_PIN_DIR or %s)\n"
	       "         -v (more detail on stderr)  -h|--help  --version\n"
	       "Every command takes --help.\n",
	       CLI_DEFAULT_PIN_DIR);
	return 0;
}

static const struct cli_cmd cmds[] = {
	{ "attach", do_attach },   { "detach", do_detach }, { "status", do_status },
	{ "vip", do_vip },	   { "backend", do_backend }, { "stats", do_stats },
	{ "lookup", do_lookup },   { "route", do_route },	{ "sync", do_sync },
	{ "config", do_config },   { "daemon", do_daemon },	{ "register", do_register },
	{ "cluster", do_cluster }, { "decap", do_decap },	{}
};

/* libbpf and libxdp speak only with -v; we print one actionable line. */
static int lib_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (cli.verbose < (level == LIBBPF_DEBUG ? 2 : 1))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int xdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (cli.verbose < (level == LIBXDP_DEBUG ? 2 : 1))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void report(int err)
{
	const char *msg = cli_errmsg();
	char buf[128];

	if (!msg) {
		snprintf(buf, sizeof(buf), "%s", chlb_strerror(err));
		msg = buf;
	}
	fprintf(stderr, "Error: %s\n", msg);
	if (cli.json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "error", json_object_new_string(msg));
		cli_json_print(o);
	}
}

static int parse_globals(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },   { "pretty", no_argument, NULL, 'p' },
		{ "pin-dir", required_argument, NULL, 'd' }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' }, {}
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jpd:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'j': cli.json = true; break;
		case 'p': cli.json = cli.pretty = true; break;
		case 'd': cli.pin_dir = optarg; break;
		case 'v': cli.verbose++; break;
		case 'h': return 'h';
		case 'V': return 'V';
		default:
			return cli_err(-EINVAL, "unknown or incomplete option '%s'; try 'chlb --help'",
				       argv[optind - 1]);
		}
	}
	if (!cli.pin_dir[0])
		return cli_err(-EINVAL, "empty pin directory");
	return 0;
}

int main(int argc, char **argv)
{
	int err;

	if (getenv("CHLB_PIN_DIR") && getenv("CHLB_PIN_DIR")[0])
		cli.pin_dir = getenv("CHLB_PIN_DIR");
	libbpf_set_print(lib_print);
	libxdp_set_print(xdp_print);
	err = parse_globals(argc, argv);
	if (err == 'h')
		return usage();
	if (err == 'V') {
		printf("chlb %s\n", CHLB_VERSION);
		return EXIT_OK;
	}
	if (!err && optind >= argc)
		err = cli_err(-EINVAL, "missing command; try 'chlb --help'");
	if (!err)
		err = cli_dispatch("", cmds, argc - optind, argv + optind, usage);
	if (err == CLI_EXIT_FAILED)	/* the command said why on stdout */
		return 1;
	if (err)
		report(err);
	return err_exit_status(CLI_E, err);
}
