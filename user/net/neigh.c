// SPDX-License-Identifier: GPL-2.0
/*
 * Neighbour (ARP/ND) lookups over rtnetlink with libmnl. A missing entry is
 * created with NTF_USE, which makes the kernel send a probe without any
 * route or socket of ours; then the table is polled until it is valid.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "neigh.h"

struct neigh_query {
	int ifindex;
	int family;
	const __u8 *dst;	/* 4 or 16 bytes */
	int dst_len;
	bool found;
	__u8 mac[6];
};

static int neigh_attr(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(a);

	if (mnl_attr_type_valid(a, NDA_MAX) >= 0)
		tb[type] = a;
	return MNL_CB_OK;
}

static int neigh_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NDA_MAX + 1] = {};
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	struct neigh_query *q = data;

	if (nd->ndm_ifindex != q->ifindex || nd->ndm_family != q->family)
		return MNL_CB_OK;
	if (!(nd->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE |
			       NUD_PERMANENT | NUD_NOARP)))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*nd), neigh_attr, tb);
	if (!tb[NDA_DST] || !tb[NDA_LLADDR] ||
	    mnl_attr_get_payload_len(tb[NDA_DST]) != (uint16_t)q->dst_len ||
	    mnl_attr_get_payload_len(tb[NDA_LLADDR]) != 6 ||
	    memcmp(mnl_attr_get_payload(tb[NDA_DST]), q->dst, q->dst_len))
		return MNL_CB_OK;
	memcpy(q->mac, mnl_attr_get_payload(tb[NDA_LLADDR]), 6);
	q->found = true;
	return MNL_CB_OK;
}

/* Send one request and run its replies (a dump, or the ack) through cb. */
static int nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned int portid = mnl_socket_get_portid(nl);
	int ret;

	nlh->nlmsg_seq = time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while ((ret = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		ret = mnl_cb_run(buf, ret, nlh->nlmsg_seq, portid, cb, data);
		if (ret <= MNL_CB_STOP)
			break;
	}
	return ret < 0 ? -errno : 0;
}

static int neigh_dump(struct mnl_socket *nl, struct neigh_query *q)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *nd;

	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = q->family;
	q->found = false;
	return nl_talk(nl, nlh, neigh_cb, q);
}

/* `ip neigh replace ADDR dev DEV use`: the kernel probes the address. */
static int neigh_prompt(struct mnl_socket *nl, struct neigh_query *q)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ndmsg *nd;

	nlh->nlmsg_type = RTM_NEWNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK;
	nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));
	nd->ndm_family = q->family;
	nd->ndm_ifindex = q->ifindex;
	nd->ndm_state = NUD_NONE;
	nd->ndm_flags = NTF_USE;
	mnl_attr_put(nlh, NDA_DST, q->dst_len, q->dst);
	return nl_talk(nl, nlh, NULL, NULL);
}

/*
 * Not every valid entry names one host: the kernel maps a broadcast or
 * multicast destination (a subnet's x.x.x.255, 224.0.0.5, ff02::1) to a
 * group MAC without asking anyone (NUD_NOARP), and an entry written by
 * hand may hold any MAC, zero included.
 */
static bool mac_is_unicast(const __u8 mac[6])
{
	return !(mac[0] & 1) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

int neigh_resolve(int ifindex, const struct chlb_addr *addr, int timeout_ms, __u8 mac[6])
{
	struct neigh_query q = { .ifindex = ifindex };
	struct mnl_socket *nl;
	int err, waited;

	q.family = chlb_addr_is_v4(addr) ? AF_INET : AF_INET6;
	q.dst = q.family == AF_INET ? addr->bytes + 12 : addr->bytes;
	q.dst_len = q.family == AF_INET ? 4 : 16;
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	err = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) ? -errno : neigh_dump(nl, &q);
	if (err || q.found)
		goto out;
	err = neigh_prompt(nl, &q);
	for (waited = 0; !err && waited < timeout_ms; waited += 50) {
		usleep(50 * 1000);
		err = neigh_dump(nl, &q);
		if (q.found)
			goto out;
	}
	err = err ? err : -EHOSTUNREACH;
out:
	if (q.found)
		memcpy(mac, q.mac, 6);
	if (!err && q.found && !mac_is_unicast(q.mac))
		err = -EBADMSG;
	mnl_socket_close(nl);
	return err;
}
