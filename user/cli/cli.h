/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by every chlb command: global options, the one recorded error
 * message, command tables, argument parsing and JSON printing.
 */
#ifndef CHLB_CLI_H
#define CHLB_CLI_H

#include <stdbool.h>
#include <json-c/json.h>

#include "core/err.h"

#define CLI_DEFAULT_PIN_DIR "/sys/fs/bpf/chlb"

struct cli_ctx {
	bool json;
	bool pretty;
	int verbose;
	const char *pin_dir;
};

extern struct cli_ctx cli;

/*
 * The one error of this run: the command line passes CLI_E down to the
 * core, which records its message and class there; main() prints it.
 */
extern struct chlb_err cli_error;
#define CLI_E (&cli_error)

/*
 * Record the message main() prints for the error err (negative) and return
 * err, so callers write `return cli_err(-EINVAL, "...", ...);`. The first
 * message recorded wins: it is the most specific one. cli_err guesses the
 * class from err (err_set); cli_fail says it is a run-time failure.
 */
int cli_err(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Pins are going under dir: when dir is below /sys/fs/bpf and nothing is
 * mounted there, mount bpffs (mode 0700), as on a fresh machine. 0 or -errno.
 */
int cli_ensure_bpffs(const char *dir);
const char *cli_errmsg(void);
void cli_clear_err(void);

/* Debug output on stderr with -v. */
void cli_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

/* Run the command named by argv[0] from cmds; "help" or nothing: help(). */
int cli_dispatch(const char *object, const struct cli_cmd *cmds, int argc,
		 char **argv, int (*help)(void));

enum cli_arg {
	CLI_ARG_NONE,		/* a flag */
	CLI_ARG_REQ,		/* --opt VALUE */
	CLI_ARG_OPT_NUM,	/* --opt [NUMBER] */
};

struct cli_opt {
	const char *name;	/* "--weight" */
	enum cli_arg arg;
	const char *val;	/* out: the value, if any */
	bool set;		/* out: seen */
};

#define CLI_OPT(n, a) { .name = (n), .arg = (a) }

#define CLI_HELP 1

/*
 * Split argv into options (from opts, terminated by a zeroed entry) and
 * positionals (between min and max of them, named by names[] in messages,
 * stored in pos, counted in *npos). Returns 0, CLI_HELP when --help or -h
 * is present, or -EINVAL with the message recorded.
 */
int cli_args(int argc, char **argv, struct cli_opt *opts, const char **pos,
	     int min, int max, const char *const *names, int *npos);

/* Print obj as the command's JSON output (honours -p) and release it. */
void cli_json_print(struct json_object *obj);
/* One JSON object per line, for --watch. */
void cli_json_print_line(struct json_object *obj);

/* Usage fragments shared by every object's help. */
#define CLI_HELP_GRAMMAR \
	"       VIP  := ADDR:PORT/PROTO   (10.0.0.100:80/tcp, [2001:db8::1]:443/udp)\n" \
	"       ADDR := IPv4 or IPv6 address\n" \
	"       PROTO := tcp | udp\n"

/*
 * The outer sources of ipip ([0] IPv4, [1] IPv6, shared.h) as attach and
 * status show them: {"ipv4": "ADDR/LEN" or null, "ipv6": ...}, and as
 * text ("10.0.0.1/32 and none for IPv6").
 */
struct chlb_encap_src;
struct json_object *encap_src_json(const struct chlb_encap_src *src);
void print_encap_src(const struct chlb_encap_src *src);

int do_attach(int argc, char **argv);
int do_detach(int argc, char **argv);
int do_status(int argc, char **argv);
int do_vip(int argc, char **argv);
int do_backend(int argc, char **argv);
int do_stats(int argc, char **argv);
int do_lookup(int argc, char **argv);
int do_route(int argc, char **argv);

#endif /* CHLB_CLI_H */
