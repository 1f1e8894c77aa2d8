#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# chlb decap end to end: two namespaces on one veth. The sender ("snd")
# plays the load balancer's part of an ipip VIP: its routes send the VIPs
# into TUN devices, where a small encapsulator of this script's own
# (python3, raw sockets: the kernel writes the outer header) wraps each
# packet in IPv4 (4in4), or IPv6 (6in6, 4in6) and sends it to the
# receiver's address. The receiver ("rcv", a backend) holds the VIPs on lo,
# runs socat servers on them and has `chlb decap attach eth0` on; this
# kernel has no ipip module, so without decap the tunnels die in its stack.
#   control   before attach: no TCP exchange through the tunnel
#   4in4      TCP echo (a line, then 1 MB, checksummed) and UDP echo
#   6in6      TCP echo and UDP echo
#   4in6      TCP echo
#   DSR       replies reach the sender straight from the VIP, never tunneled
#   counters  decap status counts each kind; plain traffic is passed
#   cli       errors: exit 2 and one line; attach twice refused
#   gone      an instance whose interface was deleted is cleaned by detach
#   detach    leaves nothing attached and nothing pinned
# One PASS/FAIL line per case; exit 0 all passed, 1 any failed, 77 cannot
# run here (said loudly).
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
CHLB=${CHLB:-$PWD/$BUILD/chlb}
SUITE=decap
. tests/sh/e2e_lib.bash

ID=chlbdec-$$			# prefix of everything we create
SND=$ID-snd
RCV=$ID-rcv
RUN=/tmp/$ID			# scripts, logs, captures
PINS=/sys/fs/bpf/$ID		# our bpffs directory: chlb -d $PINS/chlb
ROOT=$PINS/chlb-decap		# where decap pins (<pin dir>-decap)
NET4=10.212.0 NET6=fd00:212:
SND4=$NET4.1 RCV4=$NET4.2 SND6=${NET6}:1 RCV6=${NET6}:2
VIP4=10.212.1.1			# reached as 4in4
VIP4B=10.212.1.2		# the same server, reached as 4in6
VIP6=fd00:212:1::1		# reached as 6in6
TCP_PORT=8080 UDP_PORT=5353
PIDS=()

dchlb() { nsenter --net="/run/netns/$RCV" "$CHLB" -d "$PINS/chlb" "$@"; }
in_snd() { ip netns exec "$SND" "$@"; }
in_rcv() { ip netns exec "$RCV" "$@"; }
# start NS CMD...: a process of ours in namespace NS; `ip netns exec` execs
# CMD, so the pid we keep is CMD's own.
start() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" </dev/null >>"$RUN/procs.log" 2>&1 &
	PIDS+=("$!")
}

cleanup() {
	local p
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do
		for _ in $(seq 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$p" 2>/dev/null
	done
	ip netns del "$SND" 2>/dev/null
	ip netns del "$RCV" 2>/dev/null
	rm -rf "$PINS" "$RUN"
	return 0
}

# What runs of this suite left when killed before their trap: their
# namespaces, pins and files, named after a shell that is gone.
remove_stale() {
	local ns pid d
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $ns in chlbdec-*-snd | chlbdec-*-rcv) ;; *) continue ;; esac
		pid=${ns#chlbdec-}
		pid=${pid%-*}
		kill -0 "$pid" 2>/dev/null && continue
		echo "removing stale namespace $ns"
		ip netns del "$ns"
	done
	for d in /sys/fs/bpf/chlbdec-* /tmp/chlbdec-*; do
		[ -e "$d" ] || continue
		kill -0 "${d##*-}" 2>/dev/null || rm -rf "$d"
	done
}

preflight_decap() {
	local t
	[ "$(id -u)" -eq 0 ] || skip_all "needs root"
	for t in ip nsenter bpftool python3 socat tcpdump sha256sum head; do
		command -v "$t" >/dev/null || skip_all "$t missing (scripts/install-deps.sh)"
	done
	[ -c /dev/net/tun ] || skip_all "no /dev/net/tun (the sender's encapsulator needs TUN)"
	[ -x "$CHLB" ] || { echo "FAIL: $SUITE: $CHLB not built"; exit 1; }
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf ||
		skip_all "cannot mount bpffs"
}

# The encapsulating side: packets the sender routes into TUN device $1 go
# out in a tunnel to the receiver: IPv6 ones as 6in6, IPv4 ones as 4in4
# ($2 = 4) or 4in6 ($2 = 6). A raw socket of protocol 4 or 41 makes the
# kernel write the outer header (and its checksum); the inner packet is
# sent as the sender's stack made it.
write_encap() {
	cat >"$RUN/encap.py" <<'EOF'
import fcntl, os, socket, struct, sys

TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000
name, outer4, dst4, dst6 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
ipip4 = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
ipip6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 4)
ip6ip6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, 41)
open(sys.argv[5], "w").close()	# ready
while True:
    pkt = os.read(tun, 65535)
    if pkt[0] >> 4 == 6:
        ip6ip6.sendto(pkt, (dst6, 0))
    elif outer4 == "4":
        ipip4.sendto(pkt, (dst4, 0))
    else:
        ipip6.sendto(pkt, (dst6, 0))
EOF
}

# start_encap TUN OUTER4 VIP...: the encapsulator, its device, routes to the VIPs.
start_encap() {
	local tun=$1 outer=$2 v
	shift 2
	start "$SND" python3 "$RUN/encap.py" "$tun" "$outer" "$RCV4" "$RCV6" "$RUN/$tun.ready"
	for _ in $(seq 100); do
		[ -e "$RUN/$tun.ready" ] && break
		sleep 0.05
	done
	# room for the outer header (40 bytes at most) in the veth's 1500
	ip -n "$SND" link set "$tun" mtu 1440 up || return 1
	for v in "$@"; do
		case $v in
		*:*) ip -n "$SND" -6 route add "$v/128" dev "$tun" src "$SND6" ;;
		*) ip -n "$SND" route add "$v/32" dev "$tun" src "$SND4" ;;
		esac || return 1
	done
}

setup() {
	ip netns add "$SND" && ip netns add "$RCV" || return 1
	ip -n "$SND" link add eth0 type veth peer name eth0 netns "$RCV" || return 1
	ip -n "$SND" link set lo up && ip -n "$RCV" link set lo up
	ip -n "$SND" addr add "$SND4/24" dev eth0
	ip -n "$SND" addr add "$SND6/64" dev eth0 nodad
	ip -n "$RCV" addr add "$RCV4/24" dev eth0
	ip -n "$RCV" addr add "$RCV6/64" dev eth0 nodad
	ip -n "$SND" link set eth0 up && ip -n "$RCV" link set eth0 up || return 1
	ip -n "$RCV" addr add "$VIP4/32" dev lo
	ip -n "$RCV" addr add "$VIP4B/32" dev lo
	ip -n "$RCV" addr add "$VIP6/128" dev lo nodad
	# The receiver keeps strict reverse-path filtering: decapsulated in XDP,
	# the inner packet arrives on eth0, where the route to the sender is.
	in_rcv sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1
	# The sender sends to the VIPs through a TUN device and gets the
	# replies on eth0 (DSR): that is asymmetric on its side.
	in_snd sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
	mkdir -p "$RUN" "$PINS" || return 1
	write_encap
	start_encap tun44 4 "$VIP4" "$VIP6" || return 1
	start_encap tun46 6 "$VIP4B" || return 1
	start "$RCV" socat TCP6-LISTEN:$TCP_PORT,ipv6only=0,reuseaddr,fork EXEC:/bin/cat
	start "$RCV" socat UDP4-RECVFROM:$UDP_PORT,bind=$VIP4,fork EXEC:/bin/cat
	start "$RCV" socat UDP6-RECVFROM:$UDP_PORT,bind=[$VIP6],fork EXEC:/bin/cat
	sleep 0.3
}

# tcp_echo ADDR: a line through the server's echo.
tcp_echo() {
	local addr=$1 want="hello over $1 $$"
	[ "${addr#*:}" != "$addr" ] && addr="[$addr]"
	[ "$(printf '%s\n' "$want" | in_snd timeout 5 socat -t 2 - \
		"TCP:$addr:$TCP_PORT,connect-timeout=2" 2>/dev/null)" = "$want" ]
}

# tcp_bulk ADDR: 1 MB there and back, compared by checksum.
tcp_bulk() {
	local addr=$1 sum
	[ "${addr#*:}" != "$addr" ] && addr="[$addr]"
	head -c 1048576 /dev/urandom >"$RUN/bulk"
	sum=$(in_snd timeout 20 socat -t 5 - "TCP:$addr:$TCP_PORT,connect-timeout=2" \
		<"$RUN/bulk" | sha256sum)
	[ "$sum" = "$(sha256sum <"$RUN/bulk")" ]
}

udp_echo() {
	local addr=$1 want="datagram to $1 $$" proto=UDP4
	[ "${addr#*:}" != "$addr" ] && { addr="[$addr]"; proto=UDP6; }
	[ "$(printf '%s\n' "$want" | in_snd timeout 5 socat -t 1 - \
		"$proto:$addr:$UDP_PORT" 2>/dev/null)" = "$want" ]
}

check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "$*"; fi
}

# counter NAME: its value in `decap status -j` for eth0.
counter() {
	dchlb -j decap status eth0 | python3 -c \
		"import json,sys; print(json.load(sys.stdin)['decap'][0]['counters']['$1'])"
}

positive() { [ "$(counter "$1")" -gt 0 ]; }

# ---- named conditions for check -------------------------------------------

no_tcp_echo() { ! tcp_echo "$1"; }
xdp_on_eth0() { ip -n "$RCV" link show eth0 | grep -q "prog/xdp"; }
no_xdp_on_eth0() { ! ip -n "$RCV" link show eth0 | grep -q xdp; }
pins_private() { [ "$(stat -c %a "$ROOT")" = 700 ] && [ "$(stat -c %a "$ROOT/eth0")" = 700 ]; }
dsr_seen() { [ "$1" -gt 0 ] && [ "$2" -gt 0 ] && [ "$3" -eq 0 ]; }
no_errors() { [ "$(counter pass_malformed)" -eq 0 ] && [ "$(counter drop_ecn)" -eq 0 ]; }
status_plain() {
	dchlb decap status |
		grep -q "^eth0: attached (native mode, prog id [0-9]*), outer destinations: $RCV4, "
}
help_shown() { dchlb decap attach --help | grep -q "Usage: chlb decap attach DEV"; }
gone_shown() { dchlb -j decap status "$1" | grep -q '"state":"not_attached"'; }
gone_detached() { dchlb decap detach "$1" | grep -q "it ran nowhere" && [ ! -e "$ROOT/$1" ]; }
prog_gone() { ! bpftool prog show id "$1" >/dev/null 2>&1; }
status_empty() { [ "$(dchlb -j decap status)" = '{"decap":[]}' ]; }

case_control() {
	if in_rcv ip link show tunl0 >/dev/null 2>&1; then
		echo "SKIPPED: control (this kernel has ipip: it decapsulates by itself)"
		return
	fi
	check "control: no TCP exchange through a tunnel without decap" no_tcp_echo "$VIP4"
}

case_attach() {
	local out rc
	out=$(dchlb decap attach eth0)
	rc=$?
	check "attach: $out" [ "$rc" -eq 0 ]
	check "attach: native XDP on eth0" xdp_on_eth0
	check "attach: pins root-only 0700" pins_private
}

case_traffic() {
	check "4in4: TCP echo" tcp_echo "$VIP4"
	check "4in4: 1 MB TCP there and back" tcp_bulk "$VIP4"
	check "4in4: UDP echo" udp_echo "$VIP4"
	check "6in6: TCP echo" tcp_echo "$VIP6"
	check "6in6: 1 MB TCP there and back" tcp_bulk "$VIP6"
	check "6in6: UDP echo" udp_echo "$VIP6"
	check "4in6: TCP echo" tcp_echo "$VIP4B"
	check "4in6: 1 MB TCP there and back" tcp_bulk "$VIP4B"
	check "plain TCP to the receiver's own address still works" tcp_echo "$RCV4"
}

# Requests leave the sender in tunnels; replies leave the receiver plain,
# from the VIP, straight to the sender.
case_dsr() {
	local cap=$RUN/snd.pcap out from_vip tunneled
	# -Z root: tcpdump's own user cannot write to our 0755 run directory
	start "$SND" tcpdump -Z root --immediate-mode -i eth0 -nn -U -w "$cap"
	sleep 1
	tcp_echo "$VIP4"
	tcp_echo "$VIP6"
	sleep 0.5
	kill "${PIDS[-1]}" && wait "${PIDS[-1]}" 2>/dev/null
	out=$(tcpdump -nn -r "$cap" \
		"(src host $SND4 and ip proto 4) or (src host $SND6 and ip6 proto 41)" \
		2>/dev/null | wc -l)
	from_vip=$(tcpdump -nn -r "$cap" "(src host $VIP4 or src host $VIP6) and tcp" 2>/dev/null |
		wc -l)
	tunneled=$(tcpdump -nn -r "$cap" \
		"(src host $RCV4 and ip proto 4) or (src host $RCV6 and (ip6 proto 41 or ip6 proto 4))" \
		2>/dev/null | wc -l)
	check "DSR: $out requests tunneled; $from_vip replies from the VIPs plain, $tunneled tunneled" \
		dsr_seen "$out" "$from_vip" "$tunneled"
}

case_counters() {
	local c
	for c in decap_4in4 decap_6in6 decap_4in6 pass_not_tunnel; do
		check "counters: $c = $(counter $c)" positive "$c"
	done
	check "counters: pass_malformed and drop_ecn 0" no_errors
	check "status: plain output names eth0 and its addresses" status_plain
}

# expect_err STATUS CMD...: exit STATUS and one "Error: " line on stderr.
expect_err() {
	local want=$1 rc err
	shift
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	if [ "$rc" -ne "$want" ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] ||
		[ "${err#Error: }" = "$err" ]; then
		echo "  rc $rc, stderr: $err"
		return 1
	fi
}

case_cli() {
	check "cli: attach twice refused (exit 2)" expect_err 2 dchlb decap attach eth0
	check "cli: no such interface (exit 2)" expect_err 2 dchlb decap attach nosuchdev0
	check "cli: bad --xdp-mode (exit 2)" expect_err 2 dchlb decap attach lo --xdp-mode fast
	check "cli: bad --dst address (exit 2)" expect_err 2 dchlb decap attach lo --dst 10.0.0.300
	check "cli: nine IPv4 --dst addresses (exit 2)" expect_err 2 dchlb decap attach lo \
		--dst 10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,10.0.0.6,10.0.0.7,10.0.0.8,10.0.0.9
	check "cli: detach of an interface without decap (exit 2)" expect_err 2 dchlb decap detach lo
	check "cli: bad interface name (exit 2)" expect_err 2 dchlb decap detach ../x
	check "cli: unknown decap command (exit 2)" expect_err 2 dchlb decap frob
	check "cli: decap --help" help_shown
}

# An instance whose interface went away: status says so, detach cleans it.
case_gone() {
	ip -n "$RCV" link add dgone0 type veth peer name dgone1 &&
		ip -n "$RCV" link set dgone0 up && ip -n "$RCV" link set dgone1 up
	dchlb decap attach dgone0 --dst any --xdp-mode skb >/dev/null
	ip -n "$RCV" link del dgone0
	check "gone: status shows the instance not attached" gone_shown dgone0
	check "gone: detach cleans it up" gone_detached dgone0
}

case_detach() {
	local id out rc
	id=$(dchlb -j decap status eth0 | python3 -c \
		"import json,sys; print(json.load(sys.stdin)['decap'][0]['prog_id'])")
	out=$(dchlb decap detach eth0)
	rc=$?
	check "detach: $out" [ "$rc" -eq 0 ]
	check "detach: no XDP program on eth0" no_xdp_on_eth0
	check "detach: nothing pinned ($ROOT gone)" [ ! -e "$ROOT" ]
	check "detach: program $id unloaded" prog_gone "$id"
	check "detach: status says not attached" status_empty
	check "detach: tunnels are not decapsulated any more" no_tcp_echo "$VIP4"
}

preflight_decap
remove_stale
trap cleanup EXIT
trap 'exit 1' INT TERM
setup || { echo "FAIL: $SUITE: cannot build the namespaces"; exit 1; }
case_control
case_attach
case_traffic
case_dsr
case_counters
case_cli
case_gone
case_detach
summary
