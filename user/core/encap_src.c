// SPDX-License-Identifier: GPL-2.0
/* Outer source ranges of method ipip; see encap_src.h. */
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>

#include "addrcheck.h"
#include "encap_src.h"
#include "parse.h"

static unsigned int family_bits(__u8 family)
{
	return family == CHLB_FAMILY_INET ? 32 : 128;
}

/* Zero the bits after len of the family's address (IPv4 in bytes 12..15). */
static void zero_host_bits(__u8 *addr, unsigned int len, __u8 family)
{
	unsigned int bit = (family == CHLB_FAMILY_INET ? 96 : 0) + len, i;

	for (i = bit; i < CHLB_ADDR_LEN * 8; i++)
		addr[i / 8] &= ~(0x80 >> (i % 8));
}

static int parse_len(const char *s, const char *len, __u8 family, __u8 *out,
		     struct chlb_err *e)
{
	unsigned int bits = family_bits(family), min = bits - CHLB_ENCAP_SRC_MAX_BITS;
	struct chlb_err tmp = {};
	__u32 v;

	if (parse_u32("prefix length", len, min, bits, &v, &tmp))
		return err_usage(e, -EINVAL,
				 "invalid --encap-src '%s': the prefix length must be %u to %u "
				 "for %s (a range of at most 2^%u addresses, every one a flow's "
				 "source)", s, min, bits, family == CHLB_FAMILY_INET ? "IPv4" : "IPv6",
				 CHLB_ENCAP_SRC_MAX_BITS);
	*out = v;
	return 0;
}

int encap_src_parse(const char *s, struct chlb_encap_src *src, struct chlb_err *e)
{
	char buf[CHLB_ADDR_STRLEN + 8], *slash;
	struct chlb_encap_src r = {};
	struct chlb_addr a;
	int err;

	if (strlen(s) >= sizeof(buf))
		return err_usage(e, -EINVAL, "invalid --encap-src '%s': too long", s);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	err = parse_addr("--encap-src address", buf, &a, e);
	if (err)
		return err;
	r.family = chlb_addr_is_v4(&a) ? CHLB_FAMILY_INET : CHLB_FAMILY_INET6;
	r.prefix_len = family_bits(r.family);
	if (slash && parse_len(s, slash + 1, r.family, &r.prefix_len, e))
		return -EINVAL;
	err = addrcheck_encap_src(s, &a, e);
	if (err)
		return err;
	memcpy(r.addr, a.bytes, CHLB_ADDR_LEN);
	zero_host_bits(r.addr, r.prefix_len, r.family);
	memcpy(a.bytes, r.addr, CHLB_ADDR_LEN);
	/* 0.0.0.5/16 is 0.0.0.0/16: the range itself must be usable too */
	err = addrcheck_encap_src(s, &a, e);
	if (!err)
		*src = r;
	return err;
}

/* An address of the interface as a /32 or /128 source, if it can be one. */
static bool own_src(const struct sockaddr *sa, struct chlb_encap_src *src)
{
	struct chlb_addr a;

	if (!addr_of_sockaddr(sa, &a))
		return false;
	if (addrcheck_encap_src(NULL, &a, NULL))
		return false;	/* link-local and the like: no router forwards from it */
	memcpy(src->addr, a.bytes, CHLB_ADDR_LEN);
	src->family = chlb_addr_is_v4(&a) ? CHLB_FAMILY_INET : CHLB_FAMILY_INET6;
	src->prefix_len = family_bits(src->family);
	return true;
}

int encap_src_own(const char *ifname, struct chlb_encap_src src[2], struct chlb_err *e)
{
	struct chlb_encap_src found[2] = {}, s;
	struct ifaddrs *ifs = NULL, *i;
	int k;

	if (getifaddrs(&ifs))
		return err_fail(e, -errno, "cannot list the addresses of %s: %s", ifname,
				strerror(errno));
	/* the kernel lists an interface's primary IPv4 address before its secondaries */
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, ifname) || !own_src(i->ifa_addr, &s))
			continue;
		k = s.family == CHLB_FAMILY_INET ? 0 : 1;
		if (!found[k].family)
			found[k] = s;
	}
	freeifaddrs(ifs);
	for (k = 0; k < 2; k++)
		if (!src[k].family)
			src[k] = found[k];
	return 0;
}

int encap_src_add(const char *text, struct chlb_encap_src src[2], struct chlb_err *e)
{
	struct chlb_encap_src s;
	char have[ENCAP_SRC_STRLEN];
	int k, err;

	err = encap_src_parse(text, &s, e);
	if (err)
		return err;
	k = s.family == CHLB_FAMILY_INET ? 0 : 1;
	if (src[k].family) {
		encap_src_format(&src[k], have, sizeof(have));
		return err_usage(e, -EINVAL,
				 "invalid --encap-src '%s': a second %s range (%s given already); "
				 "give at most one per family", text, k ? "IPv6" : "IPv4", have);
	}
	src[k] = s;
	return 0;
}

void encap_src_format(const struct chlb_encap_src *s, char *buf, size_t len)
{
	char a[CHLB_ADDR_STRLEN];

	format_addr(s->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, s->prefix_len);
}

unsigned int encap_src_count(const struct chlb_encap_src *s)
{
	return chlb_encap_src_mask(s) + 1;
}
