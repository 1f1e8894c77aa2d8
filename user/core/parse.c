// SPDX-License-Identifier: GPL-2.0
/*
 * Command-line value parsers. They are strict on purpose: a typo must be an
 * error naming the value, never a silently different configuration.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "parse.h"

/*
 * Every address has one spelling: IPv6 text for an IPv4-mapped address
 * ("::ffff:10.0.0.1") is refused, because chlb stores it as the IPv4
 * address 10.0.0.1 and a user who wrote IPv6 would get an IPv4 VIP or
 * backend without noticing. addr is written only on success.
 */
int parse_addr(const char *what, const char *s, struct chlb_addr *addr, struct chlb_err *e)
{
	char v4[CHLB_ADDR_STRLEN];
	struct chlb_addr a;
	int err = chlb_addr_parse(s, &a);

	if (err)
		return err_usage(e, err, "invalid %s '%s': %s", what, s, chlb_strerror(err));
	if (chlb_addr_is_v4(&a) && strchr(s, ':')) {
		chlb_addr_format(&a, v4, sizeof(v4));
		return err_usage(e, -EINVAL, "invalid %s '%s': write IPv4 as %s", what, s, v4);
	}
	*addr = a;
	return 0;
}

/* Digits only, no sign, no leading zero (so "080" is not silently 80). */
static int parse_dec(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *p;

	if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 20)
		return -EINVAL;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (*p - '0');
		if (v > max)
			return -ERANGE;
	}
	*out = v;
	return 0;
}

int parse_u32(const char *what, const char *s, __u32 min, __u32 max, __u32 *out,
	      struct chlb_err *e)
{
	unsigned long long v;

	if (parse_dec(s, max, &v) || v < min)
		return err_usage(e, -EINVAL, "invalid %s '%s': expected an integer from %u to %u",
			       what, s, min, max);
	*out = v;
	return 0;
}

int parse_weight(const char *s, unsigned int *w, struct chlb_err *e)
{
	return parse_u32("weight", s, CHLB_MIN_WEIGHT, CHLB_MAX_WEIGHT, w, e);
}

static int parse_port(const char *in, const char *s, __u16 *port, struct chlb_err *e)
{
	unsigned long long v;

	if (parse_dec(s, 65535, &v) || v == 0)
		return err_usage(e, -EINVAL, "invalid port '%s' in '%s': expected 1 to 65535",
			       s, in);
	*port = v;
	return 0;
}

int parse_endpoint(const char *s, struct chlb_addr *addr, __u16 *port, struct chlb_err *e)
{
	char buf[CLI_VIP_STRLEN];
	char *a = buf, *colon;

	if (strlen(s) >= sizeof(buf))
		return err_usage(e, -EINVAL, "invalid '%s': too long", s);
	strcpy(buf, s);
	if (buf[0] == '[') {
		char *end = strchr(buf, ']');

		if (!end || end[1] != ':')
			return err_usage(e, -EINVAL, "invalid '%s': expected [IPV6]:PORT", s);
		*end = '\0';
		a = buf + 1;
		colon = end + 1;
		if (!strchr(a, ':'))
			return err_usage(e, -EINVAL, "invalid '%s': brackets are for IPv6 only", s);
	} else {
		colon = strrchr(buf, ':');
		if (!colon)
			return err_usage(e, -EINVAL, "invalid '%s': missing :PORT", s);
		if (colon != strchr(buf, ':'))
			return err_usage(e, -EINVAL, "invalid '%s': write IPv6 as [ADDR]:PORT", s);
	}
	*colon = '\0';
	if (parse_addr("address", a, addr, e))
		return -EINVAL;
	return parse_port(s, colon + 1, port, e);
}

int parse_vip(const char *s, struct chlb_vip_key *key, struct chlb_err *e)
{
	char buf[CLI_VIP_STRLEN];
	struct chlb_addr addr;
	char *slash;
	__u16 port;
	__u8 proto;

	if (strlen(s) >= sizeof(buf))
		return err_usage(e, -EINVAL, "invalid VIP '%s': too long", s);
	strcpy(buf, s);
	slash = strrchr(buf, '/');
	if (!slash)
		return err_usage(e, -EINVAL, "invalid VIP '%s': expected ADDR:PORT/PROTO", s);
	*slash++ = '\0';
	if (!strcmp(slash, "tcp"))
		proto = IPPROTO_TCP;
	else if (!strcmp(slash, "udp"))
		proto = IPPROTO_UDP;
	else
		return err_usage(e, -EINVAL, "invalid protocol '%s' in VIP '%s': expected tcp or udp",
			       slash, s);
	if (parse_endpoint(buf, &addr, &port, e))
		return -EINVAL;
	memset(key, 0, sizeof(*key));
	memcpy(key->addr, addr.bytes, CHLB_ADDR_LEN);
	key->port = htons(port);
	key->proto = proto;
	key->family = chlb_addr_is_v4(&addr) ? CHLB_FAMILY_INET : CHLB_FAMILY_INET6;
	return 0;
}

int parse_mac(const char *s, __u8 mac[6], struct chlb_err *e)
{
	unsigned int b[6];
	char end;
	int i;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5], &end) != 6)
		return err_usage(e, -EINVAL, "invalid MAC '%s': expected aa:bb:cc:dd:ee:ff", s);
	for (i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !strchr("0123456789abcdefABCDEF", s[i]))
			return err_usage(e, -EINVAL, "invalid MAC '%s': expected aa:bb:cc:dd:ee:ff", s);
	for (i = 0; i < 6; i++)
		mac[i] = b[i];
	if (mac[0] & 1)
		return err_usage(e, -EINVAL, "invalid MAC '%s': multicast or broadcast", s);
	if (!(b[0] | b[1] | b[2] | b[3] | b[4] | b[5]))
		return err_usage(e, -EINVAL, "invalid MAC '%s': all zero", s);
	return 0;
}

int parse_seed(const char *s, __u64 *seed, struct chlb_err *e)
{
	const char *p = s;
	char *end;

	if (!strncmp(p, "0x", 2) || !strncmp(p, "0X", 2))
		p += 2;
	if (!*p || strlen(p) > 16 || strspn(p, "0123456789abcdefABCDEF") != strlen(p))
		return err_usage(e, -EINVAL, "invalid seed '%s': expected up to 16 hex digits", s);
	*seed = strtoull(p, &end, 16);
	return 0;
}

int parse_method(const char *s, __u32 *method, struct chlb_err *e)
{
	if (!strcmp(s, "dsr"))
		*method = CHLB_METHOD_DSR;
	else if (!strcmp(s, "ipip"))
		*method = CHLB_METHOD_IPIP;
	else
		return err_usage(e, -EINVAL, "unknown method '%s': expected dsr or ipip", s);
	return 0;
}

const char *method_name(__u32 method)
{
	switch (method) {
	case CHLB_METHOD_DSR:
		return "dsr";
	case CHLB_METHOD_IPIP:
		return "ipip";
	default:
		return "unknown";
	}
}

void format_addr(const __u8 *addr, char *buf, size_t len)
{
	struct chlb_addr a;

	memcpy(a.bytes, addr, CHLB_ADDR_LEN);
	if (chlb_addr_format(&a, buf, len))
		snprintf(buf, len, "?");
}

const char *proto_name(__u8 proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

void format_vip(const struct chlb_vip_key *key, char *buf, size_t len)
{
	char a[CHLB_ADDR_STRLEN];

	format_addr(key->addr, a, sizeof(a));
	snprintf(buf, len, key->family == CHLB_FAMILY_INET6 ? "[%s]:%u/%s" : "%s:%u/%s", a,
		 ntohs(key->port), proto_name(key->proto));
}

void format_mac(const __u8 mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

const char *check_result_name(__u32 result)
{
	static const char *const names[CHLB_CHECK_MAX] = {
		[CHLB_CHECK_NONE] = "none", [CHLB_CHECK_OK] = "ok",
		[CHLB_CHECK_REFUSED] = "refused", [CHLB_CHECK_TIMEOUT] = "timeout",
		[CHLB_CHECK_HTTP_STATUS] = "http_status", [CHLB_CHECK_ERROR] = "error",
	};

	return result < CHLB_CHECK_MAX ? names[result] : "?";
}

void format_check(__u32 result, __u32 detail, char *buf, size_t len)
{
	switch (result) {
	case CHLB_CHECK_NONE:
		snprintf(buf, len, "-");
		break;
	case CHLB_CHECK_REFUSED:
		snprintf(buf, len, "connect refused");
		break;
	case CHLB_CHECK_HTTP_STATUS:
		snprintf(buf, len, "HTTP %u", detail);
		break;
	case CHLB_CHECK_ERROR:
		snprintf(buf, len, "%s", strerror(detail));
		break;
	default:
		snprintf(buf, len, "%s", check_result_name(result));
	}
}

const char *algo_text(__u32 algo)
{
	const char *name = chlb_algo_name(algo);

	return name ? name : "unknown";
}
