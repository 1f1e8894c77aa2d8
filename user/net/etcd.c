// SPDX-License-Identifier: GPL-2.0
/*
 * etcd v3 over its JSON gateway; see etcd.h. One transfer (struct xfer) is
 * one POST: a unary call collects its reply and parses it at the end; a
 * watch parses its stream line by line as it arrives (the gateway writes
 * one JSON object per line). Blocking calls run a transfer with
 * curl_easy_perform; non-blocking ones add it to a multi handle whose
 * sockets and timer the owner's loop drives.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "etcd.h"

#define ETCD_MAX_BODY	(64u << 20)	/* a reply, or one line of a watch */
#define ETCD_MSG_LEN	512

struct etcd {
	char *urls[ETCD_MAX_ENDPOINTS];
	int nurls;
	int cur;			/* the endpoint in use */
	struct etcd_io io;
	bool async;
	CURLM *multi;
	struct curl_slist *hdrs;
	bool timer_armed;
	uint64_t timer_due_ms;
	struct xfer *xfers;		/* in flight, for etcd_free */
};

struct etcd_watch {
	const struct etcd_watch_ops *ops;
	void *arg;
	bool established;		/* a message arrived: the stream was up */
	int err;			/* set by the parser: why the stream ends */
	int64_t compact;
	char why[ETCD_MSG_LEN];
};

struct xfer {
	struct etcd *c;
	CURL *easy;
	enum etcd_call call;
	const char *path;
	char *body;
	char *buf;			/* what arrived */
	size_t len, cap;
	int tries;			/* endpoints tried */
	char errbuf[CURL_ERROR_SIZE];
	etcd_done_fn done;
	void *arg;
	struct etcd_watch *w;		/* a watch; NULL: a unary call */
	struct xfer *prev, *next;
};

/* ---- base64 and keys ---------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int etcd_b64_encode(const void *in, size_t len, char **out)
{
	const unsigned char *p = in;
	size_t i, o = 0;
	char *s = malloc((len + 2) / 3 * 4 + 1);

	if (!s)
		return -ENOMEM;
	for (i = 0; i < len; i += 3) {
		uint32_t v = p[i] << 16 | (i + 1 < len ? p[i + 1] << 8 : 0) |
			     (i + 2 < len ? p[i + 2] : 0);

		s[o++] = b64[v >> 18 & 63];
		s[o++] = b64[v >> 12 & 63];
		s[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
		s[o++] = i + 2 < len ? b64[v & 63] : '=';
	}
	s[o] = 0;
	*out = s;
	return 0;
}

static int b64_value(char ch)
{
	const char *p = ch ? strchr(b64, ch) : NULL;

	return p ? (int)(p - b64) : -1;
}

/* One group of four characters; the last may end in one or two '='. */
static int b64_group(const char *in, bool last, unsigned char *o, size_t *n)
{
	int v[4], i, pad = 0;

	for (i = 0; i < 4; i++) {
		v[i] = b64_value(in[i]);
		if (v[i] < 0 && in[i] == '=' && last && i >= 2 && (i == 3 || in[3] == '='))
			pad++, v[i] = 0;
		else if (v[i] < 0)
			return -EINVAL;
	}
	/* bits past the data must be zero: one text per value */
	if ((pad == 2 && (v[1] & 15)) || (pad == 1 && (v[2] & 3)))
		return -EINVAL;
	o[0] = v[0] << 2 | v[1] >> 4;
	o[1] = v[1] << 4 | v[2] >> 2;
	o[2] = v[2] << 6 | v[3];
	*n = 3 - pad;
	return 0;
}

int etcd_b64_decode(const char *in, void **out, size_t *len)
{
	size_t n = strlen(in), i, o = 0, got;
	unsigned char *s;

	if (n % 4)
		return -EINVAL;
	s = malloc(n / 4 * 3 + 1);
	if (!s)
		return -ENOMEM;
	for (i = 0; i < n; i += 4) {
		if (b64_group(in + i, i + 4 == n, s + o, &got)) {
			free(s);
			return -EINVAL;
		}
		o += got;
	}
	s[o] = 0;
	*out = s;
	*len = o;
	return 0;
}

int etcd_prefix_end(const char *prefix, char **end)
{
	size_t n = strlen(prefix);
	char *s;

	while (n && (unsigned char)prefix[n - 1] == 0xff)
		n--;
	if (!n)
		return -EINVAL;	/* every key: not a prefix this client needs */
	s = strndup(prefix, n);
	if (!s)
		return -ENOMEM;
	s[n - 1]++;
	*end = s;
	return 0;
}

int etcd_key_prefix(const char *p, char *out, size_t len, struct chlb_err *e)
{
	size_t n = strlen(p);

	if (!n || p[0] != '/' || n + 2 > len)
		return err_usage(e, -EINVAL, "--prefix '%s': a key prefix starting with '/', "
				 "at most %zu bytes", p, len - 2);
	snprintf(out, len, "%s%s", p, p[n - 1] == '/' ? "" : "/");
	return 0;
}

/* ---- requests ----------------------------------------------------------- */

static int add_b64(json_object *o, const char *name, const char *s)
{
	char *b;
	int err = etcd_b64_encode(s, strlen(s), &b);

	if (err)
		return err;
	json_object_object_add(o, name, json_object_new_string(b));
	free(b);
	return 0;
}

static int add_key(json_object *o, const char *key, bool prefix)
{
	char *end = NULL;
	int err;

	err = add_b64(o, "key", key);
	if (!err && prefix)
		err = etcd_prefix_end(key, &end);
	if (!err && prefix)
		err = add_b64(o, "range_end", end);
	free(end);
	return err;
}

static int req_fill(json_object *o, const struct etcd_req *q)
{
	int err = 0;

	switch (q->call) {
	case ETCD_RANGE:
		err = add_key(o, q->key, q->prefix);
		if (q->revision)
			json_object_object_add(o, "revision", json_object_new_int64(q->revision));
		break;
	case ETCD_PUT:
		err = add_key(o, q->key, false);
		if (!err)
			err = add_b64(o, "value", q->value ? q->value : "");
		if (q->lease)
			json_object_object_add(o, "lease", json_object_new_int64(q->lease));
		break;
	case ETCD_DELETE:
		err = add_key(o, q->key, q->prefix);
		break;
	case ETCD_GRANT:
		json_object_object_add(o, "TTL", json_object_new_int64(q->ttl));
		break;
	case ETCD_KEEPALIVE:
	case ETCD_REVOKE:
		json_object_object_add(o, "ID", json_object_new_int64(q->lease));
		break;
	}
	return err;
}

static int json_text(json_object *o, char **body)
{
	const char *t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	*body = t ? strdup(t) : NULL;
	return *body ? 0 : -ENOMEM;
}

int etcd_req_json(const struct etcd_req *q, char **body)
{
	json_object *o = json_object_new_object();
	int err;

	if (!o)
		return -ENOMEM;
	if ((q->call == ETCD_RANGE || q->call == ETCD_PUT || q->call == ETCD_DELETE) && !q->key)
		err = -EINVAL;
	else
		err = req_fill(o, q);
	if (!err)
		err = json_text(o, body);
	json_object_put(o);
	return err;
}

static const char *call_path(enum etcd_call call)
{
	static const char *const paths[] = {
		[ETCD_RANGE] = "/v3/kv/range",		[ETCD_PUT] = "/v3/kv/put",
		[ETCD_DELETE] = "/v3/kv/deleterange",	[ETCD_GRANT] = "/v3/lease/grant",
		[ETCD_KEEPALIVE] = "/v3/lease/keepalive", [ETCD_REVOKE] = "/v3/lease/revoke",
	};

	return paths[call];
}

/* ---- replies ------------------------------------------------------------ */

/* The gateway writes 64-bit integers as strings; accept numbers too. */
static int64_t j_i64(json_object *o, const char *name)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, name, &v))
		return 0;
	if (json_object_is_type(v, json_type_string))
		return strtoll(json_object_get_string(v), NULL, 10);
	return json_object_get_int64(v);
}

static uint64_t j_u64(json_object *o, const char *name)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, name, &v))
		return 0;
	if (json_object_is_type(v, json_type_string))
		return strtoull(json_object_get_string(v), NULL, 10);
	return json_object_get_uint64(v);
}

static json_object *j_get(json_object *o, const char *name)
{
	json_object *v = NULL;

	return o && json_object_object_get_ex(o, name, &v) ? v : NULL;
}

/* A base64 field as a C string; absent is "" (the gateway omits empty values). */
static int j_b64(json_object *o, const char *name, char **out)
{
	json_object *v = j_get(o, name);
	size_t len;
	void *p;
	int err;

	if (!v) {
		*out = strdup("");
		return *out ? 0 : -ENOMEM;
	}
	if (!json_object_is_type(v, json_type_string))
		return -EPROTO;
	err = etcd_b64_decode(json_object_get_string(v), &p, &len);
	if (err)
		return err == -ENOMEM ? err : -EPROTO;
	if (strlen(p) != len) {		/* a NUL inside: not a chlb key or value */
		free(p);
		return -EPROTO;
	}
	*out = p;
	return 0;
}

static int parse_kv(json_object *o, struct etcd_kv *kv)
{
	int err;

	err = j_b64(o, "key", &kv->key);
	if (!err)
		err = j_b64(o, "value", &kv->value);
	kv->mod_revision = j_i64(o, "mod_revision");
	kv->lease = j_i64(o, "lease");
	return err;
}

static void kv_free(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	kv->key = kv->value = NULL;
}

static int parse_kvs(json_object *arr, struct etcd_reply *r)
{
	size_t i, n = arr ? json_object_array_length(arr) : 0;
	int err = 0;

	if (!n)
		return 0;
	r->kvs = calloc(n, sizeof(*r->kvs));
	if (!r->kvs)
		return -ENOMEM;
	for (i = 0; !err && i < n; i++, r->nkvs++)
		err = parse_kv(json_object_array_get_idx(arr, i), &r->kvs[i]);
	return err;
}

void etcd_reply_free(struct etcd_reply *r)
{
	int i;

	for (i = 0; i < r->nkvs; i++)
		kv_free(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

/* gRPC's status codes as errno: what a caller acts upon. */
static int grpc_errno(int code, const char *msg)
{
	switch (code) {
	case 3: return -EINVAL;
	case 4: return -ETIMEDOUT;
	case 5: return -ENOENT;
	case 7: case 16: return -EACCES;
	case 11: return strstr(msg, "compacted") ? -ESTALE : -ERANGE;
	case 14: return -EAGAIN;
	default: return -EIO;
	}
}

/*
 * {"error": "text", "code": N} from unary calls, {"error": {"grpc_code":
 * N, "message": "text"}} inside streams.
 */
static int parse_error(json_object *root, json_object *err, char *msg, size_t len)
{
	json_object *m = j_get(err, "message");
	const char *text;
	int code;

	if (json_object_is_type(err, json_type_object)) {
		code = j_i64(err, "grpc_code") ?: j_i64(err, "code");
		text = m ? json_object_get_string(m) : "error";
	} else {
		code = j_i64(root, "code");
		text = json_object_get_string(err);
	}
	snprintf(msg, len, "%s", text);
	return grpc_errno(code, text);
}

static int parse_text(const char *json, json_object **root, char *msg, size_t len)
{
	enum json_tokener_error jerr;

	*root = json_tokener_parse_verbose(json, &jerr);
	if (*root && json_object_is_type(*root, json_type_object))
		return 0;
	json_object_put(*root);
	*root = NULL;
	snprintf(msg, len, "not a JSON object from etcd: %.64s", json);
	return -EPROTO;
}

static int reply_fill(enum etcd_call call, json_object *o, struct etcd_reply *r, char *msg,
		      size_t len)
{
	json_object *hdr = j_get(o, "header");

	r->revision = j_i64(hdr, "revision");
	r->cluster_id = j_u64(hdr, "cluster_id");
	r->lease = j_i64(o, "ID");
	r->ttl = j_i64(o, "TTL");
	r->deleted = j_i64(o, "deleted");
	if (call == ETCD_KEEPALIVE && r->ttl <= 0) {
		snprintf(msg, len, "lease %lld not found", (long long)r->lease);
		return -ENOENT;
	}
	if (call == ETCD_RANGE && parse_kvs(j_get(o, "kvs"), r)) {
		snprintf(msg, len, "a key or value that is not base64 text");
		return -EPROTO;
	}
	return 0;
}

int etcd_parse_reply(enum etcd_call call, const char *json, struct etcd_reply *r, char *msg,
		     size_t len)
{
	json_object *root, *err, *res;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = parse_text(json, &root, msg, len);
	if (rc)
		return rc;
	if ((err = j_get(root, "error")))
		rc = parse_error(root, err, msg, len);
	else if ((res = j_get(root, "result")))	/* a stream's reply (keepalive) */
		rc = (err = j_get(res, "error")) ? parse_error(res, err, msg, len) :
						   reply_fill(call, res, r, msg, len);
	else
		rc = reply_fill(call, root, r, msg, len);
	if (rc)
		etcd_reply_free(r);
	json_object_put(root);
	return rc;
}

/* ---- watch messages ----------------------------------------------------- */

static int parse_events(json_object *arr, struct etcd_watch_msg *m)
{
	size_t i, n = arr ? json_object_array_length(arr) : 0;
	struct etcd_event *ev;
	json_object *o, *t;
	int err = 0;

	if (!n)
		return 0;
	ev = calloc(n, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	m->ev = ev;
	for (i = 0; !err && i < n; i++, m->nev++) {
		o = json_object_array_get_idx(arr, i);
		t = j_get(o, "type");	/* absent: PUT, protobuf's default */
		ev[i].type = t && !strcmp(json_object_get_string(t), "DELETE") ? ETCD_EV_DELETE :
									      ETCD_EV_PUT;
		err = parse_kv(j_get(o, "kv"), &ev[i].kv);
	}
	if (!err && m->nev)
		m->revision = ev[m->nev - 1].kv.mod_revision;
	return err;
}

void etcd_watch_msg_free(struct etcd_watch_msg *m)
{
	struct etcd_event *ev = (struct etcd_event *)m->ev;
	int i;

	for (i = 0; i < m->nev; i++)
		kv_free(&ev[i].kv);
	free(ev);
	memset(m, 0, sizeof(*m));
}

static int watch_result(json_object *res, struct etcd_watch_msg *m, int64_t *compact, char *msg,
			size_t len)
{
	json_object *hdr = j_get(res, "header"), *v;

	m->revision = j_i64(hdr, "revision");
	m->cluster_id = j_u64(hdr, "cluster_id");
	*compact = j_i64(res, "compact_revision");
	if ((v = j_get(res, "canceled")) && json_object_get_boolean(v)) {
		v = j_get(res, "cancel_reason");
		snprintf(msg, len, "watch canceled%s%s", v ? ": " : "",
			 v ? json_object_get_string(v) : "");
		if (*compact)
			snprintf(msg, len, "revision compacted (to %lld)", (long long)*compact);
		return *compact ? -ESTALE : -ECANCELED;
	}
	m->created = (v = j_get(res, "created")) && json_object_get_boolean(v);
	if (parse_events(j_get(res, "events"), m)) {
		snprintf(msg, len, "an event that is not base64 text");
		return -EPROTO;
	}
	m->progress = !m->created && !m->nev;
	return 0;
}

int etcd_parse_watch(const char *line, struct etcd_watch_msg *m, int64_t *compact, char *msg,
		     size_t len)
{
	json_object *root, *res, *err;
	int rc;

	memset(m, 0, sizeof(*m));
	*compact = 0;
	rc = parse_text(line, &root, msg, len);
	if (rc)
		return rc;
	if ((err = j_get(root, "error")))
		rc = parse_error(root, err, msg, len);
	else if (!(res = j_get(root, "result")))
		rc = -EPROTO, snprintf(msg, len, "not a watch message: %.64s", line);
	else
		rc = watch_result(res, m, compact, msg, len);
	if (rc)
		etcd_watch_msg_free(m);
	json_object_put(root);
	return rc;
}

/* ---- transfers ---------------------------------------------------------- */

static size_t on_unary(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t need;
	char *nb;

	size *= n;
	need = x->len + size + 1;
	if (need > ETCD_MAX_BODY)
		return 0;
	if (need > x->cap) {
		nb = realloc(x->buf, need * 2);
		if (!nb)
			return 0;
		x->buf = nb;
		x->cap = need * 2;
	}
	memcpy(x->buf + x->len, data, size);
	x->len += size;
	x->buf[x->len] = 0;
	return size;
}

/* One complete line of a watch; non-zero ends the stream. */
static int watch_line(struct xfer *x, const char *line)
{
	struct etcd_watch *w = x->w;
	struct etcd_watch_msg m;
	int err;

	err = etcd_parse_watch(line, &m, &w->compact, w->why, sizeof(w->why));
	if (err) {
		w->err = err;
		return err;
	}
	w->established = true;
	if (w->ops->msg(w->arg, &m)) {
		w->err = -ECANCELED;
		snprintf(w->why, sizeof(w->why), "ended by its owner");
	}
	etcd_watch_msg_free(&m);
	return w->err;
}

static size_t on_watch(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t got = on_unary(data, size, n, arg), off = 0;
	char *nl;

	if (!got)
		return 0;
	while ((nl = memchr(x->buf + off, '\n', x->len - off))) {
		*nl = 0;
		if (watch_line(x, x->buf + off))
			return 0;	/* aborts the transfer */
		off = nl + 1 - x->buf;
	}
	memmove(x->buf, x->buf + off, x->len - off + 1);
	x->len -= off;
	return got;
}

/*
 * Keepalive probes on every connection: a watch may stay silent for hours,
 * and a peer gone without a FIN (a dead host, a cut link) is found within
 * about 15 s, as is unacknowledged data.
 */
static int on_socket(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	int on = 1, idle = 5, intvl = 3, cnt = 3;
	unsigned int user_ms = 15000;

	(void)arg;
	(void)purpose;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof(user_ms));
	return CURL_SOCKOPT_OK;
}

/* The URL of the endpoint this try goes to; no proxy, no redirect. */
static int xfer_target(struct xfer *x)
{
	char url[512];

	snprintf(url, sizeof(url), "%s%s", x->c->urls[x->c->cur], x->path);
	x->len = 0;
	x->errbuf[0] = 0;
	return curl_easy_setopt(x->easy, CURLOPT_URL, url) ? -EINVAL : 0;
}

static int xfer_opts(struct xfer *x)
{
	CURL *h = x->easy;
	int rc = 0;

	rc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(h, CURLOPT_PROXY, "");
	rc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body);
	rc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->c->hdrs);
	rc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)ETCD_CONNECT_MS);
	if (!x->w)
		rc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)ETCD_TIMEOUT_MS);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, x->w ? on_watch : on_unary);
	rc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	rc |= curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, on_socket);
	rc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	rc |= curl_easy_setopt(h, CURLOPT_PRIVATE, (char *)x);
	return rc ? -EINVAL : xfer_target(x);
}

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	free(x->w);
	free(x->body);
	free(x->buf);
	free(x);
}

/* A transfer of body to path; it owns body and w (a watch, or NULL) even on error. */
static int xfer_new(struct etcd *c, const char *path, char *body, struct etcd_watch *w,
		    struct xfer **xp)
{
	struct xfer *x = calloc(1, sizeof(*x));
	int err;

	if (!x) {
		free(body);
		free(w);
		return -ENOMEM;
	}
	x->c = c;
	x->path = path;
	x->body = body;
	x->w = w;
	x->easy = curl_easy_init();
	err = x->easy ? xfer_opts(x) : -ENOMEM;
	if (err) {
		xfer_free(x);
		return err;
	}
	*xp = x;
	return 0;
}

/* Could another endpoint answer instead? Connection failures and 502/503. */
static bool try_next(struct xfer *x, CURLcode rc)
{
	long status = 0;

	if (rc == CURLE_WRITE_ERROR || (x->w && x->w->established))
		return false;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	return rc != CURLE_OK || status == 502 || status == 503;
}

static int transport_err(struct xfer *x, CURLcode rc, char *msg, size_t len)
{
	long oserr = 0;

	curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
	snprintf(msg, len, "etcd at %.200s: %.200s", x->c->urls[x->c->cur],
		 x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return -ETIMEDOUT;
	if (rc == CURLE_COULDNT_CONNECT)
		return oserr ? -oserr : -ECONNREFUSED;
	if (rc == CURLE_OK)		/* 502/503 from every endpoint */
		return -EAGAIN;
	return -EIO;
}

/* The outcome of a finished unary transfer. */
static int unary_result(struct xfer *x, CURLcode rc, struct etcd_reply *r, char *msg, size_t len)
{
	int err;

	memset(r, 0, sizeof(*r));
	if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR)
		return transport_err(x, rc, msg, len);
	if (rc == CURLE_WRITE_ERROR) {	/* on_unary refused more */
		snprintf(msg, len, "etcd at %s: a reply over %u bytes", x->c->urls[x->c->cur],
			 ETCD_MAX_BODY);
		return -EFBIG;
	}
	err = etcd_parse_reply(x->call, x->buf ? x->buf : "", r, msg, len);
	if (err && err != -EPROTO && err != -ENOMEM) {
		char tmp[ETCD_MSG_LEN];

		snprintf(tmp, sizeof(tmp), "%s", msg);
		snprintf(msg, len, "etcd at %.200s: %.200s", x->c->urls[x->c->cur], tmp);
	}
	return err;
}

static void next_endpoint(struct etcd *c)
{
	c->cur = (c->cur + 1) % c->nurls;
}

/* ---- the client --------------------------------------------------------- */

static int add_url(struct etcd *c, const char *u, size_t n, struct chlb_err *e)
{
	const char *host;
	char *s;

	if (c->nurls == ETCD_MAX_ENDPOINTS)
		return err_usage(e, -EINVAL, "--etcd: more than %d endpoints", ETCD_MAX_ENDPOINTS);
	s = strndup(u, n);
	if (!s)
		return err_fail(e, -ENOMEM, "out of memory");
	while (n && s[n - 1] == '/')	/* "http://h:2379/" is that endpoint */
		s[--n] = 0;
	host = !strncmp(s, "http://", 7) ? s + 7 : !strncmp(s, "https://", 8) ? s + 8 : NULL;
	if (!host || !*host || strchr(host, '/') || strchr(host, '?') || strchr(host, '@')) {
		err_usage(e, -EINVAL, "--etcd: '%s' is not an endpoint URL "
			  "(http://ADDR:PORT or https://ADDR:PORT)", s);
		free(s);
		return -EINVAL;
	}
	c->urls[c->nurls++] = s;
	return 0;
}

static int parse_urls(struct etcd *c, const char *urls, struct chlb_err *e)
{
	const char *p = urls, *comma;
	int err = 0;

	while (!err) {
		comma = strchr(p, ',');
		err = add_url(c, p, comma ? (size_t)(comma - p) : strlen(p), e);
		if (!comma)
			break;
		p = comma + 1;
	}
	return err;
}

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct etcd *c = userp;
	uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);

	(void)easy;
	(void)socketp;
	if (what == CURL_POLL_REMOVE)
		ev = 0;
	return c->io.watch(c->io.arg, s, ev) ? -1 : 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct etcd *c = userp;

	(void)multi;
	c->timer_armed = timeout_ms >= 0;
	c->timer_due_ms = 0;
	if (c->timer_armed) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		c->timer_due_ms = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + timeout_ms;
	}
	return 0;
}

static int multi_new(struct etcd *c)
{
	int rc = 0;

	c->multi = curl_multi_init();
	if (!c->multi)
		return -ENOMEM;
	rc |= curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	rc |= curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	rc |= curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	rc |= curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	return rc ? -EINVAL : 0;
}

int etcd_new(const char *urls, const struct etcd_io *io, struct etcd **cp, struct chlb_err *e)
{
	struct etcd *c;
	int err;

	if (curl_global_init(CURL_GLOBAL_DEFAULT))	/* paired with etcd_free's cleanup */
		return err_fail(e, -ENOMEM, "cannot initialise libcurl");
	c = calloc(1, sizeof(*c));
	if (!c) {
		curl_global_cleanup();
		return err_fail(e, -ENOMEM, "out of memory");
	}
	err = parse_urls(c, urls, e);
	c->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (!err && !c->hdrs)
		err = err_fail(e, -ENOMEM, "out of memory");
	if (!err && io) {
		c->io = *io;
		c->async = true;
		err = multi_new(c);
		if (err)
			err_fail(e, err, "cannot set up libcurl: %s", strerror(-err));
	}
	if (err) {
		etcd_free(c);
		return err;
	}
	*cp = c;
	return 0;
}

static void unlink_xfer(struct xfer *x)
{
	struct etcd *c = x->c;

	*(x->prev ? &x->prev->next : &c->xfers) = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	if (c->multi)
		curl_multi_remove_handle(c->multi, x->easy);
}

void etcd_free(struct etcd *c)
{
	int i;

	if (!c)
		return;
	while (c->xfers) {
		struct xfer *x = c->xfers;

		unlink_xfer(x);
		xfer_free(x);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	curl_slist_free_all(c->hdrs);
	for (i = 0; i < c->nurls; i++)
		free(c->urls[i]);
	free(c);
	curl_global_cleanup();
}

const char *etcd_endpoint(const struct etcd *c)
{
	return c->urls[c->cur];
}

/* ---- blocking ----------------------------------------------------------- */

int etcd_do(struct etcd *c, const struct etcd_req *q, struct etcd_reply *r, struct chlb_err *e)
{
	char msg[ETCD_MSG_LEN], *body;
	struct xfer *x;
	CURLcode rc;
	int err;

	memset(r, 0, sizeof(*r));
	err = etcd_req_json(q, &body);
	if (!err)
		err = xfer_new(c, call_path(q->call), body, NULL, &x);
	if (err)
		return err_fail(e, err, "etcd request: %s", strerror(-err));
	x->call = q->call;
	for (;;) {
		rc = curl_easy_perform(x->easy);
		if (!try_next(x, rc) || ++x->tries >= c->nurls)
			break;
		next_endpoint(c);
		xfer_target(x);
	}
	err = unary_result(x, rc, r, msg, sizeof(msg));
	if (err)
		err_fail(e, err, "%s", msg);
	xfer_free(x);
	return err;
}

/* ---- non-blocking ------------------------------------------------------- */

static int xfer_add(struct etcd *c, struct xfer *x)
{
	if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK)
		return -ENOMEM;
	x->next = c->xfers;
	if (c->xfers)
		c->xfers->prev = x;
	c->xfers = x;
	return 0;
}

int etcd_start(struct etcd *c, const struct etcd_req *q, etcd_done_fn done, void *arg)
{
	struct xfer *x;
	char *body;
	int err;

	if (!c->async)
		return -EINVAL;
	err = etcd_req_json(q, &body);
	if (!err)
		err = xfer_new(c, call_path(q->call), body, NULL, &x);
	if (err)
		return err;
	x->call = q->call;
	x->done = done;
	x->arg = arg;
	err = xfer_add(c, x);
	if (err)
		xfer_free(x);
	return err;
}

static int watch_body(const char *key, bool prefix, int64_t start, char **body)
{
	json_object *o = json_object_new_object(), *cr = json_object_new_object();
	int err;

	if (!o || !cr) {
		json_object_put(o);
		json_object_put(cr);
		return -ENOMEM;
	}
	json_object_object_add(o, "create_request", cr);
	err = add_key(cr, key, prefix);
	if (start)
		json_object_object_add(cr, "start_revision", json_object_new_int64(start));
	json_object_object_add(cr, "progress_notify", json_object_new_boolean(1));
	if (!err)
		err = json_text(o, body);
	json_object_put(o);
	return err;
}

int etcd_watch(struct etcd *c, const char *key, bool prefix, int64_t start_revision,
	       const struct etcd_watch_ops *ops, void *arg, struct etcd_watch **wp)
{
	struct etcd_watch *w;
	struct xfer *x;
	char *body;
	int err;

	if (!c->async)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->ops = ops;
	w->arg = arg;
	err = watch_body(key, prefix, start_revision, &body);
	if (err) {
		free(w);
		return err;
	}
	err = xfer_new(c, "/v3/watch", body, w, &x);
	if (err)
		return err;
	err = xfer_add(c, x);
	if (err)
		xfer_free(x);
	else
		*wp = w;
	return err;
}

void etcd_watch_cancel(struct etcd *c, struct etcd_watch *w)
{
	struct xfer *x;

	for (x = c->xfers; x && x->w != w; x = x->next)
		;
	if (!x)
		return;
	unlink_xfer(x);
	xfer_free(x);
}

/* A watch is over: why, for its owner. */
static void watch_end(struct xfer *x, CURLcode rc)
{
	struct etcd_watch *w = x->w;
	char msg[ETCD_MSG_LEN];
	int err = w->err;

	if (!err && w->established) {
		err = -ECONNRESET;
		snprintf(msg, sizeof(msg), "the watch stream from %s ended", x->c->urls[x->c->cur]);
		next_endpoint(x->c);	/* that etcd went away: start elsewhere next time */
	} else if (!err && rc == CURLE_OK) {
		err = -EPROTO;
		snprintf(msg, sizeof(msg), "etcd at %s: HTTP answer without a watch",
			 x->c->urls[x->c->cur]);
	} else if (!err) {
		err = transport_err(x, rc, msg, sizeof(msg));
		next_endpoint(x->c);
	} else {
		snprintf(msg, sizeof(msg), "%s", w->why);
	}
	w->ops->ended(w->arg, err, w->compact, msg);
}

static void unary_end(struct xfer *x, CURLcode rc)
{
	char msg[ETCD_MSG_LEN] = "";
	struct etcd_reply r;
	int err;

	err = unary_result(x, rc, &r, msg, sizeof(msg));
	x->done(x->arg, err, &r, msg);
	etcd_reply_free(&r);
}

/* A transfer ended: another endpoint, or its owner's callback and free. */
static void finished(struct etcd *c, struct xfer *x, CURLcode rc)
{
	curl_multi_remove_handle(c->multi, x->easy);
	if (try_next(x, rc) && ++x->tries < c->nurls) {
		next_endpoint(c);
		if (!xfer_target(x) && curl_multi_add_handle(c->multi, x->easy) == CURLM_OK)
			return;
	}
	unlink_xfer(x);
	if (x->w)
		watch_end(x, rc);
	else
		unary_end(x, rc);
	xfer_free(x);
}

static void check_done(struct etcd *c)
{
	struct xfer *x;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		x = NULL;
		if (m->msg != CURLMSG_DONE ||
		    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x) || !x)
			continue;
		finished(c, x, m->data.result);
	}
}

void etcd_event(struct etcd *c, int fd, uint32_t events)
{
	int flags = 0, running;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(c->multi, fd, flags, &running);
	check_done(c);
}

int etcd_timeout(struct etcd *c)
{
	struct timespec ts;
	uint64_t now;

	if (!c->async || !c->timer_armed)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (c->timer_due_ms <= now)
		return 0;
	return c->timer_due_ms - now > INT_MAX ? INT_MAX : (int)(c->timer_due_ms - now);
}

void etcd_run(struct etcd *c)
{
	int running;

	if (!c->async || etcd_timeout(c) != 0)
		return;
	c->timer_armed = false;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}
