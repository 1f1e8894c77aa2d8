// SPDX-License-Identifier: GPL-2.0
/* A routed network in a private namespace for method ipip; see ipip_net.h. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <bpf/bpf.h>

#include "ipip_net.h"

const __u8 ipip_if0_mac[6] = { 0x02, 0x1b, 0, 0, 0, 0xfe };
const __u8 ipip_if1_mac[6] = { 0x02, 0x1b, 0, 0, 0, 0xfd };
const __u8 ipip_gw0_mac[6] = { 0x02, 0x99, 0, 0, 0, 0x01 };
const __u8 ipip_gw1_mac[6] = { 0x02, 0x99, 0, 0, 0, 0x02 };

/* `ip -batch`: the links, addresses, neighbours and routes (ipip_net.h). */
static const char *const ip_cmds[] = {
	"link set lo up",
	"link add " IPIP_IF0 " type veth peer name " IPIP_IF0 "p",
	"link add " IPIP_IF1 " type veth peer name " IPIP_IF1 "p",
	"link set " IPIP_IF0 " address 02:1b:00:00:00:fe",
	"link set " IPIP_IF1 " address 02:1b:00:00:00:fd",
	"link set " IPIP_IF0 " up",
	"link set " IPIP_IF0 "p up",
	"link set " IPIP_IF1 " up",
	"link set " IPIP_IF1 "p up",
	"addr add 192.0.2.1/24 dev " IPIP_IF0,
	"addr add 2001:db8:1::1/64 dev " IPIP_IF0 " nodad",
	"addr add 198.51.100.1/24 dev " IPIP_IF1,
	"addr add 2001:db8:2::1/64 dev " IPIP_IF1 " nodad",
	"neigh replace 192.0.2.254 lladdr 02:99:00:00:00:01 dev " IPIP_IF0 " nud permanent",
	"neigh replace 2001:db8:1::fe lladdr 02:99:00:00:00:01 dev " IPIP_IF0 " nud permanent",
	"neigh replace 198.51.100.254 lladdr 02:99:00:00:00:02 dev " IPIP_IF1 " nud permanent",
	"neigh replace 2001:db8:2::fe lladdr 02:99:00:00:00:02 dev " IPIP_IF1 " nud permanent",
	"route add 10.1.0.0/16 via 192.0.2.254",
	"route add 2001:db8:b::/48 via 2001:db8:1::fe",
	"route add 10.2.0.0/16 via 198.51.100.254",
	"route add 2001:db8:c::/48 via 2001:db8:2::fe",
	"route add 10.3.0.0/16 via 192.0.2.253",
	"neigh add 192.0.2.252 dev " IPIP_IF0 " nud incomplete",
	"route add 10.7.0.0/16 via 192.0.2.252",
	"neigh add 192.0.2.251 dev " IPIP_IF0 " nud failed",
	"route add 10.8.0.0/16 via 192.0.2.251",
	"route add 2001:db8:d::/48 via 2001:db8:1::fd",
	"route add blackhole 10.4.0.0/16",
	"route add blackhole 2001:db8:e::/48",
	"route add unreachable 10.5.0.0/16",
	"route add 10.6.0.0/16 via 192.0.2.254 mtu lock 1400",
	"route add 2001:db8:f::/48 via 2001:db8:1::fe mtu lock 1300",
};

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

/* Run the commands through one `ip -batch -`; -EIO when any failed. */
static int run_ip(char *why, size_t len)
{
	FILE *ip = popen("ip -batch - 2>&1 >/dev/null", "w");
	size_t i;
	int st;

	if (!ip) {
		snprintf(why, len, "cannot run ip: %s", strerror(errno));
		return -errno;
	}
	for (i = 0; i < sizeof(ip_cmds) / sizeof(ip_cmds[0]); i++)
		fprintf(ip, "%s\n", ip_cmds[i]);
	st = pclose(ip);
	if (st != 0) {
		snprintf(why, len, "ip -batch failed (status %d)", st);
		return -EIO;
	}
	return 0;
}

int ipip_net_setup(struct ipip_net *n, int *skip, char *why, size_t len)
{
	int err;

	*skip = 0;
	why[0] = 0;
	if (unshare(CLONE_NEWNET)) {
		err = -errno;
		*skip = 1;
		snprintf(why, len, "cannot create a network namespace: %s", strerror(errno));
		return err;
	}
	err = run_ip(why, len);
	if (!err)
		err = write_file("/proc/sys/net/ipv4/conf/all/forwarding", "1");
	if (!err)
		err = write_file("/proc/sys/net/ipv6/conf/all/forwarding", "1");
	if (err) {
		if (!*why)
			snprintf(why, len, "cannot turn forwarding on: %s", strerror(-err));
		return err;
	}
	n->if0 = if_nametoindex(IPIP_IF0);
	n->if1 = if_nametoindex(IPIP_IF1);
	if (!n->if0 || !n->if1) {
		snprintf(why, len, "veths missing after set-up");
		return -ENODEV;
	}
	return 0;
}

int xdp_run_ingress(int prog_fd, __u32 ifindex, const void *frame, __u32 len,
		    struct xdp_result *res)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len,
		    .data_out = res->out, .data_size_out = sizeof(res->out),
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	res->verdict = o.retval;
	res->len = o.data_size_out;
	return 0;
}
