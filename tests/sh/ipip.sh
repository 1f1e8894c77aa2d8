#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Method ipip end to end on the routed testbed (scripts/testbed_routed.sh):
# the backends sit behind a router on another subnet and strip the outer
# header with `chlb decap`; chlb on the LB encapsulates in XDP and finds the
# next hop (the router) in the kernel's FIB. Real clients and servers:
#   http      HTTP over an IPv4 and an IPv6 VIP: every connection served,
#             shares by weight, chlb's per-backend packets = the frames
#             each backend's decap stripped
#   4in6      an IPv4 VIP on IPv6 backends
#   udp       UDP echo through an ipip VIP
#   fragments a fragmented datagram to a VIP: dropped, counted for the VIP
#   pmtu      a 1 MB upload from a client whose full-size frames do not fit
#             once encapsulated: chlb answers frag-needed / packet-too-big
#             (tx_too_big), the client lowers its path MTU, the upload
#             completes (IPv4, IPv6, 4in6)
#   icmp      the router's link to the client narrowed: a 1 MB download
#             makes the router send frag-needed / packet-too-big to the
#             VIP; chlb steers it to the backend owning the flow
#             (icmp_steered), which lowers its path MTU: the download
#             completes
#   lookup    `chlb lookup` names the backend of 20 connections with fixed
#             source ports
#   persist   20 long-lived connections: 0 broken by `backend add`, 0 by
#             `backend set --drain` (no new connection on the drained one)
#   noneigh   the LB's neighbour entry for the router deleted: the first
#             frames are passed to the kernel (pass_no_neigh), which
#             forwards them and resolves; the connection succeeds
#   redirect  subnet 2 routed over the LB's second link: frames leave by
#             bpf_redirect out of eth1 (redirect), not XDP_TX
#   encap-src attached again with outer source ranges (and no flow
#             table): the router sees many sources from them, none elsewhere
#   control   without a flow table the same backend add breaks connections
#   detach    chlb detached: nothing pinned, the VIPs no longer served
# One PASS/FAIL line per check (with chlb's counters when it fails); exit
# 0 all passed, 1 any failed, 77 cannot run here (said loudly).
set -u
cd "$(dirname "$0")/../.." || exit 1
export BUILD=${BUILD:-build}
TB_ID=ipip$$
. scripts/testbed_routed.sh
SUITE=ipip
. tests/sh/e2e_lib.bash
TRAFFIC=$PWD/tests/traffic
CLIENT="python3 $TRAFFIC/http_client.py"
LOGS=/tmp/chlb-ipip-$$		# our clients' logs (remove_stale knows the name)

V4=$TB_VIP4:$TB_HTTP_PORT/tcp
V6=[$TB_VIP6]:$TB_HTTP_PORT/tcp
V46=$RT_VIP46:$TB_HTTP_PORT/tcp
ECHO_PORT=7000
VE=$TB_VIP4:$ECHO_PORT/tcp	# long-lived connections
VU=$TB_VIP4:$TB_UDP_PORT/udp	# the backends' UDP echo (testbed.sh)
WEIGHTS="b1:1 b2:1 b3:2"

cleanup() {
	[ -d "$LOGS" ] && touch "$LOGS/add.stop" "$LOGS/drain.stop" "$LOGS/control.stop"
	tb_down
	rm -rf "$LOGS"
}

# Testbeds of runs of this suite whose shell is gone (killed before its trap).
remove_stale() {
	local ns id d
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $ns in chlbtb-ipip*-s1) ;; *) continue ;; esac
		id=${ns#chlbtb-}
		id=${id%-s1}
		kill -0 "${id#ipip}" 2>/dev/null && continue
		echo "removing stale testbed chlbtb-$id"
		(TB_QUIET=1; tb_set_id "$id"; tb_down)
	done
	for d in /tmp/chlb-ipip-*; do
		[ -d "$d" ] && ! kill -0 "${d##*-}" 2>/dev/null && rm -rf "$d"
	done
	mkdir -p "$LOGS"
}

check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "$*"; fi
}

# ---- chlb's counters ------------------------------------------------------

# gcount NAME: a global counter of `chlb stats`.
gcount() {
	tb_chlb -j stats | python3 -c "import json,sys; print(json.load(sys.stdin)['global'].get('$1', -1))"
}

# counters NAME...: "name=value ..." for failure messages.
counters() {
	tb_chlb -j stats | python3 -c '
import json, sys
g = json.load(sys.stdin)["global"]
print(" ".join("%s=%s" % (k, g.get(k)) for k in sys.argv[1:]))' "$@"
}
COUNTERS="rx tx redirect pass_no_neigh drop_no_route drop_encap tx_too_big drop_too_big too_big_limited icmp_steered pass_other_proto drop_no_backend"

# chlb_per_node: "b1 N b2 N b3 N", packets chlb sent to each backend node,
# summed over every VIP and both of its addresses.
chlb_per_node() {
	tb_chlb -j stats | python3 -c '
import json, sys
names = dict(a.split("=") for a in sys.argv[1:])
n = {v: 0 for v in names.values()}
for vip in json.load(sys.stdin)["vips"]:
    for b in vip["backends"]:
        n[names[b["address"]]] += b["packets"]
print(" ".join("%s %d" % kv for kv in sorted(n.items())))' \
		$(for b in $TB_BACKENDS; do echo "$(tb_ip4 "$b")=$b $(tb_ip6 "$b")=$b"; done)
}

decap_per_node() {
	local b
	for b in $TB_BACKENDS; do
		echo -n "$b $(rt_decap_count "$b") "
	done
	echo
}

# ---- set-up ---------------------------------------------------------------

# backends VIP v4|v6: the three backends with weights 1 1 2.
add_backends() {
	local vip=$1 fam=$2 bw b
	for bw in $WEIGHTS; do
		b=${bw%:*}
		tb_chlb backend add "$vip" "$(tb_ip$fam "$b")" --weight "${bw#*:}" \
			>/dev/null 2>"$LOGS/err" || { echo "backend add $vip $b: $(cat "$LOGS/err")"; return 1; }
	done
}

add_vip() {
	tb_chlb vip add "$1" --method ipip >/dev/null 2>"$LOGS/err" ||
		{ echo "vip add $1 --method ipip: $(cat "$LOGS/err")"; return 1; }
}

setup_lb() {
	local p
	tb_chlb attach eth0 --xdp-mode native >"$LOGS/attach" 2>&1 ||
		{ echo "attach: $(cat "$LOGS/attach")"; return 1; }
	for p in $TB_HTTP_PORT $RT_SINK_PORT $RT_SOURCE_PORT; do
		add_vip "$TB_VIP4:$p/tcp" && add_backends "$TB_VIP4:$p/tcp" 4 || return 1
		add_vip "[$TB_VIP6]:$p/tcp" && add_backends "[$TB_VIP6]:$p/tcp" 6 || return 1
		add_vip "$RT_VIP46:$p/tcp" && add_backends "$RT_VIP46:$p/tcp" 6 || return 1
	done
	add_vip "$VU" && add_backends "$VU" 4 || return 1
	add_vip "$VE" || return 1
	for b in b1 b2; do
		tb_chlb backend add "$VE" "$(tb_ip4 "$b")" >/dev/null 2>"$LOGS/err" ||
			{ echo "backend add $VE $b: $(cat "$LOGS/err")"; return 1; }
	done
}

case_setup() {
	local err
	err=$(setup_lb) && err=$(start_echo_servers)
	if [ -n "$err" ]; then
		fail setup "$err"
		return 1
	fi
	pass "setup: chlb attached natively on the LB, 11 ipip VIPs (IPv4, IPv6, IPv4 on IPv6 backends), backends on subnet 2 with decap"
}

# One request per VIP first: when nothing gets through, say so with the
# counters once, instead of every case timing out (minutes).
case_smoke() {
	local v got ok=0 out=
	for v in "$TB_VIP4" "[$TB_VIP6]" "$RT_VIP46"; do
		got=$(tb_exec cl curl -s -m 3 "http://$v/")
		out="$out $v:'$got'"
		[ -n "$got" ] && ok=$((ok + 1))
	done
	if [ "$ok" -eq 3 ]; then
		pass "smoke: one request through each VIP ($out )"
	else
		fail "smoke: one request through each VIP" "$out; $(counters $COUNTERS)"
		[ "$ok" -gt 0 ]
	fi
}

# ---- http ------------------------------------------------------------------

# summarize LOG: "total ok b1 b2 b3 first-error".
summarize() {
	python3 - "$1" <<-'EOF'
	import collections, json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	c = collections.Counter(r["backend"] for r in recs if not r["error"])
	err = [r["error"] for r in recs if r["error"]]
	print(len(recs), len(recs) - len(err), c["b1"], c["b2"], c["b3"],
	      (err[0] if err else "-").replace(" ", "_"))
	EOF
}

within() { python3 -c "import sys; sys.exit(abs($1 - $2) > $3)"; }

# share_ok COUNT N P: COUNT of N connections is a share P (0..1) within 3.5
# standard deviations of a binomial draw (random source ports).
share_ok() { within "$1" "$2 * $3" "3.5 * ($2 * $3 * (1 - $3)) ** 0.5"; }

# http NAME HOST N: N connections; PASS when all are served with shares
# 25/25/50 (weights 1 1 2) within 3.5 standard deviations.
http() {
	local name=$1 host=$2 n=$3 total ok b1 b2 b3 e s
	tb_exec cl $CLIENT conns "$host" "$n" --threads 8 >"$LOGS/$name"
	read -r total ok b1 b2 b3 e < <(summarize "$LOGS/$name")
	s="$ok/$total served, b1 $b1 b2 $b2 b3 $b3"
	if [ "$ok" -eq "$n" ] && share_ok "$b1" "$n" 0.25 && share_ok "$b2" "$n" 0.25 &&
		share_ok "$b3" "$n" 0.5; then
		pass "$name: $n HTTP connections to $host, shares 25/25/50 within 3.5 sigma ($s)"
	else
		fail "$name: $n HTTP connections to $host" "$s (first error: $e); $(counters $COUNTERS)"
	fi
}

# log_lines: "N N N", the lines of each backend's nginx access log.
log_lines() {
	local b
	for b in $TB_BACKENDS; do
		echo -n "$(wc -l <"$TB_DIR/$b/access.log") "
	done
}

# access_logs "N N N": each backend's log grew since those counts.
access_logs() {
	local b n out= bad=0 before=($1)
	for b in $TB_BACKENDS; do
		n=$(($(wc -l <"$TB_DIR/$b/access.log") - before[${b#b} - 1]))
		out="$out $b:$n"
		[ "$n" -gt 0 ] || bad=1
	done
	[ "$bad" -eq 0 ] && pass "http: every backend's nginx logged requests ($out)" ||
		fail "http: access logs" "$out"
}

# chlb's per-backend packets against what each backend's decap stripped
# (only HTTP has run so far; the last FIN/ACKs given time to land).
case_stats_match() {
	local c d msg= bad=
	sleep 0.5
	read -ra c < <(chlb_per_node)
	read -ra d < <(decap_per_node)
	for i in 0 2 4; do
		msg="$msg ${c[i]}:${c[i + 1]}/${d[i + 1]}"
		within "${c[i + 1]}" "${d[i + 1]}" "max(1, ${d[i + 1]} / 100)" || bad=1
		[ "${d[i + 1]}" -gt 0 ] || bad=1
	done
	[ -z "$bad" ] && pass "http: chlb stats per-backend packets = frames decapsulated by each backend within 1% (chlb/decap:$msg)" ||
		fail "http: chlb stats vs backends' decap" "chlb/decap:$msg; $(counters $COUNTERS)"
}

case_http() {
	local logs
	logs=$(log_lines)
	http "http IPv4 (4in4)" "$TB_VIP4" 600
	http "http IPv6 (6in6)" "$TB_VIP6" 300
	access_logs "$logs"
	case_stats_match
}

case_4in6() {
	local n
	http "4in6: IPv4 VIP on IPv6 backends" "$RT_VIP46" 200
	n=$(for b in $TB_BACKENDS; do
		rt_chlb "$b" -j decap status eth0 | python3 -c \
			'import json,sys; print(json.load(sys.stdin)["decap"][0]["counters"]["decap_4in6"])'
	done | tr '\n' ' ')
	check "4in6: every backend decapsulated IPv4-in-IPv6 frames ($n)" all_positive $n
}

all_positive() {
	local x
	for x in "$@"; do [ "$x" -gt 0 ] || return 1; done
}

# UDP: 100 echo round trips, each from a new source port; the echo server
# answers from the VIP with its name.
case_udp() {
	local r
	r=$(tb_exec cl python3 "$PWD/tests/traffic/udp_echo_client.py" "$TB_VIP4" "$TB_UDP_PORT" 100 ipip)
	set -- $r
	if [ "${1:-x}" = 0 ] && [ "${2:-0}" -eq 3 ]; then
		pass "udp: 100 echo round trips through $VU, spread ${*:3}"
	else
		fail "udp: echo through $VU" "failed/backends/spread = $r; $(counters $COUNTERS)"
	fi
}

# A datagram too big for the client's link leaves it in IPv4 fragments:
# chlb drops fragments to a VIP address and counts them per VIP (the first,
# with ports, for its VIP; the others for the address's first VIP), so
# nothing comes back and the LB's kernel never sees them.
case_fragments() {
	local f0 d0 f1 d1 r v0 v1
	f0=$(addr_fragments "$TB_VIP4")
	v0=$(vip_count "$VU" fragments)
	d0=$(gcount drop_fragment)
	r=$(tb_exec cl python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 0)	# IP_MTU_DISCOVER: IP_PMTUDISC_DONT, fragment
s.settimeout(1)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"x" * 3000)
try:
    print("answered", len(s.recv(4000)))
except OSError:
    print("no answer")' "$TB_VIP4" "$TB_UDP_PORT")
	f1=$(addr_fragments "$TB_VIP4")
	v1=$(vip_count "$VU" fragments)
	d1=$(gcount drop_fragment)
	if [ "$r" = "no answer" ] && [ "$((f1 - f0))" -eq 3 ] && [ "$((d1 - d0))" -eq 3 ] &&
		[ "$((v1 - v0))" -ge 1 ]; then
		pass "fragments: a 3000-byte datagram's 3 fragments dropped (drop_fragment +$((d1 - d0))) and counted for $TB_VIP4's VIPs (+$((f1 - f0)), $VU +$((v1 - v0))), no answer"
	else
		fail fragments "$r; fragments of $TB_VIP4's VIPs $f0 -> $f1 ($VU $v0 -> $v1), drop_fragment $d0 -> $d1"
	fi
}

# addr_fragments ADDR: the fragments counted for every VIP on ADDR.
addr_fragments() {
	tb_chlb -j stats | python3 -c "
import json, sys
print(sum(v['fragments'] for v in json.load(sys.stdin)['vips'] if v['vip'].startswith('$1:')))"
}

# vip_count VIP NAME: a per-VIP counter of `chlb stats`.
vip_count() {
	tb_chlb -j stats "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['vips'][0].get('$2', -1))"
}

# ---- path MTU ---------------------------------------------------------------

# bulk_host ADDR: socat's spelling of an address.
bulk_host() { case $1 in *:*) echo "[$1]" ;; *) echo "$1" ;; esac; }

# upload ADDR: 1 MB to the sink behind ADDR; the sink answers "NAME sha256".
upload() {
	local want got
	want=$(sha256sum <"$TB_DIR/bulk.data" | cut -c1-64)
	got=$(tb_exec cl timeout 20 socat -t 10 - \
		"TCP:$(bulk_host "$1"):$RT_SINK_PORT,connect-timeout=3" <"$TB_DIR/bulk.data" 2>&1)
	echo "$got" >"$LOGS/upload"
	[ "${got#* }" = "$want" ]
}

# download ADDR: 1 MB from the source behind ADDR, compared by checksum.
download() {
	local got
	got=$(tb_exec cl timeout 20 socat -u "TCP:$(bulk_host "$1"):$RT_SOURCE_PORT,connect-timeout=3" - |
		sha256sum | cut -c1-64)
	[ "$got" = "$(sha256sum <"$TB_DIR/bulk.data" | cut -c1-64)" ]
}

# route_mtu NODE ADDR: the path MTU NODE's kernel learnt for ADDR, or "-".
route_mtu() {
	local m
	m=$(ip -n "$TB-$1" route get "$2" 2>/dev/null | grep -o 'mtu [0-9]*' | head -1)
	m=${m#mtu }
	echo "${m:--}"
}

# A 1 MB upload from a client with MTU 1500 through an LB whose egress MTU
# is 1500: a full-size frame plus the outer header does not fit.
pmtu_upload() {
	local name=$1 addr=$2 before after mtu r
	ip -n "$TB-cl" route flush cache >/dev/null 2>&1
	ip -n "$TB-cl" -6 route flush cache >/dev/null 2>&1
	before=$(gcount tx_too_big)
	upload "$addr"
	r=$?
	after=$(gcount tx_too_big)
	mtu=$(route_mtu cl "$addr")
	if [ "$r" -eq 0 ] && [ "$after" -gt "$before" ]; then
		pass "pmtu $name: 1 MB upload to $addr completed, chlb answered $((after - before)) too-big, the client's path MTU is now $mtu"
	else
		fail "pmtu $name: 1 MB upload to $addr" "completed=$([ "$r" -eq 0 ] && echo yes || echo no) ($(head -c 200 "$LOGS/upload")), tx_too_big $before -> $after, client path MTU $mtu; $(counters $COUNTERS)"
	fi
}

case_pmtu() {
	pmtu_upload "IPv4 (4in4, frag-needed)" "$TB_VIP4"
	pmtu_upload "IPv6 (6in6, packet too big)" "$TB_VIP6"
	pmtu_upload "4in6 (frag-needed for 40 bytes)" "$RT_VIP46"
}

# ---- ICMP errors steered -----------------------------------------------------

# The router's link to subnet 1 narrowed to 1400: a backend's full-size
# replies to the client do not fit there, the router sends frag-needed /
# packet-too-big to the VIP (their source), routed to the LB.
# Exactly one backend, the one serving the download, learns MTU 1400:
# the errors went to the flow's owner, not to every backend.
icmp_download() {
	local name=$1 addr=$2 before after r b m mtus= n=0
	for b in $TB_BACKENDS; do
		ip -n "$TB-$b" route flush cache >/dev/null 2>&1
		ip -n "$TB-$b" -6 route flush cache >/dev/null 2>&1
	done
	before=$(gcount icmp_steered)
	download "$addr"
	r=$?
	after=$(gcount icmp_steered)
	for b in $TB_BACKENDS; do
		m=$(route_mtu "$b" "$(tb_ip$3 cl)")
		mtus="$mtus $b:$m"
		[ "$m" = 1400 ] && n=$((n + 1))
	done
	if [ "$r" -eq 0 ] && [ "$after" -gt "$before" ] && [ "$n" -eq 1 ]; then
		pass "icmp $name: 1 MB download from $addr completed, chlb steered $((after - before)) ICMP errors to the owning backend, the only one to learn path MTU 1400 to the client ($mtus )"
	else
		fail "icmp $name: 1 MB download from $addr" "completed=$([ "$r" -eq 0 ] && echo yes || echo no), icmp_steered $before -> $after, backends' path MTU:$mtus; $(counters $COUNTERS)"
	fi
}

case_icmp() {
	ip -n "$TB-rt" link set eth0 mtu 1400 || { fail icmp "cannot set the router's MTU"; return; }
	icmp_download "IPv4 (frag-needed from the router)" "$TB_VIP4" 4
	icmp_download "IPv6 (packet too big from the router)" "$TB_VIP6" 6
	icmp_download "4in6 (frag-needed steered to an IPv6 backend)" "$RT_VIP46" 4
	ip -n "$TB-rt" link set eth0 mtu 1500
}

# ---- lookup ---------------------------------------------------------------------

# lookup_conns NAME HOST VIP CLIENT SPORT_BASE: 20 connections from fixed
# source ports; lookup must name the backend that answered each.
lookup_conns() {
	local name=$1 host=$2 vip=$3 client=$4 base=$5 sport got want wrong=0 n=0 first= seen=
	tb_exec cl $CLIENT conns "$host" 20 --threads 1 --sport-base "$base" >"$LOGS/lookup"
	while read -r sport got; do
		want=$(tb_chlb -j lookup "$vip" "$client:$sport" |
			python3 -c 'import json, sys; print(json.load(sys.stdin)["backend"])')
		n=$((n + 1))
		want=$(tb_name_of "$want")
		seen="$seen $got"
		if [ "$got" != "$want" ]; then
			wrong=$((wrong + 1))
			[ -n "$first" ] || first="port $sport served by '$got', lookup says $want"
		fi
	done < <(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(r["sport"], r["backend"])' "$LOGS/lookup")
	[ "$n" -eq 20 ] && [ "$wrong" -eq 0 ] &&
		pass "lookup $name: chlb lookup named the backend of $n connections ($(echo $seen | tr ' ' '\n' | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}'))" ||
		fail "lookup $name" "$wrong/$n wrong, e.g. $first"
}

case_lookup() {
	lookup_conns IPv4 "$TB_VIP4" "$V4" "$(tb_ip4 cl)" 43000
	lookup_conns "4in6" "$RT_VIP46" "$V46" "$(tb_ip4 cl)" 43100
	lookup_conns IPv6 "$TB_VIP6" "$V6" "[$(tb_ip6 cl)]" 43200
}

# ---- flow table and drain (as tests/sh/e2e_persist.sh does with dsr) -----------

NCONN=20
NPROBE=60
RUN=2

start_echo_servers() {
	local b d i
	for b in $TB_BACKENDS; do
		d=$TB_DIR/$b
		setsid ip netns exec "$TB-$b" python3 "$TRAFFIC/echo_server.py" "$b" \
			"$TB_VIP4" "$ECHO_PORT" --pidfile "$d/echo.pid" </dev/null >"$d/echo.log" 2>&1 &
		for i in $(seq 100); do
			[ -s "$d/echo.pid" ] && break
			sleep 0.05
		done
		[ -s "$d/echo.pid" ] || { echo "echo server on $b: $(cat "$d/echo.log")"; return 1; }
	done
}

jget() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"; }

# hold_start NAME: NCONN connections through VE, each exchanging a line every
# 100 ms; returns once every one has had its first reply.
hold_start() {
	local n=$1 i
	tb_exec cl python3 "$TRAFFIC/longconn.py" hold "$TB_VIP4" "$ECHO_PORT" "$NCONN" \
		--ready "$LOGS/$n.ready" --stop "$LOGS/$n.stop" --max-seconds 40 \
		>"$LOGS/$n.out" 2>"$LOGS/$n.err" &
	eval "HOLD_$n=$!"
	for i in $(seq 100); do
		[ -f "$LOGS/$n.ready" ] && break
		sleep 0.1
	done
	[ -f "$LOGS/$n.ready" ] && [ "$(jget "$LOGS/$n.ready" 'd["established"] == d["conns"] and not d["broken"]')" = True ] ||
		{ hold_stop "$n"; echo "not all established: $(cat "$LOGS/$n.ready" "$LOGS/$n.err" 2>/dev/null)"; return 1; }
}

hold_stop() {
	local pid
	eval "pid=\$HOLD_$1"
	touch "$LOGS/$1.stop"
	wait "$pid"
	[ -s "$LOGS/$1.out" ] || echo "{}" >"$LOGS/$1.out"
}

# probe NAME: NPROBE new connections; prints "ok b1=N b2=N ...".
probe() {
	tb_exec cl python3 "$TRAFFIC/longconn.py" probe "$TB_VIP4" "$ECHO_PORT" "$NPROBE" \
		>"$LOGS/$1.probe" 2>&1
	jget "$LOGS/$1.probe" '" ".join([str(d["ok"])] + ["%s=%d" % kv for kv in sorted(d["by_backend"].items())])'
}

probe_count() {
	local kv
	for kv in ${1#* }; do
		[ "${kv%=*}" = "$2" ] && { echo "${kv#*=}"; return; }
	done
	echo 0
}

summary_of() {
	jget "$LOGS/$1.out" 'd.get("broken", -1), d.get("conns", 0), d.get("min_messages", 0), " ".join("%s:%d" % (b, v["conns"]) for b, v in sorted(d.get("by_backend", {}).items()))'
}

case_add() {
	local p nb nc mm dist n3
	hold_start add >"$LOGS/err" || { fail "persist add" "$(cat "$LOGS/err")"; return; }
	tb_chlb backend add "$VE" "$(tb_ip4 b3)" >/dev/null 2>"$LOGS/err" ||
		{ hold_stop add; fail "persist add" "backend add: $(cat "$LOGS/err")"; return; }
	sleep "$RUN"
	p=$(probe add)
	hold_stop add
	read -r nb nc mm dist < <(summary_of add)
	n3=$(probe_count "$p" b3)
	if [ "$nb" -eq 0 ] && [ "$nc" -eq "$NCONN" ] && [ "$mm" -ge $((RUN * 5)) ] &&
		[ "${p%% *}" -eq "$NPROBE" ] && [ "$n3" -ge $((NPROBE / 8)) ]; then
		pass "persist add: $nb/$nc long-lived connections broken by backend add (on $dist, >= $mm replies each), b3 took $n3/$NPROBE new"
	else
		fail "persist add" "$nb/$nc broken (on $dist, >= $mm replies each), probe '$p'; $(counters flow_hit flow_miss flow_insert flow_refused)"
	fi
}

case_drain() {
	local p nb nc mm dist n2
	hold_start drain >"$LOGS/err" || { fail "persist drain" "$(cat "$LOGS/err")"; return; }
	tb_chlb backend set "$VE" "$(tb_ip4 b2)" --drain >/dev/null 2>"$LOGS/err" ||
		{ hold_stop drain; fail "persist drain" "backend set --drain: $(cat "$LOGS/err")"; return; }
	sleep "$RUN"
	p=$(probe drain)
	hold_stop drain
	read -r nb nc mm dist < <(summary_of drain)
	n2=$(probe_count "$p" b2)
	if [ "$nb" -eq 0 ] && [ "$nc" -eq "$NCONN" ] && [ "$mm" -ge $((RUN * 5)) ] &&
		[ "${p%% *}" -eq "$NPROBE" ] && [ "$n2" -eq 0 ] && [[ $dist == *b2:* ]]; then
		pass "persist drain: $nb/$nc broken by backend set --drain (on $dist, b2 kept its own), $n2/$NPROBE new on drained b2"
	else
		fail "persist drain" "$nb/$nc broken (on $dist, >= $mm replies each), probe '$p'; $(counters flow_hit flow_miss flow_insert flow_refused)"
	fi
}

# ---- no neighbour ------------------------------------------------------------------

# noneigh FAMILY HOST: forget the router's MAC on the LB, then connect.
noneigh() {
	local fam=$1 host=$2 gw before after got neigh
	gw=$(tb_ip$fam rt)
	ip -n "$TB-lb" neigh del "$gw" dev eth0 2>/dev/null
	neigh=$(ip -n "$TB-lb" neigh show "$gw" | grep -c lladdr)
	before=$(gcount pass_no_neigh)
	got=$(tb_exec cl curl -s -m 5 "http://$(bulk_host "$host")/")
	after=$(gcount pass_no_neigh)
	if [ "$neigh" -eq 0 ] && [ -n "$got" ] && [ "$after" -gt "$before" ]; then
		pass "noneigh IPv$fam: router's MAC forgotten, $((after - before)) frames passed to the kernel, which resolved it; served by $got; now $(ip -n "$TB-lb" neigh show "$gw" | awk '{print $NF}')"
	else
		fail "noneigh IPv$fam" "entries left $neigh, reply '$got', pass_no_neigh $before -> $after; $(counters $COUNTERS)"
	fi
}

case_noneigh() {
	noneigh 4 "$TB_VIP4"
	noneigh 6 "$TB_VIP6"
}

# Subnet 2 routed over the LB's direct link to the router: the FIB names
# another interface, chlb redirects there (redirect rises, XDP_TX does not).
case_redirect() {
	local tx0 rd0 tx1 rd1
	rt_via_link 3 || { fail redirect "cannot route subnet 2 over the direct link"; return; }
	tx0=$(gcount tx)
	rd0=$(gcount redirect)
	http "redirect IPv4 (out of eth1)" "$TB_VIP4" 100
	http "redirect IPv6 (out of eth1)" "$TB_VIP6" 100
	tx1=$(gcount tx)
	rd1=$(gcount redirect)
	if [ "$rd1" -gt "$rd0" ] && [ "$tx1" -eq "$tx0" ]; then
		pass "redirect: $((rd1 - rd0)) frames redirected out of the LB's eth1 to the router, none sent back out of eth0"
	else
		fail redirect "redirect $rd0 -> $rd1, tx $tx0 -> $tx1; $(counters $COUNTERS)"
	fi
	rt_via_link 1 || fail redirect "cannot route subnet 2 via subnet 1 again"
}

# Outer sources from a range: attached again with --encap-src, the router
# sees the LB's encapsulated frames come from several addresses of the
# ranges, none from elsewhere, and every connection is served. This attach
# has no flow table, for the control case after it.
case_encap_range() {
	local err= cap=$LOGS/rt.pcap pid i r4 r6 srcs
	tb_chlb detach >/dev/null 2>"$LOGS/err" || err="detach: $(cat "$LOGS/err")"
	[ -n "$err" ] || tb_chlb attach eth0 --encap-src "$RT_ENCAP4" --encap-src "$RT_ENCAP6" \
		--flow-table off >/dev/null 2>"$LOGS/err" || err="attach --encap-src: $(cat "$LOGS/err")"
	[ -n "$err" ] || err=$(add_vip "$V4" && add_backends "$V4" 4 && add_vip "$V6" &&
		add_backends "$V6" 6)
	[ -z "$err" ] || { fail "encap-src range" "$err"; return; }
	# -Z root: tcpdump's own user cannot write to our run directory
	ip netns exec "$TB-rt" tcpdump -Z root -i eth0 -nn -U --immediate-mode -w "$cap" \
		'ip proto 4 or ip6 proto 41' 2>"$LOGS/tcpdump.err" &
	pid=$!
	for i in $(seq 50); do
		grep -q listening "$LOGS/tcpdump.err" && break
		sleep 0.1
	done
	http "encap-src range IPv4" "$TB_VIP4" 60
	http "encap-src range IPv6" "$TB_VIP6" 60
	sleep 0.3
	kill "$pid" && wait "$pid" 2>/dev/null
	srcs=$(tcpdump -nn -r "$cap" 2>/dev/null | awk '{print $3}' | sort -u)
	r4=$(echo "$srcs" | grep -c "^${RT_ENCAP4%.*/*}\.")
	r6=$(echo "$srcs" | grep -c "^${RT_ENCAP6%/*}")
	if [ "$r4" -gt 1 ] && [ "$r6" -gt 1 ] && [ "$(echo "$srcs" | wc -l)" -eq $((r4 + r6)) ]; then
		pass "encap-src range: the router saw outer sources from $r4 addresses of $RT_ENCAP4 and $r6 of $RT_ENCAP6, none elsewhere"
	else
		fail "encap-src range" "outer sources: $(echo $srcs | head -c 300)"
	fi
}

# The negative control of the persist cases: without a flow table, the same
# backend add must break connections, or those cases could not fail.
case_control() {
	local nb nc mm dist err=
	err=$(add_vip "$VE") || { fail control "$err"; return; }
	for b in b1 b2; do
		tb_chlb backend add "$VE" "$(tb_ip4 "$b")" >/dev/null 2>"$LOGS/err" ||
			{ fail control "backend add: $(cat "$LOGS/err")"; return; }
	done
	hold_start control >"$LOGS/err" || { fail control "$(cat "$LOGS/err")"; return; }
	tb_chlb backend add "$VE" "$(tb_ip4 b3)" >/dev/null 2>"$LOGS/err" ||
		{ hold_stop control; fail control "backend add: $(cat "$LOGS/err")"; return; }
	sleep 1
	hold_stop control
	read -r nb nc mm dist < <(summary_of control)
	if [ "$nb" -gt 0 ]; then
		pass "control: with --flow-table off the same backend add breaks $nb/$nc (b3's share, ~1/3): the persist cases can see broken connections"
	else
		fail control "with --flow-table off, backend add broke $nb/$nc (on $dist)"
	fi
}

case_detach() {
	local err= left
	tb_chlb detach >/dev/null 2>"$LOGS/err" || err="detach: $(cat "$LOGS/err")"
	left=$(find "$TB_PIN" -mindepth 1 2>/dev/null | head -3 | tr '\n' ' ')
	[ -z "$left" ] || err="$err; still pinned: $left"
	tb_exec cl curl -s -m 1 "http://$TB_VIP4/" >/dev/null && err="$err; VIP still served"
	[ -z "$err" ] && pass "detach: nothing pinned, the VIP no longer served" || fail detach "${err#; }"
}

main() {
	local t0=$SECONDS
	preflight
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	remove_stale
	rt_up >"$LOGS/up" 2>&1 || { cat "$LOGS/up"; echo "FAIL: routed testbed up"; exit 1; }
	echo "routed testbed $TB up"
	if case_setup && case_smoke; then
		case_http
		case_4in6
		case_udp
		case_fragments
		case_pmtu
		case_icmp
		case_lookup
		case_add
		case_drain
		case_noneigh
		case_redirect
		echo "chlb stats: $(counters $COUNTERS)"
		case_encap_range
		case_control
		case_detach
	fi
	echo "$SUITE: $((SECONDS - t0)) s"
	summary
}

main "$@"
