// SPDX-License-Identifier: GPL-2.0
/* Errors with their message and class; see err.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <chlb/chlb.h>
#include "err.h"

static enum chlb_err_kind guess_kind(int code)
{
	if (code <= -CHLB_ERR_BASE && code > -CHLB_ERR_MAX)
		return CHLB_EK_USAGE;
	switch (-code) {
	case EINVAL:
	case ENOENT:
	case EEXIST:
	case ENODEV:
		return CHLB_EK_USAGE;
	default:
		return CHLB_EK_RUNTIME;
	}
}

static int record(struct chlb_err *e, int code, enum chlb_err_kind kind, const char *fmt,
		  va_list ap)
{
	if (!e || e->msg[0])
		return code;
	e->code = code;
	e->kind = kind;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return code;
}

int err_usage(struct chlb_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(e, code, CHLB_EK_USAGE, fmt, ap);
	va_end(ap);
	return code;
}

int err_fail(struct chlb_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(e, code, CHLB_EK_RUNTIME, fmt, ap);
	va_end(ap);
	return code;
}

int err_set(struct chlb_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(e, code, guess_kind(code), fmt, ap);
	va_end(ap);
	return code;
}

void err_prefix(struct chlb_err *e, const char *fmt, ...)
{
	char pre[256], old[sizeof(e->msg)];
	va_list ap;
	size_t n;

	if (!e || !e->msg[0])
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	/* truncation keeps the start: the path and the first words */
	n = strlen(pre);
	if (n >= sizeof(e->msg))
		n = sizeof(e->msg) - 1;
	memcpy(e->msg, pre, n);
	snprintf(e->msg + n, sizeof(e->msg) - n, "%.*s", (int)(sizeof(e->msg) - 1 - n), old);
}

void err_append(struct chlb_err *e, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	if (!e || !e->msg[0])
		return;
	n = strlen(e->msg);
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof(e->msg) - n, fmt, ap);
	va_end(ap);
}

void err_clear(struct chlb_err *e)
{
	if (e)
		memset(e, 0, sizeof(*e));
}

int err_exit_status(const struct chlb_err *e, int code)
{
	if (!code)
		return 0;
	if (e && e->msg[0] && e->kind != CHLB_EK_NONE)
		return e->kind;
	return guess_kind(code);
}
