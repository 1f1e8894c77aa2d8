#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# chlb's routed testbed, for method ipip: the backends sit on another subnet,
# behind a router, and decapsulate with `chlb decap`.
#
#   sourced:  . scripts/testbed_routed.sh; rt_up; ...; tb_down   (TB_ID defaults to $$)
#   command:  scripts/testbed_routed.sh up|down|env              (TESTBED_ID, default "rcli")
#
# It builds on scripts/testbed.sh (sourced: names, tb_exec, tb_nsenter,
# tb_chlb, tb_down, tb_resolve, the servers and the PITFALLs noted there) and
# replaces only the addresses and the bring-up. doc/testbed.md has the picture.
#
#   subnet 1 (namespace $TB-s1, bridge br0): client cl, load balancer lb,
#            router rt (eth0)                   10.213.0.0/24, fd00:213::/64
#   subnet 2 (namespace $TB-s2, bridge br0): router rt (eth1), backends
#            b1 b2 b3                           10.213.2.0/24, fd00:213:2::/64
#   a direct link, LB eth1 - router eth2: 10.213.3.0/24, fd00:213:3::/64,
#            unused until rt_via_link 3 routes subnet 2 over it
#   VIPs     10.213.1.1 (IPv4 backends), fd00:213:1::1, 10.213.1.2 (IPv4 VIP
#            for IPv6 backends: 4in6), all held by every backend on lo
#
# The client and the router route the VIPs to the LB (the router must: ICMP
# errors it sends to a VIP reach the LB and chlb steers them to the backend).
# The LB routes subnet 2 via the router, so chlb's encapsulated frames leave
# by the interface they came in on (XDP_TX). Backends strip the outer header
# in XDP (`chlb decap attach eth0`) and reply to the client directly, through
# the router (DSR). Every link has MTU 1500; tests lower them where needed.

TB_ROOT=${TB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# shellcheck source=scripts/testbed.sh
. "$TB_ROOT/scripts/testbed.sh"

# shellcheck disable=SC2034 # RT_NET*_1 are read as ${!n} by tb_ip4/tb_ip6
RT_NET4_1=10.213.0		# subnet 1, /24
RT_NET4_2=10.213.2		# subnet 2, /24
# shellcheck disable=SC2034
RT_NET6_1=fd00:213::		# subnet 1, /64
RT_NET6_2=fd00:213:2::		# subnet 2, /64
RT_NET4_3=10.213.3		# a direct link LB eth1 - router eth2, /24
RT_NET6_3=fd00:213:3::		# (rt_via_link: encapsulated frames redirected)
TB_VIP4=10.213.1.1		# IPv4 VIP (backends by their IPv4 addresses)
TB_VIP6=fd00:213:1::1		# IPv6 VIP
RT_VIP46=10.213.1.2		# IPv4 VIP for IPv6 backends (4in6)
RT_VIPNET4=10.213.1.0/24	# what the client and router route to the LB
RT_VIPNET6=fd00:213:1::/64
RT_ENCAP4=10.213.9.0/24		# outer source ranges for attach --encap-src,
RT_ENCAP6=fd00:213:9::/120	# routed back to the LB like the VIPs
TB_BACKENDS="b1 b2 b3"
RT_SINK_PORT=9000		# backends: reads to EOF, answers "NAME sha256"
RT_SOURCE_PORT=9001		# backends: sends RT_SOURCE_BYTES, then closes
RT_SOURCE_BYTES=1048576

# Node ids: the last octet, the MAC's last byte. The router's subnet-1
# side is tb_ip4 rt; its subnet-2 side rt_gw4/rt_gw6 (the backends' gateway).
tb_host_id() {
	case $1 in
	lb) echo 1 ;; cl) echo 100 ;; rt) echo 254 ;; b*) echo $((10 + ${1#b})) ;;
	*) return 1 ;;
	esac
}
rt_subnet() { case $1 in b*) echo 2 ;; *) echo 1 ;; esac; }
tb_ip4() { local n; n=RT_NET4_$(rt_subnet "$1"); echo "${!n}.$(tb_host_id "$1")"; }
tb_ip6() { local n; n=RT_NET6_$(rt_subnet "$1"); echo "${!n}$(tb_host_id "$1")"; }
tb_mac() { printf '02:13:00:00:%02x:%02x\n' "$(rt_subnet "$1")" "$(tb_host_id "$1")"; }
rt_gw4() { echo "$RT_NET4_2.254"; }
rt_gw6() { echo "${RT_NET6_2}254"; }

# rt_via_link 1|3: the LB's route to subnet 2, via the router on subnet 1
# (the default: chlb's frames leave by the interface they came in on,
# XDP_TX) or on the direct link (they leave by eth1: bpf_redirect).
rt_via_link() {
	local gw4=$RT_NET4_3.254 gw6=${RT_NET6_3}254 dev=eth1
	[ "$1" = 1 ] && { gw4=$(tb_ip4 rt); gw6=$(tb_ip6 rt); dev=eth0; }
	ip -n "$TB-lb" route replace "$RT_NET4_2.0/24" via "$gw4" dev "$dev" &&
		ip -n "$TB-lb" -6 route replace "${RT_NET6_2}/64" via "$gw6" dev "$dev" &&
		tb_resolve lb "$gw4" && tb_resolve lb "$gw6"
}

# The direct link: a veth pair, LB eth1 (.1) - router eth2 (.254).
# PITFALL (testbed.sh): a frame redirected into a veth reaches its peer only
# if the peer runs an XDP program, so the router's end gets XDP_PASS.
rt_setup_lb_link() {
	ip -n "$TB-lb" link add eth1 type veth peer name eth2 netns "$TB-rt" || return 1
	ip -n "$TB-lb" link set eth1 address 02:13:00:00:03:01 &&
		ip -n "$TB-rt" link set eth2 address 02:13:00:00:03:fe || return 1
	rt_addrs lb eth1 "$RT_NET4_3.1" "${RT_NET6_3}1" &&
		rt_addrs rt eth2 "$RT_NET4_3.254" "${RT_NET6_3}254" || return 1
	ip -n "$TB-lb" link set eth1 up && ip -n "$TB-rt" link set eth2 up || return 1
	ip -n "$TB-rt" link set dev eth2 xdpdrv obj "$TB_BPF/gen_pass.bpf.o" sec xdp
}

# rt_pin NODE: a backend's own chlb pin directory, for its decap instance
# (<pin dir>-decap/eth0): every backend's interface is named eth0.
rt_pin() { echo "$TB_PINS/$1/chlb"; }
rt_chlb() { local n=$1; shift; tb_nsenter "$n" "$CHLB" -d "$(rt_pin "$n")" "$@"; }

# rt_link SWITCH NODE IFNAME: a veth from NODE's IFNAME to a port of the
# switch's bridge named after the node.
rt_link() {
	local sw=$TB-$1 n=$2 dev=$3
	ip -n "$sw" link add "$n" type veth peer name "$dev" netns "$TB-$n" || return 1
	ip -n "$TB-$n" link set "$dev" up && ip -n "$sw" link set "$n" master br0 up
}

rt_addrs() {
	local ns=$TB-$1 dev=$2 a4=$3 a6=$4
	ip -n "$ns" addr add "$a4/24" dev "$dev" && ip -n "$ns" addr add "$a6/64" dev "$dev" nodad
}

rt_add_node() {
	local n=$1
	ip netns add "$TB-$n" && ip -n "$TB-$n" link set lo up || return 1
	rt_link "s$(rt_subnet "$n")" "$n" eth0 || return 1
	ip -n "$TB-$n" link set eth0 address "$(tb_mac "$n")"
	rt_addrs "$n" eth0 "$(tb_ip4 "$n")" "$(tb_ip6 "$n")"
}

rt_add_switch() {
	ip netns add "$TB-$1" && ip -n "$TB-$1" link set lo up &&
		ip -n "$TB-$1" link add br0 type bridge && ip -n "$TB-$1" link set br0 up
}

rt_setup_router() {
	ip netns add "$TB-rt" && ip -n "$TB-rt" link set lo up || return 1
	rt_link s1 rt eth0 && rt_link s2 rt eth1 || return 1
	ip -n "$TB-rt" link set eth0 address "$(tb_mac rt)"
	ip -n "$TB-rt" link set eth1 address 02:13:00:00:02:fe
	rt_addrs rt eth0 "$(tb_ip4 rt)" "$(tb_ip6 rt)" && rt_addrs rt eth1 "$(rt_gw4)" "$(rt_gw6)" ||
		return 1
	tb_exec rt sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
	# The VIPs live behind the LB: so do ICMP errors sent to them. So do
	# the outer source ranges (errors about encapsulated packets).
	ip -n "$TB-rt" route add "$RT_VIPNET4" via "$(tb_ip4 lb)" &&
		ip -n "$TB-rt" -6 route add "$RT_VIPNET6" via "$(tb_ip6 lb)" &&
		ip -n "$TB-rt" route add "$RT_ENCAP4" via "$(tb_ip4 lb)" &&
		ip -n "$TB-rt" -6 route add "$RT_ENCAP6" via "$(tb_ip6 lb)"
}

# The LB as README's "Deploying on a real NIC" asks: forwarding on (for
# bpf_fib_lookup, and for encapsulated frames chlb passes to the kernel
# when the next hop's MAC is not known yet), a blackhole for the VIPs.
rt_setup_lb() {
	local ns=$TB-lb
	tb_exec lb sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0 \
		net.ipv4.conf.eth0.accept_local=1 || return 1
	# PITFALL: a frame chlb passes for want of a neighbour carries the LB's
	# own address as outer source (--encap-src own, the default). The kernel
	# drops a received IPv4 packet with one of its own addresses as source
	# (a martian, silently: not even IpInAddrErrors) unless accept_local is
	# on for the interface; checked: without it, the first connection after
	# the router's MAC is forgotten times out (pass_no_neigh rises, the LB
	# never ARPs). IPv6 has no such check. An --encap-src range that is not
	# the LB's own does not need it. send_redirects is off on eth0 too (the
	# flag is all OR eth0): the kernel forwards these frames out of the
	# interface they came in on and otherwise sends an ICMP redirect to
	# their "sender", itself (checked: IcmpOutRedirects rises; forwarding
	# works either way, and with strict rp_filter too).
	ip -n "$ns" route add "$RT_NET4_2.0/24" via "$(tb_ip4 rt)" || return 1
	ip -n "$ns" -6 route add "${RT_NET6_2}/64" via "$(tb_ip6 rt)" || return 1
	ip -n "$ns" route add blackhole "$RT_VIPNET4" || return 1
	ip -n "$ns" -6 route add blackhole "$RT_VIPNET6"
}

# The bulk services beside nginx (a sink for uploads, a source for
# downloads), scripts so that socat's quoting stays out of the way.
rt_bulk_scripts() {
	local b=$1 d=$TB_DIR/$1
	printf '#!/bin/sh\necho "%s $(sha256sum | cut -c1-64)"\n' "$b" >"$d/sink.sh"
	printf '#!/bin/sh\nexec head -c %d "%s"\n' "$RT_SOURCE_BYTES" "$TB_DIR/bulk.data" >"$d/source.sh"
	chmod +x "$d/sink.sh" "$d/source.sh"
}

rt_start_bulk() {
	local b=$1 d=$TB_DIR/$1 port script
	rt_bulk_scripts "$b"
	for port in $RT_SINK_PORT $RT_SOURCE_PORT; do
		script=sink
		[ "$port" = "$RT_SOURCE_PORT" ] && script=source
		setsid ip netns exec "$TB-$b" socat \
			"TCP6-LISTEN:$port,ipv6only=0,reuseaddr,fork" EXEC:"$d/$script.sh" \
			</dev/null >>"$d/socat-$script.log" 2>&1 &
		echo $! >"$d/socat-$script.pid"
	done
}

rt_setup_backend() {
	local b=$1 ns=$TB-$1
	ip -n "$ns" route add default via "$(rt_gw4)" || return 1
	ip -n "$ns" -6 route add default via "$(rt_gw6)" || return 1
	ip -n "$ns" addr add "$TB_VIP4/32" dev lo && ip -n "$ns" addr add "$RT_VIP46/32" dev lo &&
		ip -n "$ns" addr add "$TB_VIP6/128" dev lo nodad || return 1
	# As on the L2 testbed: no ARP for the VIPs; and strict reverse-path
	# filtering, which decap in XDP keeps happy (the inner packet arrives
	# on eth0, where the route back to the client is).
	tb_exec "$b" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
		net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 \
		net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1 || return 1
	mkdir -p "$TB_DIR/$b" "$TB_PINS/$b" || return 1
	# Its own pin directory: decap pins <pin dir>-decap/eth0, and every
	# backend's interface is eth0.
	rt_chlb "$b" decap attach eth0 >/dev/null || return 1
	tb_start_servers "$b" && rt_start_bulk "$b"
}

rt_up() {
	local n
	[ "$(id -u)" -eq 0 ] || { echo "testbed: needs root" >&2; return 77; }
	[ -f "$TB_BPF/gen_pass.bpf.o" ] || { echo "testbed: build first ($TB_BPF)" >&2; return 1; }
	[ -x "$CHLB" ] || { echo "testbed: $CHLB not built" >&2; return 1; }
	tb_mount_bpffs || return 1
	tb_down
	mkdir -p "$TB_DIR" "$TB_PINS" || return 1
	head -c "$RT_SOURCE_BYTES" /dev/urandom >"$TB_DIR/bulk.data" || return 1
	tb_log "up: $TB (namespaces $TB-{s1,s2,cl,lb,rt,b1..b3})"
	rt_add_switch s1 && rt_add_switch s2 || return 1
	for n in cl lb $TB_BACKENDS; do
		rt_add_node "$n" || return 1
	done
	rt_setup_router || return 1
	# PITFALL (testbed.sh): XDP_TX from a veth reaches the peer only if the
	# peer runs an XDP program: the LB's port (chlb's XDP_TX, its ICMP
	# answers) and the client's port (the bench generator).
	tb_sw_xdp_in s1 lb && tb_sw_xdp_in s1 cl || return 1
	# PITFALL (testbed.sh): checksums and GSO are finished before frames
	# cross into the LB's native XDP program.
	ip netns exec "$TB-s1" ethtool -K lb tx off >/dev/null || return 1
	ip -n "$TB-cl" route add "$RT_VIPNET4" via "$(tb_ip4 lb)" || return 1
	ip -n "$TB-cl" -6 route add "$RT_VIPNET6" via "$(tb_ip6 lb)" || return 1
	rt_setup_lb && rt_setup_lb_link || return 1
	for n in $TB_BACKENDS; do
		rt_setup_backend "$n" || return 1
	done
	tb_start_nginx lb || return 1
	tb_wait_servers || return 1
	rt_resolve_all
	tb_log "up: ready"
}

# Learn the MACs of the hops once, so that tests start from a warm
# neighbour table (the no-neighbour test flushes one on purpose).
rt_resolve_all() {
	local n
	tb_resolve lb "$(tb_ip4 rt)"
	tb_resolve lb "$(tb_ip6 rt)"
	tb_resolve cl "$(tb_ip4 lb)"
	tb_resolve cl "$(tb_ip6 lb)"
	for n in $TB_BACKENDS; do
		tb_resolve "$n" "$(rt_gw4)"
		tb_resolve "$n" "$(rt_gw6)"
		tb_resolve rt "$(tb_ip4 "$n")"
		tb_resolve rt "$(tb_ip6 "$n")"
	done
	tb_resolve rt "$(tb_ip4 cl)"
	tb_resolve rt "$(tb_ip6 cl)"
}

# tb_sw_xdp of testbed.sh, for a port of either switch.
tb_sw_xdp_in() {
	ip -n "$TB-$1" link set dev "$2" xdpdrv obj "$TB_BPF/gen_pass.bpf.o" sec xdp
}

# rt_decap_count NODE: frames the backend's decap stripped (4in4 + 6in6 + 4in6).
rt_decap_count() {
	rt_chlb "$1" -j decap status eth0 | python3 -c '
import json, sys
c = json.load(sys.stdin)["decap"][0]["counters"]
print(c["decap_4in4"] + c["decap_6in6"] + c["decap_4in6"])'
}

rt_env() {
	local n
	echo "TB_ID=$TB_ID TB=$TB TB_DIR=$TB_DIR TB_PIN=$TB_PIN"
	echo "VIPs: $TB_VIP4 (IPv4 backends) $TB_VIP6 (IPv6) $RT_VIP46 (IPv4 on IPv6 backends)"
	echo "ports: http $TB_HTTP_PORT, udp echo $TB_UDP_PORT, sink $RT_SINK_PORT, source $RT_SOURCE_PORT"
	for n in cl lb rt $TB_BACKENDS; do
		echo "node $n: netns $TB-$n eth0 $(tb_ip4 "$n") $(tb_ip6 "$n") $(tb_mac "$n")"
	done
	echo "node rt: eth1 $(rt_gw4) $(rt_gw6) (subnet 2)"
	echo "node rt: eth2 $RT_NET4_3.254 ${RT_NET6_3}254 (direct link to lb eth1 $RT_NET4_3.1 ${RT_NET6_3}1)"
	for n in $TB_BACKENDS; do
		echo "node $n: decap pins $(rt_pin "$n")-decap/eth0"
	done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	tb_set_id "${TESTBED_ID:-rcli}"
	case ${1:-} in
	up) rt_up && rt_env ;;
	down) tb_down ;;
	env) rt_env ;;
	*) echo "usage: [TESTBED_ID=ID] $0 up|down|env" >&2; exit 2 ;;
	esac
fi
