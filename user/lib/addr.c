// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Strict address parsing and canonical formatting. Strict because the
 * address is a backend's identity: "010.0.0.1" might mean 10.0.0.1 or
 * octal 8.0.0.1 depending on the tool, so it is rejected, not guessed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "ring_internal.h"

#define ADDR_MAX_TEXT	45	/* longest IPv6 text, with dotted IPv4 tail */

static const uint8_t v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* One decimal octet: 1-3 digits, no leading zero, value <= 255. */
static int parse_octet(const char **sp, uint8_t *out)
{
	const char *s = *sp;
	unsigned int v = 0;
	int n = 0;

	while (is_digit(s[n])) {
		if (n < 4)
			v = v * 10 + (unsigned int)(s[n] - '0');
		n++;
	}
	if (n == 0)
		return -CHLB_ERR_ADDR_V4_FORM;
	if (n > 1 && s[0] == '0')
		return -CHLB_ERR_ADDR_V4_FORM;
	if (n > 3 || v > 255)
		return -CHLB_ERR_ADDR_V4_OCTET;
	*out = (uint8_t)v;
	*sp = s + n;
	return 0;
}

/* Exactly four octets separated by single dots; only digits and dots. */
static int parse_v4(const char *s, struct chlb_addr *out)
{
	uint8_t b[4];
	int i, err;

	for (i = 0; i < 4; i++) {
		err = parse_octet(&s, &b[i]);
		if (err)
			return err;
		if (i < 3 && *s++ != '.')
			return -CHLB_ERR_ADDR_V4_FORM;
	}
	if (*s)
		return -CHLB_ERR_ADDR_V4_FORM;
	memcpy(out->bytes, v4_prefix, sizeof(v4_prefix));
	memcpy(out->bytes + 12, b, 4);
	return 0;
}

static int only_digits_and_dots(const char *s)
{
	for (; *s; s++)
		if (!is_digit(*s) && *s != '.')
			return 0;
	return 1;
}

int chlb_addr_parse(const char *s, struct chlb_addr *out)
{
	struct chlb_addr a;

	if (!s || !out)
		return -EINVAL;
	if (!*s)
		return -CHLB_ERR_ADDR_EMPTY;
	if (strnlen(s, ADDR_MAX_TEXT + 1) > ADDR_MAX_TEXT)
		return -CHLB_ERR_ADDR_TOO_LONG;
	if (strchr(s, '/'))
		return -CHLB_ERR_ADDR_PREFIX;
	if (strchr(s, ':')) {
		/* glibc's inet_pton is strict: no scope, no leading-zero IPv4 tail */
		if (inet_pton(AF_INET6, s, a.bytes) != 1)
			return -CHLB_ERR_ADDR_V6;
		*out = a;
		return 0;
	}
	if (!only_digits_and_dots(s))
		return -CHLB_ERR_ADDR_SYNTAX;
	return parse_v4(s, out);
}

bool chlb_addr_is_v4(const struct chlb_addr *a)
{
	return !memcmp(a->bytes, v4_prefix, sizeof(v4_prefix));
}

int chlb_addr_format(const struct chlb_addr *a, char *buf, size_t len)
{
	const char *r;

	if (!a || !buf)
		return -EINVAL;
	if (chlb_addr_is_v4(a))
		r = inet_ntop(AF_INET, a->bytes + 12, buf, (socklen_t)len);
	else
		r = inet_ntop(AF_INET6, a->bytes, buf, (socklen_t)len);
	return r ? 0 : -errno;
}

int chlb_addr_cmp(const struct chlb_addr *a, const struct chlb_addr *b)
{
	return memcmp(a->bytes, b->bytes, CHLB_ADDR_LEN);
}
