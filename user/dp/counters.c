// SPDX-License-Identifier: GPL-2.0
/* The one table of global counter names; it must grow with the enum. */
#include "counters.h"

static const char *const names[] = {
	[CHLB_CNT_RX] = "rx",
	[CHLB_CNT_TX] = "tx",
	[CHLB_CNT_PASS_NOT_IP] = "pass_not_ip",
	[CHLB_CNT_PASS_NOT_VIP] = "pass_not_vip",
	[CHLB_CNT_PASS_OTHER_PROTO] = "pass_other_proto",
	[CHLB_CNT_PASS_FRAGMENT] = "pass_fragment",
	[CHLB_CNT_PASS_MALFORMED] = "pass_malformed",
	[CHLB_CNT_DROP_NO_BACKEND] = "drop_no_backend",
	[CHLB_CNT_PASS_NOT_FOR_US] = "pass_not_for_us",
	[CHLB_CNT_REDIRECT] = "redirect",
	[CHLB_CNT_PASS_NO_NEIGH] = "pass_no_neigh",
	[CHLB_CNT_DROP_NO_ROUTE] = "drop_no_route",
	[CHLB_CNT_DROP_ENCAP] = "drop_encap",
	[CHLB_CNT_TX_TOO_BIG] = "tx_too_big",
	[CHLB_CNT_DROP_TOO_BIG] = "drop_too_big",
	[CHLB_CNT_DROP_FRAGMENT] = "drop_fragment",
	[CHLB_CNT_FLOW_HIT] = "flow_hit",
	[CHLB_CNT_FLOW_MISS] = "flow_miss",
	[CHLB_CNT_FLOW_INSERT] = "flow_insert",
	[CHLB_CNT_FLOW_EXPIRED] = "flow_expired",
	[CHLB_CNT_FLOW_STALE] = "flow_stale",
	[CHLB_CNT_FLOW_REFUSED] = "flow_refused",
	[CHLB_CNT_FLOW_EVICT_BUSY] = "flow_evict_busy",
	[CHLB_CNT_FLOW_EVICT_NEW] = "flow_evict_new",
	[CHLB_CNT_ICMP_STEERED] = "icmp_steered",
	[CHLB_CNT_TOO_BIG_LIMITED] = "too_big_limited",
};

_Static_assert(sizeof(names) / sizeof(names[0]) == CHLB_CNT_MAX,
	       "every enum chlb_counter needs a name");

const char *counter_name(enum chlb_counter c)
{
	return c < CHLB_CNT_MAX && names[c] ? names[c] : "unknown";
}
