// SPDX-License-Identifier: GPL-2.0
/*
 * Configuration documents (SPEC §9). json-c checks the syntax; this file
 * checks every key and value, names the JSON path of the first bad one,
 * and prints documents back in one canonical form, so that equal
 * configurations give equal bytes (export, apply and the daemon compare
 * documents as text).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <json-c/json.h>

#include "doc.h"
#include "parse.h"

/* Far above any real configuration; stops `chlb config apply /dev/zero`. */
#define DOC_MAX_BYTES (64u << 20)
#define PATH_LEN 256
#define JSON_WS " \t\n\r"
#define JSON_FLAGS \
	(JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Health check limits and defaults (SPEC §9, §10). */
#define HC_INTERVAL_MIN 100
#define HC_INTERVAL_MAX 3600000
#define HC_INTERVAL_DEF 2000
#define HC_TIMEOUT_MIN 10
#define HC_TIMEOUT_DEF 1000	/* or the interval, when shorter */
#define HC_COUNT_MAX 100
#define HC_RISE_DEF 2
#define HC_FALL_DEF 3
#define HC_EXPECT_MIN 100
#define HC_EXPECT_MAX 599
#define HC_EXPECT_DEF 200

/* A string value's names: parsing and printing share one table. */
struct name_val {
	const char *name;
	__u32 val;
};

static const struct name_val methods[] = {
	{ "dsr", CHLB_METHOD_DSR },
	{ "ipip", CHLB_METHOD_IPIP },
	{ NULL, 0 },
};
static const struct name_val states[] = {
	{ "active", CHLB_STATE_ACTIVE },
	{ "draining", CHLB_STATE_DRAINING },
	{ NULL, 0 },
};
static const struct name_val health_types[] = {
	{ "tcp", CHLB_HEALTH_TCP },
	{ "http", CHLB_HEALTH_HTTP },
	{ NULL, 0 },
};

/* ---- messages -------------------------------------------------------- */

/* A JSON path into buf[PATH_LEN]; a long one is cut, its start names the place. */
static void __attribute__((format(printf, 2, 3))) path_fmt(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, PATH_LEN, fmt, ap);
	va_end(ap);
}

/* "path.key" ("key" at the top, "path" without a key). */
static void join(char *buf, const char *path, const char *key)
{
	path_fmt(buf, "%s%s%s", path, *path && key ? "." : "", key ? key : "");
}

/* Control characters from the document would break the one-line message. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* Record "path.key: message" as a usage error; returns -EINVAL. */
static int __attribute__((format(printf, 4, 5)))
bad(struct chlb_err *e, const char *path, const char *key, const char *fmt, ...)
{
	char where[PATH_LEN], msg[sizeof(e->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	join(where, path, key);
	printable(where);
	printable(msg);
	return err_usage(e, -EINVAL, "%s: %s", where, msg);
}

/* A syntax error at byte off of text, by line and column (from 1). */
static int syntax(struct chlb_err *e, const char *text, size_t off, const char *what)
{
	size_t line = 1, col = 1, i;

	for (i = 0; i < off && text[i]; i++, col++)
		if (text[i] == '\n')
			line++, col = 0;
	return err_usage(e, -EINVAL, "line %zu, column %zu: invalid JSON: %s", line, col, what);
}

static int no_memory(struct chlb_err *e)
{
	return err_fail(e, -ENOMEM, "out of memory");
}

/* A value as a message shows it: its JSON text, cut short, or its kind. */
static const char *describe(json_object *v, char *buf, size_t len)
{
	const char *s;

	if (json_object_is_type(v, json_type_object))
		return "an object";
	if (json_object_is_type(v, json_type_array))
		return "an array";
	s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	if (strlen(s) < len)
		return s;
	snprintf(buf, len, "%.*s...", (int)len - 4, s);
	return buf;
}

/* ---- typed values ---------------------------------------------------- */

/* true when obj has key (its value may be JSON null: *v is then NULL). */
static bool has(json_object *obj, const char *key, json_object **v)
{
	return json_object_object_get_ex(obj, key, v);
}

static int want_type(json_object *v, json_type t, const char *what, const char *path,
		     const char *key, struct chlb_err *e)
{
	char buf[48];

	if (json_object_is_type(v, t))
		return 0;
	return bad(e, path, key, "expected %s, got %s", what, describe(v, buf, sizeof(buf)));
}

static int want_obj(json_object *v, const char *path, const char *key, struct chlb_err *e)
{
	return want_type(v, json_type_object, "an object", path, key, e);
}

/* A string without NUL: json-c would let "10.0.0.1\u0000junk" pass as its prefix. */
static int want_str(json_object *v, const char *path, const char *key, const char **out,
		    struct chlb_err *e)
{
	if (want_type(v, json_type_string, "a string", path, key, e))
		return -EINVAL;
	*out = json_object_get_string(v);
	if ((int)strlen(*out) != json_object_get_string_len(v))
		return bad(e, path, key, "contains a NUL character");
	return 0;
}

/* An integer in min..max; 1.5, 2.0, "2" and true are not integers. */
static int want_u32(json_object *v, const char *path, const char *key, __u32 min, __u32 max,
		    __u32 *out, struct chlb_err *e)
{
	char buf[48];
	int64_t n;

	if (want_type(v, json_type_int, "an integer", path, key, e))
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n < min || n > max)
		return bad(e, path, key, "%s is not in %u..%u", describe(v, buf, sizeof(buf)), min,
			   max);
	*out = n;
	return 0;
}

/* An optional integer: def when the key is absent. */
static int opt_u32(json_object *obj, const char *path, const char *key, __u32 min, __u32 max,
		   __u32 def, __u32 *out, struct chlb_err *e)
{
	json_object *v;

	*out = def;
	return has(obj, key, &v) ? want_u32(v, path, key, min, max, out, e) : 0;
}

/* One of the names in tab; the message lists them. */
static int want_name(json_object *v, const char *path, const char *key,
		     const struct name_val *tab, __u32 *out, struct chlb_err *e)
{
	char list[128] = "";
	const char *s;
	int i;

	if (want_str(v, path, key, &s, e))
		return -EINVAL;
	for (i = 0; tab[i].name; i++) {
		if (!strcmp(tab[i].name, s)) {
			*out = tab[i].val;
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i ? (tab[i + 1].name ? ", " : " or ") : "", tab[i].name);
	}
	return bad(e, path, key, "unknown %s '%s': expected %s", key, s, list);
}

static int required(json_object *obj, const char *path, const char *key, json_object **v,
		    struct chlb_err *e)
{
	return has(obj, key, v) ? 0 : bad(e, path, key, "required but missing");
}

/* Refuse keys not in names (NULL-terminated): a misspelt key is never ignored. */
static int only_keys(json_object *obj, const char *path, const char *const *names,
		     struct chlb_err *e)
{
	json_object_object_foreach(obj, key, val) {
		const char *const *n;

		(void)val;
		for (n = names; *n && strcmp(*n, key); n++)
			;
		if (!*n)
			return bad(e, path, key, "unknown key");
	}
	return 0;
}

/* An object at path with only the given keys. */
static int want_keys(json_object *obj, const char *path, const char *const *names,
		     struct chlb_err *e)
{
	if (want_obj(obj, path, NULL, e) || only_keys(obj, path, names, e))
		return -EINVAL;
	return 0;
}

/* ---- keys json-c would let through ---------------------------------- */

/*
 * json-c keeps the last of two equal keys, truncates a key at "\u0000"
 * and accepts 'single-quoted' strings even in strict mode: each would let
 * a document mean something other than what it says. So a second pass
 * walks the text (already valid JSON to json-c) and refuses them, naming
 * the key's path. Depth is bounded by json-c's nesting limit.
 */
struct scan {
	const char *text, *p;
	json_tokener *tok;	/* decodes keys, escapes and all */
	struct chlb_err *e;
};

static int scan_value(struct scan *s, const char *path);

static void scan_ws(struct scan *s)
{
	s->p += strspn(s->p, JSON_WS);
}

static int scan_error(struct scan *s, const char *what)
{
	return syntax(s->e, s->text, s->p - s->text, what);
}

/* Step over the string at s->p; decode it into *out when out is given. */
static int scan_string(struct scan *s, json_object **out)
{
	const char *start = s->p;

	if (*s->p != '"')
		return scan_error(s, "strings take double quotes");
	for (s->p++; *s->p && *s->p != '"'; s->p++)
		if (*s->p == '\\' && s->p[1])
			s->p++;
	if (!*s->p)
		return scan_error(s, "unterminated string");
	s->p++;
	if (!out)
		return 0;
	json_tokener_reset(s->tok);
	*out = json_tokener_parse_ex(s->tok, start, s->p - start);
	return *out ? 0 : scan_error(s, "bad string");
}

/* The key at s->p, checked against the object's keys so far (seen). */
static int scan_key(struct scan *s, const char *path, json_object *seen, char *where)
{
	json_object *key = NULL;
	const char *k;
	int err;

	err = scan_string(s, &key);
	if (err)
		return err;
	k = json_object_get_string(key);
	join(where, path, k);
	if ((int)strlen(k) != json_object_get_string_len(key))
		err = bad(s->e, where, NULL, "key contains a NUL character");
	else if (has(seen, k, NULL))
		err = bad(s->e, where, NULL, "duplicate key");
	else if (json_object_object_add(seen, k, NULL))
		err = no_memory(s->e);
	json_object_put(key);
	return err;
}

static int scan_members(struct scan *s, const char *path, json_object *seen)
{
	char where[PATH_LEN];
	int err;

	for (;;) {
		scan_ws(s);
		err = scan_key(s, path, seen, where);
		if (err)
			return err;
		scan_ws(s);
		if (*s->p != ':')
			return scan_error(s, "':' expected");
		s->p++;
		err = scan_value(s, where);
		if (err)
			return err;
		scan_ws(s);
		if (*s->p == '}')
			return 0;
		if (*s->p != ',')
			return scan_error(s, "',' or '}' expected");
		s->p++;
	}
}

static int scan_object(struct scan *s, const char *path)
{
	json_object *seen;
	int err = 0;

	s->p++;
	scan_ws(s);
	if (*s->p == '}')
		goto out;
	seen = json_object_new_object();
	if (!seen)
		return no_memory(s->e);
	err = scan_members(s, path, seen);
	json_object_put(seen);
out:
	s->p++;
	return err;
}

static int scan_array(struct scan *s, const char *path)
{
	char where[PATH_LEN];
	size_t i;
	int err;

	s->p++;
	scan_ws(s);
	for (i = 0; *s->p != ']'; i++) {
		path_fmt(where, "%s[%zu]", path, i);
		err = scan_value(s, where);
		if (err)
			return err;
		scan_ws(s);
		if (*s->p == ',')
			s->p++;
		else if (*s->p != ']')
			return scan_error(s, "',' or ']' expected");
	}
	s->p++;
	return 0;
}

static int scan_value(struct scan *s, const char *path)
{
	scan_ws(s);
	switch (*s->p) {
	case '{':
		return scan_object(s, path);
	case '[':
		return scan_array(s, path);
	case '"':
	case '\'':
		return scan_string(s, NULL);
	case '\0':
		return scan_error(s, "value expected");
	default:
		s->p += strcspn(s->p, JSON_WS ",:]}");
		return 0;
	}
}

static int scan_keys(const char *text, struct chlb_err *e)
{
	struct scan s = { .text = text, .p = text, .e = e };
	int err;

	s.tok = json_tokener_new();
	if (!s.tok)
		return no_memory(e);
	err = scan_value(&s, "");
	json_tokener_free(s.tok);
	return err;
}

/* ---- duplicates ------------------------------------------------------ */

struct dup_ctx {
	int (*cmp)(const void *, const void *);
};

/* Elements by content, equal ones in array order. */
static int cmp_ref(const void *a, const void *b, void *arg)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int c = ((const struct dup_ctx *)arg)->cmp(x, y);

	return c ? c : (x > y) - (x < y);
}

/*
 * The first element equal to an earlier one, by index (*second), and the
 * earliest it equals (*first): 1, or 0 when all differ. Sorting references
 * keeps it O(n log n): one VIP may have thousands of backends.
 */
static int find_dup(const void *base, int n, size_t size,
		    int (*cmp)(const void *, const void *), int *first, int *second)
{
	struct dup_ctx ctx = { cmp };
	const char *b = base, **ref;
	int i, j, group = 0, found = 0;

	if (n < 2)
		return 0;
	ref = malloc(n * sizeof(*ref));
	if (!ref)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		ref[i] = b + i * size;
	qsort_r(ref, n, sizeof(*ref), cmp_ref, &ctx);
	for (i = 1; i < n; i++) {
		if (cmp(ref[group], ref[i])) {
			group = i;
			continue;
		}
		/* the group's second element is its value's first repeat */
		j = (ref[i] - b) / size;
		if (i == group + 1 && (!found || j < *second)) {
			*first = (ref[group] - b) / size;
			*second = j;
			found = 1;
		}
	}
	free(ref);
	return found;
}

/* Canonical VIP order: family, address bytes, port, protocol. */
static int cmp_vip(const void *a, const void *b)
{
	const struct chlb_vip_key *x = &((const struct doc_vip *)a)->key;
	const struct chlb_vip_key *y = &((const struct doc_vip *)b)->key;
	int c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	c = memcmp(x->addr, y->addr, CHLB_ADDR_LEN);
	if (c)
		return c;
	if (x->port != y->port)
		return ntohs(x->port) < ntohs(y->port) ? -1 : 1;
	return (x->proto > y->proto) - (x->proto < y->proto);
}

/* Canonical backend order: address bytes, as the library orders them. */
static int cmp_backend(const void *a, const void *b)
{
	return chlb_addr_cmp(&((const struct doc_backend *)a)->addr,
			     &((const struct doc_backend *)b)->addr);
}

static int dup_vips(const struct doc *d, struct chlb_err *e)
{
	char path[PATH_LEN], vip[CLI_VIP_STRLEN];
	int i, j, r;

	r = find_dup(d->vips, d->nvips, sizeof(*d->vips), cmp_vip, &i, &j);
	if (r <= 0)
		return r ? no_memory(e) : 0;
	format_vip(&d->vips[j].key, vip, sizeof(vip));
	path_fmt(path, "vips[%d]", j);
	return bad(e, path, "vip", "duplicate of vips[%d] (%s)", i, vip);
}

static int dup_backends(const struct doc_vip *v, const char *vpath, struct chlb_err *e)
{
	char path[PATH_LEN], addr[CHLB_ADDR_STRLEN];
	int i, j, r;

	r = find_dup(v->backends, v->nbackends, sizeof(*v->backends), cmp_backend, &i, &j);
	if (r <= 0)
		return r ? no_memory(e) : 0;
	format_addr(v->backends[j].addr.bytes, addr, sizeof(addr));
	path_fmt(path, "%s.backends[%d]", vpath, j);
	return bad(e, path, "addr", "duplicate of %s.backends[%d] (%s)", vpath, i, addr);
}

/* ---- the document, object by object --------------------------------- */

static int parse_cluster_strings(json_object *o, struct doc_cluster *c, struct chlb_err *e)
{
	struct chlb_err tmp = { 0 };
	json_object *v;
	const char *s;

	if (has(o, "seed", &v)) {
		if (want_str(v, "cluster", "seed", &s, e))
			return -EINVAL;
		if (parse_seed(s, &c->seed, &tmp))
			return bad(e, "cluster", "seed", "%s", tmp.msg);
		c->has_seed = true;
	}
	if (has(o, "algo", &v)) {
		if (want_str(v, "cluster", "algo", &s, e))
			return -EINVAL;
		if (chlb_algo_parse(s, &c->algo))
			return bad(e, "cluster", "algo", "unknown algorithm '%s': expected ring",
				   s);
		c->has_algo = true;
	}
	return 0;
}

static int parse_cluster(json_object *o, struct doc_cluster *c, struct chlb_err *e)
{
	static const char *const keys[] = { "seed", "vnodes", "table_size", "algo", NULL };
	json_object *v;

	if (want_keys(o, "cluster", keys, e) || parse_cluster_strings(o, c, e))
		return -EINVAL;
	if (has(o, "vnodes", &v)) {
		if (want_u32(v, "cluster", "vnodes", 1, CHLB_MAX_VNODES, &c->vnodes, e))
			return -EINVAL;
		c->has_vnodes = true;
	}
	if (has(o, "table_size", &v)) {
		if (want_u32(v, "cluster", "table_size", 1, CHLB_MAX_TABLE_SIZE, &c->table_size, e))
			return -EINVAL;
		c->has_table_size = true;
	}
	c->set = true;
	return 0;
}

/* An HTTP GET path as sent on the request line: no space, no control. */
static int check_http_path(const char *s, const char *path, struct chlb_err *e)
{
	size_t i, n = strlen(s);

	if (s[0] != '/')
		return bad(e, path, "path", "'%s' does not start with '/'", s);
	if (n >= CHLB_HEALTH_PATH_LEN)
		return bad(e, path, "path", "'%.32s...' is %zu bytes long, at most %d", s, n,
			   CHLB_HEALTH_PATH_LEN - 1);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return bad(e, path, "path",
				   "'%s': byte %zu is a space or not printable ASCII", s, i + 1);
	return 0;
}

static int parse_http(json_object *o, const char *path, struct chlb_health *h,
		      struct chlb_err *e)
{
	const char *s = "/";
	json_object *v;
	__u32 expect;

	if (has(o, "path", &v) && (want_str(v, path, "path", &s, e) || check_http_path(s, path, e)))
		return -EINVAL;
	if (opt_u32(o, path, "expect", HC_EXPECT_MIN, HC_EXPECT_MAX, HC_EXPECT_DEF, &expect, e))
		return -EINVAL;
	strcpy(h->path, s);
	h->expect = expect;
	return 0;
}

/* A TCP check connects only: a path or status would be silently unused. */
static int parse_tcp(json_object *o, const char *path, struct chlb_err *e)
{
	if (has(o, "path", NULL))
		return bad(e, path, "path", "only for http checks");
	if (has(o, "expect", NULL))
		return bad(e, path, "expect", "only for http checks");
	return 0;
}

static int parse_health(json_object *o, const char *vpath, __u16 vip_port,
			struct chlb_health *h, struct chlb_err *e)
{
	static const char *const keys[] = { "type",	  "port",	"path", "expect",
					    "interval_ms", "timeout_ms", "rise", "fall", NULL };
	__u32 type, port, rise, fall;
	char path[PATH_LEN];
	json_object *v;

	join(path, vpath, "health");
	if (want_keys(o, path, keys, e) || required(o, path, "type", &v, e) ||
	    want_name(v, path, "type", health_types, &type, e))
		return -EINVAL;
	if (opt_u32(o, path, "port", 1, 65535, vip_port, &port, e) ||
	    opt_u32(o, path, "interval_ms", HC_INTERVAL_MIN, HC_INTERVAL_MAX, HC_INTERVAL_DEF,
		    &h->interval_ms, e) ||
	    opt_u32(o, path, "timeout_ms", HC_TIMEOUT_MIN, h->interval_ms,
		    h->interval_ms < HC_TIMEOUT_DEF ? h->interval_ms : HC_TIMEOUT_DEF,
		    &h->timeout_ms, e) ||
	    opt_u32(o, path, "rise", 1, HC_COUNT_MAX, HC_RISE_DEF, &rise, e) ||
	    opt_u32(o, path, "fall", 1, HC_COUNT_MAX, HC_FALL_DEF, &fall, e))
		return -EINVAL;
	h->type = type;
	h->port = port;
	h->rise = rise;
	h->fall = fall;
	return type == CHLB_HEALTH_HTTP ? parse_http(o, path, h, e) : parse_tcp(o, path, e);
}

static int parse_backend(json_object *o, const char *path, __u32 method,
			 struct doc_backend *b, struct chlb_err *e)
{
	static const char *const keys[] = { "addr", "weight", "state", "mac", NULL };
	struct chlb_err tmp = { 0 };
	__u32 state = CHLB_STATE_ACTIVE;
	json_object *v;
	const char *s;

	if (want_keys(o, path, keys, e) || required(o, path, "addr", &v, e) ||
	    want_str(v, path, "addr", &s, e))
		return -EINVAL;
	if (parse_addr("address", s, &b->addr, &tmp))
		return bad(e, path, "addr", "%s", tmp.msg);
	if (opt_u32(o, path, "weight", CHLB_MIN_WEIGHT, CHLB_MAX_WEIGHT, 1, &b->weight, e) ||
	    (has(o, "state", &v) && want_name(v, path, "state", states, &state, e)))
		return -EINVAL;
	b->state = state;
	if (!has(o, "mac", &v))
		return 0;
	/* the next hop's MAC comes from the FIB, per packet: a fixed one would be ignored */
	if (method == CHLB_METHOD_IPIP)
		return bad(e, path, "mac", "ipip backends are reached through the FIB: "
			   "\"mac\" is for dsr");
	if (want_str(v, path, "mac", &s, e))
		return -EINVAL;
	if (parse_mac(s, b->mac, &tmp))
		return bad(e, path, "mac", "%s", tmp.msg);
	b->has_mac = true;
	return 0;
}

static int parse_backends(json_object *arr, const char *vpath, struct doc_vip *vip,
			  struct chlb_err *e)
{
	char path[PATH_LEN];
	size_t i, n;
	int err;

	if (want_type(arr, json_type_array, "an array", vpath, "backends", e))
		return -EINVAL;
	n = json_object_array_length(arr);
	if (n) {
		vip->backends = calloc(n, sizeof(*vip->backends));
		if (!vip->backends)
			return no_memory(e);
	}
	vip->nbackends = n;
	for (i = 0; i < n; i++) {
		path_fmt(path, "%s.backends[%zu]", vpath, i);
		err = parse_backend(json_object_array_get_idx(arr, i), path, vip->method,
				    &vip->backends[i], e);
		if (err)
			return err;
	}
	return dup_backends(vip, vpath, e);
}

static int parse_vip_obj(json_object *o, const char *path, struct doc_vip *vip,
			 struct chlb_err *e)
{
	static const char *const keys[] = { "vip", "method", "health", "backends", NULL };
	struct chlb_err tmp = { 0 };
	json_object *v;
	const char *s;

	if (want_keys(o, path, keys, e) || required(o, path, "vip", &v, e) ||
	    want_str(v, path, "vip", &s, e))
		return -EINVAL;
	if (parse_vip(s, &vip->key, &tmp))
		return bad(e, path, "vip", "%s", tmp.msg);
	vip->method = CHLB_METHOD_DSR;
	if (has(o, "method", &v) && want_name(v, path, "method", methods, &vip->method, e))
		return -EINVAL;
	if (has(o, "health", &v) &&
	    parse_health(v, path, ntohs(vip->key.port), &vip->health, e))
		return -EINVAL;
	return has(o, "backends", &v) ? parse_backends(v, path, vip, e) : 0;
}

static int parse_vips(json_object *arr, struct doc *d, struct chlb_err *e)
{
	char path[PATH_LEN];
	size_t i, n;
	int err;

	if (want_type(arr, json_type_array, "an array", "vips", NULL, e))
		return -EINVAL;
	n = json_object_array_length(arr);
	if (n) {
		d->vips = calloc(n, sizeof(*d->vips));
		if (!d->vips)
			return no_memory(e);
	}
	d->nvips = n;
	for (i = 0; i < n; i++) {
		path_fmt(path, "vips[%zu]", i);
		err = parse_vip_obj(json_object_array_get_idx(arr, i), path, &d->vips[i], e);
		if (err)
			return err;
	}
	return dup_vips(d, e);
}

static int parse_root(json_object *root, struct doc *d, struct chlb_err *e)
{
	static const char *const keys[] = { "cluster", "vips", NULL };
	json_object *v;
	int err;

	if (only_keys(root, "", keys, e))
		return -EINVAL;
	if (has(root, "cluster", &v)) {
		err = parse_cluster(v, &d->cluster, e);
		if (err)
			return err;
	}
	return has(root, "vips", &v) ? parse_vips(v, d, e) : 0;
}

/* json-c's tree of text, which must hold one JSON object and nothing else. */
static int parse_text(const char *text, json_object **root, struct chlb_err *e)
{
	enum json_tokener_error jerr;
	json_tokener *tok;
	char buf[48];
	size_t end;
	int err = 0;

	tok = json_tokener_new();
	if (!tok)
		return no_memory(e);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* the NUL too: without it json-c waits for more after a top-level "null" */
	*root = json_tokener_parse_ex(tok, text, strlen(text) + 1);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr != json_tokener_success && !text[strspn(text, JSON_WS)])
		err = err_usage(e, -EINVAL, "empty document: expected a JSON object");
	else if (jerr != json_tokener_success)
		err = syntax(e, text, end, json_tokener_error_desc(jerr));
	else if (text[end + strspn(text + end, JSON_WS)])
		err = syntax(e, text, end, "text after the document");
	else if (!json_object_is_type(*root, json_type_object))
		err = bad(e, "document", NULL, "expected an object, got %s",
			  describe(*root, buf, sizeof(buf)));
	json_tokener_free(tok);
	return err;
}

int doc_parse(const char *text, struct doc *d, struct chlb_err *e)
{
	json_object *root = NULL;
	int err;

	memset(d, 0, sizeof(*d));
	if (!text) {
		err = err_usage(e, -EINVAL, "no document");
		goto out;
	}
	err = parse_text(text, &root, e);
	if (err)
		goto out;
	err = scan_keys(text, e);
	if (err)
		goto out;
	err = parse_root(root, d, e);
out:
	json_object_put(root);
	if (err)
		doc_free(d);
	return err;
}

/* ---- reading --------------------------------------------------------- */

/* All of f, NUL-terminated, in *out (length *len). */
static int read_stream(FILE *f, const char *name, char **out, size_t *len, struct chlb_err *e)
{
	size_t cap = 0, n = 0, got;
	char *buf = NULL, *nb;
	int err = 0;

	for (;;) {
		if (n > DOC_MAX_BYTES) {
			err = err_usage(e, -EFBIG, "%s: larger than %u bytes", name,
					DOC_MAX_BYTES);
			break;
		}
		if (cap - n < 2) {
			/* room for one byte past the limit, to see that it is passed */
			cap = cap ? cap * 2 : 65536;
			cap = cap < DOC_MAX_BYTES + 2 ? cap : DOC_MAX_BYTES + 2;
			nb = realloc(buf, cap);
			if (!nb) {
				err = no_memory(e);
				break;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got)
			continue;
		if (ferror(f))
			err = err_fail(e, errno ? -errno : -EIO, "cannot read %s: %s", name,
				       strerror(errno ? errno : EIO));
		break;
	}
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int doc_read(const char *path, struct doc *d, struct chlb_err *e)
{
	bool std = !strcmp(path, "-");
	char name[PATH_LEN], *text = NULL, *nul;
	FILE *f;
	size_t len;
	int err;

	memset(d, 0, sizeof(*d));
	snprintf(name, sizeof(name), std ? "standard input" : "'%s'", path);
	f = std ? stdin : fopen(path, "r");
	if (!f)
		return err_fail(e, -errno, "cannot open %s: %s", name, strerror(errno));
	if (std)
		clearerr(f);	/* an earlier read left EOF set; read what is there now */
	errno = 0;
	err = read_stream(f, name, &text, &len, e);
	if (!std)
		fclose(f);
	if (err)
		goto out;
	/* A NUL would end the text early and hide whatever follows it. */
	nul = memchr(text, '\0', len);
	if (nul) {
		err = syntax(e, text, nul - text, "NUL character");
		goto out;
	}
	err = doc_parse(text, d, e);
out:
	free(text);
	return err;
}

/* ---- canonical text -------------------------------------------------- */

/* Add v under key: NULL v (allocation failed) or a failed add is -ENOMEM. */
static int add(json_object *o, const char *key, json_object *v)
{
	if (v && !json_object_object_add(o, key, v))
		return 0;
	json_object_put(v);
	return -ENOMEM;
}

static int push(json_object *arr, json_object *v)
{
	if (v && !json_object_array_add(arr, v))
		return 0;
	json_object_put(v);
	return -ENOMEM;
}

/* A value's name, or the number itself when it has none (parse refuses it). */
static json_object *name_json(const struct name_val *tab, __u32 val)
{
	for (; tab->name; tab++)
		if (tab->val == val)
			return json_object_new_string(tab->name);
	return json_object_new_int64(val);
}

/* Return o, or free it and return NULL when err: the builders' last step. */
static json_object *done(json_object *o, int err)
{
	if (!err)
		return o;
	json_object_put(o);
	return NULL;
}

static json_object *cluster_json(const struct doc_cluster *c)
{
	json_object *o = json_object_new_object();
	const char *algo = chlb_algo_name(c->algo);
	char seed[20];
	int err;

	if (!o)
		return NULL;
	snprintf(seed, sizeof(seed), "%016llx", (unsigned long long)c->seed);
	err = (c->has_seed && add(o, "seed", json_object_new_string(seed))) ||
	      (c->has_vnodes && add(o, "vnodes", json_object_new_int64(c->vnodes))) ||
	      (c->has_table_size && add(o, "table_size", json_object_new_int64(c->table_size))) ||
	      (c->has_algo && add(o, "algo", algo ? json_object_new_string(algo) :
						     json_object_new_int64(c->algo)));
	return done(o, err);
}

static json_object *health_json(const struct chlb_health *h)
{
	/* path is NUL-terminated when parsed; bounded in case it was built by hand */
	size_t plen = strnlen(h->path, sizeof(h->path));
	json_object *o = json_object_new_object();
	int err;

	if (!o)
		return NULL;
	err = add(o, "type", name_json(health_types, h->type)) ||
	      add(o, "port", json_object_new_int64(h->port));
	if (!err && h->type == CHLB_HEALTH_HTTP)
		err = add(o, "path", json_object_new_string_len(h->path, plen)) ||
		      add(o, "expect", json_object_new_int64(h->expect));
	err = err || add(o, "interval_ms", json_object_new_int64(h->interval_ms)) ||
	      add(o, "timeout_ms", json_object_new_int64(h->timeout_ms)) ||
	      add(o, "rise", json_object_new_int64(h->rise)) ||
	      add(o, "fall", json_object_new_int64(h->fall));
	return done(o, err);
}

static json_object *backend_json(const struct doc_backend *b)
{
	json_object *o = json_object_new_object();
	char addr[CHLB_ADDR_STRLEN], mac[CLI_MAC_STRLEN];
	int err;

	if (!o)
		return NULL;
	format_addr(b->addr.bytes, addr, sizeof(addr));
	format_mac(b->mac, mac, sizeof(mac));
	err = add(o, "addr", json_object_new_string(addr)) ||
	      add(o, "weight", json_object_new_int64(b->weight)) ||
	      add(o, "state", name_json(states, b->state)) ||
	      (b->has_mac && add(o, "mac", json_object_new_string(mac)));
	return done(o, err);
}

static json_object *vip_json(const struct doc_vip *v)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	char vip[CLI_VIP_STRLEN];
	int i, err;

	if (!o || !arr) {
		json_object_put(arr);
		return done(o, -ENOMEM);
	}
	format_vip(&v->key, vip, sizeof(vip));
	err = add(o, "vip", json_object_new_string(vip)) ||
	      add(o, "method", name_json(methods, v->method)) ||
	      (v->health.type != CHLB_HEALTH_NONE && add(o, "health", health_json(&v->health)));
	for (i = 0; !err && i < v->nbackends; i++)
		err = push(arr, backend_json(&v->backends[i]));
	if (err)
		json_object_put(arr);
	else
		err = add(o, "backends", arr);
	return done(o, err);
}

static json_object *doc_json(const struct doc *d)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	int i, err = 0;

	if (!o || !arr) {
		json_object_put(arr);
		return done(o, -ENOMEM);
	}
	if (d->cluster.set)
		err = add(o, "cluster", cluster_json(&d->cluster));
	for (i = 0; !err && i < d->nvips; i++)
		err = push(arr, vip_json(&d->vips[i]));
	if (err)
		json_object_put(arr);
	else
		err = add(o, "vips", arr);
	return done(o, err);
}

/* A deep copy, for sorting without touching the caller's document. */
static int doc_copy(const struct doc *src, struct doc *dst)
{
	int i, n;

	memset(dst, 0, sizeof(*dst));
	dst->cluster = src->cluster;
	if (!src->nvips)
		return 0;
	dst->vips = calloc(src->nvips, sizeof(*dst->vips));
	if (!dst->vips)
		return -ENOMEM;
	for (i = 0; i < src->nvips; i++, dst->nvips++) {
		n = src->vips[i].nbackends;
		dst->vips[i] = src->vips[i];
		dst->vips[i].backends = NULL;
		dst->vips[i].nbackends = 0;
		if (!n)
			continue;
		dst->vips[i].backends = malloc(n * sizeof(*src->vips[i].backends));
		if (!dst->vips[i].backends)
			return -ENOMEM;
		memcpy(dst->vips[i].backends, src->vips[i].backends,
		       n * sizeof(*src->vips[i].backends));
		dst->vips[i].nbackends = n;
	}
	return 0;
}

char *doc_format(const struct doc *d)
{
	json_object *root = NULL;
	struct doc s = { 0 };
	char *text = NULL;
	const char *j;
	size_t n;

	if (doc_copy(d, &s))
		goto out;
	doc_sort(&s);
	root = doc_json(&s);
	j = root ? json_object_to_json_string_ext(root, JSON_FLAGS) : NULL;
	if (!j)
		goto out;
	n = strlen(j);
	text = malloc(n + 2);
	if (!text)
		goto out;
	memcpy(text, j, n);
	memcpy(text + n, "\n", 2);
out:
	json_object_put(root);
	doc_free(&s);
	return text;
}

void doc_sort(struct doc *d)
{
	int i;

	if (d->nvips > 1)
		qsort(d->vips, d->nvips, sizeof(*d->vips), cmp_vip);
	for (i = 0; i < d->nvips; i++)
		if (d->vips[i].nbackends > 1)
			qsort(d->vips[i].backends, d->vips[i].nbackends,
			      sizeof(*d->vips[i].backends), cmp_backend);
}

void doc_free(struct doc *d)
{
	int i;

	if (!d)
		return;
	for (i = 0; i < d->nvips; i++)
		free(d->vips[i].backends);
	free(d->vips);
	memset(d, 0, sizeof(*d));
}
