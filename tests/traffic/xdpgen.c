// SPDX-License-Identifier: GPL-2.0
/*
 * xdpgen: a packet generator for the e2e bench that works on kernels where
 * xdp-trafficgen does not load. It runs gen_tx.bpf.c through
 * BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on IFNAME (in the
 * caller's network namespace): every run of the program turns a template
 * UDP/IPv4 frame into a real transmitted frame (XDP_TX on IFNAME).
 *
 * usage: xdpgen IFNAME DST_MAC SRC_MAC SRC_IP DST_IP DST_PORT COUNT
 * prints: "sent COUNT packets in SECONDS s"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <net/if.h>
#include <netinet/ether.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gen_tx.skel.h"

#define PAYLOAD 18	/* 14 + 20 + 8 + 18 = 60: a minimum-size frame */
#define CHUNK (1u << 20)	/* runs per syscall, so ^C stays responsive */

struct frame {
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	char payload[PAYLOAD];
} __attribute__((packed));

static __u16 ip_csum(const void *p, int len)
{
	const __u16 *w = p;
	__u32 sum = 0;

	for (; len > 1; len -= 2)
		sum += *w++;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static int build_frame(struct frame *f, char **argv)
{
	struct ether_addr *mac;

	memset(f, 0, sizeof(*f));
	mac = ether_aton(argv[2]);
	if (!mac)
		return -EINVAL;
	memcpy(f->eth.h_dest, mac, ETH_ALEN);
	mac = ether_aton(argv[3]);
	if (!mac)
		return -EINVAL;
	memcpy(f->eth.h_source, mac, ETH_ALEN);
	f->eth.h_proto = htons(ETH_P_IP);
	f->ip.version = 4;
	f->ip.ihl = 5;
	f->ip.ttl = 64;
	f->ip.protocol = IPPROTO_UDP;
	f->ip.tot_len = htons(sizeof(*f) - sizeof(f->eth));
	if (inet_pton(AF_INET, argv[4], &f->ip.saddr) != 1 ||
	    inet_pton(AF_INET, argv[5], &f->ip.daddr) != 1)
		return -EINVAL;
	f->ip.check = ip_csum(&f->ip, sizeof(f->ip));
	f->udp.source = htons(1024);
	f->udp.dest = htons(atoi(argv[6]));
	f->udp.len = htons(sizeof(f->udp) + PAYLOAD);
	memcpy(f->payload, "chlb-bench", 10);
	return 0;
}

static int run(int prog_fd, int ifindex, struct frame *f, unsigned long long count)
{
	/* The kernel wants data_end == the frame size in the context. */
	struct xdp_md ctx = { .data_end = sizeof(*f), .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = f,
		.data_size_in = sizeof(*f),
		.ctx_in = &ctx,
		.ctx_size_in = sizeof(ctx),
		.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
	);
	int err;

	while (count) {
		opts.repeat = count < CHUNK ? count : CHUNK;
		err = bpf_prog_test_run_opts(prog_fd, &opts);
		if (err)
			return -errno;
		count -= opts.repeat;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long count;
	struct timespec t0, t1;
	struct gen_tx *skel = NULL;
	struct frame f;
	int ifindex, err;

	if (argc != 8) {
		fprintf(stderr, "usage: %s IFNAME DST_MAC SRC_MAC SRC_IP DST_IP DST_PORT COUNT\n",
			argv[0]);
		return 2;
	}
	ifindex = if_nametoindex(argv[1]);
	count = strtoull(argv[7], NULL, 0);
	if (!ifindex || !count || build_frame(&f, argv)) {
		fprintf(stderr, "Error: bad interface, address or count\n");
		return 2;
	}
	skel = gen_tx__open_and_load();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "Error: loading gen_tx: %s\n", strerror(-err));
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = run(bpf_program__fd(skel->progs.gen_tx), ifindex, &f, count);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (err) {
		fprintf(stderr, "Error: BPF_PROG_TEST_RUN live frames on %s: %s\n",
			argv[1], strerror(-err));
		goto out;
	}
	printf("sent %llu packets in %.6f s\n", count,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
out:
	gen_tx__destroy(skel);
	return err ? 1 : 0;
}
