// SPDX-License-Identifier: GPL-2.0
/*
 * Atomic table swaps, for real: one thread publishes a VIP's table
 * thousands of times with chlb_dp__set_table(), alternating between two
 * backend sets, while this thread runs packets through the loaded program
 * (BPF_PROG_TEST_RUN). Every packet must be forwarded to the backend that
 * table A or table B holds in the flow's slot: never a drop, never a
 * backend of neither set, never an entry of a table still being filled.
 *
 * The reader also counts how often consecutive packets flip between A and
 * B: at most once per swap when each swap is atomic.
 *
 * Set A is ids 1-3 and set B ids 4-6. Backend 0 exists and is in use but
 * belongs to neither: a table seen before it was filled (all zeros) would
 * send packets to it, and the test would see that.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <CUnit/Basic.h>

#include "chlb/shared.h"	/* the skeleton names its types */
#include "chlb.skel.h"
#include "dp/dataplane.h"
#include "helpers/pkt.h"
#include "helpers/xdp_run.h"
#include "helpers/cu_main.h"

#define SEED	0xfeedfacecafebeefULL
#define M	1021
#define SWAPS	2000
#define FLOWS	256

struct flow {
	__u8 frame[128];
	__u32 len;
	__u32 slot;
};

struct swapper {
	struct chlb_dp *dp;
	const __u32 *tables[2];
	int err;		/* first error of the writer */
	int done;		/* set when the writer has finished */
};

static void *swap_tables(void *arg)
{
	struct swapper *sw = arg;
	int i, err = 0;

	for (i = 0; i < SWAPS && !err; i++)
		err = chlb_dp__set_table(sw->dp, 0, sw->tables[i % 2]);
	sw->err = err;
	__atomic_store_n(&sw->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int setup(struct chlb_dp *dp, __u32 *a, __u32 *b)
{
	struct chlb_vip_info info = { .id = 0, .method = CHLB_METHOD_DSR };
	struct chlb_backend be = { .weight = 1, .flags = CHLB_BACKEND_F_IN_USE };
	struct chlb_vip_key key;
	__u32 id, s;
	int err;

	for (id = 0; id <= 6; id++) {
		be.mac[5] = id;
		if (bpf_map_update_elem(dp->backends_fd, &id, &be, BPF_ANY))
			return -errno;
	}
	for (s = 0; s < M; s++) {
		a[s] = 1 + (s * 5 + s / 3) % 3;
		b[s] = 4 + (s * 3 + s / 7) % 3;
	}
	err = chlb_dp__set_table(dp, 0, a);
	if (!err)
		pkt_vip_key(4, "10.0.0.100", 80, IPPROTO_TCP, &key);
	return err ? err : chlb_dp__vip_add(dp, &key, &info);
}

static void make_flows(struct flow *flows)
{
	struct pkt_spec s = { .family = 4, .proto = IPPROTO_TCP, .src = "192.0.2.1",
			      .dst = "10.0.0.100", .dport = 80, .payload_len = 10 };
	struct chlb_flow_key key;
	ssize_t n;
	int i;

	for (i = 0; i < FLOWS; i++) {
		s.sport = 20000 + i * 97;
		n = pkt_build(&s, flows[i].frame, sizeof(flows[i].frame));
		CU_ASSERT_FATAL(n > 0 && pkt_flow_key(&s, &key) == 0);
		flows[i].len = n;
		flows[i].slot = chlb_hash_to_slot(chlb_flow_hash(&key, SEED), M);
	}
}

struct seen {
	__u64 packets, in_a, in_b, bad, switches;
	int last;	/* 0 none yet, 1 A, 2 B */
};

/* One packet: forwarded to exactly A's or B's backend for its slot. */
static void check_packet(int fd, const struct flow *f, const __u32 *a, const __u32 *b,
			 struct seen *seen)
{
	struct xdp_result r;
	int which;

	if (xdp_run(fd, f->frame, f->len, &r) || r.verdict != XDP_TX) {
		seen->bad++;
		return;
	}
	which = r.out[5] == a[f->slot] ? 1 : r.out[5] == b[f->slot] ? 2 : 0;
	if (!which) {
		seen->bad++;
		return;
	}
	seen->in_a += which == 1;
	seen->in_b += which == 2;
	seen->switches += seen->last && seen->last != which;
	seen->last = which;
	seen->packets++;
}

static void test_swaps_under_traffic(void)
{
	struct chlb_dp_opts opts = { .max_vips = 4, .max_backends = 8, .table_size = M,
				     .seed = SEED };
	static __u32 a[M], b[M];
	static struct flow flows[FLOWS];
	struct swapper sw = { 0 };
	struct seen seen = { 0 };
	struct chlb *skel = NULL;
	struct chlb_dp dp;
	pthread_t writer;
	int fd, i = 0;

	CU_ASSERT_FATAL(chlb_dp__load(&opts, &skel) == 0);
	CU_ASSERT_FATAL(chlb_dp__from_skel(skel, &dp) == 0);
	CU_ASSERT_FATAL(setup(&dp, a, b) == 0);
	make_flows(flows);
	fd = bpf_program__fd(skel->progs.chlb_xdp);
	sw.dp = &dp;
	sw.tables[0] = b;	/* A is live: the first swap installs B */
	sw.tables[1] = a;
	CU_ASSERT_FATAL(pthread_create(&writer, NULL, swap_tables, &sw) == 0);
	while (!__atomic_load_n(&sw.done, __ATOMIC_ACQUIRE))
		check_packet(fd, &flows[i++ % FLOWS], a, b, &seen);
	pthread_join(writer, NULL);
	printf("\n    %d swaps, %llu packets: %llu to A, %llu to B, %llu A/B switches, "
	       "%llu wrong\n", SWAPS, (unsigned long long)seen.packets,
	       (unsigned long long)seen.in_a, (unsigned long long)seen.in_b,
	       (unsigned long long)seen.switches, (unsigned long long)seen.bad);
	CU_ASSERT_EQUAL(sw.err, 0);
	CU_ASSERT_EQUAL(seen.bad, 0);
	/* the reader really ran across the swaps, not before or after them */
	CU_ASSERT(seen.in_a > 0 && seen.in_b > 0);
	CU_ASSERT(seen.switches >= SWAPS / 4);
	/*
	 * Atomic swaps are seen in order, each at most once: packets run one
	 * after another can flip between A and B only when a swap happened.
	 * A table written in place, slot by slot, flips back and forth within
	 * one swap as the flows' slots are overwritten one by one.
	 */
	CU_ASSERT(seen.switches <= SWAPS);
	chlb__destroy(skel);
}

int main(void)
{
	static CU_TestInfo tests[] = {
		{ "2000 swaps A<->B under traffic", test_swaps_under_traffic },
		CU_TEST_INFO_NULL,
	};
	static CU_SuiteInfo suites[] = {
		CU_SUITE("atomic table swaps", NULL, NULL, tests),
		CU_SUITE_INFO_NULL,
	};

	return cu_main(suites);
}
