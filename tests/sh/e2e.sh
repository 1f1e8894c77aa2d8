#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# End-to-end tests: real clients (python http.client, curl, UDP sockets)
# reach real servers (nginx, socat) through chlb attached in native XDP mode
# on the testbed of scripts/testbed.sh. One PASS/FAIL/SKIPPED line per case;
# exit 0 all passed, 1 any failed, 77 cannot run here (said loudly).
set -u
cd "$(dirname "$0")/../.."
export BUILD=${BUILD:-build}
TB_ID=e2e$$
. scripts/testbed.sh
SUITE=e2e
. tests/sh/e2e_lib.bash
CLIENT="python3 $PWD/tests/traffic/http_client.py"
LOGS=$(mktemp -d /tmp/chlb-e2e.XXXXXX)

VIP=$TB_VIP4:$TB_HTTP_PORT/tcp
UVIP=$TB_VIP4:$TB_UDP_PORT/udp
VIP6=[$TB_VIP6]:$TB_HTTP_PORT/tcp
EMPTY_VIP=$TB_VIP4:81/tcp		# a VIP that never gets a backend

cleanup() {
	tb_down
	rm -rf "$LOGS"
}

# Summary of a client log: "total ok b1 b2 b3 b4 errors".
summarize() {
	python3 - "$1" <<-'EOF'
	import collections, json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	c = collections.Counter(r["backend"] for r in recs if not r["error"])
	err = [r["error"] for r in recs if r["error"]]
	print(len(recs), len(recs) - len(err), c["b1"], c["b2"], c["b3"], c["b4"],
	      (err[0] if err else "-").replace(" ", "_"))
	EOF
}

# within VALUE TARGET TOLERANCE (floats)
within() {
	python3 -c "import sys; sys.exit(abs($1 - $2) > $3)"
}

# ---- cases --------------------------------------------------------------

case_attach() {
	local b w=1 err=
	tb_chlb attach eth0 --xdp-mode native >"$LOGS/attach" 2>&1 || err="attach: $(cat "$LOGS/attach")"
	for v in "$VIP" "$UVIP" "$EMPTY_VIP"; do
		[ -n "$err" ] || tb_chlb vip add "$v" >/dev/null 2>"$LOGS/err" || err="vip add $v: $(cat "$LOGS/err")"
	done
	for b in b1 b2 b3; do
		[ "$b" = b3 ] && w=2
		for v in "$VIP" "$UVIP"; do
			[ -n "$err" ] || tb_chlb backend add "$v" "$(tb_ip4 "$b")" --weight "$w" \
				>/dev/null 2>"$LOGS/err" || err="backend add $v $b: $(cat "$LOGS/err")"
		done
	done
	if [ -z "$err" ] && ! ip -n "$TB-lb" link show eth0 | grep -q 'prog/xdp '; then
		err="no native XDP program on the LB's eth0"
	fi
	[ -z "$err" ] && pass "attach native, VIPs tcp+udp, backends b1 b2 b3 weights 1 1 2" \
		|| { fail attach "$err"; return 1; }
}

case_shares() {
	local s total ok b1 b2 b3 b4 e
	tb_exec cl $CLIENT conns "$TB_VIP4" 1200 --threads 8 >"$LOGS/shares"
	read -r total ok b1 b2 b3 b4 e < <(summarize "$LOGS/shares")
	s="$ok/$total ok, b1 $b1 b2 $b2 b3 $b3 b4 $b4"
	if [ "$ok" -ne 1200 ]; then
		fail "1200 HTTP connections" "$s (first error: $e)"
	elif within "$b1 * 100 / $ok" 25 5 && within "$b2 * 100 / $ok" 25 5 &&
	     within "$b3 * 100 / $ok" 50 5 && [ "$b4" -eq 0 ]; then
		pass "1200 HTTP connections all served, shares 25/25/50 within 5 points ($s)"
	else
		fail "1200 HTTP connections: shares 25/25/50 within 5 points" "$s"
	fi
}

case_keepalive() {
	local n
	tb_exec cl $CLIENT keepalive "$TB_VIP4" 300 >"$LOGS/ka"
	n=$(python3 -c "
import json, sys
r = [json.loads(l) for l in open('$LOGS/ka')]
ok = [x for x in r if not x['error']]
print(len(ok), len({x['backend'] for x in ok}), len({x['sport'] for x in r}))")
	[ "$n" = "300 1 1" ] && pass "keep-alive connection: 300 requests, one backend" \
		|| fail "keep-alive connection" "ok/backends/ports = $n"
}

# chlb's per-backend packets against the frames each backend's XDP counter saw.
case_stats_match() {
	local b addr mine theirs bad= msg=
	sleep 0.5	# let the last FIN/ACKs land
	tb_chlb -j stats "$VIP" >"$LOGS/stats" || { fail "stats" "chlb stats failed"; return; }
	for b in b1 b2 b3; do
		addr=$(tb_ip4 "$b")
		mine=$(python3 -c "
import json
s = json.load(open('$LOGS/stats'))
print([x['packets'] for v in s['vips'] for x in v['backends'] if x['address'] == '$addr'][0])")
		theirs=$(tb_counter_read "$b")
		within "$mine" "$theirs" "max(1, $theirs / 100)" || bad="$bad $b:chlb=$mine,backend=$theirs"
		msg="$msg $b:$mine/$theirs"
	done
	[ -z "$bad" ] && pass "chlb stats packets = backend counters within 1% (chlb/backend:$msg)" \
		|| fail "chlb stats vs backend counters" "$bad"
}

# 200 curl connections from known source ports; chlb lookup must name the
# backend that answered each.
case_lookup() {
	local i port got want wrong=0 total=0 first=
	for i in $(seq 0 199); do
		port=$((42000 + i * 7))
		got=$(tb_exec cl curl -s -m 2 --local-port "$port" "http://$TB_VIP4/")
		want=$(tb_chlb -j lookup "$VIP" "$(tb_ip4 cl):$port" |
		       python3 -c 'import json, sys; print(json.load(sys.stdin)["backend"])')
		total=$((total + 1))
		if [ "$got" != "$(tb_name_of "$want")" ]; then
			wrong=$((wrong + 1))
			[ -n "$first" ] || first="port $port served by '$got', lookup says $want"
		fi
	done
	[ "$wrong" -eq 0 ] && pass "chlb lookup predicts the backend of $total curl connections" \
		|| fail "chlb lookup prediction" "$wrong/$total wrong, e.g. $first"
}

case_udp() {
	local r
	r=$(tb_exec cl python3 "$PWD/tests/traffic/udp_echo_client.py" "$TB_VIP4" "$TB_UDP_PORT" 300 ping)
	set -- $r
	if [ "${1:-x}" = 0 ] && [ "${2:-0}" -eq 3 ]; then
		pass "UDP VIP: 300 echo round trips, spread ${*:3}"
	else
		fail "UDP VIP echo" "failed/backends/spread = $r"
	fi
}

# Remove b3 while 4 threads open connections; connections started after
# `backend del` returned must all succeed and none may reach b3.
case_del_under_load() {
	local t_del t_done lines_after lines_end r
	tb_exec cl $CLIENT load "$TB_VIP4" 5 --threads 4 >"$LOGS/load" &
	local pid=$!
	sleep 2
	t_del=$(date +%s.%N)
	tb_chlb backend del "$VIP" "$(tb_ip4 b3)" 2>"$LOGS/err" || fail "backend del" "$(cat "$LOGS/err")"
	t_done=$(date +%s.%N)
	sleep 0.3
	lines_after=$(wc -l <"$TB_DIR/b3/access.log")
	wait "$pid"
	lines_end=$(wc -l <"$TB_DIR/b3/access.log")
	r=$(python3 - "$LOGS/load" "$t_del" "$t_done" <<-'EOF'
	import json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	t_del, t_done = float(sys.argv[2]), float(sys.argv[3])
	after = [r for r in recs if r["ts"] > t_done]
	before = [r for r in recs if r["ts"] < t_del]
	print(len(before), sum(1 for r in before if r["backend"] == "b3"),
	      len(after), sum(1 for r in after if r["error"]),
	      sum(1 for r in after if r["backend"] == "b3"),
	      sum(1 for r in recs if r["error"]))
	EOF
	)
	set -- $r
	# $1 before $2 before-on-b3 $3 after $4 after-failed $5 after-on-b3 $6 failed-all
	if [ "$2" -gt 0 ] && [ "$3" -gt 100 ] && [ "$4" -eq 0 ] && [ "$5" -eq 0 ] &&
	   [ "$lines_after" -eq "$lines_end" ]; then
		pass "backend del under load: $3 later connections all served, none by b3 (b3 had $2 of $1 before; $6 in flight failed)"
	else
		fail "backend del under load" "before=$1 on_b3=$2 after=$3 failed=$4 on_b3=$5 (b3 log $lines_after -> $lines_end)"
	fi
}

# Add b4 to {b1, b2}: it should get about 1/3 of new connections.
case_add() {
	local total ok b1 b2 b3 b4 e
	tb_chlb backend add "$VIP" "$(tb_ip4 b4)" 2>"$LOGS/err" ||
		{ fail "backend add" "$(cat "$LOGS/err")"; return; }
	tb_exec cl $CLIENT conns "$TB_VIP4" 900 --threads 8 >"$LOGS/add"
	read -r total ok b1 b2 b3 b4 e < <(summarize "$LOGS/add")
	if [ "$ok" -eq 900 ] && [ "$b3" -eq 0 ] && within "$b4 * 100 / $ok" 33.3 5; then
		pass "backend add: b4 serves $b4/$ok new connections (1/(N+1) = 33%), b1 $b1 b2 $b2"
	else
		fail "backend add" "$ok/$total ok, b1 $b1 b2 $b2 b3 $b3 b4 $b4 (first error: $e)"
	fi
}

# A VIP without backends: connections time out and no_backend counts them.
case_zero_backends() {
	local total ok nb
	tb_exec cl $CLIENT conns "$TB_VIP4" 6 --port 81 --threads 6 --timeout 1 >"$LOGS/zero"
	read -r total ok _ _ _ _ e < <(summarize "$LOGS/zero")
	nb=$(tb_chlb -j stats "$EMPTY_VIP" |
	     python3 -c 'import json, sys; print(json.load(sys.stdin)["vips"][0]["no_backend"])')
	if [ "$ok" -eq 0 ] && [[ $e == TimeoutError* ]] && [ "$nb" -ge 6 ]; then
		pass "zero backends: 6 connections time out, no_backend = $nb"
	else
		fail "zero backends" "ok=$ok first error=$e no_backend=$nb"
	fi
}

case_ipv6() {
	local b total ok b1 b2 b3 b4 e
	tb_chlb vip add "$VIP6" 2>"$LOGS/err" || { fail "IPv6 VIP" "$(cat "$LOGS/err")"; return; }
	for b in b1 b2 b3; do
		tb_chlb backend add "$VIP6" "$(tb_ip6 "$b")" >/dev/null 2>"$LOGS/err" ||
			{ fail "IPv6 backend add" "$(cat "$LOGS/err")"; return; }
	done
	tb_exec cl $CLIENT conns "$TB_VIP6" 300 --threads 8 >"$LOGS/v6"
	read -r total ok b1 b2 b3 b4 e < <(summarize "$LOGS/v6")
	if [ "$ok" -eq 300 ] && [ "$b1" -gt 0 ] && [ "$b2" -gt 0 ] && [ "$b3" -gt 0 ]; then
		pass "IPv6 VIP: 300 connections served, b1 $b1 b2 $b2 b3 $b3"
	else
		fail "IPv6 VIP" "$ok/$total ok, b1 $b1 b2 $b2 b3 $b3 (first error: $e)"
	fi
}

case_detach() {
	local err= left r
	tb_chlb detach >/dev/null 2>"$LOGS/err" || err="detach: $(cat "$LOGS/err")"
	left=$(find "$TB_PIN" -mindepth 1 2>/dev/null | head -3 | tr '\n' ' ')
	[ -z "$left" ] || err="$err; still pinned: $left"
	ip -n "$TB-lb" link show eth0 | grep -q 'prog/xdp' && err="$err; XDP still on eth0"
	tb_exec cl $CLIENT conns "$TB_VIP4" 3 --timeout 1 >"$LOGS/detached"
	read -r _ ok _ _ _ _ _ < <(summarize "$LOGS/detached")
	[ "$ok" -eq 0 ] || err="$err; $ok VIP connections still served"
	r=$(tb_exec cl curl -s -m 2 "http://$(tb_ip4 lb)/")
	[ "$r" = lb ] || err="$err; LB's own web server unreachable ('$r')"
	[ -z "$err" ] && pass "detach: VIP no longer forwarded, nothing pinned, other traffic passes" \
		|| fail detach "${err#; }"
}

# Non-VIP traffic to the LB while chlb is attached.
case_passthrough() {
	local r
	r=$(tb_exec cl curl -s -m 2 "http://$(tb_ip4 lb)/")
	[ "$r" = lb ] && pass "non-VIP traffic to the LB's own address passes while attached" \
		|| fail "non-VIP passthrough" "got '$r'"
}

main() {
	preflight
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	tb_up >"$LOGS/up" 2>&1 || { cat "$LOGS/up"; echo "FAIL: testbed up"; exit 1; }
	echo "testbed $TB up"
	if case_attach; then
		case_passthrough
		case_shares
		case_keepalive
		case_stats_match
		case_lookup
		case_udp
		case_zero_backends
		case_ipv6
		case_del_under_load
		case_add
		case_detach
	fi
	summary
}

main "$@"
