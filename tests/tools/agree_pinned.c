// SPDX-License-Identifier: GPL-2.0
/*
 * agree_pinned [--lookup K] [--digest] PIN_DIR [N=10000]: does a pinned
 * chlb instance forward the way its live maps say?
 *
 * Reads the pinned maps through libbpf and include/chlb/shared.h only (no
 * controller code, so it judges the controller from outside) and, for every
 * VIP in chlb_vips:
 *  (a) every slot of the VIP's live table is CHLB_NO_BACKEND or an in-use,
 *      non-draining backend of this VIP (nothing forwarded outside the VIP,
 *      nothing kept for a deleted or draining backend);
 *  (b) N pseudo-random clients (fixed seed) send a TCP SYN (UDP for udp
 *      VIPs) through the pinned program (BPF_PROG_TEST_RUN); the verdict
 *      must be XDP_TX with the slot's backend's MAC as destination and the
 *      interface's as source, the rest of the frame untouched, or XDP_DROP
 *      when the slot names no in-use backend;
 *  (c) one summary line per VIP; exit 1 on any mismatch (the first few are
 *      printed);
 *  (d) with --lookup K, K of those clients per VIP also go through
 *      `$CHLB -d PIN_DIR -j lookup VIP CLIENT:PORT`, whose backend and MAC
 *      must be the program's choice (lookup reads the live table).
 * Around them, the instance as a whole: VIP ids unique, no in-use backend
 * outside every VIP, the program's VIP index (chlb_vip_index) naming
 * exactly the VIPs of chlb_vips with their ids.
 *
 * --digest prints "digest VIP HEX" per VIP: a hash of the live table as
 * (address, MAC) per slot, independent of backend ids, so two instances
 * given the same configuration print the same digests.
 *
 * The tool runs frames through the live program: it adds to the per-CPU
 * counters, and for UDP it first erases from the flow table the entries of
 * its own test clients (so every frame takes the slot table, as a new flow
 * would; a TCP SYN always does).
 *
 * Exit status: 0 agree, 1 mismatch, 2 usage or nothing pinned to judge.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include <linux/bpf.h>

#include "chlb/shared.h"
#include "../helpers/pkt.h"

#define DEFAULT_TUPLES	10000
#define SHOW_MAX	5	/* mismatches printed per kind and VIP */
#define TUPLE_SEED	0x5eedfa17c0ffee00ULL
#define DIGEST_NONE	0xff

struct vip {
	struct chlb_vip_key key;
	struct chlb_vip_info info;
	char name[64];		/* ADDR:PORT/PROTO, as chlb prints it */
	__u32 *table;		/* copy of the live table; NULL: the VIP has none */
};

struct inst {
	const char *pin_dir;
	int vips_fd, tables_fd, backends_fd, config_fd, flows_fd, index_fd, prog_fd;
	struct chlb_config cfg;
	__u32 max_backends;	/* chlb_backends' entries */
	__u32 flow_buckets;	/* chlb_flows' entries */
	struct chlb_backend *backends;
	struct vip *vips;
	int nvips;
	long mismatches;	/* everything that is wrong, all kinds */
};

struct opts {
	int tuples;
	int lookups;
	bool digest;
	const char *chlb;
};

static void bad(struct inst *in, long *shown, const char *fmt, ...)
{
	va_list ap;

	in->mismatches++;
	if (shown && (*shown)++ >= SHOW_MAX)
		return;
	printf("MISMATCH: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* ---- opening the pins ------------------------------------------------ */

static int map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len);
}

/* A pinned map, checked for type and key/value sizes like bpftool does. */
static int open_map(const char *dir, const char *name, __u32 type, __u32 ksz, __u32 vsz,
		    __u32 *entries, bool optional)
{
	struct bpf_map_info info;
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		if (!optional)
			printf("not attached: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (map_info(fd, &info) || info.type != type || info.key_size != ksz ||
	    (vsz && info.value_size != vsz)) {
		printf("not chlb's: %s has type %u key %u value %u, expected %u/%u/%u\n", path,
		       info.type, info.key_size, info.value_size, type, ksz, vsz);
		close(fd);
		return -1;
	}
	if (entries)
		*entries = info.max_entries;
	return fd;
}

static void print_prog(struct inst *in)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (!bpf_obj_get_info_by_fd(in->prog_fd, &info, &len))
		printf("prog id %u\n", info.id);
	if (info.type != BPF_PROG_TYPE_XDP)
		bad(in, NULL, "%s/prog is a program of type %u, not XDP", in->pin_dir, info.type);
}

static int open_pins(struct inst *in)
{
	const char *d = in->pin_dir;
	char path[512];
	__u32 zero = 0;

	snprintf(path, sizeof(path), "%s/prog", d);
	in->prog_fd = bpf_obj_get(path);
	if (in->prog_fd < 0)
		printf("not attached: cannot open %s: %s\n", path, strerror(errno));
	else
		print_prog(in);
	in->vips_fd = open_map(d, CHLB_MAP_VIPS, BPF_MAP_TYPE_HASH, sizeof(struct chlb_vip_key),
			       sizeof(struct chlb_vip_info), NULL, false);
	in->tables_fd = open_map(d, CHLB_MAP_TABLES, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, NULL, false);
	in->backends_fd = open_map(d, CHLB_MAP_BACKENDS, BPF_MAP_TYPE_ARRAY, 4,
				   sizeof(struct chlb_backend), &in->max_backends, false);
	in->config_fd = open_map(d, CHLB_MAP_CONFIG, BPF_MAP_TYPE_ARRAY, 4,
				 sizeof(struct chlb_config), NULL, false);
	in->flows_fd = open_map(d, CHLB_MAP_FLOWS, BPF_MAP_TYPE_ARRAY, 4,
				sizeof(struct chlb_flow_bucket), &in->flow_buckets, false);
	in->index_fd = open_map(d, CHLB_MAP_VIP_INDEX, BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, NULL, true);
	if (in->vips_fd < 0 || in->tables_fd < 0 || in->backends_fd < 0 || in->config_fd < 0 ||
	    in->flows_fd < 0 || in->prog_fd < 0)
		return -1;
	if (bpf_map_lookup_elem(in->config_fd, &zero, &in->cfg)) {
		printf("cannot read %s/%s: %s\n", d, CHLB_MAP_CONFIG, strerror(errno));
		return -1;
	}
	if (!in->cfg.table_size || in->cfg.table_size > CHLB_MAX_TABLE_SIZE) {
		printf("chlb_config: table_size %u is not a table size\n", in->cfg.table_size);
		return -1;
	}
	if (in->cfg.max_backends != in->max_backends)
		bad(in, NULL, "chlb_config says %u backends, %s has %u", in->cfg.max_backends,
		    CHLB_MAP_BACKENDS, in->max_backends);
	return 0;
}

static void close_pins(struct inst *in)
{
	int fds[] = { in->vips_fd, in->tables_fd, in->backends_fd, in->config_fd,
		      in->flows_fd, in->index_fd, in->prog_fd };
	size_t i;
	int v;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	for (v = 0; v < in->nvips; v++)
		free(in->vips[v].table);
	free(in->vips);
	free(in->backends);
}

/* ---- reading the maps ------------------------------------------------ */

static void format_addr(const __u8 *a, char *buf, size_t len)
{
	static const __u8 mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (!memcmp(a, mapped, sizeof(mapped)))
		inet_ntop(AF_INET, a + 12, buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
}

static void format_vip(const struct chlb_vip_key *k, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	const char *proto = k->proto == IPPROTO_TCP ? "tcp" : k->proto == IPPROTO_UDP ? "udp" : "?";

	format_addr(k->addr, a, sizeof(a));
	if (k->family == CHLB_FAMILY_INET6)
		snprintf(buf, len, "[%s]:%u/%s", a, ntohs(k->port), proto);
	else
		snprintf(buf, len, "%s:%u/%s", a, ntohs(k->port), proto);
}

static void format_mac(const __u8 *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static int read_backends(struct inst *in)
{
	__u32 id;

	in->backends = calloc(in->max_backends, sizeof(*in->backends));
	if (!in->backends)
		return -ENOMEM;
	for (id = 0; id < in->max_backends; id++)
		if (bpf_map_lookup_elem(in->backends_fd, &id, &in->backends[id])) {
			printf("cannot read backend %u: %s\n", id, strerror(errno));
			return -errno;
		}
	return 0;
}

static int cmp_vip(const void *a, const void *b)
{
	return memcmp(&((const struct vip *)a)->key, &((const struct vip *)b)->key,
		      sizeof(struct chlb_vip_key));
}

static int read_vips(struct inst *in)
{
	struct chlb_vip_key k, next, *prev = NULL;
	struct vip *v;
	int cap = 16;

	in->vips = calloc(cap, sizeof(*in->vips));
	if (!in->vips)
		return -ENOMEM;
	while (!bpf_map_get_next_key(in->vips_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (in->nvips == cap) {
			v = realloc(in->vips, 2 * cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			in->vips = v;
			cap *= 2;
		}
		v = &in->vips[in->nvips];
		memset(v, 0, sizeof(*v));
		v->key = k;
		if (bpf_map_lookup_elem(in->vips_fd, &k, &v->info))
			continue;	/* deleted under us: not ours to judge */
		format_vip(&k, v->name, sizeof(v->name));
		in->nvips++;
	}
	qsort(in->vips, in->nvips, sizeof(*in->vips), cmp_vip);
	return 0;
}

/*
 * The VIP's live table: the inner map at chlb_tables[id], copied out of its
 * mapping (where an array stores element i at i * round_up(value_size, 8))
 * or, if it cannot be mapped, read element by element.
 */
static int read_table(struct inst *in, struct vip *v)
{
	__u32 inner_id, m = in->cfg.table_size, s;
	long page = sysconf(_SC_PAGESIZE);
	struct bpf_map_info info;
	size_t len;
	int fd, err = 0;
	__u8 *p;

	if (bpf_map_lookup_elem(in->tables_fd, &v->info.id, &inner_id))
		return errno == ENOENT ? 0 : -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0 || map_info(fd, &info)) {
		err = -errno;
		goto out;
	}
	if (info.type != BPF_MAP_TYPE_ARRAY || info.value_size != 4 || info.max_entries != m) {
		bad(in, NULL, "%s: live table (map %u) has type %u, %u entries of %u bytes; "
			      "expected an array of %u ids", v->name, inner_id, info.type,
		    info.max_entries, info.value_size, m);
		goto out;
	}
	v->table = calloc(m, sizeof(*v->table));
	if (!v->table) {
		err = -ENOMEM;
		goto out;
	}
	len = ((size_t)m * 8 + page - 1) / page * page;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED) {
		for (s = 0; s < m; s++)
			memcpy(&v->table[s], p + (size_t)s * 8, 4);
		munmap(p, len);
		goto out;
	}
	for (s = 0; s < m && !err; s++)
		if (bpf_map_lookup_elem(fd, &s, &v->table[s]))
			err = -errno;
out:
	if (fd >= 0)
		close(fd);
	return err;
}

/* The backend the program forwards a slot to, or NULL (it drops). */
static const struct chlb_backend *slot_backend(const struct inst *in, const struct vip *v,
					       __u32 slot)
{
	__u32 id;

	if (!v->table)
		return NULL;
	id = v->table[slot];
	if (id >= in->max_backends || !(in->backends[id].flags & CHLB_BACKEND_F_IN_USE))
		return NULL;
	return &in->backends[id];
}

/* ---- whole-instance checks ------------------------------------------- */

static bool vip_id_known(const struct inst *in, __u32 id)
{
	int i;

	for (i = 0; i < in->nvips; i++)
		if (in->vips[i].info.id == id)
			return true;
	return false;
}

static void check_instance(struct inst *in)
{
	char a[INET6_ADDRSTRLEN];
	long shown = 0;
	__u32 id;
	int i, j;

	for (i = 0; i < in->nvips; i++)
		for (j = i + 1; j < in->nvips; j++)
			if (in->vips[i].info.id == in->vips[j].info.id)
				bad(in, NULL, "VIPs %s and %s share id %u", in->vips[i].name,
				    in->vips[j].name, in->vips[i].info.id);
	for (id = 0; id < in->max_backends; id++) {
		const struct chlb_backend *b = &in->backends[id];

		if (!(b->flags & CHLB_BACKEND_F_IN_USE) || vip_id_known(in, b->vip_id))
			continue;
		format_addr(b->addr, a, sizeof(a));
		bad(in, &shown, "backend %u (%s) is in use for VIP id %u, which no VIP has "
				"(orphan)", id, a, b->vip_id);
	}
}

static const struct vip *find_vip(const struct inst *in, const struct chlb_vip_key *k)
{
	int i;

	for (i = 0; i < in->nvips; i++)
		if (!memcmp(&in->vips[i].key, k, sizeof(*k)))
			return &in->vips[i];
	return NULL;
}

/*
 * The program finds VIPs in chlb_vip_index, not in chlb_vips: it must hold
 * exactly chlb_vips' VIPs with their ids. (A VIP missing from it shows up
 * in the frames of (b) as XDP_PASS; one only in it would be served.)
 */
static void check_index(struct inst *in)
{
	struct chlb_vip_slot slot;
	struct bpf_map_info info;
	__u32 zero = 0, inner_id, s;
	char name[64];
	long shown = 0;
	int fd;

	if (in->index_fd < 0 || bpf_map_lookup_elem(in->index_fd, &zero, &inner_id))
		return;		/* no index yet: the program searches chlb_vips */
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0 || map_info(fd, &info) || info.value_size != sizeof(slot)) {
		bad(in, NULL, "cannot read the VIP index (map %u)", inner_id);
		if (fd >= 0)
			close(fd);
		return;
	}
	for (s = 0; s < info.max_entries; s++) {
		const struct vip *v;

		if (bpf_map_lookup_elem(fd, &s, &slot) || !slot.key.family)
			continue;
		v = find_vip(in, &slot.key);
		format_vip(&slot.key, name, sizeof(name));
		if (!v)
			bad(in, &shown, "VIP index slot %u serves %s (id %u), which is not in "
					"chlb_vips", s, name, slot.info.id);
		else if (v->info.id != slot.info.id)
			bad(in, &shown, "VIP index slot %u gives %s id %u, chlb_vips id %u", s, name,
			    slot.info.id, v->info.id);
	}
	close(fd);
}

/* ---- (a): the live table names only this VIP's usable backends ---------- */

static void check_table(struct inst *in, const struct vip *v, int *nbackends, __u32 *empty)
{
	__u32 m = in->cfg.table_size, s, id;
	char *seen = calloc(in->max_backends, 1);
	long shown = 0;

	*nbackends = 0;
	*empty = 0;
	if (!v->table || !seen) {
		*empty = m;
		free(seen);
		return;
	}
	for (s = 0; s < m; s++) {
		const struct chlb_backend *b;

		id = v->table[s];
		if (id == CHLB_NO_BACKEND) {
			(*empty)++;
			continue;
		}
		if (id >= in->max_backends) {
			bad(in, &shown, "%s slot %u: id %u is beyond the %u backends", v->name, s,
			    id, in->max_backends);
			continue;
		}
		b = &in->backends[id];
		if (!(b->flags & CHLB_BACKEND_F_IN_USE))
			bad(in, &shown, "%s slot %u: backend %u is not in use (deleted)", v->name,
			    s, id);
		else if (b->vip_id != v->info.id)
			bad(in, &shown, "%s slot %u: backend %u belongs to VIP id %u, not %u",
			    v->name, s, id, b->vip_id, v->info.id);
		else if (b->flags & CHLB_BACKEND_F_DRAINING)
			bad(in, &shown, "%s slot %u: backend %u is draining but owns the slot",
			    v->name, s, id);
		else if (!seen[id]) {
			seen[id] = 1;
			(*nbackends)++;
		}
	}
	free(seen);
}

static __u64 table_digest(const struct inst *in, const struct vip *v)
{
	__u64 h = 0xcbf29ce484222325ULL;
	__u32 s;
	int i;

	for (s = 0; s < in->cfg.table_size; s++) {
		const struct chlb_backend *b = slot_backend(in, v, s);
		__u8 rec[CHLB_ADDR_LEN + 6];

		if (b) {
			memcpy(rec, b->addr, CHLB_ADDR_LEN);
			memcpy(rec + CHLB_ADDR_LEN, b->mac, 6);
		} else {
			memset(rec, DIGEST_NONE, sizeof(rec));
		}
		for (i = 0; i < (int)sizeof(rec); i++)
			h = (h ^ rec[i]) * 0x100000001b3ULL;
	}
	return h;
}

/* ---- (b): frames through the pinned program ------------------------------ */

static __u64 splitmix64(__u64 *s)
{
	__u64 z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

struct client {
	char addr[INET6_ADDRSTRLEN];
	__u16 port;
};

/* Client i of a VIP: 100.64.0.0/10 or 2001:db8:ffff::/48, port 1024-65535. */
static void make_client(__u64 *rng, int family, struct client *c)
{
	__u64 r = splitmix64(rng), r2 = splitmix64(rng);
	__u8 a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff };
	__u32 a4 = htonl(0x64400000u | (__u32)(r & 0x3fffff));

	if (family == CHLB_FAMILY_INET) {
		inet_ntop(AF_INET, &a4, c->addr, sizeof(c->addr));
	} else {
		memcpy(a6 + 6, &r, 8);
		memcpy(a6 + 14, &r2, 2);
		inet_ntop(AF_INET6, a6, c->addr, sizeof(c->addr));
	}
	c->port = 1024 + (__u16)((r2 >> 32) % (65536 - 1024));
}

/* Forget the flow table's entry for k to VIP id vip, if any: the next frame is a miss. */
static void flow_forget(struct inst *in, const struct chlb_flow_key *k, __u32 vip)
{
	__u64 h = chlb_flow_hash64(k, in->cfg.seed);
	__u32 idx = chlb_flow_bucket(h >> 32, in->flow_buckets);
	struct chlb_flow_bucket b;
	struct chlb_flow_way key;
	bool hit = false;
	int w;

	if (bpf_map_lookup_elem(in->flows_fd, &idx, &b))
		return;
	chlb_flow_way_key(k, vip, &key);
	for (w = 0; w < CHLB_FLOW_WAYS; w++)
		if (b.way[w].words[0] == key.words[0] && b.way[w].words[1] == key.words[1] &&
		    b.way[w].port_vip == key.port_vip) {
			memset(&b.way[w], 0, sizeof(b.way[w]));
			hit = true;
		}
	if (hit)
		bpf_map_update_elem(in->flows_fd, &idx, &b, BPF_ANY);
}

struct expect {
	const struct chlb_backend *be;	/* NULL: XDP_DROP */
	__u32 slot;
};

struct counts {
	long tx, drop, frame_bad, lookup_bad;
};

static const char *verdict_name(__u32 v)
{
	static const char *names[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX",
				       "XDP_REDIRECT" };

	return v < 5 ? names[v] : "XDP_?";
}

static int run_frame(struct inst *in, const struct vip *v, const struct client *c,
		     struct expect *e, struct counts *n)
{
	struct pkt_spec spec = {
		.family = v->key.family == CHLB_FAMILY_INET ? 4 : 6,
		.proto = v->key.proto, .dst = NULL, .src = c->addr,
		.sport = c->port, .dport = ntohs(v->key.port), .tcp_flags = PKT_TCP_SYN,
	};
	char vaddr[INET6_ADDRSTRLEN], want[20] = "", got[20] = "";
	__u8 in_buf[PKT_MAX], out[PKT_MAX + 256];
	struct chlb_flow_key key;
	ssize_t len;
	__u32 h;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_out = out, .data_size_out = sizeof(out),
		    .repeat = 1);

	format_addr(v->key.addr, vaddr, sizeof(vaddr));
	spec.dst = vaddr;
	/* to the interface's MAC: the program passes VIP frames to another (--dst-mac own) */
	memcpy(spec.dmac, in->cfg.if_mac, 6);
	len = pkt_build(&spec, in_buf, sizeof(in_buf));
	if (len < 0 || pkt_flow_key(&spec, &key))
		return -EINVAL;
	h = chlb_flow_hash(&key, in->cfg.seed);
	e->slot = chlb_hash_to_slot(h, in->cfg.table_size);
	e->be = slot_backend(in, v, e->slot);
	if (v->key.proto == IPPROTO_UDP)
		flow_forget(in, &key, v->info.id);
	o.data_in = in_buf;
	o.data_size_in = len;
	if (bpf_prog_test_run_opts(in->prog_fd, &o))
		return -errno;
	if (e->be)
		format_mac(e->be->mac, want, sizeof(want));
	if (o.retval == XDP_TX)
		format_mac(out, got, sizeof(got));
	if (e->be && o.retval == XDP_TX && !memcmp(out, e->be->mac, 6) &&
	    !memcmp(out + 6, in->cfg.if_mac, 6) && o.data_size_out == len &&
	    !memcmp(out + 12, in_buf + 12, len - 12)) {
		n->tx++;
		return 0;
	}
	if (!e->be && o.retval == XDP_DROP) {
		n->drop++;
		return 0;
	}
	bad(in, &n->frame_bad, "%s from %s port %u (slot %u, id %u): expected %s %s, program "
			       "gave %s %s", v->name, c->addr, c->port, e->slot,
	    v->table ? v->table[e->slot] : CHLB_NO_BACKEND, e->be ? "XDP_TX to" : "XDP_DROP",
	    e->be ? want : "", verdict_name(o.retval), o.retval == XDP_TX ? got : "");
	return 0;
}

/* ---- (d): the chlb binary's lookup ---------------------------------------- */

/* stdout of `$CHLB -d DIR -j lookup VIP CLIENT`, parsed; NULL on failure. */
static struct json_object *chlb_lookup(const struct opts *op, const char *dir, const char *vip,
				       const char *client, int *rc)
{
	char buf[4096];
	size_t got = 0;
	ssize_t r;
	int p[2], status;
	pid_t pid;

	*rc = -1;
	if (pipe(p))
		return NULL;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(p[1], 1);
		if (null >= 0)
			dup2(null, 2);
		close(p[0]);
		close(p[1]);
		execl(op->chlb, op->chlb, "-d", dir, "-j", "lookup", vip, client, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (pid > 0 && got < sizeof(buf) - 1 && (r = read(p[0], buf + got, sizeof(buf) - 1 - got)) > 0)
		got += r;
	close(p[0]);
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return NULL;
	*rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	buf[got] = 0;
	return json_tokener_parse(buf);
}

static bool addr_eq_text(const __u8 *a, const char *text)
{
	__u8 b[CHLB_ADDR_LEN];
	__be32 v4;

	if (inet_pton(AF_INET, text, &v4) == 1)
		chlb_addr_from_v4(b, v4);
	else if (inet_pton(AF_INET6, text, b) != 1)
		return false;
	return !memcmp(a, b, CHLB_ADDR_LEN);
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

static void check_lookup(struct inst *in, const struct opts *op, const struct vip *v,
			 const struct client *c, const struct expect *e, struct counts *n)
{
	char client[INET6_ADDRSTRLEN + 16], want_a[INET6_ADDRSTRLEN] = "-", want_m[20] = "-";
	const char *ba, *bm;
	struct json_object *j;
	int rc;

	snprintf(client, sizeof(client), v->key.family == CHLB_FAMILY_INET6 ? "[%s]:%u" : "%s:%u",
		 c->addr, c->port);
	j = chlb_lookup(op, in->pin_dir, v->name, client, &rc);
	if (e->be) {
		format_addr(e->be->addr, want_a, sizeof(want_a));
		format_mac(e->be->mac, want_m, sizeof(want_m));
	}
	ba = j ? jstr(j, "backend") : NULL;
	bm = j ? jstr(j, "mac") : NULL;
	if (rc != 0 || !j)
		bad(in, &n->lookup_bad, "chlb lookup %s %s: exit %d%s", v->name, client, rc,
		    j ? "" : ", no JSON");
	else if (e->be ? !(ba && bm && addr_eq_text(e->be->addr, ba) && !strcasecmp(bm, want_m))
		       : ba != NULL)
		bad(in, &n->lookup_bad, "chlb lookup %s %s (slot %u): says %s mac %s, the program "
					"sends to %s mac %s", v->name, client, e->slot,
		    ba ? ba : "none", bm ? bm : "-", want_a, want_m);
	json_object_put(j);
}

/* ---- per VIP ------------------------------------------------------------- */

static int check_vip(struct inst *in, const struct opts *op, struct vip *v)
{
	struct counts n = {};
	struct client c;
	struct expect e;
	__u64 rng = TUPLE_SEED;
	long before = in->mismatches;
	int i, nb, err;
	__u32 empty;

	for (i = 0; i < (int)sizeof(v->key); i++)
		rng = (rng ^ ((__u8 *)&v->key)[i]) * 0x100000001b3ULL;
	err = read_table(in, v);
	if (err) {
		bad(in, NULL, "%s: cannot read its live table: %s", v->name, strerror(-err));
		return 0;
	}
	check_table(in, v, &nb, &empty);
	for (i = 0; i < op->tuples; i++) {
		make_client(&rng, v->key.family, &c);
		err = run_frame(in, v, &c, &e, &n);
		if (err) {
			printf("cannot run a frame for %s: %s\n", v->name, strerror(-err));
			return err;
		}
		if (i < op->lookups)
			check_lookup(in, op, v, &c, &e, &n);
	}
	printf("vip %s id %u: table %s, %u slots (%u empty), %d backends; %d tuples: %ld tx, "
	       "%ld drop, %ld wrong", v->name, v->info.id, v->table ? "live" : "MISSING",
	       in->cfg.table_size, empty, nb, op->tuples, n.tx, n.drop, n.frame_bad);
	if (op->lookups)
		printf("; lookup: %d checked, %ld wrong", op->tuples < op->lookups ? op->tuples :
		       op->lookups, n.lookup_bad);
	printf(": %s\n", in->mismatches == before ? "ok" : "MISMATCH");
	if (op->digest)
		printf("digest %s %016llx\n", v->name, (unsigned long long)table_digest(in, v));
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "Usage: agree_pinned [--lookup K] [--digest] PIN_DIR [N=%d]\n"
			"  --lookup K: K clients per VIP also through `$CHLB -j lookup`\n"
			"  --digest:   print a digest of each VIP's live table\n", DEFAULT_TUPLES);
	return 2;
}

int main(int argc, char **argv)
{
	struct opts op = { .tuples = DEFAULT_TUPLES };
	struct inst in = { .vips_fd = -1, .tables_fd = -1, .backends_fd = -1, .config_fd = -1,
			   .flows_fd = -1, .index_fd = -1, .prog_fd = -1 };
	int i, err = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--lookup") && i + 1 < argc)
			op.lookups = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--digest"))
			op.digest = true;
		else
			return usage();
	}
	if (i >= argc || argc - i > 2 || op.lookups < 0)
		return usage();
	in.pin_dir = argv[i];
	if (argc - i == 2)
		op.tuples = atoi(argv[i + 1]);
	op.chlb = getenv("CHLB");
	if (op.tuples < 0 || (op.lookups && !op.chlb)) {
		fprintf(stderr, "agree_pinned: --lookup needs CHLB, the chlb binary\n");
		return 2;
	}
	libbpf_set_print(NULL);
	err = open_pins(&in) ? -ENOENT : 0;
	if (!err)
		err = read_backends(&in);
	if (!err)
		err = read_vips(&in);
	if (!err) {
		check_instance(&in);
		check_index(&in);
	}
	for (i = 0; i < in.nvips && !err; i++)
		err = check_vip(&in, &op, &in.vips[i]);
	if (!err)
		printf("agree_pinned: %d VIPs, %d tuples each, %ld mismatches\n", in.nvips,
		       op.tuples, in.mismatches);
	close_pins(&in);
	if (err)
		return 2;
	return in.mismatches ? 1 : 0;
}
