#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The daemon's health checks (issue 9, item 7), on a topology of its own:
# two namespaces joined by a veth, the LB ($ID-lb: chlb attached in skb mode,
# the daemon) and one backend host ($ID-be) holding every backend address on
# its loopback (routed from the LB via the backend host: one neighbour
# entry, not 1000), one nginx on 0.0.0.0:80 answering them all.
#
# (a) CPU of the daemon checking 1000 backends every second (tcp connect):
#     utime+stime from /proc/PID/stat over SECONDS, as % of one core.
#     Target <= 5 %. Baseline: the same daemon, the same VIP of 1000
#     backends, no checks. http checks (GET /, expect 200) beside, for
#     information. On this one host the figure is pessimistic: a veth
#     delivers in softirq on the sending CPU, so both ends of every check's
#     handshake (the LB's receive path and the backend host's SYN-ACK,
#     accept and RST) mostly run in the daemon's context, and tick
#     accounting (no IRQ time accounting here) charges them to it as system
#     time. User and system time are printed apart. (Steering the receive
#     path to the other CPU with RPS made it worse: an IPI per packet from
#     the daemon, a VM exit each.)
# (b) Time from a backend's death to its table swap, interval 200 ms,
#     timeout 100 ms, fall 2, in a VIP of 8 backends, KILLS deaths each:
#       refused: the backend's own listener (addr:8080) is SIGKILLed, so
#                connects are refused;
#       timeout: the backend's address is removed, so connects time out.
#     The death's time is taken just before the kill; the swap's is when
#     the daemon's "applied ...: 1 VIP table swapped" line is read from
#     its stderr (stamped on arrival; the daemon logs it after the commit).
#     Target: p99 <= fall x interval + timeout + 100 ms = 600 ms. Baseline:
#     death to the checks' verdict (the "down" line): the delay of the
#     check schedule itself; the rest is the settle delay and the apply.
# Figures go to $BENCH_JSON. Exit 77 when it cannot run here.
set -u
cd "$(dirname "$0")/.." || exit 1
export BUILD=${BUILD:-build}
CHLB=${CHLB:-$PWD/$BUILD/chlb}
BENCH_JSON=${BENCH_JSON:-/dev/null}
N=${CHLB_BENCH_HC_BACKENDS:-1000}
SECONDS_CPU=${CHLB_BENCH_HC_SECONDS:-20}
KILLS=${CHLB_BENCH_HC_KILLS:-30}
B_INTERVAL=200 B_TIMEOUT=100 B_FALL=2 B_RISE=2 B_N=8

ID=chlbbd$$
NS_LB=$ID-lb NS_BE=$ID-be
PINS=/sys/fs/bpf/$ID PIN=$PINS/chlb
RUN=/tmp/$ID
CFG=$RUN/cfg/chlb.json		# alone in its directory: the daemon watches it
DLOG=$RUN/daemon.log		# the daemon's stderr, each line "UNIX_NS line"
METRICS=127.0.0.1:9478
VIP=10.212.100.1:80/tcp
VIP_B=10.212.100.2:80/tcp
LB_MAC=02:12:00:00:00:01 BE_MAC=02:12:00:00:00:02
DPID=

say() { echo "bench_daemon: $*"; }
now_ns() { date +%s%N; }
lb() { nsenter --net="/run/netns/$NS_LB" "$@"; }
be() { nsenter --net="/run/netns/$NS_BE" "$@"; }
chlb() { lb "$CHLB" -d "$PIN" "$@"; }

[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: bench_daemon needs root"; exit 77; }
for t in ip nsenter nginx curl python3; do
	command -v "$t" >/dev/null || { echo "SKIPPED: bench_daemon: $t missing"; exit 77; }
done
[ -x "$CHLB" ] || { echo "bench_daemon: $CHLB not built" >&2; exit 1; }
# The interpreter itself: a version manager's shim costs 50+ ms a start.
PY=$(python3 -c 'import sys; print(sys.executable)')

# ---- topology -------------------------------------------------------------

# Stop what the pid files of a run directory name (only our processes),
# wait until they have exited, then remove namespaces, pins, directory.
teardown() {
	local id=$1 f pid pids=() i
	for f in "/tmp/$id"/*.pid "/tmp/$id"/*/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		[ -n "$pid" ] && kill "$pid" 2>/dev/null && pids+=("$pid")
	done
	for pid in "${pids[@]+"${pids[@]}"}"; do
		for i in $(seq 100); do
			[ -d "/proc/$pid" ] || break
			grep -q '^[0-9]* ([^)]*) Z' "/proc/$pid/stat" 2>/dev/null && break
			[ "$i" -eq 50 ] && kill -KILL "$pid" 2>/dev/null
			sleep 0.1
		done
	done
	ip netns del "$id-lb" 2>/dev/null
	ip netns del "$id-be" 2>/dev/null
	rm -rf "/sys/fs/bpf/$id" "/tmp/$id"
}

cleanup() { teardown "$ID"; }

# Leftovers of an earlier run that was killed (its shell is gone).
sweep_stale() {
	local d id
	for d in /tmp/chlbbd* $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ ${d##*/} =~ ^chlbbd([0-9]+) ]] || continue
		id=${BASH_REMATCH[1]}
		[ "$id" != $$ ] && [ ! -d "/proc/$id" ] && teardown "chlbbd$id"
	done
	return 0
}

addr_of() { echo "10.213.$(($1 / 250)).$(($1 % 250 + 1))"; }	# backend i of (a)
addr_b() { echo "10.214.0.$(($1 + 1))"; }			# backend i of (b)

topology() {
	local i
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || return 1
	mkdir -p "$RUN/cfg" "$RUN/nginx/tmp" "$PINS" || return 1
	ip netns add "$NS_LB" && ip netns add "$NS_BE" || return 1
	ip -n "$NS_LB" link add eth0 type veth peer name eth0 netns "$NS_BE" || return 1
	ip -n "$NS_LB" link set eth0 address $LB_MAC
	ip -n "$NS_BE" link set eth0 address $BE_MAC
	ip -n "$NS_LB" addr add 10.212.0.1/24 dev eth0
	ip -n "$NS_BE" addr add 10.212.0.2/24 dev eth0
	for ns in "$NS_LB" "$NS_BE"; do
		ip -n "$ns" link set lo up
		ip -n "$ns" link set eth0 up
	done
	ip -n "$NS_LB" route add 10.213.0.0/16 via 10.212.0.2
	ip -n "$NS_LB" route add 10.214.0.0/24 via 10.212.0.2
	{
		for i in $(seq 0 $((N - 1))); do echo "addr add $(addr_of "$i")/32 dev lo"; done
		for i in $(seq 0 $((B_N - 1))); do echo "addr add $(addr_b "$i")/32 dev lo"; done
	} | ip -n "$NS_BE" -batch - || return 1
	cat >"$RUN/nginx/nginx.conf" <<-EOF
	daemon on;
	worker_processes 1;
	pid $RUN/nginx/nginx.pid;
	error_log $RUN/nginx/error.log warn;
	events { worker_connections 4096; }
	http {
		client_body_temp_path $RUN/nginx/tmp;
		proxy_temp_path $RUN/nginx/tmp;
		fastcgi_temp_path $RUN/nginx/tmp;
		uwsgi_temp_path $RUN/nginx/tmp;
		scgi_temp_path $RUN/nginx/tmp;
		access_log off;
		server { listen 80 backlog=4096; location / { return 200 "ok\n"; } }
	}
	EOF
	be nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -e "$RUN/nginx/error.log" || return 1
	for i in $(seq 50); do
		lb curl -sf -m 1 "http://$(addr_of $((N - 1)))/" >/dev/null && return 0
		sleep 0.1
	done
	say "nginx on the backend host does not answer"
	return 1
}

# ---- the daemon -----------------------------------------------------------

# The document: "none" (no checks) | "tcp" | "http" for the 1000 of (a);
# "refused" | "timeout" for the 8 of (b).
write_cfg() {
	"$PY" - "$1" "$N" "$B_N" "$BE_MAC" "$VIP" "$VIP_B" "$B_INTERVAL" "$B_TIMEOUT" \
		"$B_RISE" "$B_FALL" >"$CFG.tmp" <<-'EOF'
	import json, sys
	kind, n, bn, mac, vip, vip_b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:7]
	iv, to, rise, fall = (int(x) for x in sys.argv[7:11])
	if kind in ("none", "tcp", "http"):
	    v = {"vip": vip, "backends": [
	        {"addr": "10.213.%d.%d" % (i // 250, i % 250 + 1), "mac": mac} for i in range(n)]}
	    if kind == "tcp":
	        v["health"] = {"type": "tcp", "port": 80, "interval_ms": 1000, "timeout_ms": 500,
	                       "rise": 2, "fall": 3}
	    elif kind == "http":
	        v["health"] = {"type": "http", "port": 80, "path": "/", "expect": 200,
	                       "interval_ms": 1000, "timeout_ms": 500, "rise": 2, "fall": 3}
	else:
	    v = {"vip": vip_b, "backends": [
	        {"addr": "10.214.0.%d" % (i + 1), "mac": mac} for i in range(bn)],
	         "health": {"type": "tcp", "port": 8080 if kind == "refused" else 80,
	                    "interval_ms": iv, "timeout_ms": to, "rise": rise, "fall": fall}}
	print(json.dumps({"vips": [v]}, indent=1))
	EOF
	mv -f "$CFG.tmp" "$CFG"
}

start_daemon() {
	# stderr stamped line by line as it arrives (CLOCK_REALTIME, ns).
	: >"$DLOG"
	# nsenter itself, not through a function (whose subshell would be $!).
	nsenter --net="/run/netns/$NS_LB" "$CHLB" -d "$PIN" daemon --config "$CFG" --attach eth0 --xdp-mode skb \
		--metrics "$METRICS" </dev/null >"$RUN/daemon.out" \
		2> >("$PY" -c '
import sys, time
out = open(sys.argv[1], "w")
for line in iter(sys.stdin.buffer.readline, b""):
    out.write("%d %s" % (time.time_ns(), line.decode(errors="replace")))
    out.flush()' "$DLOG") &
	DPID=$!		# nsenter execs chlb: the daemon's own pid
	echo "$DPID" >"$RUN/daemon.pid"
	wait_log 0 "chlb daemon: managing " 30000 >/dev/null ||
		{ say "daemon not ready: $(tail -3 "$DLOG")"; return 1; }
}

log_lines() { wc -l <"$DLOG"; }
# wait_log AFTER PATTERN TIMEOUT_MS: the first line after line AFTER that
# matches (an awk regex); fails after TIMEOUT_MS.
wait_log() {
	local after=$1 pat=$2 limit=$3 t0 l
	t0=$(now_ns)
	while :; do
		l=$(awk -v n="$after" -v p="$pat" 'NR > n && $0 ~ p { print; exit }' "$DLOG")
		[ -n "$l" ] && { echo "$l"; return 0; }
		[ $(($(now_ns) - t0)) -lt $((limit * 1000000)) ] || return 1
		sleep 0.02
	done
}

# utime and stime (fields 14, 15; the name in field 2 has no space here).
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$DPID/stat"; }
cpu_ns() { awk '{ print $1 }' "/proc/$DPID/schedstat"; }

# Checks run so far, by result: "ok N refused N ...".
checks() {
	lb curl -sf -m 5 "http://$METRICS/metrics" | awk '
		/^chlb_healthcheck_total/ { match($0, /result="[a-z_]+"/)
			r = substr($0, RSTART + 8, RLENGTH - 9); n[r] += $2 }
		END { printf "ok %d refused %d timeout %d http_status %d error %d\n",
			n["ok"], n["refused"], n["timeout"], n["http_status"], n["error"] }'
}

# measure SECONDS: the daemon's CPU over SECONDS as % of one core, and the
# checks run meanwhile: "total_pct user_pct system_pct schedstat_pct ok
# failed" (schedstat: the scheduler's ns count, a cross-check of the ticks).
measure() {
	local secs=$1 c0 c1 n0 n1 k0 k1 t0 t1
	k0=$(checks)
	t0=$(now_ns); c0=$(cpu_ticks); n0=$(cpu_ns)
	sleep "$secs"
	c1=$(cpu_ticks); n1=$(cpu_ns); t1=$(now_ns)
	k1=$(checks)
	"$PY" -c '
import sys
(u0, s0), (u1, s1) = (map(int, a.split()) for a in sys.argv[1:3])
n0, n1, t0, t1, hz = (int(x) for x in sys.argv[3:8])
k0, k1 = sys.argv[8].split()[1::2], sys.argv[9].split()[1::2]
d = [int(b) - int(a) for a, b in zip(k0, k1)]
el = (t1 - t0) / 1e9
pct = lambda ticks: ticks / hz / el * 100
print("%.2f %.2f %.2f %.2f %d %d" % (pct(u1 + s1 - u0 - s0), pct(u1 - u0), pct(s1 - s0),
                                     (n1 - n0) / 1e9 / el * 100, d[0], sum(d[1:])))
' "$c0" "$c1" "$n0" "$n1" "$t0" "$t1" "$(getconf CLK_TCK)" "$k0" "$k1"
}

# A config change took effect: the instance holds NEED backends, then the
# checks had time for their first runs (spread over the first interval).
settle() {
	local need=$1 i
	for i in $(seq 300); do
		[ "$(chlb -j status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["backends_used"])')" = "$need" ] && break
		sleep 0.1
	done
	sleep 2.5
}

# ---- (b): deaths ----------------------------------------------------------

listener_start() {
	nsenter --net="/run/netns/$NS_BE" "$PY" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8080))
s.listen(128)
while True:
    c, _ = s.accept()
    c.close()' "$(addr_b "$1")" </dev/null >/dev/null 2>&1 &
	echo $! >"$RUN/listen$1.pid"
	disown $!	# killed on purpose: no job notice
}
cpu_line() {
	set -- $1
	echo "$1 % of a core (user $2 %, system $3 %; schedstat $4 %), $5 checks ok, $6 failed"
}

listener_kill() {
	local pid i
	pid=$(cat "$RUN/listen$1.pid")
	kill -KILL "$pid"
	for i in $(seq 100); do [ -d "/proc/$pid" ] || return 0; sleep 0.01; done
}

# deaths refused|timeout: KILLS deaths, round robin over the 8 backends;
# each line of $RUN/deaths.KIND is "ADDR DEATH_NS".
deaths() {
	local kind=$1 k i a n t0 out=$RUN/deaths.$1
	: >"$out"
	for k in $(seq 0 $((KILLS - 1))); do
		i=$((k % B_N)); a=$(addr_b "$i")
		n=$(log_lines)
		t0=$(now_ns)
		if [ "$kind" = refused ]; then
			listener_kill "$i"
		else
			ip -n "$NS_BE" addr del "$a/32" dev lo
		fi
		echo "$a $t0" >>"$out"
		if ! wait_log "$n" "backend $a: down" 5000 >/dev/null ||
		   ! wait_log "$n" "applied .*swapped" 5000 >/dev/null; then
			say "$kind: $a not taken out in 5 s"; return 1
		fi
		n=$(log_lines)
		if [ "$kind" = refused ]; then
			listener_start "$i"
		else
			ip -n "$NS_BE" addr add "$a/32" dev lo
		fi
		wait_log "$n" "backend $a: up again" 5000 >/dev/null &&
			wait_log "$n" "applied .*swapped" 5000 >/dev/null ||
			{ say "$kind: $a not back in 5 s"; return 1; }
		# the next death at a random phase of the check period
		sleep "0.$(printf '%03d' $((RANDOM % 300)))"
	done
}

# Figures of one kind of death from the stamped log: JSON.
death_figures() {
	"$PY" - "$DLOG" "$RUN/deaths.$1" <<-'EOF'
	import json, sys
	log = []
	for l in open(sys.argv[1]):
	    ts, _, text = l.partition(" ")
	    log.append((int(ts), text))
	swap, verdict, apply = [], [], []
	for l in open(sys.argv[2]):
	    a, t0 = l.split(); t0 = int(t0)
	    d = next(ts for ts, t in log if ts >= t0 and ("backend %s: down" % a) in t)
	    s = next(ts for ts, t in log if ts >= d and "applied" in t and "swapped" in t)
	    swap.append((s - t0) / 1e6); verdict.append((d - t0) / 1e6); apply.append((s - d) / 1e6)
	def pct(v, p):
	    v = sorted(v)
	    return v[min(len(v) - 1, max(0, int(round(p / 100 * len(v) + 0.5)) - 1))]
	f = {"deaths": len(swap)}
	for name, v in (("death_to_swap", swap), ("death_to_verdict", verdict),
	                ("verdict_to_swap", apply)):
	    f[name + "_ms_p50"] = round(pct(v, 50), 1)
	    f[name + "_ms_p99"] = round(pct(v, 99), 1)
	    f[name + "_ms_max"] = round(max(v), 1)
	print(json.dumps(f))
	EOF
}

# ---- main -------------------------------------------------------------------

main() {
	local none tcp http b_refused b_timeout i half=$((SECONDS_CPU / 2))
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	sweep_stale
	topology || { say "cannot build the topology"; exit 1; }

	say "(a) $N backends checked every 1 s: the daemon's CPU as % of one core"
	write_cfg none
	start_daemon || exit 1
	settle "$N"
	none=$(measure "$half")
	say "  no checks (baseline), ${half} s: $(cpu_line "$none")"
	write_cfg tcp
	settle "$N"
	tcp=$(measure "$SECONDS_CPU")
	say "  tcp checks, ${SECONDS_CPU} s: $(cpu_line "$tcp")"
	write_cfg http
	settle "$N"
	http=$(measure "$half")
	say "  http checks, ${half} s: $(cpu_line "$http")"

	say "(b) death to table swap, $KILLS deaths each, VIP of $B_N, interval $B_INTERVAL ms timeout $B_TIMEOUT ms fall $B_FALL"
	for i in $(seq 0 $((B_N - 1))); do listener_start "$i"; done
	write_cfg refused
	settle "$B_N"
	deaths refused || exit 1
	b_refused=$(death_figures refused)
	write_cfg timeout
	settle "$B_N"
	deaths timeout || exit 1
	b_timeout=$(death_figures timeout)

	"$PY" - "$BENCH_JSON" "$N" "$SECONDS_CPU" "$none" "$tcp" "$http" \
		"$b_refused" "$b_timeout" "$B_INTERVAL" "$B_TIMEOUT" "$B_FALL" "$B_N" <<-'EOF'
	import json, sys
	out, n, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
	none, tcp, http = ([float(x) for x in a.split()] for a in sys.argv[4:7])
	refused, timeout = json.loads(sys.argv[7]), json.loads(sys.argv[8])
	iv, to, fall, bn = (int(x) for x in sys.argv[9:13])
	budget = fall * iv + to + 100
	cpu = lambda v, s: {"cpu_pct": v[0], "user_pct": v[1], "system_pct": v[2],
	                    "schedstat_pct": v[3], "seconds": s,
	                    "checks_ok": int(v[4]), "checks_failed": int(v[5])}
	fig = {
	    "backends": n, "interval_ms": 1000,
	    "tcp": cpu(tcp, secs), "http": cpu(http, secs // 2),
	    "baseline_no_checks": cpu(none, secs // 2),
	    "target_cpu_pct": 5,
	    "death": {"backends": bn, "interval_ms": iv, "timeout_ms": to, "fall": fall,
	              "target_p99_ms": budget, "refused": refused, "timeout": timeout},
	}
	fig["target_cpu_met"] = tcp[0] <= 5
	fig["target_death_met"] = max(refused["death_to_swap_ms_p99"],
	                              timeout["death_to_swap_ms_p99"]) <= budget
	ok = lambda b: "met" if b else "NOT met"
	rate = lambda v, s: "%d/s ok, %d failed" % (v[4] / s, v[5])
	print()
	print("%-52s %9s   %s" % ("figure", "value", "target / baseline"))
	print("%-52s %8.2f%%   target <= 5 %% (%s); baseline, no checks: %.2f %%"
	      % ("daemon CPU, %d tcp checks (%s)" % (n, rate(tcp, secs)), tcp[0],
	         ok(fig["target_cpu_met"]), none[0]))
	print("%-52s %8.2f%%   (information; baseline %.2f %%)"
	      % ("daemon CPU, %d http checks (%s)" % (n, rate(http, secs // 2)), http[0], none[0]))
	for name, f in (("listener killed: refused", refused), ("address removed: timeout", timeout)):
	    print("%-52s %6.0f ms   p99 %.0f ms: target <= %d ms (%s)"
	          % ("death -> table swap p50, %s (%d)" % (name, f["deaths"]),
	             f["death_to_swap_ms_p50"], f["death_to_swap_ms_p99"], budget,
	             ok(f["death_to_swap_ms_p99"] <= budget)))
	    print("%-52s %6.0f ms   p99 %.0f ms (baseline: the check schedule, at most %d ms)"
	          % ("  of which death -> verdict p50", f["death_to_verdict_ms_p50"],
	             f["death_to_verdict_ms_p99"], fall * iv * 1.1 + (to if "timeout" in name else 0)))
	    print("%-52s %6.0f ms   p99 %.0f ms (settle 20 ms + apply)"
	          % ("  and verdict -> swap p50", f["verdict_to_swap_ms_p50"],
	             f["verdict_to_swap_ms_p99"]))
	if out:
	    with open(out, "w") as fh:
	        json.dump(fig, fh, indent=2)
	EOF
}

main "$@"
