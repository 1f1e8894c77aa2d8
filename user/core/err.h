/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Errors that carry their own message and their class. The code that finds
 * the problem knows whether it is the caller's input (exit 2) or something
 * the system refused at run time (exit 1), and says which value was wrong;
 * callers pass one struct chlb_err down and main() alone prints it.
 */
#ifndef CHLB_CORE_ERR_H
#define CHLB_CORE_ERR_H

enum chlb_err_kind {
	CHLB_EK_NONE = 0,
	CHLB_EK_RUNTIME = 1,	/* exit status 1: the system refused, a limit was hit */
	CHLB_EK_USAGE = 2,	/* exit status 2: invalid input, unknown or duplicate object */
};

struct chlb_err {
	int code;		/* negative errno or -CHLB_ERR_* */
	enum chlb_err_kind kind;
	char msg[512];
};

/*
 * Record a message and return code (negative), so callers write
 * `return err_usage(e, -EINVAL, "...", v);`. The first message recorded
 * wins: it is the most specific one. e may be NULL (nothing recorded).
 */
int err_usage(struct chlb_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int err_fail(struct chlb_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The class guessed from code: EINVAL, ENOENT, EEXIST, ENODEV, -CHLB_ERR_* are usage. */
int err_set(struct chlb_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix the recorded message ("vips[1].backends[0]: " + msg). */
void err_prefix(struct chlb_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append to the recorded message ("...; rolled back"). */
void err_append(struct chlb_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(struct chlb_err *e);
/* True once a message is recorded. */
static inline int err_has(const struct chlb_err *e)
{
	return e && e->msg[0];
}
/* Exit status for an error: its recorded kind, else guessed from code. */
int err_exit_status(const struct chlb_err *e, int code);

#endif /* CHLB_CORE_ERR_H */
