/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An etcd v3 client over its JSON gateway (POST /v3/kv/range, /v3/watch,
 * /v3/lease/grant ...; keys and values base64 on the wire), with libcurl
 * and json-c. Two ways to use it:
 *  - blocking (etcd_do), for commands: `chlb register`, `chlb cluster`;
 *  - non-blocking (etcd_start, etcd_watch) on its owner's event loop:
 *    curl's multi interface asks the owner to watch its sockets through
 *    struct etcd_io, and the owner hands readiness back (etcd_event) and
 *    runs curl's timer (etcd_timeout, etcd_run). Nothing here knows the
 *    loop, and no thread is started (curl resolves numeric addresses
 *    without its resolver thread).
 * Several endpoints: a request that cannot reach one (connect refused,
 * timeout, 503) is tried on the next; the client stays on the last one
 * that answered.
 */
#ifndef CHLB_NET_ETCD_H
#define CHLB_NET_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/err.h"

#define ETCD_MAX_ENDPOINTS	16
#define ETCD_TIMEOUT_MS		5000	/* a unary request on one endpoint */
#define ETCD_CONNECT_MS		1000	/* a connect to one endpoint */

struct etcd;

/* The owner's loop, for non-blocking use. */
struct etcd_io {
	void *arg;
	/* Watch fd for events (EPOLLIN | EPOLLOUT); 0: stop watching it. */
	int (*watch)(void *arg, int fd, uint32_t events);
};

/*
 * urls: "http://127.0.0.1:2379[,http://...]" (http or https, a host and
 * a port, no path); a bad list is a usage error naming the URL. io: NULL
 * for blocking use only.
 */
int etcd_new(const char *urls, const struct etcd_io *io, struct etcd **c, struct chlb_err *e);
/* Ends every transfer without calling its callback. */
void etcd_free(struct etcd *c);
/* The endpoint in use (for messages). */
const char *etcd_endpoint(const struct etcd *c);

enum etcd_call {
	ETCD_RANGE,		/* key (prefix: every key under it), revision (0: now) */
	ETCD_PUT,		/* key, value, lease (0: none) */
	ETCD_DELETE,		/* key (prefix) */
	ETCD_GRANT,		/* ttl -> lease, ttl */
	ETCD_KEEPALIVE,		/* lease -> ttl; -ENOENT when the lease is gone */
	ETCD_REVOKE,		/* lease; -ENOENT when it was gone already */
};

struct etcd_req {
	enum etcd_call call;
	const char *key;
	bool prefix;
	const char *value;
	int64_t revision;
	int64_t lease;
	int64_t ttl;
};

struct etcd_kv {
	char *key;		/* NUL-terminated (keys and values with a NUL are refused) */
	char *value;
	int64_t mod_revision;
	int64_t lease;
};

struct etcd_reply {
	int64_t revision;	/* the store's, from the header */
	uint64_t cluster_id;
	struct etcd_kv *kvs;	/* range: in key order */
	int nkvs;
	int64_t lease, ttl, deleted;
};

void etcd_reply_free(struct etcd_reply *r);

/*
 * Blocking: 0 with *r filled (free it with etcd_reply_free), or an error
 * with its message: -ENOENT lease not found, -ESTALE revision compacted,
 * -EINVAL refused by etcd, -ECONNREFUSED/-ETIMEDOUT/-EHOSTUNREACH no
 * endpoint answered, -EIO anything else.
 */
int etcd_do(struct etcd *c, const struct etcd_req *q, struct etcd_reply *r,
	    struct chlb_err *e);

/*
 * Non-blocking: done(arg, err, reply, message) later, from etcd_event()
 * or etcd_run(), never from etcd_start(); reply is freed after done
 * returns. done may start new requests.
 */
typedef void (*etcd_done_fn)(void *arg, int err, const struct etcd_reply *r, const char *msg);
int etcd_start(struct etcd *c, const struct etcd_req *q, etcd_done_fn done, void *arg);

enum etcd_event_type { ETCD_EV_PUT, ETCD_EV_DELETE };

struct etcd_event {
	enum etcd_event_type type;
	struct etcd_kv kv;	/* a DELETE has no value ("") */
};

/* One message of a watch stream. */
struct etcd_watch_msg {
	int64_t revision;	/* header: with events, the last event's; else the store's */
	uint64_t cluster_id;
	bool created;		/* the first message; no events */
	bool progress;		/* a progress notification: nothing changed up to revision */
	const struct etcd_event *ev;
	int nev;
};

struct etcd_watch;

/*
 * msg: each message in order, called from within the transfer (it must not
 * start, cancel or free anything of this client); return non-zero to end
 * the watch (ended() gets -ECANCELED).
 * ended: the stream is over: err -ESTALE with *compact_revision when
 * start_revision was compacted (read everything again), -ECONNRESET when
 * an established stream broke, a connect error when no endpoint answered,
 * -ECANCELED when msg asked. The watch is freed after ended() returns.
 */
struct etcd_watch_ops {
	int (*msg)(void *arg, const struct etcd_watch_msg *m);
	void (*ended)(void *arg, int err, int64_t compact_revision, const char *why);
};

/*
 * Watch key (prefix: every key under it) from start_revision, with
 * progress notifications. Non-blocking only.
 */
int etcd_watch(struct etcd *c, const char *key, bool prefix, int64_t start_revision,
	       const struct etcd_watch_ops *ops, void *arg, struct etcd_watch **w);
/* End a watch without calling ended() (not from inside msg()). */
void etcd_watch_cancel(struct etcd *c, struct etcd_watch *w);

/* The owner's loop: fd is ready with events (EPOLLIN, EPOLLOUT, EPOLLERR ...). */
void etcd_event(struct etcd *c, int fd, uint32_t events);
/* ms until etcd_run() is due (-1: not needed). */
int etcd_timeout(struct etcd *c);
void etcd_run(struct etcd *c);

/*
 * A key prefix as chlb's keys use it: starts with '/', ends with one
 * (added); at most len - 1 bytes. A usage error names what is wrong.
 */
int etcd_key_prefix(const char *p, char *out, size_t len, struct chlb_err *e);

/* ---- the wire format, for tests ------------------------------------- */

/* Standard base64 with padding; *out malloc'ed, NUL-terminated. */
int etcd_b64_encode(const void *in, size_t len, char **out);
/* Strict: bad characters or padding are -EINVAL; *out NUL-terminated. */
int etcd_b64_decode(const char *in, void **out, size_t *len);
/* The end of the range of every key starting with prefix ("" if none: all keys). */
int etcd_prefix_end(const char *prefix, char **end);
/* The request's JSON body (malloc'ed) for call q. */
int etcd_req_json(const struct etcd_req *q, char **body);
/*
 * A unary reply's JSON into r; a body of {"error": ...} gives the error
 * and msg (len bytes).
 */
int etcd_parse_reply(enum etcd_call call, const char *json, struct etcd_reply *r, char *msg,
		     size_t len);
/*
 * One line of a watch stream: 0 with m filled (events malloc'ed: free
 * with etcd_watch_msg_free), or -ESTALE with *compact (canceled on
 * compaction), -ECANCELED (canceled otherwise), -EPROTO (not a watch
 * message), with msg.
 */
int etcd_parse_watch(const char *line, struct etcd_watch_msg *m, int64_t *compact, char *msg,
		     size_t len);
void etcd_watch_msg_free(struct etcd_watch_msg *m);

#endif /* CHLB_NET_ETCD_H */
