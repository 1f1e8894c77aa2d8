#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# chlb's virtual testbed: network namespaces for a client, the load balancer
# and four backends on one L2 segment, with real servers on the backends.
#
#   sourced:  . scripts/testbed.sh; tb_up; ...; tb_down   (TB_ID defaults to $$)
#   command:  scripts/testbed.sh up|down|env              (TESTBED_ID, default "cli")
#
# Topology (doc/testbed.md has the picture): namespace $TB-sw holds a bridge
# br0; every other namespace ($TB-cl, $TB-lb, $TB-b1..b4) has one veth "eth0"
# whose peer is a port of br0 named after it (cl, lb, b1..b4).
#
# How the VIP reaches the LB: the client routes the VIP's subnet via the
# LB's address, so its frames for the VIP carry the LB's MAC (no ARP for the
# VIP at all). The LB does not hold the VIP; chlb's XDP program rewrites the
# MACs and sends the frame back out (XDP_TX) to a backend. Backends hold the
# VIP on lo with arp_ignore=1/arp_announce=2, so they never answer ARP for
# it, and reply straight to the client (DSR). Without chlb, VIP packets
# reach the LB's stack, which does not forward (ip_forward=0): they die.
#
# Pitfalls of veth + XDP on this kernel, each handled where marked PITFALL.

TB_ROOT=${TB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
TB_BUILD=${BUILD:-build}
[ "${TB_BUILD#/}" = "$TB_BUILD" ] && TB_BUILD=$TB_ROOT/$TB_BUILD
TB_BPF=$TB_BUILD/tests/bpf

TB_NET4=10.211.0		# the L2 segment, /24
TB_NET6=fd00:211::		# the L2 segment, /64
TB_VIP4=10.211.1.1		# a routed VIP, held by the backends on lo
TB_VIP6=fd00:211:1::1
TB_BACKENDS="b1 b2 b3 b4"

# Per-node last octet / MAC suffix.
tb_host_id() {
	case $1 in
	lb) echo 1 ;; cl) echo 100 ;; b*) echo $((10 + ${1#b})) ;;
	*) return 1 ;;
	esac
}
tb_ip4() { echo "$TB_NET4.$(tb_host_id "$1")"; }
tb_ip6() { echo "$TB_NET6$(tb_host_id "$1")"; }
tb_mac() { printf '02:11:00:00:00:%02x\n' "$(tb_host_id "$1")"; }
# The backend node (of TB_BACKENDS) holding address ADDR, or "?".
tb_name_of() {
	local n
	for n in $TB_BACKENDS; do
		[ "$1" = "$(tb_ip4 "$n")" ] || [ "$1" = "$(tb_ip6 "$n")" ] && { echo "$n"; return; }
	done
	echo "?"
}

tb_set_id() {
	TB_ID=${1:-$$}
	TB=chlbtb-$TB_ID			# prefix of every name we create
	TB_DIR=/tmp/$TB				# configs, logs, pid files
	TB_PINS=/sys/fs/bpf/$TB			# our bpffs pins
	TB_PIN=$TB_PINS/chlb			# chlb's pin directory (-d)
	TB_LB_NS=/run/netns/$TB-lb
}

tb_ns() { echo "$TB-$1"; }
# Run a command in a node's namespace (servers, clients, ip, sysctl).
tb_exec() { local n=$1; shift; ip netns exec "$TB-$n" "$@"; }
# PITFALL: `ip netns exec` remounts /sys in a new mount namespace, which
# hides bpffs and chlb's pins; tools that use pins enter only the network
# namespace with nsenter.
tb_nsenter() { local n=$1; shift; nsenter --net="/run/netns/$TB-$n" "$@"; }
tb_chlb() { tb_nsenter lb "${CHLB:-$TB_BUILD/chlb}" -d "$TB_PIN" "$@"; }

tb_log() { [ -n "${TB_QUIET:-}" ] || echo "testbed: $*" >&2; }

tb_mount_bpffs() {
	mountpoint -q /sys/fs/bpf && return 0
	mount -t bpf bpf /sys/fs/bpf
}

# ---- teardown -----------------------------------------------------------

# A process that has exited, or a zombie waiting for its parent to reap it.
tb_gone() {
	[ ! -d "/proc/$1" ] || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null
}

# Stop our servers and return once they have exited: nginx's master takes
# a moment to stop its workers, and a caller that goes on (make demo
# returning, the next test binding the same ports) must not find them.
tb_kill_pidfiles() {
	local f pid pids=() i
	for f in "$TB_DIR"/*/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		# Only our own servers: the pid file lives in our run directory.
		[ -n "$pid" ] && kill "$pid" 2>/dev/null && pids+=("$pid")
	done
	for pid in "${pids[@]+"${pids[@]}"}"; do
		for i in $(seq 100); do
			tb_gone "$pid" && break
			[ "$i" -eq 50 ] && kill -KILL "$pid" 2>/dev/null	# 5 s: no more patience
			sleep 0.1
		done
	done
	return 0
}

# Remove everything with our prefix: also the stale leftovers of an earlier
# run with the same id (TB_ID reused, or a killed test).
tb_down() {
	local ns
	tb_kill_pidfiles
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $ns in "$TB"-*) ip netns del "$ns" 2>/dev/null ;; esac
	done
	# Pinned links of a deleted interface are already detached; the pins
	# themselves (chlb's state, counter maps) go with the directory.
	rm -rf "$TB_PINS" "$TB_DIR"
	return 0
}

# ---- bring-up -----------------------------------------------------------

tb_add_node() {
	local n=$1 sw=$TB-sw ns=$TB-$1
	ip netns add "$ns"
	ip -n "$sw" link add "$n" type veth peer name eth0 netns "$ns"
	ip -n "$ns" link set eth0 address "$(tb_mac "$n")"
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$(tb_ip4 "$n")/24" dev eth0
	ip -n "$ns" addr add "$(tb_ip6 "$n")/64" dev eth0 nodad
	ip -n "$ns" link set eth0 up
	ip -n "$sw" link set "$n" master br0 up
}

# Attach an XDP program natively to a port of the switch namespace.
tb_sw_xdp() {
	ip -n "$TB-sw" link set dev "$1" xdpdrv obj "$TB_BPF/gen_pass.bpf.o" sec xdp
}

tb_setup_backend() {
	local b=$1 ns=$TB-$1
	ip -n "$ns" addr add "$TB_VIP4/32" dev lo
	ip -n "$ns" addr add "$TB_VIP6/128" dev lo nodad
	# Answer ARP only for addresses on the receiving interface, and never
	# announce the VIP as a source: only the LB's route owns the VIP.
	tb_exec "$b" sysctl -qw net.ipv4.conf.all.arp_ignore=1 \
		net.ipv4.conf.all.arp_announce=2 \
		net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
	tb_counter_load "$b"
	tb_start_servers "$b"
}

tb_up() {
	local n
	[ "$(id -u)" -eq 0 ] || { echo "testbed: needs root" >&2; return 77; }
	[ -f "$TB_BPF/gen_pass.bpf.o" ] || { echo "testbed: build first ($TB_BPF)" >&2; return 1; }
	tb_mount_bpffs || return 1
	tb_down
	mkdir -p "$TB_DIR" "$TB_PINS" || return 1
	tb_log "up: $TB (namespaces $TB-{sw,cl,lb,b1..b4})"
	ip netns add "$TB-sw" || return 1
	ip -n "$TB-sw" link set lo up
	ip -n "$TB-sw" link add br0 type bridge
	ip -n "$TB-sw" link set br0 up
	for n in cl lb $TB_BACKENDS; do
		tb_add_node "$n" || return 1
	done
	# PITFALL: native XDP_TX on a veth hands the frame to the peer veth,
	# which takes it only if it has an XDP program itself (its NAPI must
	# run). So the LB's peer ("lb" in the switch) gets an XDP_PASS program,
	# and so does the client's peer for the bench generator's XDP_TX.
	tb_sw_xdp lb || return 1
	tb_sw_xdp cl || return 1
	# PITFALL: frames that enter the LB's XDP program from a veth keep no
	# checksum-offload state: a CHECKSUM_PARTIAL TCP segment would reach
	# the backend with a bad checksum, and GSO would hand XDP 64 KB
	# frames. Turning tx offloads off on the port sending into the LB makes
	# the stack finish checksums and segment before the frame crosses.
	ip netns exec "$TB-sw" ethtool -K lb tx off >/dev/null || return 1
	# The client reaches the VIPs through the LB.
	ip -n "$TB-cl" route add "$TB_VIP4/32" via "$(tb_ip4 lb)"
	ip -n "$TB-cl" -6 route add "$TB_VIP6/128" via "$(tb_ip6 lb)"
	for n in $TB_BACKENDS; do
		tb_setup_backend "$n" || return 1
	done
	# A plain web server on the LB's own address: traffic that is not for
	# a VIP must keep reaching the LB's stack while chlb is attached.
	tb_start_nginx lb || return 1
	tb_wait_servers || return 1
	# Let the client and the LB learn every MAC once (chlb resolves backend
	# MACs from the LB's neighbour table; it can also prompt resolution).
	for n in $TB_BACKENDS; do
		tb_resolve lb "$(tb_ip4 "$n")"
	done
	tb_resolve cl "$(tb_ip4 lb)"
	tb_log "up: ready"
}

# tb_resolve NODE ADDR: one datagram to the discard port makes NODE's kernel
# resolve ADDR's MAC (no ping needed); waits until the entry is reachable.
tb_resolve() {
	local i
	tb_exec "$1" bash -c "echo >/dev/udp/$2/9" 2>/dev/null
	for i in $(seq 20); do
		ip -n "$TB-$1" neigh show "$2" | grep -q lladdr && return 0
		sleep 0.05
	done
	return 1
}

# ---- servers on the backends ----------------------------------------------

TB_HTTP_PORT=80
TB_UDP_PORT=5300

tb_nginx_conf() {
	local b=$1 d=$TB_DIR/$1
	cat <<-EOF
	daemon on;
	worker_processes 1;
	pid $d/nginx.pid;
	error_log $d/error.log warn;
	events { worker_connections 4096; }
	http {
		client_body_temp_path $d/tmp;
		proxy_temp_path $d/tmp;
		fastcgi_temp_path $d/tmp;
		uwsgi_temp_path $d/tmp;
		scgi_temp_path $d/tmp;
		log_format tb '\$remote_addr \$remote_port \$connection \$request_uri';
		access_log $d/access.log tb;
		keepalive_requests 100000;
		server {
			listen $TB_HTTP_PORT reuseport;
			listen [::]:$TB_HTTP_PORT reuseport;
			location / {
				add_header X-Backend $b;
				return 200 "$b\n";
			}
		}
	}
	EOF
}

tb_start_nginx() {
	local n=$1 d=$TB_DIR/$1
	mkdir -p "$d/tmp"
	tb_nginx_conf "$n" > "$d/nginx.conf"
	tb_exec "$n" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log"
}

tb_start_servers() {
	local b=$1 d=$TB_DIR/$1
	tb_start_nginx "$b" || return 1
	# UDP echo bound to the VIP, so replies leave from the VIP (an unbound
	# socket would answer from eth0's address and the client would drop it).
	# One sed per datagram writes "NAME payload" back in one datagram
	# (a script, because socat's own quoting eats the quotes of a SYSTEM:).
	printf '#!/bin/sh\nexec sed "s/^/%s /"\n' "$b" > "$d/echo.sh"
	chmod +x "$d/echo.sh"
	setsid ip netns exec "$TB-$b" socat \
		"UDP4-RECVFROM:$TB_UDP_PORT,bind=$TB_VIP4,fork" EXEC:"$d/echo.sh" \
		</dev/null >"$d/socat.log" 2>&1 &
	echo $! > "$d/socat.pid"
}

tb_wait_servers() {
	local b i
	for b in $TB_BACKENDS; do
		for i in $(seq 50); do
			tb_exec "$b" curl -s -m 1 "http://$TB_VIP4/" >/dev/null && break
			sleep 0.1
		done
		[ "$i" -lt 50 ] || { echo "testbed: nginx on $b not answering" >&2; return 1; }
	done
}

# ---- per-backend packet counters (tests/bpf/gen_count.bpf.c) --------------

# Loaded with bpftool so the maps are pinned under our directory and can be
# read and configured from any namespace.
tb_counter_load() {
	local b=$1 d=$TB_PINS/$1
	mkdir -p "$d"
	bpftool prog load "$TB_BPF/gen_count.bpf.o" "$d/prog" type xdp pinmaps "$d" || return 1
	tb_nsenter "$b" bpftool net attach xdpdrv pinned "$d/prog" dev eth0 || return 1
	tb_counter_cfg "$b" "$TB_HTTP_PORT" tcp 0
}

# tb_counter_cfg NODE PORT tcp|udp DROP: count frames to that port/protocol.
tb_counter_cfg() {
	local b=$1 port=$2 proto=6 drop=${4:-0}
	[ "$3" = udp ] && proto=17
	# struct gen_cfg: dst_mac[6] src_mac[6] port(be16) proto drop
	bpftool map update pinned "$TB_PINS/$b/cfg" key 0 0 0 0 value \
		0 0 0 0 0 0 0 0 0 0 0 0 $((port >> 8)) $((port & 255)) "$proto" "$drop"
}

# Sum of the per-CPU packet counter of a backend.
tb_counter_read() {
	bpftool -j map dump pinned "$TB_PINS/$1/counts" | python3 -c '
import json, sys
print(sum(v["value"] for e in json.load(sys.stdin)
        for v in e.get("formatted", e)["values"]))'
}

tb_env() {
	local n
	echo "TB_ID=$TB_ID TB=$TB TB_DIR=$TB_DIR TB_PIN=$TB_PIN"
	echo "TB_VIP4=$TB_VIP4 TB_VIP6=$TB_VIP6 TB_HTTP_PORT=$TB_HTTP_PORT TB_UDP_PORT=$TB_UDP_PORT"
	for n in cl lb $TB_BACKENDS; do
		echo "node $n: netns $TB-$n eth0 $(tb_ip4 "$n") $(tb_ip6 "$n") $(tb_mac "$n")"
	done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	tb_set_id "${TESTBED_ID:-cli}"
	case ${1:-} in
	up) tb_up && tb_env ;;
	down) tb_down ;;
	env) tb_env ;;
	*) echo "usage: [TESTBED_ID=ID] $0 up|down|env" >&2; exit 2 ;;
	esac
else
	tb_set_id "${TB_ID:-$$}"
	CHLB=${CHLB:-$TB_BUILD/chlb}	# the binary under test, for every sourcer
fi
