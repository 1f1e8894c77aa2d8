/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Running chlb commands in-process from a test, as main() would, so the
 * sanitizers watch the command code. Header-only: the test tools linked
 * with tests/helpers/ do not link the command line.
 */
#ifndef CHLB_TEST_CLI_CMD_H
#define CHLB_TEST_CLI_CMD_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "cli/cli.h"

/* Commands print for people; the test's own output stays readable. */
static inline int stdout_off(void)
{
	int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY);

	fflush(stdout);
	if (saved >= 0 && null >= 0)
		dup2(null, STDOUT_FILENO);
	if (null >= 0)
		close(null);
	return saved;
}

static inline void stdout_on(int saved)
{
	fflush(stdout);
	if (saved >= 0) {
		dup2(saved, STDOUT_FILENO);
		close(saved);
	}
}

/* One command (argv words, NULL-terminated), output to /dev/null, its error on stderr. */
static inline int cli_cmd_quiet(int (*fn)(int, char **), ...)
{
	char *argv[20];
	va_list ap;
	int argc = 0, saved, err;

	va_start(ap, fn);
	while (argc < 19 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	cli_clear_err();
	saved = stdout_off();
	err = fn(argc, argv);
	stdout_on(saved);
	if (err)
		fprintf(stderr, "\n    chlb %s %s: %s", argc ? argv[0] : "",
			argc > 1 ? argv[1] : "", cli_errmsg());
	return err;
}

static inline int cli_cmd_no_bpf_print(enum libbpf_print_level level, const char *fmt,
				       va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static inline int cli_cmd_no_xdp_print(enum libxdp_print_level level, const char *fmt,
				       va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/*
 * libxdp says at length that it falls back to a single program, which is
 * expected here; a command's failures reach the test through its error.
 */
static inline void cli_cmd_quiet_libs(void)
{
	libbpf_set_print(cli_cmd_no_bpf_print);
	libxdp_set_print(cli_cmd_no_xdp_print);
}

#endif /* CHLB_TEST_CLI_CMD_H */
