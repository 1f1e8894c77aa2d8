// SPDX-License-Identifier: GPL-2.0
/*
 * Configuration documents (SPEC §9): valid ones parse with every default
 * filled in and print back in one canonical text that parses to the same
 * data; invalid ones are refused with the JSON path of the bad value first
 * in the message, leaving the document empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <CUnit/Basic.h>

#include "core/doc.h"
#include "core/parse.h"
#include "helpers/cu_main.h"

/* Documents are written with ' for " so the tables stay readable. */
static char *dq(const char *s)
{
	char *t = strdup(s), *p;

	for (p = t; p && *p; p++)
		if (*p == '\'')
			*p = '"';
	return t;
}

static int parse_dq(const char *s, struct doc *d, struct chlb_err *e)
{
	char *t = dq(s);
	int err;

	err_clear(e);
	err = doc_parse(t, d, e);
	free(t);
	return err;
}

static bool doc_empty(const struct doc *d)
{
	static const struct doc zero;

	return !memcmp(d, &zero, sizeof(zero));
}

/* Equal data: the same VIPs and backends in the same order. */
static bool docs_equal(const struct doc *a, const struct doc *b)
{
	int i, j;

	if (memcmp(&a->cluster, &b->cluster, sizeof(a->cluster)) || a->nvips != b->nvips)
		return false;
	for (i = 0; i < a->nvips; i++) {
		const struct doc_vip *x = &a->vips[i], *y = &b->vips[i];

		if (memcmp(&x->key, &y->key, sizeof(x->key)) || x->method != y->method ||
		    memcmp(&x->health, &y->health, sizeof(x->health)) ||
		    x->nbackends != y->nbackends)
			return false;
		for (j = 0; j < x->nbackends; j++) {
			const struct doc_backend *p = &x->backends[j], *q = &y->backends[j];

			if (memcmp(&p->addr, &q->addr, sizeof(p->addr)) || p->weight != q->weight ||
			    p->state != q->state || p->has_mac != q->has_mac ||
			    (p->has_mac && memcmp(p->mac, q->mac, 6)))
				return false;
		}
	}
	return true;
}

static const char *spec_doc =
	"{ 'cluster': { 'seed': '5eed', 'vnodes': 1000, 'table_size': 65537, 'algo': 'ring' },\n"
	"  'vips': [ { 'vip': '10.0.0.100:80/tcp', 'method': 'dsr',\n"
	"      'health': { 'type': 'http', 'port': 80, 'path': '/healthz', 'expect': 200,\n"
	"                  'interval_ms': 1000, 'timeout_ms': 500, 'rise': 2, 'fall': 3 },\n"
	"      'backends': [ { 'addr': '10.0.1.5', 'weight': 2 },\n"
	"                    { 'addr': '10.0.1.6', 'state': 'draining',\n"
	"                      'mac': 'aa:bb:cc:dd:ee:ff' } ] } ] }\n";

/* SPEC §9's example: every value where it belongs, in document order. */
static void test_spec_example(void)
{
	static const __u8 mac[6] = { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
	struct chlb_err e;
	struct doc d;
	char buf[CLI_VIP_STRLEN];

	CU_ASSERT_EQUAL_FATAL(parse_dq(spec_doc, &d, &e), 0);
	CU_ASSERT(!err_has(&e));
	CU_ASSERT(d.cluster.set && d.cluster.has_seed && d.cluster.has_vnodes);
	CU_ASSERT(d.cluster.has_table_size && d.cluster.has_algo);
	CU_ASSERT_EQUAL(d.cluster.seed, 0x5eed);
	CU_ASSERT_EQUAL(d.cluster.vnodes, 1000);
	CU_ASSERT_EQUAL(d.cluster.table_size, 65537);
	CU_ASSERT_EQUAL(d.cluster.algo, CHLB_ALGO_RING);
	CU_ASSERT_EQUAL_FATAL(d.nvips, 1);
	format_vip(&d.vips[0].key, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "10.0.0.100:80/tcp");
	CU_ASSERT_EQUAL(d.vips[0].method, CHLB_METHOD_DSR);
	CU_ASSERT_EQUAL(d.vips[0].health.type, CHLB_HEALTH_HTTP);
	CU_ASSERT_EQUAL(d.vips[0].health.port, 80);
	CU_ASSERT_STRING_EQUAL(d.vips[0].health.path, "/healthz");
	CU_ASSERT_EQUAL(d.vips[0].health.expect, 200);
	CU_ASSERT_EQUAL(d.vips[0].health.interval_ms, 1000);
	CU_ASSERT_EQUAL(d.vips[0].health.timeout_ms, 500);
	CU_ASSERT(d.vips[0].health.rise == 2 && d.vips[0].health.fall == 3);
	CU_ASSERT_EQUAL_FATAL(d.vips[0].nbackends, 2);
	format_addr(d.vips[0].backends[0].addr.bytes, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "10.0.1.5");
	CU_ASSERT_EQUAL(d.vips[0].backends[0].weight, 2);
	CU_ASSERT_EQUAL(d.vips[0].backends[0].state, CHLB_STATE_ACTIVE);
	CU_ASSERT(!d.vips[0].backends[0].has_mac);
	format_addr(d.vips[0].backends[1].addr.bytes, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "10.0.1.6");
	CU_ASSERT_EQUAL(d.vips[0].backends[1].weight, 1);
	CU_ASSERT_EQUAL(d.vips[0].backends[1].state, CHLB_STATE_DRAINING);
	CU_ASSERT(d.vips[0].backends[1].has_mac);
	CU_ASSERT(!memcmp(d.vips[0].backends[1].mac, mac, 6));
	doc_free(&d);
	CU_ASSERT(doc_empty(&d));
}

/* Everything left out takes its documented default. */
static void test_defaults(void)
{
	struct chlb_err e;
	struct doc d;
	struct chlb_health *h;

	CU_ASSERT_EQUAL_FATAL(parse_dq("{'vips': [ { 'vip': '10.0.0.1:53/udp', 'health': "
				       "{ 'type': 'http' }, 'backends': [ { 'addr': "
				       "'10.0.1.1' } ] }, { 'vip': '10.0.0.1:53/tcp', "
				       "'health': { 'type': 'tcp', 'interval_ms': 500 } } ] }",
				       &d, &e), 0);
	CU_ASSERT(!d.cluster.set);
	CU_ASSERT_EQUAL_FATAL(d.nvips, 2);
	CU_ASSERT_EQUAL(d.vips[0].key.proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(d.vips[0].method, CHLB_METHOD_DSR);
	h = &d.vips[0].health;
	CU_ASSERT_EQUAL(h->type, CHLB_HEALTH_HTTP);
	CU_ASSERT_EQUAL(h->port, 53);		/* the VIP's port */
	CU_ASSERT_STRING_EQUAL(h->path, "/");
	CU_ASSERT_EQUAL(h->expect, 200);
	CU_ASSERT_EQUAL(h->interval_ms, 2000);
	CU_ASSERT_EQUAL(h->timeout_ms, 1000);
	CU_ASSERT(h->rise == 2 && h->fall == 3);
	CU_ASSERT_EQUAL_FATAL(d.vips[0].nbackends, 1);
	CU_ASSERT_EQUAL(d.vips[0].backends[0].weight, 1);
	CU_ASSERT_EQUAL(d.vips[0].backends[0].state, CHLB_STATE_ACTIVE);
	CU_ASSERT(!d.vips[0].backends[0].has_mac);
	h = &d.vips[1].health;
	CU_ASSERT_EQUAL(h->type, CHLB_HEALTH_TCP);
	CU_ASSERT_EQUAL(h->timeout_ms, 500);	/* never longer than the interval */
	CU_ASSERT(h->path[0] == '\0' && h->expect == 0);	/* not for tcp */
	CU_ASSERT_EQUAL(d.vips[1].nbackends, 0);
	CU_ASSERT_PTR_NULL(d.vips[1].backends);
	doc_free(&d);

	/* A VIP without "health" has none; an empty document has nothing. */
	CU_ASSERT_EQUAL_FATAL(parse_dq("{'vips':[{'vip':'10.0.0.1:80/tcp'}]}", &d, &e), 0);
	CU_ASSERT_EQUAL(d.vips[0].health.type, CHLB_HEALTH_NONE);
	doc_free(&d);
	CU_ASSERT_EQUAL_FATAL(parse_dq(" {} ", &d, &e), 0);
	CU_ASSERT(doc_empty(&d));
	CU_ASSERT_EQUAL_FATAL(parse_dq("{'cluster':{}, 'vips': []}", &d, &e), 0);
	CU_ASSERT(d.cluster.set && !d.cluster.has_seed && !d.cluster.has_algo);
	CU_ASSERT(d.nvips == 0 && !d.vips);
	doc_free(&d);
}

/* The canonical text itself: key order, indentation, defaults, newline. */
static void test_canonical_text(void)
{
	static const char *want =
		"{\n"
		"  'cluster': {\n"
		"    'seed': '0000000000005eed',\n"
		"    'algo': 'ring'\n"
		"  },\n"
		"  'vips': [\n"
		"    {\n"
		"      'vip': '10.0.0.100:80/tcp',\n"
		"      'method': 'dsr',\n"
		"      'health': {\n"
		"        'type': 'http',\n"
		"        'port': 8080,\n"
		"        'path': '/a/b?c=d',\n"
		"        'expect': 204,\n"
		"        'interval_ms': 2000,\n"
		"        'timeout_ms': 1000,\n"
		"        'rise': 2,\n"
		"        'fall': 3\n"
		"      },\n"
		"      'backends': [\n"
		"        {\n"
		"          'addr': '10.0.1.5',\n"
		"          'weight': 1,\n"
		"          'state': 'active',\n"
		"          'mac': '02:00:00:00:00:01'\n"
		"        }\n"
		"      ]\n"
		"    }\n"
		"  ]\n"
		"}\n";
	char *w = dq(want), *t;
	struct chlb_err e;
	struct doc d;

	CU_ASSERT_EQUAL_FATAL(parse_dq("{'vips':[{'backends':[{'mac':'02:00:00:00:00:01','addr':"
				       "'10.0.1.5'}],'health':{'expect':204,'path':'/a/b?c=d',"
				       "'port':8080,'type':'http'},'vip':'10.0.0.100:80/tcp'}],"
				       "'cluster':{'algo':'ring','seed':'0x5EED'}}",
				       &d, &e), 0);
	t = doc_format(&d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_STRING_EQUAL(t, w);
	free(t);
	doc_free(&d);

	/* No cluster object: none written; no VIPs: an empty array all the same. */
	CU_ASSERT_EQUAL_FATAL(parse_dq("{}", &d, &e), 0);
	t = doc_format(&d);
	CU_ASSERT_STRING_EQUAL(t, "{\n  \"vips\": [\n  ]\n}\n");
	free(t);
	free(w);
}

static const char *roundtrip_docs[] = {
	"{}",
	"{'cluster':{}}",
	"{'cluster':{'vnodes':1,'table_size':16777216,'seed':'0xffffffffffffffff'}}",
	"{'cluster':{'table_size':7}, 'vips':[{'vip':'[::]:1/udp'}]}",
	NULL,	/* the SPEC example, filled in below */
	"{'vips':[{'vip':'[2001:db8::1]:443/tcp','health':{'type':'tcp','port':8443,"
	"'interval_ms':3600000,'timeout_ms':3600000,'rise':100,'fall':1},'backends':["
	"{'addr':'2001:db8::2','weight':256},{'addr':'10.0.0.2','state':'draining'},"
	"{'addr':'::'},{'addr':'fe80::1','mac':'02:aa:bb:cc:dd:ee'}]},"
	"{'vip':'10.0.0.1:443/tcp','health':{'type':'http','path':"
	"'/~x/%20y!$&()*+,;=:@-._', 'expect':599,'interval_ms':100,'timeout_ms':10}},"
	"{'vip':'10.0.0.1:443/udp'},{'vip':'10.0.0.1:80/udp'},{'vip':'9.0.0.1:443/tcp'}]}",
	/* method ipip: IPv4 VIPs on both families, IPv6 on IPv6; beside dsr */
	"{'vips':[{'vip':'10.0.0.2:80/tcp','method':'ipip','backends':[{'addr':'2001:db8::5'},"
	"{'addr':'192.0.2.5','weight':3,'state':'draining'}]},{'vip':'[2001:db8::9]:53/udp',"
	"'method':'ipip','backends':[{'addr':'2001:db8:1::5'}]},{'vip':'10.0.0.2:81/tcp',"
	"'method':'dsr','backends':[{'addr':'10.0.1.5','mac':'02:00:00:00:00:05'}]}]}",
};

/*
 * format(parse(format(x))) == format(x), byte for byte, and the data
 * parsed back equals the original once sorted.
 */
static void test_roundtrip(void)
{
	size_t i, n = sizeof(roundtrip_docs) / sizeof(roundtrip_docs[0]);
	struct doc a, b;
	struct chlb_err e;
	char *t1, *t2;

	for (i = 0; i < n; i++) {
		const char *src = roundtrip_docs[i] ? roundtrip_docs[i] : spec_doc;

		CU_ASSERT_EQUAL_FATAL(parse_dq(src, &a, &e), 0);
		t1 = doc_format(&a);
		CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
		CU_ASSERT_EQUAL_FATAL(doc_parse(t1, &b, &e), 0);
		t2 = doc_format(&b);
		CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
		if (strcmp(t1, t2))
			fprintf(stderr, "doc %zu:\n%s---\n%s", i, t1, t2);
		CU_ASSERT_STRING_EQUAL(t1, t2);
		doc_sort(&a);
		CU_ASSERT(docs_equal(&a, &b));
		free(t1);
		free(t2);
		doc_free(&a);
		doc_free(&b);
	}
}

/* Order in the document does not matter: VIPs and backends are sorted. */
static void test_sorting(void)
{
	static const char *x =
		"{'vips':[{'vip':'[2001:db8::1]:80/tcp','backends':[{'addr':'2001:db8::3'},"
		"{'addr':'2001:db8::20'}]},{'vip':'10.0.0.2:80/tcp'},{'vip':'10.0.0.1:443/udp'},"
		"{'vip':'10.0.0.1:443/tcp'},{'vip':'10.0.0.1:80/tcp','backends':[{'addr':"
		"'10.0.1.10'},{'addr':'10.0.1.9'},{'addr':'::1'}]}]}";
	static const char *y =
		"{'vips':[{'vip':'10.0.0.1:80/tcp','backends':[{'addr':'10.0.1.9'},{'addr':"
		"'::1'},{'addr':'10.0.1.10'}]},{'vip':'10.0.0.1:443/tcp'},{'vip':"
		"'10.0.0.1:443/udp'},{'vip':'10.0.0.2:80/tcp'},{'vip':'[2001:DB8::1]:80/tcp',"
		"'backends':[{'addr':'2001:db8::20'},{'addr':'2001:db8:0::3'}]}]}";
	static const char *order[] = { "10.0.0.1:80/tcp", "10.0.0.1:443/tcp",
				       "10.0.0.1:443/udp", "10.0.0.2:80/tcp",
				       "[2001:db8::1]:80/tcp" };
	struct doc a, b;
	struct chlb_err e;
	char *ta, *tb, buf[CLI_VIP_STRLEN];
	int i;

	CU_ASSERT_EQUAL_FATAL(parse_dq(x, &a, &e), 0);
	CU_ASSERT_EQUAL_FATAL(parse_dq(y, &b, &e), 0);
	ta = doc_format(&a);
	tb = doc_format(&b);
	CU_ASSERT_STRING_EQUAL(ta, tb);
	/* doc_format sorts a copy: the caller's document keeps its order */
	format_vip(&a.vips[0].key, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "[2001:db8::1]:80/tcp");
	doc_sort(&a);
	for (i = 0; i < 5; i++) {
		format_vip(&a.vips[i].key, buf, sizeof(buf));
		CU_ASSERT_STRING_EQUAL(buf, order[i]);
	}
	/* backends by address bytes: ::1 (IPv6) before ::ffff:10.0.1.9 */
	format_addr(a.vips[0].backends[0].addr.bytes, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "::1");
	format_addr(a.vips[0].backends[1].addr.bytes, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "10.0.1.9");
	format_addr(a.vips[4].backends[0].addr.bytes, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2001:db8::3");
	CU_ASSERT_PTR_NOT_NULL(strstr(ta, "\"vip\": \"[2001:db8::1]:80/tcp\""));
	free(ta);
	free(tb);
	doc_free(&a);
	doc_free(&b);
}

/* IPv6 VIPs and backends, written any valid way, come out canonical. */
static void test_ipv6(void)
{
	static const __u8 v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct chlb_err e;
	struct doc d;
	char buf[CHLB_ADDR_STRLEN], *t;

	CU_ASSERT_EQUAL_FATAL(parse_dq("{'vips':[{'vip':'[2001:0DB8:0:0::1]:8443/udp','health':"
				       "{'type':'tcp'},'backends':[{'addr':'2001:DB8::A',"
				       "'weight':3},{'addr':'fd00::1:0:0:1'}]}]}",
				       &d, &e), 0);
	CU_ASSERT_EQUAL(d.vips[0].key.family, CHLB_FAMILY_INET6);
	CU_ASSERT(!memcmp(d.vips[0].key.addr, v6, 16));
	CU_ASSERT_EQUAL(d.vips[0].key.port, htons(8443));
	CU_ASSERT_EQUAL(d.vips[0].health.port, 8443);
	format_addr(d.vips[0].backends[0].addr.bytes, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "2001:db8::a");
	CU_ASSERT_EQUAL(d.vips[0].backends[0].weight, 3);
	t = doc_format(&d);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"vip\": \"[2001:db8::1]:8443/udp\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"addr\": \"fd00::1:0:0:1\""));
	free(t);
	doc_free(&d);
}

struct bad_doc {
	const char *doc;	/* ' stands for " */
	const char *prefix;	/* the message starts with it */
};

#define VIP0 "{'vips':[{'vip':'10.0.0.1:80/tcp',"
#define BE0 VIP0 "'backends':[{'addr':'10.0.1.1',"
#define HC0 VIP0 "'health':{"

static const struct bad_doc bad_docs[] = {
	/* syntax, and the document as a whole */
	{ "", "empty document" },
	{ " \n\t ", "empty document" },
	{ "{'vips':[1,]}", "line 1, column 12: invalid JSON: unexpected character" },
	{ "{\n'vips':\n[1,\n]}", "line 4, column 1: invalid JSON: unexpected character" },
	{ "{'vips':[", "line 1, column 10: invalid JSON: unexpected end of data" },
	{ "{'vips':[{'vip':'10.0.0.1", "line 1, column 26: invalid JSON: unexpected end" },
	{ "{} {}", "line 1, column 4: invalid JSON" },
	{ "{'vips':[]} x", "line 1, column 13: invalid JSON" },
	{ "{/*c*/}", "line 1, column 2: invalid JSON" },
	{ "[]", "document: expected an object, got an array" },
	{ "null", "document: expected an object, got null" },
	{ "{'bogus':1}", "bogus: unknown key" },
	{ "{'vips':[],'vips':[]}", "vips: duplicate key" },
	{ "{'vips':[],'v\\u0000':[]}", "v: key contains a NUL character" },
	/* cluster */
	{ "{'cluster':[]}", "cluster: expected an object, got an array" },
	{ "{'cluster':{'seed':'xyz'}}", "cluster.seed: invalid seed 'xyz'" },
	{ "{'cluster':{'seed':5}}", "cluster.seed: expected a string, got 5" },
	{ "{'cluster':{'seed':'0x12345678901234567'}}", "cluster.seed: invalid seed" },
	{ "{'cluster':{'vnodes':0}}", "cluster.vnodes: 0 is not in 1..10000" },
	{ "{'cluster':{'vnodes':10001}}", "cluster.vnodes: 10001 is not in 1..10000" },
	{ "{'cluster':{'vnodes':NaN}}", "cluster.vnodes: expected an integer, got NaN" },
	{ "{'cluster':{'vnodes':99999999999999999999}}", "cluster.vnodes: " },
	{ "{'cluster':{'table_size':16777217}}",
	  "cluster.table_size: 16777217 is not in 1..16777216" },
	{ "{'cluster':{'algo':'maglev'}}", "cluster.algo: unknown algorithm 'maglev'" },
	{ "{'cluster':{'vnodes':1,'colour':2}}", "cluster.colour: unknown key" },
	/* VIPs */
	{ "{'vips':{}}", "vips: expected an array, got an object" },
	{ "{'vips':[5]}", "vips[0]: expected an object, got 5" },
	{ "{'vips':[{}]}", "vips[0].vip: required but missing" },
	{ "{'vips':[{'vip':'10.0.0.1:80'}]}",
	  "vips[0].vip: invalid VIP '10.0.0.1:80': expected ADDR:PORT/PROTO" },
	{ "{'vips':[{'vip':'10.0.0.1:80/tcp'},{'vip':'10.0.0.1:0/tcp'}]}",
	  "vips[1].vip: invalid port '0'" },
	{ "{'vips':[{'vip':'10.0.0.1:80/tcp\\u0000x'}]}",
	  "vips[0].vip: contains a NUL character" },
	{ "{'vips':[{'vip':'10.0.0.1:80/tcp'},{'vip':'10.0.0.1:80/udp'},"
	  "{'vip':'10.0.0.1:80/tcp'}]}",
	  "vips[2].vip: duplicate of vips[0]" },
	{ "{'vips':[{'vip':'[2001:db8::1]:80/tcp'},{'vip':'[2001:DB8:0::1]:80/tcp'}]}",
	  "vips[1].vip: duplicate of vips[0]" },
	{ "{'vips':[{'vip':'10.0.0.1:80/tcp'},{'vip':'[::ffff:10.0.0.1]:80/tcp'}]}",
	  "vips[1].vip: invalid address '::ffff:10.0.0.1'" },
	{ VIP0 "'method':'nat'}]}", "vips[0].method: unknown method 'nat': expected dsr or ipip" },
	{ VIP0 "'method':'IPIP'}]}", "vips[0].method: unknown method 'IPIP'" },
	{ VIP0 "'method':'ipip','backends':[{'addr':'10.0.1.1'},{'addr':'10.0.1.2',"
	  "'mac':'02:00:00:00:00:01'}]}]}",
	  "vips[0].backends[1].mac: ipip backends are reached through the FIB: \"mac\" is for dsr" },
	{ VIP0 "'backends':[{'addr':'10.0.1.2','mac':'02:00:00:00:00:01'}],'method':'ipip'}]}",
	  "vips[0].backends[0].mac: ipip backends are reached through the FIB" },
	{ VIP0 "'method':1}]}", "vips[0].method: expected a string, got 1" },
	{ VIP0 "'weight':1}]}", "vips[0].weight: unknown key" },
	{ VIP0 "'backends':{}}]}", "vips[0].backends: expected an array, got an object" },
	/* backends */
	{ VIP0 "'backends':[{'weight':2}]}]}", "vips[0].backends[0].addr: required but missing" },
	{ VIP0 "'backends':[{'addr':'10.0.1.256'}]}]}",
	  "vips[0].backends[0].addr: invalid address '10.0.1.256'" },
	{ VIP0 "'backends':[{'addr':'10.0.1.0/24'}]}]}",
	  "vips[0].backends[0].addr: invalid address '10.0.1.0/24'" },
	{ "{'vips':[{'vip':'10.0.0.1:80/tcp'},{'vip':'10.0.0.2:80/tcp','backends':"
	  "[{'addr':'10.0.1.1','weight':0}]}]}",
	  "vips[1].backends[0].weight: 0 is not in 1..256" },
	{ BE0 "'weight':257}]}]}", "vips[0].backends[0].weight: 257 is not in 1..256" },
	{ BE0 "'weight':-1}]}]}", "vips[0].backends[0].weight: -1 is not in 1..256" },
	{ BE0 "'weight':1.5}]}]}", "vips[0].backends[0].weight: expected an integer, got 1.5" },
	{ BE0 "'weight':2.0}]}]}", "vips[0].backends[0].weight: expected an integer, got 2.0" },
	{ BE0 "'weight':'2'}]}]}",
	  "vips[0].backends[0].weight: expected an integer, got \"2\"" },
	{ BE0 "'weight':true}]}]}", "vips[0].backends[0].weight: expected an integer, got true" },
	{ BE0 "'weight':null}]}]}", "vips[0].backends[0].weight: expected an integer, got null" },
	{ BE0 "'weight':1,'weight':2}]}]}", "vips[0].backends[0].weight: duplicate key" },
	{ BE0 "'state':'up'}]}]}",
	  "vips[0].backends[0].state: unknown state 'up': expected active or draining" },
	{ BE0 "'state':'Active'}]}]}", "vips[0].backends[0].state: unknown state 'Active'" },
	{ BE0 "'mac':'aa:bb:cc:dd:ee'}]}]}", "vips[0].backends[0].mac: invalid MAC" },
	{ BE0 "'mac':'01:00:5e:00:00:01'}]}]}", "vips[0].backends[0].mac: invalid MAC" },
	{ BE0 "'mac':''}]}]}", "vips[0].backends[0].mac: invalid MAC" },
	{ VIP0 "'backends':[{'addr':'10.0.1.1'},{'addr':'10.0.1.2','bogus':1}]}]}",
	  "vips[0].backends[1].bogus: unknown key" },
	{ VIP0 "'backends':[{'addr':'10.0.1.1'},{'addr':'10.0.1.2'},{'addr':'10.0.1.1',"
	  "'weight':5}]}]}",
	  "vips[0].backends[2].addr: duplicate of vips[0].backends[0] (10.0.1.1)" },
	{ VIP0 "'backends':[{'addr':'2001:db8::1'},{'addr':'2001:DB8::0:1'}]}]}",
	  "vips[0].backends[1].addr: duplicate of vips[0].backends[0]" },
	/* health checks */
	{ VIP0 "'health':'http'}]}", "vips[0].health: expected an object, got \"http\"" },
	{ HC0 "'port':80}}]}", "vips[0].health.type: required but missing" },
	{ HC0 "'type':'udp'}}]}", "vips[0].health.type: unknown type 'udp': expected tcp or http" },
	{ HC0 "'type':'tcp','port':0}}]}", "vips[0].health.port: 0 is not in 1..65535" },
	{ HC0 "'type':'tcp','port':65536}}]}", "vips[0].health.port: 65536 is not in 1..65535" },
	{ HC0 "'type':'tcp','interval_ms':99}}]}",
	  "vips[0].health.interval_ms: 99 is not in 100..3600000" },
	{ HC0 "'type':'tcp','interval_ms':3600001}}]}",
	  "vips[0].health.interval_ms: 3600001 is not in 100..3600000" },
	{ HC0 "'type':'tcp','timeout_ms':9}}]}", "vips[0].health.timeout_ms: 9 is not in 10..2000" },
	{ HC0 "'type':'tcp','interval_ms':1000,'timeout_ms':1001}}]}",
	  "vips[0].health.timeout_ms: 1001 is not in 10..1000" },
	{ HC0 "'type':'tcp','rise':0}}]}", "vips[0].health.rise: 0 is not in 1..100" },
	{ HC0 "'type':'tcp','fall':101}}]}", "vips[0].health.fall: 101 is not in 1..100" },
	{ HC0 "'type':'tcp','path':'/'}}]}", "vips[0].health.path: only for http" },
	{ HC0 "'type':'tcp','expect':200}}]}", "vips[0].health.expect: only for http" },
	{ HC0 "'type':'http','path':'healthz'}}]}",
	  "vips[0].health.path: 'healthz' does not start with '/'" },
	{ HC0 "'type':'http','path':'/a b'}}]}", "vips[0].health.path: '/a b': byte 3" },
	{ HC0 "'type':'http','path':'/a\\tb'}}]}", "vips[0].health.path: '/a?b': byte 3" },
	{ HC0 "'type':'http','path':'/\\u00e9'}}]}", "vips[0].health.path: " },
	{ HC0 "'type':'http','path':''}}]}", "vips[0].health.path: '' does not start with '/'" },
	{ HC0 "'type':'http','expect':99}}]}", "vips[0].health.expect: 99 is not in 100..599" },
	{ HC0 "'type':'http','expect':600}}]}", "vips[0].health.expect: 600 is not in 100..599" },
	{ HC0 "'type':'http','interval':1000}}]}", "vips[0].health.interval: unknown key" },
	{ HC0 "'type':'http','type':'tcp'}}]}", "vips[0].health.type: duplicate key" },
};

/* Each invalid document: -EINVAL, a usage error, its path first, d empty. */
static void test_invalid(void)
{
	size_t i, n = sizeof(bad_docs) / sizeof(bad_docs[0]);
	struct chlb_err e;
	struct doc d;
	int err;

	CU_ASSERT(n >= 30);
	for (i = 0; i < n; i++) {
		memset(&d, 0xa5, sizeof(d));
		err = parse_dq(bad_docs[i].doc, &d, &e);
		CU_ASSERT_EQUAL(err, -EINVAL);
		CU_ASSERT_EQUAL(e.kind, CHLB_EK_USAGE);
		CU_ASSERT(doc_empty(&d));
		if (strncmp(e.msg, bad_docs[i].prefix, strlen(bad_docs[i].prefix)))
			fprintf(stderr, "\n  bad doc %zu %s\n  got  '%s'\n  want '%s...'\n", i,
				bad_docs[i].doc, e.msg, bad_docs[i].prefix);
		CU_ASSERT_NSTRING_EQUAL(e.msg, bad_docs[i].prefix, strlen(bad_docs[i].prefix));
		if (!err)
			doc_free(&d);
	}
}

/* Refused before ' becomes ": not JSON, though json-c's strict mode takes them. */
static void test_invalid_raw(void)
{
	static const struct bad_doc raw[] = {
		{ "{'vips':[]}", "line 1, column 2: invalid JSON: strings take double quotes" },
		{ "{\"vips\":[{\"vip\":'10.0.0.1:80/tcp'}]}", "line 1, column 17: invalid JSON" },
		{ "{\"vips\":[],\"\xff\":1}", "line 1, column 13: invalid JSON: invalid utf-8" },
		{ "{\"vips\":[]}\x01", "line 1, column 12: invalid JSON" },
	};
	struct chlb_err e;
	struct doc d;
	size_t i;

	for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		err_clear(&e);
		CU_ASSERT_EQUAL(doc_parse(raw[i].doc, &d, &e), -EINVAL);
		if (strncmp(e.msg, raw[i].prefix, strlen(raw[i].prefix)))
			fprintf(stderr, "\n  raw doc %zu: got '%s'\n", i, e.msg);
		CU_ASSERT_NSTRING_EQUAL(e.msg, raw[i].prefix, strlen(raw[i].prefix));
		CU_ASSERT(doc_empty(&d));
	}
	err_clear(&e);
	CU_ASSERT_EQUAL(doc_parse(NULL, &d, &e), -EINVAL);
	CU_ASSERT(doc_empty(&d));
}

/* The HTTP path fits struct chlb_health with its NUL: 127 bytes at most. */
static void test_http_path_length(void)
{
	char path[160], text[300];
	struct chlb_err e;
	struct doc d;

	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[CHLB_HEALTH_PATH_LEN - 1] = '\0';
	snprintf(text, sizeof(text), HC0 "'type':'http','path':'%s'}}]}", path);
	CU_ASSERT_EQUAL_FATAL(parse_dq(text, &d, &e), 0);
	CU_ASSERT_STRING_EQUAL(d.vips[0].health.path, path);
	doc_free(&d);
	path[CHLB_HEALTH_PATH_LEN - 1] = 'a';
	path[CHLB_HEALTH_PATH_LEN] = '\0';
	snprintf(text, sizeof(text), HC0 "'type':'http','path':'%s'}}]}", path);
	CU_ASSERT_EQUAL(parse_dq(text, &d, &e), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "128 bytes long, at most 127"));
	CU_ASSERT(doc_empty(&d));
}

/* A big VIP: thousands of backends; the first repeat in document order is named. */
static void test_many_backends(void)
{
	const int n = 4096;
	size_t cap = 64 + n * 40, len;
	char *text = malloc(cap), *t;
	struct chlb_err e;
	struct doc d;
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	len = snprintf(text, cap, "{\"vips\":[{\"vip\":\"10.0.0.1:80/tcp\",\"backends\":[");
	for (i = 0; i < n; i++)
		len += snprintf(text + len, cap - len, "%s{\"addr\":\"10.%d.%d.1\"}", i ? "," : "",
				(n - i) / 256, (n - i) % 256);
	snprintf(text + len, cap - len, "]}]}");
	err_clear(&e);
	CU_ASSERT_EQUAL_FATAL(doc_parse(text, &d, &e), 0);
	CU_ASSERT_EQUAL(d.vips[0].nbackends, n);
	t = doc_format(&d);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"addr\": \"10.0.1.1\""));
	CU_ASSERT(strstr(t, "10.0.1.1") < strstr(t, "10.0.2.1"));	/* sorted */
	free(t);
	doc_free(&d);
	free(text);

	/* a, b, c, b, a: b at [3] is the first repeat, of [1] */
	CU_ASSERT_EQUAL(parse_dq(VIP0 "'backends':[{'addr':'::a'},{'addr':'::b'},{'addr':'::c'},"
				       "{'addr':'::b'},{'addr':'::a'}]}]}", &d, &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.msg, "vips[0].backends[3].addr: duplicate of "
				      "vips[0].backends[1] (::b)");
}

/* Method ipip parses, defaults to dsr when left out, and prints by name. */
static void test_method_ipip(void)
{
	struct chlb_err e;
	struct doc d;
	char *t;

	CU_ASSERT_EQUAL_FATAL(parse_dq("{'vips':[{'vip':'10.0.0.1:80/tcp','method':'ipip',"
				       "'backends':[{'addr':'2001:db8::1'}]},"
				       "{'vip':'10.0.0.1:81/tcp'}]}", &d, &e), 0);
	CU_ASSERT_EQUAL(d.vips[0].method, CHLB_METHOD_IPIP);
	CU_ASSERT_EQUAL(d.vips[1].method, CHLB_METHOD_DSR);
	CU_ASSERT(!d.vips[0].backends[0].has_mac);
	t = doc_format(&d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"vip\": \"10.0.0.1:80/tcp\",\n      \"method\": \"ipip\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"vip\": \"10.0.0.1:81/tcp\",\n      \"method\": \"dsr\""));
	free(t);
	doc_free(&d);
}

/* A document built by hand with values that have no name still prints. */
static void test_format_unnamed(void)
{
	struct doc_backend b = { .weight = 1, .state = 7 };
	struct doc_vip v = { .method = 9, .backends = &b, .nbackends = 1 };
	struct doc d = { .vips = &v, .nvips = 1 };
	struct chlb_err e;
	struct doc back;
	char *t;

	v.key.family = CHLB_FAMILY_INET;
	v.key.proto = IPPROTO_TCP;
	v.key.port = htons(1);
	chlb_addr_from_v4(v.key.addr, htonl(0x0a000001));
	chlb_addr_from_v4(b.addr.bytes, htonl(0x0a000002));
	t = doc_format(&d);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"method\": 9"));
	CU_ASSERT_PTR_NOT_NULL(strstr(t, "\"state\": 7"));
	err_clear(&e);
	CU_ASSERT_EQUAL(doc_parse(t, &back, &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.msg, "vips[0].method: expected a string, got 9");
	free(t);
}

static char tmpdir[] = "/tmp/test_doc.XXXXXX";

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* Files and standard input read alike. */
static void test_read(void)
{
	char path[64], *want = dq(spec_doc), *t1, *t2;
	struct chlb_err e;
	struct doc d;
	int fd, saved;

	snprintf(path, sizeof(path), "%s/doc.json", tmpdir);
	write_file(path, want, strlen(want));
	err_clear(&e);
	CU_ASSERT_EQUAL_FATAL(doc_read(path, &d, &e), 0);
	CU_ASSERT_EQUAL(d.nvips, 1);
	t1 = doc_format(&d);
	doc_free(&d);

	/* "-": standard input, here the same file */
	fd = open(path, O_RDONLY);
	saved = dup(0);
	CU_ASSERT_FATAL(fd >= 0 && saved >= 0 && dup2(fd, 0) == 0);
	CU_ASSERT_EQUAL(doc_read("-", &d, &e), 0);
	dup2(saved, 0);
	close(saved);
	close(fd);
	t2 = doc_format(&d);
	CU_ASSERT_STRING_EQUAL(t1, t2);
	doc_free(&d);
	free(t1);
	free(t2);
	free(want);
}

/* Unreadable is a run-time error; empty, NUL and endless are invalid documents. */
static void test_read_errors(void)
{
	struct chlb_err e;
	struct doc d;
	char path[64];
	int fd, saved;

	snprintf(path, sizeof(path), "%s/missing.json", tmpdir);
	err_clear(&e);
	CU_ASSERT_EQUAL(doc_read(path, &d, &e), -ENOENT);
	CU_ASSERT_EQUAL(e.kind, CHLB_EK_RUNTIME);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, path));
	CU_ASSERT(doc_empty(&d));
	err_clear(&e);
	CU_ASSERT_EQUAL(doc_read(tmpdir, &d, &e), -EISDIR);
	CU_ASSERT_EQUAL(e.kind, CHLB_EK_RUNTIME);

	snprintf(path, sizeof(path), "%s/empty.json", tmpdir);
	write_file(path, "", 0);
	err_clear(&e);
	CU_ASSERT_EQUAL(doc_read(path, &d, &e), -EINVAL);
	CU_ASSERT_EQUAL(e.kind, CHLB_EK_USAGE);
	CU_ASSERT_STRING_EQUAL(e.msg, "empty document: expected a JSON object");

	/* a NUL would hide the rest of the file from a C-string parser */
	write_file(path, "{}\n\0{\"bogus\":1}", 15);
	err_clear(&e);
	CU_ASSERT_EQUAL(doc_read(path, &d, &e), -EINVAL);
	CU_ASSERT_STRING_EQUAL(e.msg, "line 2, column 1: invalid JSON: NUL character");
	CU_ASSERT(doc_empty(&d));

	/* endless input stops at the size limit */
	fd = open("/dev/zero", O_RDONLY);
	saved = dup(0);
	CU_ASSERT_FATAL(fd >= 0 && saved >= 0 && dup2(fd, 0) == 0);
	err_clear(&e);
	CU_ASSERT_EQUAL(doc_read("-", &d, &e), -EFBIG);
	dup2(saved, 0);
	close(saved);
	close(fd);
	CU_ASSERT_EQUAL(e.kind, CHLB_EK_USAGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "standard input: larger than"));
}

static int suite_init(void)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) ? -1 : 0;
}

int main(void)
{
	static CU_TestInfo tests[] = {
		{ "SPEC example parses", test_spec_example },
		{ "defaults filled in", test_defaults },
		{ "canonical text", test_canonical_text },
		{ "format-parse-format is byte-exact", test_roundtrip },
		{ "order in the document does not matter", test_sorting },
		{ "IPv6 VIPs and backends", test_ipv6 },
		{ "invalid documents name the JSON path", test_invalid },
		{ "not JSON though json-c takes it", test_invalid_raw },
		{ "HTTP path length", test_http_path_length },
		{ "thousands of backends, first repeat named", test_many_backends },
		{ "values without names still print", test_format_unnamed },
		{ "method ipip", test_method_ipip },
		{ "files and standard input", test_read },
		{ "unreadable, empty, NUL, endless input", test_read_errors },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("doc", suite_init, suite_clean, tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
