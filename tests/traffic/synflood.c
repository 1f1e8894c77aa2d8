// SPDX-License-Identifier: GPL-2.0
/*
 * synflood: a SYN flood for tests/sh/flood.sh, built like xdpgen (see
 * tests/bench_e2e.sh). It runs synflood.bpf.c through BPF_PROG_TEST_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES on IFNAME (in the caller's network namespace):
 * every run of the program turns the template into a plain SYN (no options)
 * to DST_IP:DST_PORT from a source address in SRC_NET/PREFIX and a source
 * port in 1024..65535, both drawn per frame from SEED and the frame's
 * number (so the same seed replays the same flood), and transmits it.
 *
 * usage: synflood IFNAME DST_MAC SRC_MAC SRC_NET/PREFIX DST_IP DST_PORT SECONDS SEED
 * Runs until SECONDS have passed (or SIGTERM/SIGINT), at full speed.
 * prints: "sent N SYNs in S s: R pps, sources NET/PREFIX x ports 1024-65535, seed SEED"
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <netinet/ether.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "synflood.skel.h"

#define CHUNK 32768u	/* runs per syscall: about 0.1 s, so the clock is checked often */

struct frame {
	struct ethhdr eth;
	struct iphdr ip;
	struct tcphdr tcp;
} __attribute__((packed));

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* "10.213.0.0/16" -> network and host mask, host order. */
static int parse_net(const char *s, __u32 *net, __u32 *mask)
{
	char buf[INET_ADDRSTRLEN + 4], *slash, *end;
	struct in_addr a;
	long prefix;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	prefix = strtol(slash + 1, &end, 10);
	if (*end || prefix < 8 || prefix > 32 || inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*mask = prefix == 32 ? 0 : 0xffffffffu >> prefix;
	*net = ntohl(a.s_addr) & ~*mask;
	return 0;
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
	f->ip.protocol = IPPROTO_TCP;
	f->ip.tot_len = htons(sizeof(*f) - sizeof(f->eth));
	if (inet_pton(AF_INET, argv[5], &f->ip.daddr) != 1)
		return -EINVAL;
	f->tcp.dest = htons(atoi(argv[6]));
	f->tcp.doff = sizeof(f->tcp) / 4;
	f->tcp.syn = 1;
	f->tcp.window = htons(64240);
	/* Source address and port, sequence, id and checksums: per frame. */
	return 0;
}

int main(int argc, char **argv)
{
	struct synflood *skel = NULL;
	struct frame f;
	struct xdp_md ctx = { .data_end = sizeof(f) };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = &f,
		.data_size_in = sizeof(f),
		.ctx_in = &ctx,
		.ctx_size_in = sizeof(ctx),
		.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		.repeat = CHUNK,
	);
	unsigned long long sent = 0, seed;
	double seconds, t0, t1;
	__u32 net, mask;
	int ifindex, fd, err = 0;

	if (argc != 9) {
		fprintf(stderr, "usage: %s IFNAME DST_MAC SRC_MAC SRC_NET/PREFIX DST_IP DST_PORT "
			"SECONDS SEED\n", argv[0]);
		return 2;
	}
	ifindex = if_nametoindex(argv[1]);
	seconds = strtod(argv[7], NULL);
	seed = strtoull(argv[8], NULL, 0);
	if (!ifindex || seconds <= 0 || parse_net(argv[4], &net, &mask) || build_frame(&f, argv)) {
		fprintf(stderr, "Error: bad interface, address, prefix or duration\n");
		return 2;
	}
	ctx.ingress_ifindex = ifindex;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	skel = synflood__open();
	if (!skel) {
		fprintf(stderr, "Error: opening synflood: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->seed = seed;
	skel->rodata->src_net = net;
	skel->rodata->src_mask = mask;
	err = synflood__load(skel);
	if (err) {
		fprintf(stderr, "Error: loading synflood: %s\n", strerror(-err));
		goto out;
	}
	fd = bpf_program__fd(skel->progs.synflood);
	t0 = t1 = now();
	while (!stop && t1 - t0 < seconds) {
		if (bpf_prog_test_run_opts(fd, &opts)) {
			err = -errno;
			fprintf(stderr, "Error: BPF_PROG_TEST_RUN live frames on %s: %s\n",
				argv[1], strerror(-err));
			break;
		}
		sent += CHUNK;
		t1 = now();
	}
	printf("sent %llu SYNs in %.3f s: %.0f pps, sources %s x ports 1024-65535, seed %llu\n",
	       sent, t1 - t0, sent / (t1 - t0), argv[4], seed);
out:
	synflood__destroy(skel);
	return err ? 1 : 0;
}
