// SPDX-License-Identifier: GPL-2.0
/* The pieces every command shares: error recording, dispatch, arguments. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include "cli.h"

struct cli_ctx cli = {
	.pin_dir = CLI_DEFAULT_PIN_DIR,
};

struct chlb_err cli_error;

int cli_err(int err, const char *fmt, ...)
{
	char msg[sizeof(cli_error.msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(CLI_E, err, "%s", msg);
}

int cli_fail(int err, const char *fmt, ...)
{
	char msg[sizeof(cli_error.msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_fail(CLI_E, err, "%s", msg);
}

const char *cli_errmsg(void)
{
	return err_has(CLI_E) ? cli_error.msg : NULL;
}

void cli_clear_err(void)
{
	err_clear(CLI_E);
}

void cli_debug(const char *fmt, ...)
{
	va_list ap;

	if (!cli.verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static bool is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

/* -h or --help among argv, before any "--" (after it, words are values). */
static bool wants_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--"); i++)
		if (is_help(argv[i]))
			return true;
	return false;
}

int cli_dispatch(const char *object, const struct cli_cmd *cmds, int argc,
		 char **argv, int (*help)(void))
{
	const struct cli_cmd *c;

	if (argc < 1 && object[0])
		return cli_err(-EINVAL, "%s: missing command; try 'chlb %s help'", object,
			       object);
	if (argc < 1 || !strcmp(argv[0], "help") || is_help(argv[0]))
		return help();
	for (c = cmds; c->name; c++)
		if (!strcmp(argv[0], c->name))
			return c->fn(argc - 1, argv + 1);
	/* "-h anywhere is help": an unknown command with -h gets this level's */
	if (wants_help(argc, argv))
		return help();
	if (object[0])
		return cli_err(-EINVAL, "unknown command '%s %s'; try 'chlb %s help'",
			       object, argv[0], object);
	return cli_err(-EINVAL, "unknown command '%s'; try 'chlb help'", argv[0]);
}

/*
 * The first entry named name not yet seen: an option listed n times in the
 * table may be given up to n times (attach's --encap-src, one per family).
 * *count: how many entries have that name.
 */
static struct cli_opt *find_opt(struct cli_opt *opts, const char *name, int *count)
{
	struct cli_opt *first = NULL, *unseen = NULL;

	*count = 0;
	for (; opts->name; opts++) {
		if (strcmp(opts->name, name))
			continue;
		++*count;
		first = first ? first : opts;
		if (!opts->set && !unseen)
			unseen = opts;
	}
	return unseen ? unseen : first;
}

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((*s < '0' || *s > '9') && *s != '.')
			return false;
	return true;
}

/* Consume one option at argv[i]; returns how many words it used or -EINVAL. */
static int take_opt(struct cli_opt *opts, int argc, char **argv, int i)
{
	int count;
	struct cli_opt *o = find_opt(opts, argv[i], &count);

	if (!o)
		return cli_err(-EINVAL, "unknown option '%s'", argv[i]);
	if (o->set && count > 1)
		return cli_err(-EINVAL, "option '%s' given more than %d times", argv[i], count);
	if (o->set)
		return cli_err(-EINVAL, "option '%s' given twice", argv[i]);
	o->set = true;
	if (o->arg == CLI_ARG_NONE)
		return 1;
	if (o->arg == CLI_ARG_OPT_NUM) {
		if (i + 1 < argc && is_number(argv[i + 1])) {
			o->val = argv[i + 1];
			return 2;
		}
		return 1;
	}
	if (i + 1 >= argc)
		return cli_err(-EINVAL, "option '%s' needs a value", argv[i]);
	o->val = argv[i + 1];
	return 2;
}

int cli_args(int argc, char **argv, struct cli_opt *opts, const char **pos,
	     int min, int max, const char *const *names, int *npos)
{
	static struct cli_opt none[] = { {} };
	bool after_dashes = false;
	int i, n = 0, used;

	if (!opts)
		opts = none;
	if (wants_help(argc, argv))
		return CLI_HELP;
	for (i = 0; i < argc; i += used) {
		used = 1;
		if (!strcmp(argv[i], "--") && !after_dashes) {
			after_dashes = true;	/* the rest are positionals: route KEY "-h" */
			continue;
		}
		if (!after_dashes && argv[i][0] == '-' && argv[i][1] == '-') {
			used = take_opt(opts, argc, argv, i);
			if (used < 0)
				return used;
			continue;
		}
		if (n >= max)
			return cli_err(-EINVAL, "unexpected argument '%s'", argv[i]);
		pos[n++] = argv[i];
	}
	if (n < min)
		return cli_err(-EINVAL, "missing %s", names[n]);
	*npos = n;
	return 0;
}

static void print_json(struct json_object *obj, int flags)
{
	puts(json_object_to_json_string_ext(obj, flags | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(obj);
}

void cli_json_print(struct json_object *obj)
{
	print_json(obj, cli.pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED :
				     JSON_C_TO_STRING_PLAIN);
}

void cli_json_print_line(struct json_object *obj)
{
	print_json(obj, JSON_C_TO_STRING_PLAIN);
}

#define BPFFS "/sys/fs/bpf"

int cli_ensure_bpffs(const char *dir)
{
	struct statfs fs;

	if (strncmp(dir, BPFFS "/", strlen(BPFFS) + 1))
		return 0;
	if (!statfs(BPFFS, &fs) && fs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", BPFFS, "bpf", 0, "mode=0700"))
		return cli_fail(-errno, "cannot mount bpffs at %s: %s", BPFFS, strerror(errno));
	return 0;
}
