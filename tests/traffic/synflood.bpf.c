// SPDX-License-Identifier: GPL-2.0
/*
 * SYN flood generator for tests/sh/flood.sh, run by tests/traffic/synflood.c
 * with BPF_PROG_TEST_RUN and BPF_F_TEST_XDP_LIVE_FRAMES against the client's
 * veth. Each run turns the template Ethernet/IPv4/TCP SYN into a new flow:
 * frame number n gives x = mix(seed, n), and from x a source address in
 * net/prefix, a source port in 1024..65535, a sequence number and an IP id;
 * both checksums are computed, then the frame is transmitted (XDP_TX).
 *
 * Live frames keep what an earlier run wrote into a recycled page, so every
 * varying field (and the checksums) is written whole, never updated from
 * the template's value.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Set by synflood.c before load. */
const volatile __u64 seed;
const volatile __u32 src_net;	/* host order, the prefix's network */
const volatile __u32 src_mask;	/* host order, the host bits (~netmask) */

__u64 next_frame;	/* .bss: one generator runs on one CPU at a time */

/* splitmix64's finaliser: every bit of n reaches every bit of the result. */
static __always_inline __u64 mix(__u64 z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __always_inline __u16 fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* One's complement sum of n 16-bit words, n known at compile time. */
static __always_inline __u32 sum16(const __u16 *w, int n)
{
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < n; i++)
		sum += w[i];
	return sum;
}

SEC("xdp")
int synflood(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);
	__u64 x = mix(seed + 0x9e3779b97f4a7c15ULL * ++next_frame);
	__u32 sum;

	if ((void *)(tcp + 1) > data_end)
		return XDP_ABORTED;
	ip->saddr = bpf_htonl(src_net | ((__u32)x & src_mask));
	ip->id = (__u16)(x >> 48);
	ip->check = 0;
	ip->check = fold(sum16((__u16 *)ip, sizeof(*ip) / 2));

	tcp->source = bpf_htons(1024 + (__u16)((x >> 32) & 0xffff) % 64512);
	tcp->seq = (__u32)(x >> 16);
	tcp->check = 0;
	/* Pseudo header: addresses, protocol, TCP length (a bare header). */
	sum = sum16((__u16 *)&ip->saddr, 4) + bpf_htons(IPPROTO_TCP) +
	      bpf_htons(sizeof(*tcp)) + sum16((__u16 *)tcp, sizeof(*tcp) / 2);
	tcp->check = fold(sum);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
