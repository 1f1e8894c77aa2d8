#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# ICMP errors about VIP flows, method dsr, end to end on the testbed of
# scripts/testbed.sh (chlb native on the LB): a UDP flow from the client to
# the VIP, then "fragmentation needed" (IPv4) / "packet too big" (IPv6)
# about its backend's reply, sent to the VIP as a router on the reply's
# path would (raw sockets in the client's namespace, checksums right). chlb
# must steer each error to the backend that owns the flow (chlb lookup's
# answer), whose kernel then lowers its path MTU to the client; no other
# backend may learn it (their route caches are flushed first). And a
# fragmented datagram to the VIP: dropped, counted for the VIP, no backend
# sees it. One PASS/FAIL/SKIPPED line per case; exit 0 all passed, 1 any
# failed, 77 cannot run here.
set -u
cd "$(dirname "$0")/../.." || exit 1
export BUILD=${BUILD:-build}
TB_ID=icmp$$
. scripts/testbed.sh
SUITE=icmp_dsr
. tests/sh/e2e_lib.bash
LOGS=$(mktemp -d /tmp/chlb-icmp.XXXXXX)

UVIP=$TB_VIP4:$TB_UDP_PORT/udp
UVIP6=[$TB_VIP6]:$TB_UDP_PORT/udp
MTU4=1300
MTU6=1350

cleanup() {
	tb_down
	rm -rf "$LOGS"
}

# The global counter NAME of chlb -j stats.
gcount() {
	tb_chlb -j stats | python3 -c "import json,sys; print(json.load(sys.stdin)['global']['$1'])"
}

# The VIP's fragments counter.
vfrags() {
	tb_chlb -j stats | python3 -c "
import json, sys
print(sum(v['fragments'] for v in json.load(sys.stdin)['vips'] if v['vip'] == '$1'))"
}

# route_mtu NODE ADDR: the path MTU NODE's kernel learnt for ADDR, or "-".
route_mtu() {
	local m
	m=$(ip -n "$TB-$1" route get "$2" 2>/dev/null | grep -o 'mtu [0-9]*' | head -1)
	echo "${m#mtu }" | grep . || echo -
}

# send_error FAMILY VIP CLIENT CPORT VPORT MTU: the error about the reply
# VIP:VPORT -> CLIENT:CPORT (UDP), from the client's namespace.
send_error() {
	tb_exec cl python3 - "$@" <<-'EOF'
	import socket, struct, sys
	fam, vip, client, cport, vport, mtu = sys.argv[1], sys.argv[2], sys.argv[3], \
	    int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
	def csum(b):
	    b += b"\0" * (len(b) & 1)
	    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
	    while s >> 16:
	        s = (s & 0xffff) + (s >> 16)
	    return ~s & 0xffff
	udp = struct.pack("!HHHH", vport, cport, 1472, 0)
	if fam == "4":
	    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1500, 0x1234, 0x4000, 64, 17, 0,
	                     socket.inet_aton(vip), socket.inet_aton(client))
	    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
	    msg = struct.pack("!BBHHH", 3, 4, 0, 0, mtu) + ip + udp
	    msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
	    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
	else:
	    ip = struct.pack("!IHBB16s16s", 6 << 28, 1472, 17, 64,
	                     socket.inet_pton(socket.AF_INET6, vip),
	                     socket.inet_pton(socket.AF_INET6, client))
	    msg = struct.pack("!BBHI", 2, 0, 0, mtu) + ip + udp	# checksum: the kernel's
	    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
	s.sendto(msg, (vip, 0))
	EOF
}

# udp_flow FAMILY VIP PORT: one datagram from the client's PORT, echoed back.
udp_flow() {
	tb_exec cl python3 - "$@" <<-'EOF'
	import socket, sys
	fam = socket.AF_INET if sys.argv[1] == "4" else socket.AF_INET6
	s = socket.socket(fam, socket.SOCK_DGRAM)
	s.bind(("", int(sys.argv[3])))
	s.settimeout(2)
	s.sendto(b"hello", (sys.argv[2], 5300))
	print(s.recvfrom(100)[0].decode().split()[0])
	EOF
}

case_attach() {
	local b a v err=
	tb_chlb attach eth0 --xdp-mode native >"$LOGS/attach" 2>&1 || err="attach: $(cat "$LOGS/attach")"
	for v in "$UVIP" "$UVIP6"; do
		[ -n "$err" ] || tb_chlb vip add "$v" >/dev/null 2>"$LOGS/err" || err="vip add $v: $(cat "$LOGS/err")"
		for b in b1 b2 b3; do
			a=$(tb_ip4 "$b")
			[ "$v" = "$UVIP6" ] && a=$(tb_ip6 "$b")
			[ -n "$err" ] || tb_chlb backend add "$v" "$a" --mac "$(tb_mac "$b")" \
				>/dev/null 2>"$LOGS/err" ||
				err="backend add $v $b: $(cat "$LOGS/err")"
		done
	done
	# the IPv6 echo servers (the testbed's are IPv4): a socket for the error to find
	for b in b1 b2 b3; do
		setsid ip netns exec "$TB-$b" socat "UDP6-RECVFROM:$TB_UDP_PORT,bind=[$TB_VIP6],fork" \
			EXEC:"$TB_DIR/$b/echo.sh" </dev/null >"$TB_DIR/$b/socat6.log" 2>&1 &
		echo $! > "$TB_DIR/$b/socat6.pid"
	done
	sleep 0.3
	if [ -n "$err" ]; then
		fail attach "$err"
		return 1
	fi
	pass "attach native, UDP VIPs (IPv4, IPv6) on b1 b2 b3"
}

# icmp_case NAME FAMILY VIP-ADDR VIP CLIENT MTU PORT
icmp_case() {
	local name=$1 fam=$2 vaddr=$3 vip=$4 client=$5 mtu=$6 port=$7 owner served b m
	local mtus='' learnt=0 right=0 before after
	for b in $TB_BACKENDS; do
		ip -n "$TB-$b" route flush cache 2>/dev/null
		ip -n "$TB-$b" -6 route flush cache 2>/dev/null
	done
	served=$(udp_flow "$fam" "$vaddr" "$port" 2>&1)
	owner=$(tb_name_of "$(tb_chlb -j lookup "$vip" "$(tb_ip"$fam" cl | sed 's/.*:.*/[&]/'):$port" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["backend"])')")
	before=$(gcount icmp_steered)
	send_error "$fam" "$vaddr" "$client" "$port" "$TB_UDP_PORT" "$mtu"
	sleep 0.3
	after=$(gcount icmp_steered)
	for b in b1 b2 b3; do
		m=$(route_mtu "$b" "$client")
		mtus="$mtus $b:$m"
		[ "$m" = "$mtu" ] && learnt=$((learnt + 1)) && [ "$b" = "$owner" ] && right=1
	done
	if [ "$served" = "$owner" ] && [ "$((after - before))" -eq 1 ] && [ "$learnt" -eq 1 ] &&
		[ "$right" -eq 1 ]; then
		pass "$name: the flow's backend $owner (chlb lookup, served it) alone learnt path MTU $mtu ($mtus ), icmp_steered +1"
	else
		fail "$name" "served by $served, lookup says $owner, icmp_steered $before -> $after, path MTUs:$mtus"
	fi
}

case_icmp() {
	local p
	for p in 41000 41001 41002 41003; do
		icmp_case "frag needed, client port $p" 4 "$TB_VIP4" "$UVIP" "$(tb_ip4 cl)" "$MTU4" "$p"
	done
	for p in 42000 42001; do
		icmp_case "packet too big, client port $p" 6 "$TB_VIP6" "$UVIP6" "$(tb_ip6 cl)" "$MTU6" "$p"
	done
}

# A datagram of 3000 bytes leaves the client in IPv4 fragments: chlb drops
# them (drop_fragment, the VIP's fragments), no backend answers.
case_fragments() {
	local before after fb fa out
	before=$(gcount drop_fragment)
	fb=$(vfrags "$UVIP")
	out=$(tb_exec cl python3 - "$TB_VIP4" <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.setsockopt(socket.IPPROTO_IP, 10, 0)	# IP_MTU_DISCOVER: IP_PMTUDISC_DONT
	s.settimeout(1)
	s.sendto(b"x" * 3000, (sys.argv[1], 5300))
	try:
	    print("answered", s.recvfrom(4000)[0][:3])
	except socket.timeout:
	    print("none")
	EOF
	)
	after=$(gcount drop_fragment)
	fa=$(vfrags "$UVIP")
	if [ "$out" = none ] && [ "$((after - before))" -eq 3 ] && [ "$((fa - fb))" -eq 3 ]; then
		pass "a 3000-byte datagram's 3 fragments dropped and counted for $UVIP, no answer"
	else
		fail fragments "answer: $out, drop_fragment $before -> $after, VIP fragments $fb -> $fa"
	fi
}

main() {
	preflight
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	tb_up >"$LOGS/up" 2>&1 || { cat "$LOGS/up"; echo "FAIL: testbed up"; exit 1; }
	echo "testbed $TB up"
	if case_attach; then
		case_icmp
		case_fragments
	fi
	summary
}

main "$@"
