#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Connection survival through membership changes (issue 5): 200 long-lived
# TCP connections, each exchanging a verified line every 100 ms with a
# backend's echo server (tests/traffic/longconn.py, echo_server.py), while
# chlb adds, drains, undrains and deletes backends on the testbed of
# scripts/testbed.sh.
#   add      0 broken; new connections reach the new backend
#   drain    0 broken (the drained backend keeps its connections); no new
#            connection lands on it
#   undrain  new connections reach it again
#   del      exactly the deleted backend's connections break, no other
#   control  re-attached with --flow-table off, the same add breaks some
# Without a flow table (--flow-table off, or a chlb without the option) add
# and drain fail: consistent hashing moves slots, and a moved connection is
# reset by a backend that never saw it; the control case checks that in
# every run. PERSIST_FLOW_TABLE=N|off picks the table for the main cases.
# One PASS/FAIL/SKIPPED line per case; exit 0 all passed, 1 any failed, 77
# cannot run here (said loudly).
set -u
cd "$(dirname "$0")/../.." || exit 1
export BUILD=${BUILD:-build}
TB_ID=persist$$
. scripts/testbed.sh
SUITE=e2e_persist
. tests/sh/e2e_lib.bash
TRAFFIC=$PWD/tests/traffic
LOGS=/tmp/chlb-persist-$$	# our clients' logs (remove_stale knows the name)

PORT=7000			# the echo service's VIP port
VIP=$TB_VIP4:$PORT/tcp
NCONN=200			# long-lived connections per case
NPROBE=200			# new connections per probe
# --flow-table for the cases, when chlb has it (PERSIST_FLOW_TABLE=off shows
# the stateless path failing)
FLOW_TABLE=${PERSIST_FLOW_TABLE:-65536}
RUN=3				# seconds of traffic after each change
MINMSG=$((RUN * 5))		# replies each survivor needs: half the nominal rate

cleanup() {
	# Stop our clients first (they also stop by themselves after
	# --max-seconds); tb_down then kills the pid files' processes.
	local n f pids=() i alive
	for n in add drain del control; do
		[ -d "$LOGS" ] && touch "$LOGS/$n.stop"
	done
	# Stop our echo servers and see them gone before the testbed is: a
	# process must not outlive the test in a deleted namespace.
	for f in "$TB_DIR"/b*/echo.pid; do
		[ -s "$f" ] && pids+=("$(cat "$f")")
	done
	[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null
	for i in $(seq 40); do
		alive=0
		for f in "${pids[@]}"; do
			kill -0 "$f" 2>/dev/null && alive=1
		done
		[ "$alive" -eq 0 ] && break
		sleep 0.05
	done
	tb_down
	rm -rf "$LOGS"
}

# Testbeds of earlier runs of this suite whose shell is gone (killed before
# its trap ran): tb_up only clears its own id, so clear theirs here.
remove_stale() {
	local ns id d
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $ns in chlbtb-persist*-sw) ;; *) continue ;; esac
		id=${ns#chlbtb-}
		id=${id%-sw}
		kill -0 "${id#persist}" 2>/dev/null && continue	# still running
		echo "removing stale testbed chlbtb-$id"
		(TB_QUIET=1; tb_set_id "$id"; tb_down)
	done
	for d in /tmp/chlb-persist-*; do
		[ -d "$d" ] && ! kill -0 "${d##*-}" 2>/dev/null && rm -rf "$d"
	done
	mkdir -p "$LOGS"
}

# jq-like: jget FILE PYEXPR, with the file's JSON as d.
jget() {
	python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($2)" "$1"
}

# "b1 67 b2 70 b3 63": connections per backend of a longconn summary.
dist() {
	jget "$1" '" ".join("%s %d" % (b, v["conns"]) for b, v in d["by_backend"].items())'
}

# ---- echo services -------------------------------------------------------

# A line echo server on the VIP port of every backend, named after it. Its
# pid file sits in the testbed's run directory, so tb_down stops it.
start_echo() {
	local b=$1 d=$TB_DIR/$1 i
	setsid ip netns exec "$TB-$b" python3 "$TRAFFIC/echo_server.py" "$b" \
		"$TB_VIP4" "$PORT" --pidfile "$d/echo.pid" \
		</dev/null >"$d/echo.log" 2>&1 &
	for i in $(seq 100); do
		[ -s "$d/echo.pid" ] && return 0	# written once listening
		sleep 0.05
	done
	echo "echo server on $b did not start: $(cat "$d/echo.log")" >&2
	return 1
}

# ---- long-lived connections ------------------------------------------------

# hold_start NAME: NCONN connections through the VIP; returns once every one
# has had its first reply (the distribution is in $LOGS/NAME.ready).
hold_start() {
	local n=$1 i
	mkdir -p "$TB_DIR/cl"
	tb_exec cl python3 "$TRAFFIC/longconn.py" hold "$TB_VIP4" "$PORT" "$NCONN" \
		--ready "$LOGS/$n.ready" --stop "$LOGS/$n.stop" --max-seconds 90 \
		--pidfile "$TB_DIR/cl/longconn-$n.pid" >"$LOGS/$n.out" 2>"$LOGS/$n.err" &
	eval "HOLD_$n=$!"
	for i in $(seq 300); do
		[ -f "$LOGS/$n.ready" ] && break
		sleep 0.1
	done
	[ -f "$LOGS/$n.ready" ] || { hold_stop "$n"; echo "no ready file: $(cat "$LOGS/$n.err")"; return 1; }
	[ "$(jget "$LOGS/$n.ready" 'd["established"] == d["conns"] and not d["broken"]')" = True ] ||
		{ hold_stop "$n"; echo "not all established: $(cat "$LOGS/$n.ready")"; return 1; }
}

# hold_stop NAME: stop the connections; their summary is in $LOGS/NAME.out.
hold_stop() {
	local pid
	eval "pid=\$HOLD_$1"
	touch "$LOGS/$1.stop"
	wait "$pid"
	[ -s "$LOGS/$1.out" ] || { echo "{}" >"$LOGS/$1.out"; return 1; }
}

# probe NAME: NPROBE new connections; "ok total per-backend..." as "b1=N".
probe() {
	tb_exec cl python3 "$TRAFFIC/longconn.py" probe "$TB_VIP4" "$PORT" "$NPROBE" \
		>"$LOGS/$1.probe" 2>&1
	jget "$LOGS/$1.probe" '" ".join([str(d["ok"]), str(d["total"])] +
		["%s=%d" % kv for kv in d["by_backend"].items()])'
}

# probe_count "OK TOTAL b1=N ..." BACKEND: the backend's count.
probe_count() {
	local kv
	for kv in ${1#* * }; do
		[ "${kv%=*}" = "$2" ] && { echo "${kv#*=}"; return; }
	done
	echo 0
}

# broken NAME: "broken conns" and, with BACKEND, that backend's numbers.
broken_of() {
	if [ $# -eq 1 ]; then
		jget "$LOGS/$1.out" 'd.get("broken", -1), d.get("conns", 0)'
	else
		jget "$LOGS/$1.out" 'd["by_backend"].get("'"$2"'", {}).get("broken", 0), d["by_backend"].get("'"$2"'", {}).get("conns", 0)'
	fi
}

# traffic NAME: "MIN MAXRTT", the fewest verified replies of a surviving
# connection and the slowest reply in ms.
traffic() {
	jget "$LOGS/$1.out" 'd.get("min_messages", 0), int(d.get("max_rtt_ms", 0))'
}

first_broken() {
	jget "$LOGS/$1.out" '"; ".join(d.get("first_broken", [])) or "-"'
}

# ---- cases --------------------------------------------------------------

# lb_up [ATTACH OPTIONS]: attach, the VIP, backends b1 b2 b3; "" or an error.
lb_up() {
	local b
	tb_chlb attach eth0 --xdp-mode native "$@" >"$LOGS/attach" 2>&1 ||
		{ echo "attach: $(cat "$LOGS/attach")"; return; }
	tb_chlb vip add "$VIP" >/dev/null 2>"$LOGS/err" ||
		{ echo "vip add: $(cat "$LOGS/err")"; return; }
	for b in b1 b2 b3; do
		tb_chlb backend add "$VIP" "$(tb_ip4 "$b")" >/dev/null 2>"$LOGS/err" ||
			{ echo "backend add $b: $(cat "$LOGS/err")"; return; }
	done
}

has_flow_table() {
	"$CHLB" attach --help 2>&1 | grep -q -- --flow-table
}

case_setup() {
	local b err ft=()
	for b in $TB_BACKENDS; do
		start_echo "$b" 2>"$LOGS/err" || { fail setup "$(cat "$LOGS/err")"; return 1; }
	done
	if has_flow_table; then
		ft=(--flow-table "$FLOW_TABLE")
	else
		echo "NOTE: chlb attach has no --flow-table: stateless data plane," \
		     "add and drain are expected to FAIL"
	fi
	err=$(lb_up "${ft[@]}")
	if [ -n "$err" ]; then
		fail setup "$err"
		return 1
	fi
	pass "setup: attach native ${ft[*]:-(no flow table)}, VIP $VIP, backends b1 b2 b3, echo servers on b1..b4"
}

# Add b4 under NCONN connections spread over b1..b3.
case_add() {
	local r nb nc p b4 s mm rtt
	hold_start add >"$LOGS/err" || { fail add "$(cat "$LOGS/err")"; return; }
	s=$(dist "$LOGS/add.ready")
	tb_chlb backend add "$VIP" "$(tb_ip4 b4)" >/dev/null 2>"$LOGS/err" ||
		{ hold_stop add; fail add "backend add: $(cat "$LOGS/err")"; return; }
	sleep "$RUN"
	p=$(probe add)
	hold_stop add
	read -r nb nc < <(broken_of add)
	read -r mm rtt < <(traffic add)
	b4=$(probe_count "$p" b4)
	r="$nb/$nc broken (were on: $s; >= $mm replies each, max rtt $rtt ms), new backend b4 took $b4/$NPROBE new"
	# b4's fair share of new connections is 1/4; ask for at least half.
	if [ "$nb" -eq 0 ] && [ "$mm" -ge "$MINMSG" ] && [ "${p%% *}" -eq "$NPROBE" ] &&
	   [ "$b4" -ge $((NPROBE / 8)) ]; then
		pass "add: $r"
	else
		fail add "$r; probe $p; first broken: $(first_broken add)"
	fi
}

# Drain b2 (then undrain it) under NCONN connections spread over b1..b4.
case_drain() {
	local r nb nc b2b b2c p1 p2 n1 n2 s mm rtt err=''
	hold_start drain >"$LOGS/err" || { fail drain "$(cat "$LOGS/err")"; return; }
	s=$(dist "$LOGS/drain.ready")
	tb_chlb backend set "$VIP" "$(tb_ip4 b2)" --drain >/dev/null 2>"$LOGS/err" ||
		err="backend set --drain: $(cat "$LOGS/err")"
	sleep "$RUN"
	p1=$(probe drain)
	tb_chlb backend set "$VIP" "$(tb_ip4 b2)" --undrain >/dev/null 2>"$LOGS/err" ||
		err="$err backend set --undrain: $(cat "$LOGS/err")"
	p2=$(probe undrain)
	sleep 1
	hold_stop drain
	read -r nb nc < <(broken_of drain)
	read -r b2b b2c < <(broken_of drain b2)
	read -r mm rtt < <(traffic drain)
	n1=$(probe_count "$p1" b2)
	n2=$(probe_count "$p2" b2)
	r="$nb/$nc broken (were on: $s; b2 kept $((b2c - b2b))/$b2c; >= $mm replies each, max rtt $rtt ms), $n1/$NPROBE new on drained b2"
	if [ -z "$err" ] && [ "$nb" -eq 0 ] && [ "$mm" -ge "$MINMSG" ] && [ "$b2c" -gt 0 ] &&
	   [ "$n1" -eq 0 ] && [ "${p1%% *}" -eq "$NPROBE" ]; then
		pass "drain: $r"
	else
		fail drain "${err:+$err; }$r; probe $p1; first broken: $(first_broken drain)"
	fi
	if [ -z "$err" ] && [ "${p2%% *}" -eq "$NPROBE" ] && [ "$n2" -ge $((NPROBE / 8)) ]; then
		pass "undrain: b2 took $n2/$NPROBE new connections again"
	else
		fail undrain "${err:+$err; }b2 took $n2/$NPROBE new; probe $p2"
	fi
}

# Delete b3 under NCONN connections spread over b1..b4: exactly b3's break.
case_del() {
	local nb nc b3b b3c p b3n s r mm rtt
	hold_start del >"$LOGS/err" || { fail del "$(cat "$LOGS/err")"; return; }
	s=$(dist "$LOGS/del.ready")
	tb_chlb backend del "$VIP" "$(tb_ip4 b3)" >/dev/null 2>"$LOGS/err" ||
		{ hold_stop del; fail del "backend del: $(cat "$LOGS/err")"; return; }
	sleep "$RUN"
	p=$(probe del)
	hold_stop del
	read -r nb nc < <(broken_of del)
	read -r b3b b3c < <(broken_of del b3)
	read -r mm rtt < <(traffic del)
	b3n=$(probe_count "$p" b3)
	r="$nb/$nc broken, $b3b of them on b3 which served $b3c (were on: $s), $((nb - b3b)) others (>= $mm replies each, max rtt $rtt ms); $b3n/$NPROBE new on b3"
	if [ "$b3c" -gt 0 ] && [ "$b3b" -eq "$b3c" ] && [ "$nb" -eq "$b3b" ] && [ "$mm" -ge "$MINMSG" ] &&
	   [ "$b3n" -eq 0 ] && [ "${p%% *}" -eq "$NPROBE" ]; then
		pass "del: $r"
	else
		fail del "$r; probe $p; first broken: $(first_broken del)"
	fi
}

# The negative control, run in every CI run: with the flow table off, the
# same add must break connections, so the cases above can fail.
case_control() {
	local err nb nc
	tb_chlb detach >/dev/null 2>"$LOGS/err" || { fail control "detach: $(cat "$LOGS/err")"; return; }
	err=$(lb_up --flow-table off)
	[ -z "$err" ] || { fail control "$err"; return; }
	hold_start control >"$LOGS/err" || { fail control "$(cat "$LOGS/err")"; return; }
	tb_chlb backend add "$VIP" "$(tb_ip4 b4)" >/dev/null 2>"$LOGS/err" ||
		{ hold_stop control; fail control "backend add: $(cat "$LOGS/err")"; return; }
	sleep 1
	hold_stop control
	read -r nb nc < <(broken_of control)
	if [ "$nb" -gt 0 ]; then
		pass "control: with --flow-table off the same add breaks $nb/$nc (b4's share, ~1/4): the test sees broken connections"
	else
		fail control "with --flow-table off, add broke $nb/$nc: the test cannot see broken connections"
	fi
}

main() {
	preflight
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	remove_stale
	tb_up >"$LOGS/up" 2>&1 || { cat "$LOGS/up"; echo "FAIL: testbed up"; exit 1; }
	echo "testbed $TB up"
	if case_setup; then
		case_add
		case_drain
		case_del
		has_flow_table && [ "$FLOW_TABLE" != off ] && case_control
	fi
	summary
}

main "$@"
