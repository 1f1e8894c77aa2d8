/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The outer source addresses of method ipip (struct chlb_encap_src in
 * shared.h), as attach takes them: `--encap-src ADDR[/LEN]` or `own`, at
 * most one range per family. A range holds at most 2^CHLB_ENCAP_SRC_MAX_BITS
 * addresses, every one of which the flow hash can pick, so the range given
 * is exactly the set of sources a backend sees.
 */
#ifndef CHLB_CORE_ENCAP_SRC_H
#define CHLB_CORE_ENCAP_SRC_H

#include <stddef.h>
#include <chlb/shared.h>
#include "err.h"

/* Text of a range: "172.16.0.0/16", "2001:db8::1/128"; buf of ENCAP_SRC_STRLEN. */
#define ENCAP_SRC_STRLEN 56

/*
 * ADDR[/LEN] (no LEN: one address) into *src: the address IPv4-mapped with
 * its host bits zeroed, LEN in the family's bits, the family. Refused as a
 * usage error naming the value: not an address, LEN not a number from
 * 32 - CHLB_ENCAP_SRC_MAX_BITS to 32 (IPv4) or 128 - ... to 128 (IPv6),
 * and addresses no router forwards from (addrcheck_encap_src()).
 */
int encap_src_parse(const char *s, struct chlb_encap_src *src, struct chlb_err *e);

/*
 * Each entry of src[2] ([0] IPv4, [1] IPv6) still unset (family 0) from
 * the interface's own primary address of that family that can be a source
 * (not link-local, loopback, ...), as a /32 or /128; a family the interface
 * lacks stays unset. -errno as a run-time error when the interface's
 * addresses cannot be listed.
 */
int encap_src_own(const char *ifname, struct chlb_encap_src src[2], struct chlb_err *e);

/* Set src[i] from text (ADDR[/LEN] or "own" for both), one range per family. */
int encap_src_add(const char *text, struct chlb_encap_src src[2], struct chlb_err *e);

void encap_src_format(const struct chlb_encap_src *s, char *buf, size_t len);
/* Addresses the flow hash spreads flows over: 2^host bits, at most 2^16. */
unsigned int encap_src_count(const struct chlb_encap_src *s);

#endif /* CHLB_CORE_ENCAP_SRC_H */
