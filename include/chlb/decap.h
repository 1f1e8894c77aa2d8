/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the decapsulating XDP program (bpf/decap.bpf.c) and `chlb decap`
 * agree on: its configuration record, its counters and its pin names. It
 * is a program of its own, for the backends of ipip VIPs: it shares no map
 * with chlb's load balancer. No libc and no BPF helpers here, so both
 * worlds compile it.
 */
#ifndef CHLB_DECAP_H
#define CHLB_DECAP_H

#include <linux/types.h>

#define CHLB_DECAP_ABI_VERSION	1

/* Pins under <root>/<DEV>/, beside the program pinned as "prog". */
#define CHLB_DECAP_MAP_CFG	"decap_cfg"
#define CHLB_DECAP_MAP_STATS	"decap_stats"

/* Outer destinations a program compares with, per family. */
#define CHLB_DECAP_MAX_ADDRS	8

/* Decapsulate whatever the outer destination (decap attach --dst any). */
#define CHLB_DECAP_F_ANY_DST	(1u << 0)
/* The addresses were named on the command line (--dst ADDR,...), not DEV's own. */
#define CHLB_DECAP_F_LISTED	(1u << 1)

/*
 * The program's configuration: set by `chlb decap attach` before load,
 * read-only from then on (its own read-only data section, pinned as
 * decap_cfg: one entry, this struct). A tunnel packet is decapsulated when
 * its outer destination is one of v4[] (IPv4 outer header) or v6[]
 * (IPv6), or always with CHLB_DECAP_F_ANY_DST.
 */
struct chlb_decap_cfg {
	__u32 version;		/* CHLB_DECAP_ABI_VERSION */
	__u32 flags;		/* CHLB_DECAP_F_* */
	__u32 ifindex;		/* where it was attached, for detach and status */
	__u32 netns_ino;	/* that interface's network namespace */
	__u32 xdp_mode;		/* enum cli_xdp_mode (user/dp/xdp.h) */
	__u8 n4;		/* entries used in v4[] */
	__u8 n6;		/* entries used in v6[] */
	__u8 pad[2];
	__be32 v4[CHLB_DECAP_MAX_ADDRS];
	__u32 v6[CHLB_DECAP_MAX_ADDRS][4];	/* network order, compared as words */
};

_Static_assert(sizeof(struct chlb_decap_cfg) == 184, "struct chlb_decap_cfg ABI");

/*
 * Every frame is counted once, under the reason for its verdict; their
 * sum is the frames seen.
 */
enum chlb_decap_counter {
	CHLB_DECAP_CNT_4IN4,		/* IPv4 in IPv4 (protocol 4): inner passed up */
	CHLB_DECAP_CNT_6IN6,		/* IPv6 in IPv6 (next header 41) */
	CHLB_DECAP_CNT_4IN6,		/* IPv4 in IPv6 (next header 4) */
	CHLB_DECAP_CNT_PASS_NOT_TUNNEL,	/* not a tunnel this program strips (also 6in4) */
	CHLB_DECAP_CNT_PASS_NOT_FOR_US,	/* a tunnel to an address not in the config */
	CHLB_DECAP_CNT_PASS_FRAGMENT,	/* a fragment of a tunnel packet: the kernel's */
	CHLB_DECAP_CNT_PASS_MALFORMED,	/* outer or inner header cut short or invalid */
	CHLB_DECAP_CNT_DROP_ECN,	/* outer CE on a not-ECT inner packet (RFC 6040) */
	CHLB_DECAP_CNT_MAX,
};

/* The one entry of the per-CPU decap_stats; userspace sums the CPUs. */
struct chlb_decap_stats {
	__u64 counters[CHLB_DECAP_CNT_MAX];
};

#endif /* CHLB_DECAP_H */
