// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's /metrics. In a network namespace of its own, the test
 * attaches chlb to lo through the real command code, applies a document
 * (an IPv4 VIP with a health check and a draining backend, an IPv6 VIP,
 * a VIP with no backend, one that gets no traffic), marks a backend down
 * and a VIP in panic by writing their map entries, runs frames through the
 * pinned program (BPF_PROG_TEST_RUN) and feeds a health checker fake
 * results. Then: the text passes `promtool check metrics`, every series is
 * there with its labels, the figures equal `chlb -j stats` run at the same
 * moment, and the server on the test's own event loop answers curl with
 * the same text, 404, 405 and 500 where it should.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <linux/bpf.h>
#include <json-c/json.h>
#include <CUnit/Basic.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "core/parse.h"
#include "daemon/health.h"
#include "daemon/loop.h"
#include "daemon/metrics.h"
#include "dp/counters.h"
#include "helpers/cli_cmd.h"
#include "helpers/cu_main.h"
#include "helpers/pin_dir.h"
#include "helpers/pkt.h"

#define PIN_PREFIX "chlb-metrics-"

#define VIP_A "10.0.0.100:80/tcp"	/* health check; 10.1.0.2 down, 10.1.0.3 draining */
#define VIP_B "[2001:db8::1]:443/udp"	/* in panic */
#define VIP_C "10.0.0.101:80/tcp"	/* no backend: drops */
#define VIP_D "10.0.0.102:53/udp"	/* no traffic: every series at 0 */

static const char doc[] =
	"{ \"vips\": [\n"
	"  { \"vip\": \"" VIP_A "\",\n"
	"    \"health\": { \"type\": \"tcp\", \"port\": 80, \"interval_ms\": 1000,\n"
	"                \"timeout_ms\": 500, \"rise\": 2, \"fall\": 3 },\n"
	"    \"backends\": [\n"
	"      { \"addr\": \"10.1.0.1\", \"weight\": 2, \"mac\": \"02:00:00:00:01:01\" },\n"
	"      { \"addr\": \"10.1.0.2\", \"weight\": 1, \"mac\": \"02:00:00:00:01:02\" },\n"
	"      { \"addr\": \"10.1.0.3\", \"weight\": 3, \"state\": \"draining\",\n"
	"        \"mac\": \"02:00:00:00:01:03\" } ] },\n"
	"  { \"vip\": \"" VIP_B "\",\n"
	"    \"backends\": [\n"
	"      { \"addr\": \"2001:db8:1::1\", \"weight\": 4, \"mac\": \"02:00:00:00:02:01\" },\n"
	"      { \"addr\": \"2001:db8:1::2\", \"mac\": \"02:00:00:00:02:02\" } ] },\n"
	"  { \"vip\": \"" VIP_C "\", \"backends\": [] },\n"
	"  { \"vip\": \"" VIP_D "\",\n"
	"    \"backends\": [ { \"addr\": \"10.4.0.1\", \"mac\": \"02:00:00:00:04:01\" } ] }\n"
	"] }\n";

static char pin_dir[128];
static int prog_fd = -1;
static struct hc *hc;
static struct metrics_daemon md = {
	.applies_ok = 3, .applies_failed = 1, .last_apply_s = 1700000000.25,
	.source = CHLB_SOURCE_ETCD, .source_up = 1, .source_revision = 42,
};

/* ---- set-up ------------------------------------------------------------ */


/* The namespace's own lo, up: the HTTP tests talk over 127.0.0.1 and ::1. */
static int lo_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		err = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!err && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int apply_doc(void)
{
	char path[] = "/tmp/chlb-metrics-XXXXXX";
	int fd = mkstemp(path), err = -1;

	if (fd < 0)
		return -errno;
	if (write(fd, doc, sizeof(doc) - 1) == (ssize_t)sizeof(doc) - 1)
		err = cli_cmd_quiet(do_config, "apply", path, NULL);
	close(fd);
	unlink(path);
	return err;
}

static int map_fd(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_get(path);
}

/* What the daemon would do, done by hand: a backend's down flag, a VIP's panic flag. */
static int mark_down_and_panic(void)
{
	int bfd = map_fd(CHLB_MAP_BACKENDS), vfd = map_fd(CHLB_MAP_VIPS), err = -1;
	struct chlb_vip_key key;
	struct chlb_vip_info info;
	struct chlb_backend b;
	struct chlb_addr a;
	__u32 id;

	if (chlb_addr_parse("10.1.0.2", &a))
		bfd = -1;
	for (id = 0; bfd >= 0 && !bpf_map_lookup_elem(bfd, &id, &b); id++) {
		if (!(b.flags & CHLB_BACKEND_F_IN_USE) || memcmp(b.addr, a.bytes, CHLB_ADDR_LEN))
			continue;
		b.flags |= CHLB_BACKEND_F_DOWN;
		err = bpf_map_update_elem(bfd, &id, &b, BPF_EXIST);
		break;
	}
	if (!err && !(err = pkt_vip_key(6, "2001:db8::1", 443, IPPROTO_UDP, &key)) &&
	    !(err = bpf_map_lookup_elem(vfd, &key, &info))) {
		info.flags |= CHLB_VIP_F_PANIC;
		err = bpf_map_update_elem(vfd, &key, &info, BPF_EXIST);
	}
	if (bfd >= 0)
		close(bfd);
	if (vfd >= 0)
		close(vfd);
	return err;
}

static int run_frame(const struct pkt_spec *s)
{
	__u8 in[PKT_MAX], out[PKT_MAX];
	ssize_t len = pkt_build(s, in, sizeof(in));
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	if (len < 0)
		return len;
	o.data_size_in = len;
	return bpf_prog_test_run_opts(prog_fd, &o) ? -errno : 0;
}

/* Frames to A and B (each flow twice: hits), C, and some the program passes. */
static int send_frames(void)
{
	char src[64];
	int i, err = 0;

	for (i = 0; !err && i < 60; i++) {
		struct pkt_spec a = { .family = 4, .proto = IPPROTO_TCP, .src = src,
				      .dst = "10.0.0.100", .sport = 1000 + i / 2, .dport = 80,
				      .tcp_flags = i % 2 ? 0 : PKT_TCP_SYN, .payload_len = i };
		struct pkt_spec b = { .family = 6, .proto = IPPROTO_UDP, .src = src,
				      .dst = "2001:db8::1", .sport = 2000 + i / 2, .dport = 443,
				      .payload_len = 2 * i };

		snprintf(src, sizeof(src), "192.0.2.%d", i / 2 % 7 + 1);
		err = run_frame(&a);
		snprintf(src, sizeof(src), "2001:db8:99::%x", i / 2 % 5 + 1);
		if (!err)
			err = run_frame(&b);
	}
	for (i = 0; !err && i < 5; i++) {
		struct pkt_spec c = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.9",
				      .dst = "10.0.0.101", .sport = 3000 + i, .dport = 80 };
		struct pkt_spec n = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.9",
				      .dst = "10.9.9.9", .sport = 3000 + i, .dport = 80 };
		__u8 arp[PKT_MAX];
		ssize_t len = pkt_build_arp("192.0.2.9", "10.0.0.100", arp, sizeof(arp));
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = arp, .data_size_in = len, .repeat = 1);

		err = run_frame(&c) ?: run_frame(&n);
		if (!err && (len < 0 || bpf_prog_test_run_opts(prog_fd, &o)))
			err = -EIO;
	}
	return err;
}

/* ---- a health checker with fake probes (virtual time) --------------------- */

static struct { uint64_t id; struct hc_probe_key k; } started[64];
static int nstarted;

static int fake_start(void *arg, uint64_t id, const struct hc_probe_key *k, uint32_t timeout_ms)
{
	(void)arg;
	(void)timeout_ms;
	if (nstarted < 64)
		started[nstarted++] = (typeof(started[0])){ id, *k };
	return 0;
}

static void fake_cancel(void *arg, uint64_t id)
{
	(void)arg;
	(void)id;
}

static void fake_changed(void *arg, const struct hc_sub *s, const struct hc_state *st)
{
	(void)arg;
	(void)s;
	(void)st;
}

/* 10.1.0.1 answers, 10.1.0.2 refuses, 10.1.0.3 alternates ok and timeout. */
static uint32_t fake_result(const struct hc_probe_key *k, int round)
{
	switch (k->addr.bytes[15]) {
	case 1:
		return CHLB_CHECK_OK;
	case 2:
		return CHLB_CHECK_REFUSED;
	default:
		return round & 1 ? CHLB_CHECK_TIMEOUT : CHLB_CHECK_OK;
	}
}

static int health_init(void)
{
	static const struct hc_env env = { .start = fake_start, .cancel = fake_cancel,
					   .changed = fake_changed };
	static const char *const addrs[] = { "10.1.0.1", "10.1.0.2", "10.1.0.3" };
	struct hc_sub subs[3] = {};
	uint64_t now;
	int i, round = 0, err;

	err = hc_new(&env, &hc);
	for (i = 0; !err && i < 3; i++) {
		err = pkt_vip_key(4, "10.0.0.100", 80, IPPROTO_TCP, &subs[i].vip) ?:
		      chlb_addr_parse(addrs[i], &subs[i].addr);
		subs[i].cfg = (struct chlb_health){ .type = CHLB_HEALTH_TCP, .interval_ms = 1000,
						    .timeout_ms = 500, .port = 80, .rise = 2,
						    .fall = 3 };
	}
	if (!err)
		err = hc_set(hc, subs, 3, 0);
	for (now = 0; !err && now < 10000; now += 50) {
		hc_run(hc, now);
		for (i = 0; i < nstarted; i++)
			hc_done(hc, started[i].id, fake_result(&started[i].k, round++), 0, now);
		nstarted = 0;
	}
	md.hc = hc;
	return err;
}

static int suite_init(void)
{
	char prog[160];

	if (unshare(CLONE_NEWNET) || lo_up())	/* our own lo: no host traffic */
		return -1;
	pin_dir_remove_stale(PIN_PREFIX);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/" PIN_PREFIX "%d", getpid());
	cli.pin_dir = pin_dir;
	md.pin_dir = pin_dir;
	if (cli_cmd_quiet(do_attach, "lo", "--xdp-mode", "skb", NULL) || apply_doc() ||
	    mark_down_and_panic())
		return -1;
	snprintf(prog, sizeof(prog), "%s/prog", pin_dir);
	prog_fd = bpf_obj_get(prog);
	if (prog_fd < 0 || send_frames()) {
		fprintf(stderr, "frames: %s\n", strerror(errno));
		return -1;
	}
	return health_init() ? -1 : 0;
}

static int suite_clean(void)
{
	if (prog_fd >= 0)
		close(prog_fd);
	if (pin_dir[0])
		cli_cmd_quiet(do_detach, NULL);
	pin_dir_remove(pin_dir);
	hc_free(hc);
	hc = NULL;
	md.hc = NULL;
	prog_fd = -1;
	return 0;
}

/* ---- reading the text -------------------------------------------------- */

static char *render(void)
{
	struct chlb_err e = {};
	char *text = NULL;
	size_t len = 0;
	int err = metrics_render(&md, &text, &len, &e);

	if (err)
		fprintf(stderr, "metrics_render: %s\n", e.msg);
	CU_ASSERT_FATAL(err == 0 && text);
	CU_ASSERT_EQUAL(strlen(text), len);
	return text;
}

/* The value of one series (`name{labels}` exactly as written); -1 when absent or repeated. */
static long long value_of(const char *text, const char *fmt, ...)
{
	char key[512], *hit, *end;
	long long v;
	va_list ap;
	int n = 0;

	key[0] = '\n';
	va_start(ap, fmt);
	vsnprintf(key + 1, sizeof(key) - 2, fmt, ap);
	va_end(ap);
	strcat(key, " ");
	for (hit = strstr(text, key); hit; hit = strstr(hit + 1, key))
		n++;
	if (n != 1)
		return -1;
	hit = strstr(text, key) + strlen(key);
	v = strtoll(hit, &end, 10);
	return *end == '\n' ? v : -1;
}

/* Lines starting with prefix. */
static int count_lines(const char *text, const char *prefix)
{
	const char *p;
	int n = 0;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += !strncmp(p, prefix, strlen(prefix));
	return n;
}

/*
 * The format's rules promtool checks too, here in case it is missing:
 * HELP then TYPE once per metric, its samples right after, together.
 */
static void check_structure(const char *text)
{
	char names[64][96], cur[96] = "", name[96], tname[96], type[16];
	const char *p = text;
	size_t len;
	int n = 0, i, bad = 0;

	CU_ASSERT_FATAL(*text && text[strlen(text) - 1] == '\n');
	for (; *p; p = strchr(p, '\n') + 1) {
		if (sscanf(p, "# HELP %95s", name) == 1) {
			for (i = 0; i < n; i++)
				bad += !strcmp(names[i], name);
			CU_ASSERT_FATAL(n < 64);
			strcpy(names[n++], name);
			strcpy(cur, name);
			p = strchr(p, '\n') + 1;
			len = strlen(name);
			bad += sscanf(p, "# TYPE %95s %15s", tname, type) != 2 ||
			       strcmp(tname, name);
			if (!strcmp(type, "counter"))
				bad += len < 6 || strcmp(name + len - 6, "_total");
			continue;
		}
		i = strcspn(p, "{ ");
		bad += !cur[0] || (size_t)i != strlen(cur) || strncmp(p, cur, i);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* ---- tests: the text ------------------------------------------------------ */

static void test_escape(void)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	CU_ASSERT_FATAL(f != NULL);
	metrics_escape(f, "a\\b\"c\nd");
	fclose(f);
	CU_ASSERT_STRING_EQUAL(buf, "a\\\\b\\\"c\\nd");
	free(buf);
}

static void test_promtool(void)
{
	char out[] = "/tmp/chlb-promtool-XXXXXX", command[128], msg[4096] = "";
	char *text = render();
	int fd = mkstemp(out), status;
	ssize_t n;
	FILE *p;

	check_structure(text);
	if (getenv("METRICS_DUMP"))	/* to read what was checked */
		fputs(text, stderr);
	if (system("command -v promtool >/dev/null 2>&1")) {
		printf("SKIPPED: promtool is not installed ");
		free(text);
		return;
	}
	CU_ASSERT_FATAL(fd >= 0);
	snprintf(command, sizeof(command), "promtool check metrics >'%s' 2>&1", out);
	p = popen(command, "w");
	CU_ASSERT_FATAL(p != NULL);
	fputs(text, p);
	status = pclose(p);
	n = read(fd, msg, sizeof(msg) - 1);
	msg[n > 0 ? n : 0] = '\0';
	if (status)
		fprintf(stderr, "promtool: %s\n%s", msg, text);
	CU_ASSERT_EQUAL(status, 0);
	CU_ASSERT_STRING_EQUAL(msg, "");	/* no lint remark either */
	close(fd);
	unlink(out);
	free(text);
}

/* A backend's series: metric{vip="VIP",backend="ADDR"}. */
static long long bval(const char *t, const char *metric, const char *vip, const char *b)
{
	return value_of(t, "%s{vip=\"%s\",backend=\"%s\"}", metric, vip, b);
}

static void check_backend(const char *t, const char *vip, const char *b, int weight,
			  const char *state)
{
	static const char *const states[] = { "active", "draining", "down" };
	int i;

	CU_ASSERT(bval(t, "chlb_backend_packets_total", vip, b) >= 0);
	CU_ASSERT(bval(t, "chlb_backend_bytes_total", vip, b) >= 0);
	CU_ASSERT(bval(t, "chlb_backend_new_flows_total", vip, b) >= 0);
	CU_ASSERT_EQUAL(bval(t, "chlb_backend_weight", vip, b), weight);
	CU_ASSERT_EQUAL(bval(t, "chlb_backend_up", vip, b), strcmp(state, "down") != 0);
	for (i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(value_of(t, "chlb_backend_state{vip=\"%s\",backend=\"%s\","
					 "state=\"%s\"}", vip, b, states[i]),
				!strcmp(state, states[i]));
}

static void check_health(const char *t, const char *vip, const char *b)
{
	static const char *const results[CHLB_CHECK_MAX] = {
		[CHLB_CHECK_OK] = "ok", [CHLB_CHECK_REFUSED] = "refused",
		[CHLB_CHECK_TIMEOUT] = "timeout", [CHLB_CHECK_HTTP_STATUS] = "http_status",
		[CHLB_CHECK_ERROR] = "error",
	};
	struct chlb_vip_key key;
	struct hc_state st;
	struct chlb_addr a;
	int c;

	CU_ASSERT_FATAL(parse_vip(vip, &key, NULL) == 0 && chlb_addr_parse(b, &a) == 0);
	CU_ASSERT_FATAL(hc_state(hc, &key, &a, &st) == 0);
	for (c = CHLB_CHECK_OK; c < CHLB_CHECK_MAX; c++)
		CU_ASSERT_EQUAL(value_of(t, "chlb_healthcheck_total{vip=\"%s\",backend=\"%s\","
					 "result=\"%s\"}", vip, b, results[c]),
				(long long)st.counts[c]);
}

static void test_series(void)
{
	static const char *const vips[] = { VIP_A, VIP_B, VIP_C, VIP_D };
	char *t = render();
	size_t i;

	check_backend(t, VIP_A, "10.1.0.1", 2, "active");
	check_backend(t, VIP_A, "10.1.0.2", 1, "down");
	check_backend(t, VIP_A, "10.1.0.3", 3, "draining");
	check_backend(t, VIP_B, "2001:db8:1::1", 4, "active");
	check_backend(t, VIP_B, "2001:db8:1::2", 1, "active");
	check_backend(t, VIP_D, "10.4.0.1", 1, "active");
	CU_ASSERT_EQUAL(count_lines(t, "chlb_backend_up{"), 6);
	CU_ASSERT_EQUAL(count_lines(t, "chlb_backend_state{"), 18);
	for (i = 0; i < 4; i++) {
		CU_ASSERT(value_of(t, "chlb_vip_packets_total{vip=\"%s\"}", vips[i]) >= 0);
		CU_ASSERT(value_of(t, "chlb_vip_bytes_total{vip=\"%s\"}", vips[i]) >= 0);
		CU_ASSERT(value_of(t, "chlb_vip_no_backend_packets_total{vip=\"%s\"}", vips[i]) >=
			  0);
		CU_ASSERT(value_of(t, "chlb_vip_fragments_total{vip=\"%s\"}", vips[i]) >= 0);
		CU_ASSERT_EQUAL(value_of(t, "chlb_vip_panic{vip=\"%s\"}", vips[i]), i == 1);
	}
	/* the VIP without traffic: there, at 0 */
	CU_ASSERT_EQUAL(value_of(t, "chlb_vip_packets_total{vip=\"%s\"}", VIP_D), 0);
	CU_ASSERT_EQUAL(bval(t, "chlb_backend_packets_total", VIP_D, "10.4.0.1"), 0);
	/* health series for the checked VIP only, equal to the checker's counts */
	check_health(t, VIP_A, "10.1.0.1");
	check_health(t, VIP_A, "10.1.0.2");
	check_health(t, VIP_A, "10.1.0.3");
	CU_ASSERT_EQUAL(count_lines(t, "chlb_healthcheck_total{"), 3 * 5);
	CU_ASSERT(value_of(t, "chlb_healthcheck_total{vip=\"%s\",backend=\"10.1.0.2\","
			   "result=\"refused\"}", VIP_A) > 0);
	CU_ASSERT_EQUAL(count_lines(t, "chlb_packets_total{"), CHLB_CNT_REASONS - 1);
	CU_ASSERT_EQUAL(count_lines(t, "chlb_packets_total{reason=\"rx\"}"), 0);
	CU_ASSERT(value_of(t, "chlb_packets_total{reason=\"pass_not_ip\"}") >= 5);
	CU_ASSERT(value_of(t, "chlb_flow_table_hits_total") > 0);
	CU_ASSERT(value_of(t, "chlb_flow_table_misses_total") > 0);
	CU_ASSERT(value_of(t, "chlb_flow_table_inserts_total") > 0);
	CU_ASSERT_EQUAL(value_of(t, "chlb_flow_table_expired_total"), 0);
	CU_ASSERT_EQUAL(value_of(t, "chlb_flow_table_stale_total"), 0);
	/* the ipip, ICMP and fragment counters: reasons and events, there at 0 */
	CU_ASSERT_EQUAL(value_of(t, "chlb_packets_total{reason=\"redirect\"}"), 0);
	CU_ASSERT_EQUAL(value_of(t, "chlb_packets_total{reason=\"pass_no_neigh\"}"), 0);
	CU_ASSERT_EQUAL(value_of(t, "chlb_packets_total{reason=\"drop_no_route\"}"), 0);
	CU_ASSERT_EQUAL(value_of(t, "chlb_packets_total{reason=\"drop_encap\"}"), 0);
	CU_ASSERT_EQUAL(value_of(t, "chlb_packets_total{reason=\"tx_too_big\"}"), 0);
	CU_ASSERT_EQUAL(value_of(t, "chlb_packets_total{reason=\"drop_too_big\"}"), 0);
	CU_ASSERT_EQUAL(value_of(t, "chlb_packets_total{reason=\"drop_fragment\"}"), 0);
	CU_ASSERT_EQUAL(value_of(t, "chlb_icmp_steered_total"), 0);
	CU_ASSERT_EQUAL(value_of(t, "chlb_too_big_rate_limited_total"), 0);
	CU_ASSERT_EQUAL(value_of(t, "chlb_vip_fragments_total{vip=\"%s\"}", VIP_D), 0);
	CU_ASSERT_EQUAL(value_of(t, "chlb_config_applies_total{result=\"success\"}"), 3);
	CU_ASSERT_EQUAL(value_of(t, "chlb_config_applies_total{result=\"failure\"}"), 1);
	CU_ASSERT(strstr(t, "\nchlb_config_last_apply_timestamp_seconds 1700000000.250\n") != NULL);
	CU_ASSERT_EQUAL(value_of(t, "chlb_build_info{version=\"%s\"}", CHLB_VERSION), 1);
	CU_ASSERT_EQUAL(value_of(t, "chlb_source_up"), 1);
	CU_ASSERT_EQUAL(value_of(t, "chlb_source_revision"), 42);
	free(t);
}

/* A file source has no source series; no checker gives zeros, still there. */
static void test_file_source_no_checker(void)
{
	struct metrics_daemon saved = md;
	char *t;

	md.source = CHLB_SOURCE_FILE;
	md.hc = NULL;
	t = render();
	md = saved;
	CU_ASSERT_EQUAL(count_lines(t, "chlb_source_"), 0);
	CU_ASSERT_EQUAL(count_lines(t, "# TYPE chlb_source_"), 0);
	CU_ASSERT_EQUAL(count_lines(t, "chlb_healthcheck_total{"), 3 * 5);
	CU_ASSERT_EQUAL(value_of(t, "chlb_healthcheck_total{vip=\"%s\",backend=\"10.1.0.1\","
				 "result=\"ok\"}", VIP_A), 0);
	free(t);
}

/* ---- tests: equal to `chlb -j stats` ------------------------------------------------ */

static struct json_object *binary_stats(void)
{
	const char *chlb = getenv("CHLB") ? getenv("CHLB") : "build/chlb";
	static char out[1 << 16];
	char command[512];
	size_t n;
	FILE *p;

	snprintf(command, sizeof(command), "'%s' -j -d '%s' stats", chlb, pin_dir);
	p = popen(command, "r");
	if (!p)
		return NULL;
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	return pclose(p) == 0 ? json_tokener_parse(out) : NULL;
}

static long long jget(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? (long long)json_object_get_uint64(v) : -2;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

/* Every backend of one VIP entry of the JSON; returns how many. */
static int compare_backends(const char *t, const char *vip, struct json_object *bs)
{
	size_t i, n = json_object_array_length(bs);
	int wrong = 0;

	for (i = 0; i < n; i++) {
		struct json_object *b = json_object_array_get_idx(bs, i);
		const char *a = jstr(b, "address");

		wrong += bval(t, "chlb_backend_packets_total", vip, a) != jget(b, "packets");
		wrong += bval(t, "chlb_backend_bytes_total", vip, a) != jget(b, "bytes");
		wrong += bval(t, "chlb_backend_new_flows_total", vip, a) != jget(b, "new_flows");
	}
	CU_ASSERT_EQUAL(wrong, 0);
	return n;
}

static void compare_global(const char *t, struct json_object *g)
{
	static const char *const flow[] = {
		[CHLB_CNT_FLOW_HIT] = "chlb_flow_table_hits_total",
		[CHLB_CNT_FLOW_MISS] = "chlb_flow_table_misses_total",
		[CHLB_CNT_FLOW_INSERT] = "chlb_flow_table_inserts_total",
		[CHLB_CNT_FLOW_EXPIRED] = "chlb_flow_table_expired_total",
		[CHLB_CNT_FLOW_STALE] = "chlb_flow_table_stale_total",
		[CHLB_CNT_FLOW_REFUSED] = "chlb_flow_table_refused_total",
		[CHLB_CNT_FLOW_EVICT_BUSY] = "chlb_flow_table_evicted_busy_total",
		[CHLB_CNT_FLOW_EVICT_NEW] = "chlb_flow_table_evicted_new_total",
		[CHLB_CNT_ICMP_STEERED] = "chlb_icmp_steered_total",
		[CHLB_CNT_TOO_BIG_LIMITED] = "chlb_too_big_rate_limited_total",
	};
	int c, wrong = 0;

	CU_ASSERT_EQUAL_FATAL(sizeof(flow) / sizeof(flow[0]), CHLB_CNT_MAX);

	for (c = CHLB_CNT_RX + 1; c < CHLB_CNT_MAX; c++) {
		long long want = jget(g, counter_name(c));

		if (c < CHLB_CNT_REASONS)
			wrong += value_of(t, "chlb_packets_total{reason=\"%s\"}",
					  counter_name(c)) != want;
		else
			wrong += value_of(t, "%s", flow[c]) != want;
	}
	CU_ASSERT_EQUAL(wrong, 0);
}

static void test_equal_stats(void)
{
	char *t = render();
	struct json_object *o = binary_stats(), *vips, *g, *bs;
	size_t i;
	int nb = 0, wrong = 0;

	CU_ASSERT_FATAL(o && json_object_object_get_ex(o, "vips", &vips) &&
			json_object_object_get_ex(o, "global", &g));
	CU_ASSERT_EQUAL(json_object_array_length(vips), 4);
	for (i = 0; i < json_object_array_length(vips); i++) {
		struct json_object *v = json_object_array_get_idx(vips, i);
		const char *vip = jstr(v, "vip");

		wrong += value_of(t, "chlb_vip_packets_total{vip=\"%s\"}", vip) !=
			 jget(v, "packets");
		wrong += value_of(t, "chlb_vip_bytes_total{vip=\"%s\"}", vip) != jget(v, "bytes");
		wrong += value_of(t, "chlb_vip_no_backend_packets_total{vip=\"%s\"}", vip) !=
			 jget(v, "no_backend");
		wrong += value_of(t, "chlb_vip_fragments_total{vip=\"%s\"}", vip) !=
			 jget(v, "fragments");
		CU_ASSERT_FATAL(json_object_object_get_ex(v, "backends", &bs));
		nb += compare_backends(t, vip, bs);
	}
	CU_ASSERT_EQUAL(wrong, 0);
	CU_ASSERT_EQUAL(nb, count_lines(t, "chlb_backend_packets_total{"));
	compare_global(t, g);
	/* the traffic was counted where it should be */
	CU_ASSERT_EQUAL(value_of(t, "chlb_vip_packets_total{vip=\"%s\"}", VIP_A), 60);
	CU_ASSERT_EQUAL(value_of(t, "chlb_vip_packets_total{vip=\"%s\"}", VIP_B), 60);
	CU_ASSERT_EQUAL(value_of(t, "chlb_vip_no_backend_packets_total{vip=\"%s\"}", VIP_C), 5);
	json_object_put(o);
	free(t);
}

/* ---- tests: the server ------------------------------------------------------- */

static struct loop *loop;

struct resp {
	int status;
	char type[128];
	char *body;		/* malloc'ed, NUL-terminated */
};

/* Drive the loop as the daemon does: its wait bounded by the server's timeout. */
static void drive(struct metrics_server *s)
{
	int t = metrics_server_timeout(s);

	loop_once(loop, t < 0 || t > 20 ? 20 : t);
	metrics_server_run(s);
}

static void parse_resp(char *raw, struct resp *r)
{
	char *body = strstr(raw, "\r\n\r\n"), *line;

	r->status = -1;
	sscanf(raw, "HTTP/%*s %d", &r->status);
	r->body = strdup(body ? body + 4 : "");
	if (body)
		*body = '\0';
	for (line = strstr(raw, "\r\n"); line; line = strstr(line + 2, "\r\n"))
		if (!strncasecmp(line + 2, "Content-Type: ", 14))
			snprintf(r->type, sizeof(r->type), "%.*s", (int)strcspn(line + 16, "\r"),
				 line + 16);
}

/* curl (a real client) in a child; the test serves it from the loop until it exits. */
static int fetch(struct metrics_server *s, const char *opts, const char *url, struct resp *r)
{
	char command[512], *raw = NULL;
	size_t len = 0, cap = 0;
	uint64_t deadline = loop_now_ms() + 10000;
	ssize_t n = 1;
	FILE *p;

	memset(r, 0, sizeof(*r));
	snprintf(command, sizeof(command), "curl -s -g -i %s '%s'", opts, url);
	p = popen(command, "r");
	if (!p)
		return -errno;
	fcntl(fileno(p), F_SETFL, O_NONBLOCK);
	while (n && loop_now_ms() < deadline) {
		if (len + 4096 + 1 > cap)
			raw = realloc(raw, cap = cap * 2 + 8192);
		n = read(fileno(p), raw + len, cap - len - 1);
		if (n > 0)
			len += n;
		else if (n < 0)
			drive(s);
	}
	raw[len] = '\0';
	if (pclose(p) || n)
		r->status = -1;
	else
		parse_resp(raw, r);
	free(raw);
	return r->status > 0 ? 0 : -EIO;
}

static int free_port(const char *addr)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	inet_pton(AF_INET, addr, &a.sin_addr);
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static struct metrics_server *serve(const char *addr_port, const struct metrics_daemon *d)
{
	struct metrics_server *s = NULL;
	struct chlb_err e = {};
	int err = metrics_server_new(loop, addr_port, d, &s, &e);

	if (err)
		fprintf(stderr, "metrics_server_new(%s): %s\n", addr_port, e.msg);
	CU_ASSERT_FATAL(err == 0 && s);
	return s;
}

/*
 * Equal but for the one counter this very request moves: curl's packets
 * cross lo, where chlb is attached, and pass as not-VIP traffic.
 */
static void strip_lo_counter(char *t)
{
	char *l = strstr(t, "\nchlb_packets_total{reason=\"pass_not_vip\"} ");

	CU_ASSERT_FATAL(l != NULL);
	l = strchr(l + 1, ' ') + 1;
	memmove(l, strchr(l, '\n'), strlen(strchr(l, '\n')) + 1);
}

static void test_http(void)
{
	struct metrics_server *s;
	char url[128], where[64], *t;
	int port = free_port("127.0.0.1"), before = threads();
	struct resp r;

	CU_ASSERT_FATAL(port > 0 && loop_new(&loop) == 0);
	snprintf(where, sizeof(where), "127.0.0.1:%d", port);
	s = serve(where, &md);
	CU_ASSERT_EQUAL(threads(), before);	/* no thread of its own */
	snprintf(url, sizeof(url), "http://%s/metrics", where);
	CU_ASSERT_FATAL(fetch(s, "", url, &r) == 0);
	t = render();
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(r.type, "text/plain; version=0.0.4; charset=utf-8");
	strip_lo_counter(t);
	strip_lo_counter(r.body);
	CU_ASSERT_STRING_EQUAL(r.body, t);
	free(r.body);
	free(t);
	CU_ASSERT(fetch(s, "-I", url, &r) == 0 && r.status == 200 && !r.body[0]);
	free(r.body);
	CU_ASSERT(fetch(s, "-X POST -d x=1", url, &r) == 0 && r.status == 405);
	free(r.body);
	snprintf(url, sizeof(url), "http://%s/x", where);
	CU_ASSERT(fetch(s, "", url, &r) == 0 && r.status == 404);
	free(r.body);
	metrics_server_free(s);
	loop_free(loop);
}

/* IPv6, bound to ::1 only; a scrape that cannot read the instance is a 500 saying why. */
static void test_http_v6_and_500(void)
{
	struct metrics_daemon gone = { .pin_dir = "/sys/fs/bpf/chlb-metrics-none" };
	struct metrics_server *s;
	char url[128], where[64];
	int port = free_port("127.0.0.1");
	struct resp r;

	CU_ASSERT_FATAL(port > 0 && loop_new(&loop) == 0);
	snprintf(where, sizeof(where), "[::1]:%d", port);
	s = serve(where, &gone);
	snprintf(url, sizeof(url), "http://%s/metrics", where);
	CU_ASSERT(fetch(s, "", url, &r) == 0 && r.status == 500 &&
		  strstr(r.body, "chlb-metrics-none") != NULL);
	free(r.body);
	/* bound to ::1 only: nothing listens on 127.0.0.1 at that port */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
	CU_ASSERT(fetch(s, "", url, &r) != 0);
	free(r.body);
	metrics_server_free(s);
	loop_free(loop);
}

static void expect_fail(const char *addr_port, enum chlb_err_kind kind)
{
	struct metrics_server *s = (void *)1;
	struct chlb_err e = {};
	int err = metrics_server_new(loop, addr_port, &md, &s, &e);

	if (err >= 0 || e.kind != kind)
		fprintf(stderr, "%s: %d, kind %d: %s\n", addr_port, err, e.kind, e.msg);
	CU_ASSERT(err < 0 && e.kind == kind && e.msg[0] && s == NULL);
	CU_ASSERT_EQUAL(err_exit_status(&e, err), kind == CHLB_EK_USAGE ? 2 : 1);
}

static void test_bad_listen(void)
{
	static const char *const usage[] = { "", "nonsense", "127.0.0.1", "127.0.0.1:0",
					     "127.0.0.1:65536", "127.0.0.1:x", "::1:9100",
					     "[::1]", "[127.0.0.1]:9100", "localhost:9100" };
	struct metrics_server *s;
	char where[64];
	size_t i;

	CU_ASSERT_FATAL(loop_new(&loop) == 0);
	for (i = 0; i < sizeof(usage) / sizeof(usage[0]); i++)
		expect_fail(usage[i], CHLB_EK_USAGE);
	snprintf(where, sizeof(where), "192.0.2.1:%d", free_port("127.0.0.1"));
	expect_fail(where, CHLB_EK_RUNTIME);	/* not an address of this host */
	snprintf(where, sizeof(where), "127.0.0.1:%d", free_port("127.0.0.1"));
	s = serve(where, &md);
	expect_fail(where, CHLB_EK_RUNTIME);	/* taken */
	metrics_server_free(s);
	loop_free(loop);
}

/*
 * libxdp says at length that it falls back to a single program, which is
 * expected here; failures are reported through cli_errmsg() instead.
 */
int main(void)
{
	static CU_TestInfo tests[] = {
		{ "label values escaped", test_escape },
		{ "promtool check metrics passes", test_promtool },
		{ "every series, with its labels and values", test_series },
		{ "file source, no checker: no source series, health at 0",
		  test_file_source_no_checker },
		{ "figures equal chlb -j stats", test_equal_stats },
		{ "HTTP: 200 + content type + same text, HEAD, 405, 404", test_http },
		{ "HTTP: [::1] only; 500 with the reason", test_http_v6_and_500 },
		{ "bad ADDR:PORT is usage, bind failures run-time", test_bad_listen },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("metrics", suite_init, suite_clean, tests),
		CU_SUITE_INFO_NULL,
	};

	if (geteuid() != 0) {
		printf("SKIPPED: test_metrics needs root (BPF, bpffs, a network namespace)\n");
		return 77;
	}
	cli_cmd_quiet_libs();
	return cu_main(suites);
}
