/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Configuration documents (SPEC §9): the whole configuration of an
 * instance as one JSON text, parsed strictly into plain data and printed
 * back in a canonical form (keys in a fixed order, VIPs and backends
 * sorted), so equal configurations give equal bytes.
 */
#ifndef CHLB_CORE_DOC_H
#define CHLB_CORE_DOC_H

#include <stdbool.h>
#include <chlb/chlb.h>
#include "err.h"

struct doc_cluster {
	bool set;		/* the document has a "cluster" object */
	bool has_seed, has_vnodes, has_table_size, has_algo;
	__u64 seed;
	__u32 vnodes;
	__u32 table_size;
	enum chlb_algo algo;
};

struct doc_backend {
	struct chlb_addr addr;
	__u32 weight;		/* 1..256, default 1 */
	enum chlb_state state;	/* active (default) or draining */
	bool has_mac;		/* "mac" given: else resolved from neighbours */
	__u8 mac[6];
};

struct doc_vip {
	struct chlb_vip_key key;
	__u32 method;		/* enum chlb_method, default dsr */
	struct chlb_health health;	/* type CHLB_HEALTH_NONE: no "health" */
	struct doc_backend *backends;
	int nbackends;
};

struct doc {
	struct doc_cluster cluster;
	struct doc_vip *vips;
	int nvips;
};

/*
 * Parse a document. Strict: unknown keys, wrong types (1.5 and "2" are not
 * integers), values out of range, duplicate keys in one object, duplicate
 * VIPs (same parsed key) or backends (same address in one VIP) are refused
 * with the JSON path of the bad value in the message
 * ("vips[1].backends[0].weight: 0 is not in 1..256"), as a usage error
 * (-EINVAL); invalid JSON names its line and column instead. Defaults are
 * filled in (weight 1, state active, method dsr; health: port = the VIP's,
 * interval_ms 2000, timeout_ms min(1000, interval_ms), rise 2, fall 3, and
 * for http path "/" and expect 200; a tcp check has path "" and expect 0).
 * VIPs and backends stay in document order. On error d is left empty
 * (zeroed, nothing allocated); -ENOMEM is a run-time error.
 */
int doc_parse(const char *text, struct doc *d, struct chlb_err *e);
/*
 * Read and parse FILE, or standard input for "-". A file that cannot be
 * opened or read is a run-time error naming it (-errno); an empty file, a
 * NUL byte or more than 64 MiB is an invalid document (usage). Messages
 * about the content are doc_parse()'s, without the file name.
 */
int doc_read(const char *path, struct doc *d, struct chlb_err *e);
/*
 * The canonical text: keys in a fixed order, VIPs sorted by
 * (family, address, port, protocol), backends by address, every default
 * written out, two-space indentation, a final newline. malloc'ed; NULL
 * when out of memory. A value with no name (a method, state or check type
 * this version does not know) is written as its number, which doc_parse()
 * refuses. doc_format(parse(doc_format(x))) == doc_format(x).
 */
char *doc_format(const struct doc *d);
/* Sort VIPs and backends into canonical order (doc_format does it on a copy). */
void doc_sort(struct doc *d);
void doc_free(struct doc *d);

#endif /* CHLB_CORE_DOC_H */
