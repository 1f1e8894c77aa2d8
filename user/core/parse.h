/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Strict parsers for command-line values. Each returns 0 or a negative
 * error with a message naming the bad value recorded in e (a usage error).
 */
#ifndef CHLB_PARSE_H
#define CHLB_PARSE_H

#include <stddef.h>
#include <linux/types.h>
#include <chlb/chlb.h>
#include "err.h"

/* ADDR:PORT/PROTO, e.g. 10.0.0.100:80/tcp or [2001:db8::1]:443/udp */
int parse_vip(const char *s, struct chlb_vip_key *key, struct chlb_err *e);
/* ADDR:PORT with the same bracket rules; port in host order */
int parse_endpoint(const char *s, struct chlb_addr *addr, __u16 *port, struct chlb_err *e);
int parse_addr(const char *what, const char *s, struct chlb_addr *addr, struct chlb_err *e);
int parse_mac(const char *s, __u8 mac[6], struct chlb_err *e);
int parse_weight(const char *s, unsigned int *w, struct chlb_err *e);
/* Decimal in [min, max]; what names the option in messages. */
int parse_u32(const char *what, const char *s, __u32 min, __u32 max, __u32 *out,
	      struct chlb_err *e);
int parse_seed(const char *s, __u64 *seed, struct chlb_err *e);
/* dsr | ipip into enum chlb_method. */
int parse_method(const char *s, __u32 *method, struct chlb_err *e);
/* The method's name, "unknown" for a value no chlb defines (never NULL). */
const char *method_name(__u32 method);

/* Text forms; buffers of at least CLI_VIP_STRLEN / CLI_MAC_STRLEN. */
#define CLI_VIP_STRLEN (CHLB_ADDR_STRLEN + 16)
#define CLI_MAC_STRLEN 18
void format_vip(const struct chlb_vip_key *key, char *buf, size_t len);
void format_addr(const __u8 *addr, char *buf, size_t len);
void format_mac(const __u8 mac[6], char *buf, size_t len);
const char *proto_name(__u8 proto);
/* The algorithm's name, "unknown" for a value no chlb defines (never NULL). */
const char *algo_text(__u32 algo);
/* A health check's result as people read it: "ok", "connect refused", "HTTP 503". */
void format_check(__u32 result, __u32 detail, char *buf, size_t len);
/* A check result's name in metrics and JSON: ok, refused, timeout, http_status, error. */
const char *check_result_name(__u32 result);

#endif /* CHLB_PARSE_H */
