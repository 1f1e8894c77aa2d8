// SPDX-License-Identifier: GPL-2.0
/*
 * `chlb lookup` must predict the data plane exactly. In a network namespace
 * of its own, the test attaches chlb to lo through the real command code,
 * configures VIPs and backends with it, then for 10,000 random five-tuples
 * per VIP runs a frame through the pinned program (BPF_PROG_TEST_RUN) and
 * compares the backend whose MAC it wrote with lookup_flow(), the function
 * behind `chlb lookup`; the live table it reads must be the one the model
 * builds (no drift). A sample also goes through the chlb binary itself,
 * and `chlb -j stats` must then show exactly the packets, bytes and new
 * flows (SYNs) sent to each backend.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <linux/bpf.h>
#include <CUnit/Basic.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "core/build.h"
#include "core/lookup.h"
#include "helpers/cli_cmd.h"
#include "helpers/cu_main.h"
#include "helpers/pin_dir.h"
#include "helpers/pkt.h"

#define PIN_PREFIX "chlb-agree-"
#define TUPLES 10000
#define BINARY_EVERY 100	/* every 100th tuple also via `chlb lookup -j` */

static char pin_dir[128];
static int prog_fd = -1;

struct vip_case {
	const char *vip;	/* as on the command line */
	int family;
	__u8 proto;
	const char *addr;
	__u16 port;
	int nbackends;		/* 0: every packet must be dropped */
};

static const struct vip_case cases[] = {
	{ "10.0.0.100:80/tcp", 4, IPPROTO_TCP, "10.0.0.100", 80, 10 },
	{ "[2001:db8::1]:443/udp", 6, IPPROTO_UDP, "2001:db8::1", 443, 8 },
	{ "10.0.0.100:53/udp", 4, IPPROTO_UDP, "10.0.0.100", 53, 1 },
	{ "10.0.0.101:80/tcp", 4, IPPROTO_TCP, "10.0.0.101", 80, 0 },
};

/* Run one chlb command in-process, as main() would, with argv words. */
static int cmd(int (*fn)(int, char **), ...)
{
	char *argv[16];
	va_list ap;
	int argc = 0;

	va_start(ap, fn);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	cli_clear_err();
	return fn(argc, argv);
}

static void backend_addr(const struct vip_case *c, int i, char *buf, size_t len)
{
	if (c->family == 4)
		snprintf(buf, len, "10.%d.0.%d", (int)(c - cases) + 1, i + 1);
	else
		snprintf(buf, len, "2001:db8:%x::%x", (int)(c - cases) + 1, i + 1);
}

/* Backends with weights 1..4 and distinct MACs; the third one drains. */
static int add_backends(const struct vip_case *c)
{
	char addr[64], mac[32], w[8];
	int i, err = 0;

	for (i = 0; !err && i < c->nbackends; i++) {
		backend_addr(c, i, addr, sizeof(addr));
		snprintf(mac, sizeof(mac), "02:00:00:00:%02x:%02x", (int)(c - cases), i + 1);
		snprintf(w, sizeof(w), "%d", i % 4 + 1);
		err = cmd(do_backend, "add", c->vip, addr, "--weight", w, "--mac", mac, NULL);
		if (!err && i == 2)
			err = cmd(do_backend, "set", c->vip, addr, "--drain", NULL);
	}
	return err;
}

/* Attach with the flow table (the default) or without (the stateless path). */
static int suite_init(const char *flow_table)
{
	static bool own_netns;
	char prog[160];
	int saved, err;
	size_t i;

	if (!own_netns && unshare(CLONE_NEWNET))	/* our own lo: no host traffic */
		return -1;
	own_netns = true;
	pin_dir_remove_stale(PIN_PREFIX);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/" PIN_PREFIX "%d", getpid());
	cli.pin_dir = pin_dir;
	saved = stdout_off();
	err = cmd(do_attach, "lo", "--xdp-mode", "skb", flow_table ? "--flow-table" : NULL,
		  flow_table, NULL);
	stdout_on(saved);
	if (err) {
		fprintf(stderr, "attach: %s\n", cli_errmsg());
		return -1;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (cmd(do_vip, "add", cases[i].vip, NULL) || add_backends(&cases[i])) {
			fprintf(stderr, "setup: %s\n", cli_errmsg());
			return -1;
		}
	snprintf(prog, sizeof(prog), "%s/prog", pin_dir);
	prog_fd = bpf_obj_get(prog);
	return prog_fd < 0 ? -1 : 0;
}

static int suite_init_flows(void)
{
	return suite_init(NULL);
}

static int suite_init_stateless(void)
{
	return suite_init("off");
}

static int suite_clean(void)
{
	int saved;

	if (prog_fd >= 0)
		close(prog_fd);
	saved = stdout_off();
	if (pin_dir[0] && cmd(do_detach, NULL))
		fprintf(stderr, "detach: %s\n", cli_errmsg());
	stdout_on(saved);
	pin_dir_remove(pin_dir);
	prog_fd = -1;
	return 0;
}

static __u64 rng;

static __u64 next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A random client address of the VIP's family, as text and parsed. */
static void random_client(int family, char *text, size_t len, struct chlb_addr *a)
{
	__u8 b[16];
	__u64 r[2] = { next_rand(), next_rand() };

	memcpy(b, r, sizeof(b));
	if (family == 6)
		b[0] = 0x20;	/* global unicast: never an IPv4-mapped form */
	inet_ntop(family == 4 ? AF_INET : AF_INET6, b, text, len);
	CU_ASSERT_FATAL(chlb_addr_parse(text, a) == 0);
}

/* The verdict and destination MAC the pinned program gives one frame; its length. */
static int run_frame(const struct vip_case *c, const char *client, __u16 sport, __u32 *verdict,
		     __u8 dmac[6])
{
	struct pkt_spec s = { .family = c->family, .proto = c->proto, .src = client,
			      .dst = c->addr, .sport = sport, .dport = c->port,
			      .tcp_flags = sport & 1 ? PKT_TCP_SYN : 0, .payload_len = sport % 64 };
	__u8 in[PKT_MAX], out[PKT_MAX];
	ssize_t len = pkt_build(&s, in, sizeof(in));
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	if (len < 0)
		return len;
	o.data_size_in = len;
	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	*verdict = o.retval;
	memcpy(dmac, out, 6);
	return len;
}

/* backend_id from the chlb binary's `lookup -j`: id, -1 for null, -2 on error. */
static int binary_lookup(const char *vip, const char *endpoint)
{
	const char *chlb = getenv("CHLB") ? getenv("CHLB") : "build/chlb";
	struct json_object *o, *id;
	char command[512], out[1024] = "";
	size_t n;
	FILE *p;
	int ret = -2;

	snprintf(command, sizeof(command), "'%s' -d '%s' -j lookup '%s' '%s'", chlb, pin_dir, vip,
		 endpoint);
	p = popen(command, "r");
	if (!p)
		return -2;
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	if (pclose(p) != 0)
		return -2;
	o = json_tokener_parse(out);
	if (o && json_object_object_get_ex(o, "backend_id", &id))
		ret = id ? json_object_get_int(id) : -1;
	json_object_put(o);
	return ret;
}

/* Counters as `chlb -j stats VIP` reports them; extra = no_backend / new_flows. */
struct counts {
	__u64 packets, bytes, extra;
};

#define MAX_IDS 4096	/* CHLB_DEFAULT_MAX_BACKENDS: what attach used */

static __u64 get_u64(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_uint64(v) : ~0ULL;
}

static int binary_stats(const char *vip, struct counts *v, struct counts *b)
{
	const char *chlb = getenv("CHLB") ? getenv("CHLB") : "build/chlb";
	struct json_object *o = NULL, *vips, *bs, *x;
	static char out[1 << 16];
	char command[512];
	size_t n, i;
	FILE *p;
	int ret = -1;

	snprintf(command, sizeof(command), "'%s' -d '%s' -j stats '%s'", chlb, pin_dir, vip);
	p = popen(command, "r");
	if (!p)
		return -1;
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	if (pclose(p) == 0)
		o = json_tokener_parse(out);
	if (!o || !json_object_object_get_ex(o, "vips", &vips) ||
	    json_object_array_length(vips) != 1)
		goto out;
	x = json_object_array_get_idx(vips, 0);
	*v = (struct counts){ get_u64(x, "packets"), get_u64(x, "bytes"), get_u64(x, "no_backend") };
	memset(b, 0, MAX_IDS * sizeof(*b));
	if (!json_object_object_get_ex(x, "backends", &bs))
		goto out;
	for (i = 0; i < json_object_array_length(bs); i++) {
		struct json_object *e = json_object_array_get_idx(bs, i);
		__u64 id = get_u64(e, "id");

		if (id >= MAX_IDS)
			goto out;
		b[id] = (struct counts){ get_u64(e, "packets"), get_u64(e, "bytes"),
					 get_u64(e, "new_flows") };
	}
	ret = 0;
out:
	json_object_put(o);
	return ret;
}

/* after - before == what the test sent, for the VIP and every backend. */
static void check_counts(const char *vip, const struct counts *v0, const struct counts *b0,
			 const struct counts *want_v, const struct counts *want_b)
{
	static struct counts b1[MAX_IDS];
	struct counts v1;
	int id, wrong = 0;

	CU_ASSERT_FATAL(binary_stats(vip, &v1, b1) == 0);
	CU_ASSERT_EQUAL(v1.packets - v0->packets, want_v->packets);
	CU_ASSERT_EQUAL(v1.bytes - v0->bytes, want_v->bytes);
	CU_ASSERT_EQUAL(v1.extra - v0->extra, want_v->extra);
	for (id = 0; id < MAX_IDS; id++)
		wrong += b1[id].packets - b0[id].packets != want_b[id].packets ||
			 b1[id].bytes - b0[id].bytes != want_b[id].bytes ||
			 b1[id].extra - b0[id].extra != want_b[id].extra;
	CU_ASSERT_EQUAL(wrong, 0);
}

/* Open the instance and find the case's VIP; its live table must be the model's. */
static int open_vip(struct inst *in, const char *text, struct model_vip **vip)
{
	__u32 *live, *built;
	int err, drift = 1;

	in->lock_fd = -1;
	err = inst_open(in, pin_dir, false, CLI_E);
	if (!err)
		err = inst_get_vip(in, text, vip, CLI_E);
	if (err)
		return err;
	live = calloc(in->m.table_size, sizeof(*live));
	built = calloc(in->m.table_size, sizeof(*built));
	if (live && built && !build_table(&in->m, (*vip)->info.id, built, CLI_E) &&
	    !chlb_dp__get_table(&in->dp, (*vip)->info.id, live))
		drift = memcmp(live, built, in->m.table_size * sizeof(*live)) != 0;
	free(live);
	free(built);
	CU_ASSERT_EQUAL(drift, 0);
	return 0;
}

static void agree(const struct vip_case *c)
{
	static struct counts b0[MAX_IDS], want_b[MAX_IDS];
	struct counts v0, want_v = {};
	struct lookup_result r;
	struct model_vip *vip;
	struct chlb_addr client;
	struct inst st;
	char text[64], endpoint[80];
	int i, len, wrong = 0, bin_wrong = 0, bin_runs = 0, dropped = 0;
	__u32 verdict;
	__u8 dmac[6];
	__u16 sport;

	memset(want_b, 0, sizeof(want_b));
	CU_ASSERT_FATAL(binary_stats(c->vip, &v0, b0) == 0);
	CU_ASSERT_FATAL(open_vip(&st, c->vip, &vip) == 0);
	for (i = 0; i < TUPLES; i++) {
		random_client(c->family, text, sizeof(text), &client);
		sport = 1024 + next_rand() % 64000;
		len = run_frame(c, text, sport, &verdict, dmac);
		CU_ASSERT_FATAL(len > 0);
		CU_ASSERT_FATAL(lookup_flow(&st, vip, &client, sport, &r, CLI_E) == 0);
		if (r.id < 0)
			wrong += verdict != XDP_DROP;
		else
			wrong += verdict != XDP_TX || memcmp(dmac, st.m.backends[r.id].mac, 6);
		dropped += verdict == XDP_DROP;
		want_v.packets++;
		want_v.bytes += len;
		want_v.extra += r.id < 0;
		if (r.id >= 0 && r.id < MAX_IDS) {
			want_b[r.id].packets++;
			want_b[r.id].bytes += len;
			/* with a flow table every fresh five-tuple is a new flow */
			want_b[r.id].extra += st.m.cfg.flow_entries ? 1 :
					      c->proto == IPPROTO_TCP && (sport & 1);
		}
		if (i % BINARY_EVERY)
			continue;
		snprintf(endpoint, sizeof(endpoint), c->family == 4 ? "%s:%u" : "[%s]:%u", text,
			 sport);
		bin_wrong += binary_lookup(c->vip, endpoint) != r.id;
		bin_runs++;
	}
	if (wrong || bin_wrong)
		fprintf(stderr, "%s: %d of %d disagree with the program, %d of %d with chlb\n",
			c->vip, wrong, TUPLES, bin_wrong, bin_runs);
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT_EQUAL(bin_wrong, 0);
	CU_ASSERT_EQUAL(bin_runs, TUPLES / BINARY_EVERY);
	CU_ASSERT_EQUAL(dropped, c->nbackends ? 0 : TUPLES);
	check_counts(c->vip, &v0, b0, &want_v, want_b);
	inst_close(&st);
}

static void test_v4_tcp(void) { agree(&cases[0]); }
static void test_v6_udp(void) { agree(&cases[1]); }
static void test_v4_udp_one_backend(void) { agree(&cases[2]); }
static void test_v4_no_backend(void) { agree(&cases[3]); }

/* After a backend goes away, both sides agree again and it gets nothing. */
static void test_after_del(void)
{
	char addr[64];

	backend_addr(&cases[0], 0, addr, sizeof(addr));
	CU_ASSERT_FATAL(cmd(do_backend, "del", cases[0].vip, addr, NULL) == 0);
	agree(&cases[0]);
}

/*
 * Existing flows: with a flow table the program keeps a UDP flow on its
 * recorded backend after the table changes, and lookup's flow_id names it;
 * without one, flows follow the table and lookup reports no record.
 */
static void test_existing_flows(void)
{
	static struct { char text[64]; struct chlb_addr a; __u16 port; int first; } t[1000];
	const struct vip_case *c = &cases[1];
	struct lookup_result r;
	struct model_vip *vip;
	struct inst st;
	char addr[64];
	int i, moved = 0, wrong = 0, flows;
	__u32 verdict;
	__u8 dmac[6];

	CU_ASSERT_FATAL(open_vip(&st, c->vip, &vip) == 0);
	flows = st.m.cfg.flow_entries != 0;
	for (i = 0; i < 1000; i++) {
		random_client(c->family, t[i].text, sizeof(t[i].text), &t[i].a);
		t[i].port = 1024 + next_rand() % 64000;
		CU_ASSERT_FATAL(run_frame(c, t[i].text, t[i].port, &verdict, dmac) > 0);
		CU_ASSERT_FATAL(lookup_flow(&st, vip, &t[i].a, t[i].port, &r, CLI_E) == 0);
		t[i].first = r.id;
		wrong += r.flow_id != (flows ? r.id : -1);
	}
	inst_close(&st);
	/* Weight 1 -> 4: the first backend takes slots from the others. */
	backend_addr(c, 0, addr, sizeof(addr));
	CU_ASSERT_FATAL(cmd(do_backend, "set", c->vip, addr, "--weight", "4", NULL) == 0);
	CU_ASSERT_FATAL(open_vip(&st, c->vip, &vip) == 0);
	for (i = 0; i < 1000; i++) {
		CU_ASSERT_FATAL(run_frame(c, t[i].text, t[i].port, &verdict, dmac) > 0);
		CU_ASSERT_FATAL(lookup_flow(&st, vip, &t[i].a, t[i].port, &r, CLI_E) == 0);
		moved += r.id != t[i].first;
		if (flows)
			wrong += r.flow_id != t[i].first ||
				 memcmp(dmac, st.m.backends[t[i].first].mac, 6);
		else
			wrong += r.flow_id != -1 || memcmp(dmac, st.m.backends[r.id].mac, 6);
	}
	CU_ASSERT(moved > 0);	/* the change did move some of these flows' slots */
	CU_ASSERT_EQUAL(wrong, 0);
	inst_close(&st);
}

/*
 * The read-only commands, in-process so ASan and UBSan watch them: plain
 * and JSON, with their output sent to /dev/null.
 */
static void test_read_commands(void)
{
	int saved = stdout_off(), pass;

	CU_ASSERT_FATAL(saved >= 0);
	for (pass = 0; pass < 2; pass++) {
		cli.json = pass;
		CU_ASSERT_EQUAL(cmd(do_status, NULL), 0);
		CU_ASSERT_EQUAL(cmd(do_vip, "list", NULL), 0);
		CU_ASSERT_EQUAL(cmd(do_backend, "list", NULL), 0);
		CU_ASSERT_EQUAL(cmd(do_backend, "list", cases[1].vip, NULL), 0);
		CU_ASSERT_EQUAL(cmd(do_stats, NULL), 0);
		CU_ASSERT_EQUAL(cmd(do_stats, cases[0].vip, NULL), 0);
		CU_ASSERT_EQUAL(cmd(do_route, cases[0].vip, "some-key", NULL), 0);
		CU_ASSERT_EQUAL(cmd(do_route, cases[3].vip, "some-key", NULL), 0);
		CU_ASSERT_EQUAL(cmd(do_lookup, cases[1].vip, "[2001:db8::9]:9", NULL), 0);
		CU_ASSERT_EQUAL(cmd(do_lookup, cases[0].vip, "10.1.2.3", NULL), -EINVAL);
	}
	cli.json = false;
	stdout_on(saved);
}

/*
 * libxdp says at length that it falls back to a single program, which is
 * expected here; failures are reported through cli_errmsg() instead.
 */
int main(void)
{
	/* the same cases with and without the flow table */
	static CU_TestInfo tests[] = {
		{ "IPv4 TCP VIP, 10 backends (weights, one draining)", test_v4_tcp },
		{ "IPv6 UDP VIP, 8 backends", test_v6_udp },
		{ "IPv4 UDP VIP, one backend", test_v4_udp_one_backend },
		{ "VIP without backends: all dropped", test_v4_no_backend },
		{ "IPv4 TCP VIP after backend del", test_after_del },
		{ "existing UDP flows across a weight change", test_existing_flows },
		{ "read commands, plain and JSON, under ASan", test_read_commands },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("agree, flow table (default)", suite_init_flows, suite_clean, tests),
		CU_SUITE("agree, --flow-table off", suite_init_stateless, suite_clean, tests),
		CU_SUITE_INFO_NULL,
	};

	if (geteuid() != 0) {
		printf("SKIPPED: test_agree needs root (BPF, bpffs, a network namespace)\n");
		return 77;
	}
	if (getrandom(&rng, sizeof(rng), 0) != sizeof(rng) || !rng)
		rng = 0x9e3779b97f4a7c15ULL;
	cli_cmd_quiet_libs();
	printf("test_agree: random seed %016llx\n", (unsigned long long)rng);
	return cu_main(suites);
}
