#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# chlb daemon end to end (issue 9 item 6, SPEC §10) on the testbed of
# scripts/testbed.sh: the daemon runs in the LB's namespace with a config
# file (http health checks of b1 b2 b3 on port 80), attaches, and keeps the
# instance equal to the file while real nginx servers are stopped and
# started; real HTTP clients go through the VIP. One PASS/FAIL line per case
# with the measured figures; exit 0 all passed, 1 any failed, 77 cannot run
# here (said loudly).
set -u
cd "$(dirname "$0")/../.." || exit 1
export BUILD=${BUILD:-build}
TB_ID=dmn$$
. scripts/testbed.sh
SUITE=daemon
. tests/sh/e2e_lib.bash
CLIENT="python3 $PWD/tests/traffic/http_client.py"
LOGS=/tmp/chlb-daemon.$$		# client logs, scrapes; swept when stale

VIP=$TB_VIP4:$TB_HTTP_PORT/tcp
BACKENDS="b1 b2 b3"			# in the config; b4 stays out
INTERVAL=200 TIMEOUT=100 RISE=2 FALL=2	# the health check (ms, counts)
METRICS=127.0.0.1:9477			# in the LB's namespace
DDIR=			# the daemon's directory (config, pid file, log), set by main
CFG=			# $DDIR/chlb.json
DLOG=			# the daemon's stderr
DPID=			# the daemon's pid (nsenter execs chlb: the same process)
CKSUM0=			# the VIP's table checksum with every backend up

cleanup() {
	# The daemon's pid file lives in the run directory: tb_down stops it
	# with the servers (only ours), then removes namespaces and pins.
	tb_down
	rm -rf "$LOGS"
}

# Leftovers of an earlier run of this suite that was killed (its shell is
# gone): the same teardown as ours, for that id.
sweep_stale() {
	local ns id d
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ $ns =~ ^chlbtb-dmn([0-9]+)-sw$ ]] || continue
		id=${BASH_REMATCH[1]}
		[ "$id" != $$ ] && [ ! -d "/proc/$id" ] || continue
		echo "removing stale testbed chlbtb-dmn$id"
		(tb_set_id "dmn$id"; tb_down)
	done
	for d in /tmp/chlb-daemon.*; do
		id=${d##*.}
		[[ $id =~ ^[0-9]+$ ]] && [ "$id" != $$ ] && [ ! -d "/proc/$id" ] && rm -rf "$d"
	done
	return 0
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# jq-like: jget PYTHON-EXPR (on d, the JSON document on stdin).
jget() {
	python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# The config file: weights of b1 b2 b3 as arguments (0 makes it invalid).
# Written beside and renamed over, as a config manager does.
write_cfg() {
	local w1=$1 w2=$2 w3=$3
	cat >"$CFG.tmp" <<-EOF
	{ "vips": [ { "vip": "$VIP",
	    "health": { "type": "http", "port": $TB_HTTP_PORT, "path": "/healthz", "expect": 200,
	                "interval_ms": $INTERVAL, "timeout_ms": $TIMEOUT, "rise": $RISE, "fall": $FALL },
	    "backends": [ { "addr": "$(tb_ip4 b1)", "weight": $w1 },
	                  { "addr": "$(tb_ip4 b2)", "weight": $w2 },
	                  { "addr": "$(tb_ip4 b3)", "weight": $w3 } ] } ] }
	EOF
	mv -f "$CFG.tmp" "$CFG"
}

# backend_field NODE FIELD: a field of NODE's row in `backend list -j`
# ("-" when the backend is not in the VIP). Parsed in bash: the pollers
# below run it every 20 ms, and a python start costs 70+ ms here.
backend_field() {
	local j re
	j=$(tb_chlb -j backend list "$VIP" 2>/dev/null)
	re="\"address\":\"$(tb_ip4 "$1")\"[^}]*\"$2\":\"?([^\",}]*)"
	[[ $j =~ $re ]] && echo "${BASH_REMATCH[1]}" || echo -
}
checksum() {
	local j re='"checksum":"([0-9a-f]+)"'
	j=$(tb_chlb -j status)
	[[ $j =~ $re ]] && echo "${BASH_REMATCH[1]}"
}
panic() {
	local j re='"panic":(true|false)'
	j=$(tb_chlb -j vip list)	# one VIP
	[[ $j =~ $re ]] && echo "${BASH_REMATCH[1]}"
}
scrape() { tb_nsenter lb curl -sf -m 2 "http://$METRICS/metrics"; }
# metric NAME{LABELS}: its value in a scrape (exact series text).
metric() { scrape | awk -v s="$1" '$1 == s { print $2 }'; }

# wait_until TIMEOUT_MS COMMAND...: poll every 20 ms; prints the ms it took
# (from the call), fails after TIMEOUT_MS.
wait_until() {
	local limit=$1 t0 t
	shift
	t0=$(now_ms)
	while :; do
		"$@" && { echo $(($(now_ms) - t0)); return 0; }
		t=$(now_ms)
		[ $((t - t0)) -lt "$limit" ] || { echo $((t - t0)); return 1; }
		sleep 0.02
	done
}
state_is() { [ "$(backend_field "$1" state)" = "$2" ]; }
weight_is() { [ "$(backend_field "$1" weight)" = "$2" ]; }
panic_is() { [ "$(panic)" = "$1" ]; }
all_active() {
	local b
	for b in $BACKENDS; do state_is "$b" active || return 1; done
}
log_has() { grep -q -- "$1" "$DLOG"; }

# Stop nginx on a backend (only ours: its pid file is in the run
# directory); returns once it has exited, so its port refuses.
nginx_stop() {
	local pid i
	pid=$(cat "$TB_DIR/$1/nginx.pid")
	kill "$pid" || return 1
	for i in $(seq 100); do
		tb_gone "$pid" && return 0
		sleep 0.02
	done
	return 1
}
nginx_start() { tb_start_nginx "$1"; }

# Summary of a client log: "total ok b1 b2 b3 b4 first-error".
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

# ---- cases --------------------------------------------------------------

case_start() {
	local ms total ok b1 b2 b3 b4 e
	write_cfg 1 1 2
	# nsenter without --fork execs chlb: $! is the daemon's pid.
	nsenter --net="$TB_LB_NS" "$CHLB" -d "$TB_PIN" daemon --config "$CFG" \
		--attach eth0 --xdp-mode native --metrics "$METRICS" \
		</dev/null >"$DDIR/stdout" 2>"$DLOG" &
	DPID=$!
	echo "$DPID" >"$DDIR/chlbd.pid"
	if ! ms=$(wait_until 10000 log_has "chlb daemon: managing "); then
		fail "daemon start" "no 'managing' line in ${ms} ms: $(tail -3 "$DLOG" | tr '\n' ' ')"
		return 1
	fi
	local who
	who=$(tb_chlb -j status | jget 'd["daemon"] and "%s %s" % (d["daemon"]["pid"], d["daemon"]["config"])')
	if [ "$who" != "$DPID $CFG" ]; then
		fail "daemon start" "status -j names daemon '$who', expected '$DPID $CFG'"
		return 1
	fi
	# The first apply adds the backends as up; the first checks confirm it.
	wait_until 3000 all_active >/dev/null
	CKSUM0=$(checksum)
	tb_exec cl $CLIENT conns "$TB_VIP4" 150 --threads 6 >"$LOGS/start"
	read -r total ok b1 b2 b3 b4 e < <(summarize "$LOGS/start")
	if [ "$ok" -eq 150 ] && [ "$b1" -gt 0 ] && [ "$b2" -gt 0 ] && [ "$b3" -gt 0 ] && [ "$b4" -eq 0 ]; then
		pass "daemon attached and READY in ${ms} ms (pid $DPID, table $CKSUM0); 150 HTTP connections via the VIP: b1 $b1 b2 $b2 b3 $b3"
	else
		fail "HTTP through the daemon's VIP" "$ok/$total ok, b1 $b1 b2 $b2 b3 $b3 b4 $b4 (first error: $e)"
		return 1
	fi
}

# nginx stopped on b1: down within fall x interval + timeout + 1 s, and
# 200 new connections afterwards all succeed (none on b1).
case_down() {
	local limit=$((FALL * INTERVAL + TIMEOUT + 1000)) ms t0 check total ok b1 b2 b3 b4 e
	t0=$(now_ms)
	nginx_stop b1 || { fail "backend down" "nginx on b1 did not stop"; return 1; }
	if ! ms=$(wait_until $((limit + 2000)) state_is b1 down); then
		fail "backend down" "b1 not down after ${ms} ms (limit $limit ms)"
		return 1
	fi
	ms=$(($(now_ms) - t0))
	check=$(backend_field b1 check_detail)
	local lab m_up m_down m_refused
	lab="{vip=\"$VIP\",backend=\"$(tb_ip4 b1)\""
	m_up=$(metric "chlb_backend_up$lab}")
	m_down=$(metric "chlb_backend_state$lab,state=\"down\"}")
	m_refused=$(metric "chlb_healthcheck_total$lab,result=\"refused\"}")
	tb_exec cl $CLIENT conns "$TB_VIP4" 200 --threads 4 >"$LOGS/down"
	read -r total ok b1 b2 b3 b4 e < <(summarize "$LOGS/down")
	if [ "$ms" -gt "$limit" ]; then
		fail "backend down in time" "b1 down after $ms ms, limit $limit ms"
	elif [ "$m_up" != 0 ] || [ "$m_down" != 1 ] || [ "${m_refused:-0}" -lt "$FALL" ]; then
		fail "backend down in the metrics" "chlb_backend_up $m_up, state down $m_down, healthcheck refused $m_refused"
	elif [ "$ok" -ne 200 ] || [ "$b1" -ne 0 ]; then
		fail "200 connections after b1 went down" "$ok/$total ok, b1 $b1 b2 $b2 b3 $b3 (first error: $e)"
	else
		pass "nginx on b1 stopped: down after $ms ms (limit $limit ms, check '$check'; metrics up 0, state down 1, $m_refused refused checks); 200 new connections all served (b2 $b2 b3 $b3, b1 0)"
	fi
}

# nginx on b1 again: back within rise x interval + 1 s, with the table it
# had before it failed.
case_up() {
	local limit=$((RISE * INTERVAL + 1000)) ms t0 ck
	t0=$(now_ms)
	nginx_start b1 || { fail "backend up" "nginx on b1 did not start"; return 1; }
	if ! ms=$(wait_until $((limit + 2000)) state_is b1 active); then
		fail "backend up" "b1 not active after ${ms} ms (limit $limit ms)"
		return 1
	fi
	ms=$(($(now_ms) - t0))
	ck=$(checksum)
	if [ "$ms" -gt "$limit" ]; then
		fail "backend up in time" "b1 active after $ms ms, limit $limit ms"
	elif [ "$ck" != "$CKSUM0" ]; then
		fail "backend up: same table" "checksum $ck, before the failure $CKSUM0"
	else
		pass "nginx on b1 started: active after $ms ms (limit $limit ms), table checksum $ck as before the failure"
	fi
}

# Every backend down: all kept (fail open), panic in vip list and metrics;
# servers back: panic over.
case_panic() {
	local b ms_panic ms_clear ck m err='' t0
	t0=$(now_ms)
	for b in $BACKENDS; do nginx_stop "$b" || err="$err; nginx on $b did not stop"; done
	if ! ms_panic=$(wait_until 5000 panic_is true); then
		err="$err; no panic after ${ms_panic} ms"
	fi
	ms_panic=$(($(now_ms) - t0))
	sleep 0.3	# a later apply must not change the table either
	ck=$(checksum)
	m=$(metric "chlb_vip_panic{vip=\"$VIP\"}")
	[ "$ck" = "$CKSUM0" ] || err="$err; table checksum $ck in panic, $CKSUM0 before"
	[ "$(panic)" = true ] || err="$err; vip list -j panic is $(panic)"
	[ "$m" = 1 ] || err="$err; chlb_vip_panic is '$m'"
	log_has "every backend is down" || err="$err; no panic line in the log"
	t0=$(now_ms)
	for b in $BACKENDS; do nginx_start "$b" || err="$err; nginx on $b did not start"; done
	ms_clear=$(wait_until 5000 panic_is false) || err="$err; still panic after ${ms_clear} ms"
	wait_until 3000 all_active >/dev/null || err="$err; not all active after the restart"
	m=$(metric "chlb_vip_panic{vip=\"$VIP\"}")
	[ "$m" = 0 ] || err="$err; chlb_vip_panic is '$m' after the restart"
	[ "$(checksum)" = "$CKSUM0" ] || err="$err; checksum $(checksum) after the restart"
	[ -z "$err" ] && pass "all nginx stopped: panic after $ms_panic ms, table unchanged ($ck), chlb_vip_panic 1; restarted: panic over after $ms_clear ms" \
		|| fail "all backends down (fail open)" "${err#; }"
}

# A valid edit is applied within 1 s; an invalid one changes nothing and
# counts a failed apply.
case_edit() {
	local ms t0 f0 f1 ck ck1 err='' line
	t0=$(now_ms)
	write_cfg 3 1 2
	ms=$(wait_until 3000 weight_is b1 3) || err="$err; b1's weight not 3 after $ms ms"
	ms=$(($(now_ms) - t0))
	[ "$ms" -le 1000 ] || err="$err; edit applied after $ms ms (limit 1000)"
	[ -z "$err" ] && pass "config edited (b1 weight 1 -> 3): applied after $ms ms (limit 1000 ms)" \
		|| fail "config edit" "${err#; }"

	err=
	ck=$(checksum)
	f0=$(metric 'chlb_config_applies_total{result="failure"}')
	write_cfg 0 1 2
	line=$(wait_until 3000 log_has "keeping the last good configuration") ||
		err="$err; no 'keeping the last good configuration' in the log after $line ms"
	sleep 0.3
	f1=$(metric 'chlb_config_applies_total{result="failure"}')
	ck1=$(checksum)
	weight_is b1 3 || err="$err; b1's weight is $(backend_field b1 weight)"
	[ "$ck1" = "$ck" ] || err="$err; checksum $ck -> $ck1"
	[ "${f1:-0}" -gt "${f0:-0}" ] 2>/dev/null || err="$err; failures $f0 -> $f1"
	log_has 'vips\[0\].backends\[0\].weight' || err="$err; the log does not name vips[0].backends[0].weight"
	[ -z "$err" ] && pass "invalid edit (weight 0): nothing changed (weight 3, table $ck1), chlb_config_applies_total{result=\"failure\"} $f0 -> $f1, logged: $(grep -m1 'keeping the last good' "$DLOG" | cut -c1-120)" \
		|| fail "invalid config edit" "${err#; }"
	write_cfg 1 1 2		# back to the first configuration
	wait_until 3000 weight_is b1 1 >/dev/null || fail "config restore" "b1's weight still $(backend_field b1 weight)"
}

# promtool accepts a scrape; its counters equal `chlb -j stats` read right
# after (no VIP traffic in between; health checks are not VIP traffic).
case_metrics() {
	local r
	tb_exec cl $CLIENT conns "$TB_VIP4" 120 --threads 4 >"$LOGS/metrics-load"
	sleep 0.5	# the last FIN/ACKs
	scrape >"$LOGS/scrape" || { fail "metrics" "no scrape from $METRICS"; return; }
	tb_chlb -j stats "$VIP" >"$LOGS/stats" || { fail "metrics" "chlb stats failed"; return; }
	if ! promtool check metrics <"$LOGS/scrape" >"$LOGS/promtool" 2>&1; then
		fail "promtool check metrics" "$(head -3 "$LOGS/promtool" | tr '\n' ' ')"
		return
	fi
	r=$(python3 - "$LOGS/scrape" "$LOGS/stats" "$VIP" <<-'EOF'
	import json, re, sys
	series = {}
	for l in open(sys.argv[1]):
	    if l.startswith("#") or not l.strip():
	        continue
	    name, val = l.rsplit(" ", 1)
	    series[name] = float(val)
	st = json.load(open(sys.argv[2]))
	vip = sys.argv[3]
	bad, n, shown = [], 0, []
	def cmp(key, want):
	    global n
	    n += 1
	    got = series.get(key)
	    if got is None or got != want:
	        bad.append("%s=%s stats %s" % (key, got, want))
	for v in st["vips"]:
	    cmp('chlb_vip_packets_total{vip="%s"}' % vip, v["packets"])
	    cmp('chlb_vip_bytes_total{vip="%s"}' % vip, v["bytes"])
	    shown.append("vip %d pkts" % v["packets"])
	    for b in v["backends"]:
	        lab = '{vip="%s",backend="%s"}' % (vip, b["address"])
	        cmp("chlb_backend_packets_total" + lab, b["packets"])
	        cmp("chlb_backend_bytes_total" + lab, b["bytes"])
	        cmp("chlb_backend_new_flows_total" + lab, b["new_flows"])
	        shown.append("%s %d/%d/%d" % (b["address"], b["packets"], b["bytes"], b["new_flows"]))
	print("ok" if not bad else "bad", n, "; ".join(bad or shown))
	EOF
	)
	if [ "${r%% *}" = ok ]; then
		set -- $r
		pass "promtool check metrics passes; $2 figures equal chlb -j stats (${*:3})"
	else
		fail "metrics = stats" "$r"
	fi
}

# The CLI refuses to change the daemon's VIP (exit 2, naming the daemon)
# unless --force; the source's next change puts it back.
case_cli_refused() {
	local rc err='' ms
	tb_chlb backend del "$VIP" "$(tb_ip4 b3)" >"$LOGS/out" 2>"$LOGS/err"
	rc=$?
	[ "$rc" -eq 2 ] || err="$err; exit $rc, expected 2"
	grep -q "daemon (pid $DPID" "$LOGS/err" || err="$err; message does not name the daemon: $(cat "$LOGS/err")"
	[ "$(backend_field b3 state)" = active ] || err="$err; b3 changed: $(backend_field b3 state)"
	[ -z "$err" ] && pass "CLI backend del on the daemon's VIP refused, exit 2: $(cut -c1-110 "$LOGS/err")..." \
		|| fail "CLI refusal" "${err#; }"
	err=
	tb_chlb backend del "$VIP" "$(tb_ip4 b3)" --force >"$LOGS/out" 2>"$LOGS/err"
	rc=$?
	[ "$rc" -eq 0 ] || err="$err; --force: exit $rc: $(cat "$LOGS/err")"
	[ "$(backend_field b3 state)" = - ] || err="$err; b3 still there after --force"
	write_cfg 1 1 2		# the same document again: the source changed
	ms=$(wait_until 3000 state_is b3 active) || err="$err; b3 not back $ms ms after the file was rewritten"
	[ "$(checksum)" = "$CKSUM0" ] || err="$err; checksum $(checksum), expected $CKSUM0"
	[ -z "$err" ] && pass "backend del --force: exit 0, b3 removed; file rewritten: b3 back after $ms ms, table $CKSUM0" \
		|| fail "CLI --force" "${err#; }"
}

# SIGTERM: exit 0, no daemon in status, and the data plane still forwards.
case_sigterm() {
	local rc err='' who total ok b1 b2 b3 b4 e
	kill -TERM "$DPID"
	wait "$DPID"
	rc=$?
	rm -f "$DDIR/chlbd.pid"
	[ "$rc" -eq 0 ] || err="$err; exit $rc"
	log_has "stopping; the data plane keeps forwarding" || err="$err; no stop line in the log"
	who=$(tb_chlb -j status | jget 'd["daemon"]')
	[ "$who" = None ] || err="$err; status -j daemon is $who"
	tb_chlb status | grep -q '^daemon: *none' || err="$err; status does not say none"
	tb_exec cl $CLIENT conns "$TB_VIP4" 150 --threads 6 >"$LOGS/after"
	read -r total ok b1 b2 b3 b4 e < <(summarize "$LOGS/after")
	[ "$ok" -eq 150 ] || err="$err; $ok/$total connections after the stop (first error: $e)"
	[ -z "$err" ] && pass "SIGTERM: daemon exit 0, status says no daemon, 150 HTTP connections still served (b1 $b1 b2 $b2 b3 $b3)" \
		|| fail "SIGTERM" "${err#; }"
}

main() {
	preflight
	command -v promtool >/dev/null || skip_all "promtool missing (prometheus package)"
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	sweep_stale
	rm -rf "$LOGS"
	mkdir -m 700 "$LOGS" || exit 1
	tb_up >"$LOGS/up" 2>&1 || { cat "$LOGS/up"; echo "FAIL: testbed up"; exit 1; }
	echo "testbed $TB up"
	DDIR=$TB_DIR/daemon
	CFG=$DDIR/chlb.json
	DLOG=$DDIR/daemon.log
	mkdir -p "$DDIR"
	if case_start; then
		case_down
		case_up
		case_panic
		case_edit
		case_metrics
		case_cli_refused
		case_sigterm
	fi
	if [ "$nfail" -gt 0 ]; then
		echo "--- the daemon's log:"
		cat "$DLOG"
	fi
	summary
}

main "$@"
