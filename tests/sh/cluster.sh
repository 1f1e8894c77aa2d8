#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Two LB nodes fed by one etcd, behind an ECMP router (issue 10 item 4, SPEC
# §12), end to end with real traffic, as root:
#
#   client --- router ==ECMP==> lb1, lb2 (chlb daemon --etcd, native XDP)
#                 ^                 | XDP_TX (DSR: MACs rewritten)
#                 |                 v
#                 +---------- b1 b2 b3 (VIP on lo; nginx :80, echo :7000)
#
#   namespace $ID-sw: bridge br0, one L2 segment 10.215.0.0/24 with ports
#     rt (.254), lb1 (.1), lb2 (.2), b1..b3 (.11..13). The router ($ID-rt)
#     also has c0 10.215.9.1/24 to the client ($ID-cl, 10.215.9.2) and
#     routes the VIP 10.215.1.1/32 with one nexthop per LB node,
#     fib_multipath_hash_policy=1 (the five-tuple). Backends answer the
#     client directly through the router (DSR).
#   etcd runs in $ID-et, reached by each LB node over a veth of its own
#     (10.216.N.1 from lbN), so a dead node's data link takes nothing else
#     down. Its daemon: chlb daemon --etcd http://10.216.N.1:2379 --node lbN
#     --attach eth0 --seed 5eed (same vnodes, table size on both: P/cluster).
#   Pitfalls as in scripts/testbed.sh: the bridge ports into the LBs carry
#     an XDP_PASS program (XDP_TX on a veth needs one on the peer) and have tx
#     offloads off (a CHECKSUM_PARTIAL segment loses its state in XDP).
#     Backends are put without "mac": each node resolves them itself.
#
# Cases (one PASS/FAIL line each, with what was measured):
#   put/delete  a backend key put, then deleted: applied on both nodes, equal
#               checksums on both, cluster status agrees (exit 0); HTTP
#               through the VIP reaches the backends through both nodes
#   seed        lb2 re-attached with another seed: cluster status exit 1,
#               naming the VIPs; put back: agree again
#   failover    200 long-lived TCP connections (tests/traffic/longconn.py)
#               spread over both nodes (both nodes' counters); lb1 fails (its
#               nexthop removed, its link down, its daemon stopped): every
#               connection continues through lb2, 0 broken
# Exit 0 all passed, 1 any failed, 77 cannot run here (said loudly).
set -u
cd "$(dirname "$0")/../.." || exit 1
export BUILD=${BUILD:-build}
CHLB=${CHLB:-$PWD/$BUILD/chlb}
BPF=$PWD/$BUILD/tests/bpf
TRAFFIC=$PWD/tests/traffic

ID=chlbclu$$			# every name we create starts with it
RUN=/tmp/$ID			# logs, configs, pid files
PINS=/sys/fs/bpf/$ID		# lb1's and lb2's pin directories
NET=10.215.0			# the L2 segment
VIP4=10.215.1.1
VIP_HTTP=$VIP4:80/tcp
VIP_ECHO=$VIP4:7000/tcp
SEED=5eed
P=/chlb/			# the default prefix
EURL=http://127.0.0.1:2379	# etcd, from its own namespace
NCONN=200
RUN_S=4				# seconds of traffic before and after the failure
ETCD_PID='' LONG_PID=''
declare -A DPID=()		# lbN -> its daemon's pid

npass=0 nfail=0
pass() { npass=$((npass + 1)); echo "PASS: $1"; }
fail() { nfail=$((nfail + 1)); echo "FAIL: $1: $2"; }
skip() { echo "SKIPPED: cluster.sh ($1)"; exit 77; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

[ "$(id -u)" -eq 0 ] || skip "needs root"
for t in etcd etcdctl ip nsenter nginx curl python3 ethtool; do
	command -v "$t" >/dev/null || skip "$t missing (scripts/install-deps.sh)"
done
[ -x "$CHLB" ] || { echo "FAIL: cluster.sh: $CHLB not built"; exit 1; }
[ -f "$BPF/gen_pass.bpf.o" ] || { echo "FAIL: cluster.sh: $BPF not built"; exit 1; }
PY=$(python3 -c 'import sys; print(sys.executable)')
export ETCDCTL_API=3

# ---- helpers ----------------------------------------------------------------

# `ip netns exec` remounts /sys (bpffs hidden): anything that uses pins
# enters only the network namespace.
nx() { local n=$1; shift; ip netns exec "$ID-$n" "$@"; }
ne() { local n=$1; shift; nsenter --net="/run/netns/$ID-$n" "$@"; }
lbc() { local n=$1; shift; ne "$n" "$CHLB" -d "$PINS/$n" "$@"; }
ectl() { ne et etcdctl --endpoints "$EURL" "$@"; }
cstatus() { ne et "$CHLB" "$@" cluster status --etcd "$EURL"; }

host_id() {
	case $1 in lb*) echo "${1#lb}" ;; b*) echo $((10 + ${1#b})) ;; rt) echo 254 ;; esac
}
ip_of() { echo "$NET.$(host_id "$1")"; }
mac_of() { printf '02:15:00:00:00:%02x\n' "$(host_id "$1")"; }

# wait_until TIMEOUT_MS COMMAND...: poll every 20 ms; prints the ms it took.
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

# py EXPR JSON: EXPR on the parsed JSON (as d), printed.
py() { "$PY" -c "import json, sys; d = json.loads(sys.argv[2]); print($1)" "$@"; }

# checksum lbN VIP: the node's live table checksum of VIP ("-": none).
checksum() {
	py '{v["vip"]: v.get("checksum", "-") for v in d.get("vips", [])}.get(sys.argv[3], "-")' \
		"$(lbc "$1" -j status 2>/dev/null || echo '{}')" "$2" 2>/dev/null || echo -
}
# Both nodes' checksums of VIP equal and not "-"; ARGS: VIP [WANT].
same_sums() {
	local a b
	a=$(checksum lb1 "$1")
	b=$(checksum lb2 "$1")
	[ "$a" != - ] && [ "$a" = "$b" ] && { [ -z "${2:-}" ] || [ "$a" = "$2" ]; }
}
# backends lbN VIP: the VIP's backend addresses, sorted, space separated.
backends() {
	py '" ".join(sorted(b["address"] for b in d.get("backends", d) if isinstance(b, dict)))' \
		"$(lbc "$1" -j backend list "$2" 2>/dev/null || echo '{}')" 2>/dev/null
}
backends_are() { [ "$(backends lb1 "$1")" = "$2" ] && [ "$(backends lb2 "$1")" = "$2" ]; }
# vip_packets lbN VIP; new_flows lbN VIP: the node's counters.
vip_packets() {
	py 'sum(v["packets"] for v in d["vips"] if v["vip"] == sys.argv[3])' \
		"$(lbc "$1" -j stats "$2")" "$2"
}
new_flows() {
	py 'sum(b["new_flows"] for v in d["vips"] if v["vip"] == sys.argv[3] for b in v["backends"])' \
		"$(lbc "$1" -j stats "$2")" "$2"
}
cluster_nodes() { py '" ".join(sorted(n["node"] for n in d["nodes"]))' "$(cstatus -j 2>/dev/null)" 2>/dev/null; }
nodes_are() { [ "$(cluster_nodes)" = "$1" ]; }
# status_shows VIP SUM: cluster status shows SUM for VIP on both nodes.
status_shows() { cstatus 2>/dev/null | grep -q "^$1 .* lb1 $2  lb2 $2"; }
disagree() { ! cstatus >/dev/null 2>&1; }
all_agree() {
	same_sums "$VIP_ECHO" && same_sums "$VIP_HTTP" && nodes_are "lb1 lb2" && cstatus >/dev/null 2>&1
}
bkey() { echo "${P}vips/$1/backends/$(ip_of "$2")"; }

# ---- teardown ---------------------------------------------------------------

gone() { [ ! -d "/proc/$1" ] || grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
# stop_pids PID...: SIGTERM, then wait (SIGKILL after 5 s).
stop_pids() {
	local p i
	for p in "$@"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	for p in "$@"; do
		[ -n "$p" ] || continue
		for i in $(seq 100); do
			gone "$p" && break
			[ "$i" -eq 50 ] && kill -KILL "$p" 2>/dev/null
			sleep 0.1
		done
	done
	return 0
}

# Everything of run ID: the processes its pid files name (only ours), the
# namespaces (their links and XDP programs go with them), pins, directory.
teardown() {
	local id=$1 f pids=() n
	for f in "/tmp/$id"/*.pid "/tmp/$id"/*/*.pid; do
		[ -f "$f" ] && pids+=("$(cat "$f" 2>/dev/null)")
	done
	stop_pids "${pids[@]+"${pids[@]}"}"
	for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $n in "$id"-*) ip netns del "$n" 2>/dev/null ;; esac
	done
	rm -rf "/sys/fs/bpf/$id" "/tmp/$id"
}

cleanup() {
	[ -d "$RUN" ] && touch "$RUN/hold.stop"
	stop_pids "$LONG_PID" "${DPID[@]+"${DPID[@]}"}"
	teardown "$ID"
}

# Runs of this suite killed before their trap ran (their shell is gone).
sweep_stale() {
	local d id
	for d in /tmp/chlbclu* $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ ${d##*/} =~ ^chlbclu([0-9]+) ]] || continue
		id=${BASH_REMATCH[1]}
		[ "$id" != $$ ] && [ ! -d "/proc/$id" ] && teardown "chlbclu$id"
	done
	return 0
}

# ---- topology ---------------------------------------------------------------

nginx_conf() {
	local b=$1 d=$RUN/$1
	cat <<-EOF
	daemon on;
	worker_processes 1;
	pid $d/nginx.pid;
	error_log $d/error.log warn;
	events { worker_connections 1024; }
	http {
		client_body_temp_path $d/tmp;
		proxy_temp_path $d/tmp;
		fastcgi_temp_path $d/tmp;
		uwsgi_temp_path $d/tmp;
		scgi_temp_path $d/tmp;
		access_log off;
		server { listen 80; location / { return 200 "$b\n"; } }
	}
	EOF
}

backend_up() {
	local b=$1 d=$RUN/$1 i
	mkdir -p "$d/tmp"
	ip -n "$ID-$b" addr add "$VIP4/32" dev lo
	# Never answer ARP for the VIP nor announce it: only the router's
	# route owns it. Replies go to the client through the router.
	nx "$b" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
		net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 || return 1
	ip -n "$ID-$b" route add 10.215.9.0/24 via "$(ip_of rt)" || return 1
	nginx_conf "$b" >"$d/nginx.conf"
	nx "$b" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" || return 1
	setsid ip netns exec "$ID-$b" "$PY" "$TRAFFIC/echo_server.py" "$b" "$VIP4" 7000 \
		--pidfile "$d/echo.pid" </dev/null >"$d/echo.log" 2>&1 &
	for i in $(seq 100); do
		[ -s "$d/echo.pid" ] && [ -s "$d/nginx.pid" ] && return 0
		sleep 0.05
	done
	echo "servers on $b did not start: $(cat "$d/echo.log" "$d/error.log" 2>/dev/null)" >&2
	return 1
}

topology() {
	local n
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || return 1
	mkdir -p "$RUN" "$PINS" || return 1
	for n in sw rt cl et lb1 lb2 b1 b2 b3; do
		ip netns add "$ID-$n" && ip -n "$ID-$n" link set lo up || return 1
	done
	ip -n "$ID-sw" link add br0 type bridge && ip -n "$ID-sw" link set br0 up || return 1
	for n in rt lb1 lb2 b1 b2 b3; do
		ip -n "$ID-sw" link add "$n" type veth peer name eth0 netns "$ID-$n" || return 1
		ip -n "$ID-$n" link set eth0 address "$(mac_of "$n")"
		ip -n "$ID-$n" addr add "$(ip_of "$n")/24" dev eth0
		ip -n "$ID-$n" link set eth0 up
		ip -n "$ID-sw" link set "$n" master br0 up || return 1
	done
	for n in lb1 lb2; do
		# PITFALL: XDP_TX on a veth reaches the peer only if the peer
		# runs an XDP program; and frames entering XDP lose their
		# checksum-offload state, so the port into the LB finishes
		# checksums (and segments) first.
		ip -n "$ID-sw" link set dev "$n" xdpdrv obj "$BPF/gen_pass.bpf.o" sec xdp || return 1
		nx sw ethtool -K "$n" tx off >/dev/null || return 1
		# etcd over a link of the node's own
		ip -n "$ID-et" link add "m${n#lb}" type veth peer name m0 netns "$ID-$n" || return 1
		ip -n "$ID-et" addr add "10.216.${n#lb}.1/30" dev "m${n#lb}"
		ip -n "$ID-$n" addr add "10.216.${n#lb}.2/30" dev m0
		ip -n "$ID-et" link set "m${n#lb}" up && ip -n "$ID-$n" link set m0 up || return 1
	done
	ip -n "$ID-rt" link add c0 type veth peer name eth0 netns "$ID-cl" || return 1
	ip -n "$ID-rt" addr add 10.215.9.1/24 dev c0
	ip -n "$ID-cl" addr add 10.215.9.2/24 dev eth0
	ip -n "$ID-rt" link set c0 up && ip -n "$ID-cl" link set eth0 up || return 1
	ip -n "$ID-cl" route add default via 10.215.9.1 || return 1
	nx rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 || return 1
	ip -n "$ID-rt" route add "$VIP4/32" \
		nexthop via "$(ip_of lb1)" nexthop via "$(ip_of lb2)" || return 1
	for n in b1 b2 b3; do backend_up "$n" || return 1; done
}

# ---- etcd and the daemons ---------------------------------------------------

etcd_start() {
	# nsenter itself, not a function (whose subshell would be $!)
	nsenter --net="/run/netns/$ID-et" etcd --name "$ID" --data-dir "$RUN/etcd" \
		--listen-client-urls "$EURL,http://10.216.1.1:2379,http://10.216.2.1:2379" \
		--advertise-client-urls "$EURL" \
		--listen-peer-urls http://127.0.0.1:2380 \
		--initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster "$ID=http://127.0.0.1:2380" \
		--heartbeat-interval 50 --election-timeout 500 >>"$RUN/etcd.log" 2>&1 &
	ETCD_PID=$!
	echo "$ETCD_PID" >"$RUN/etcd.pid"
	wait_until 10000 ectl endpoint health >/dev/null 2>&1
}

log_has() { grep -q -- "$2" "$1"; }

# daemon_start lbN SEED: the node's daemon, attaching eth0 if it is not.
daemon_start() {
	local n=$1 log=$RUN/$1.log
	: >"$log"
	nsenter --net="/run/netns/$ID-$n" "$CHLB" -d "$PINS/$n" daemon \
		--etcd "http://10.216.${n#lb}.1:2379" --node "$n" \
		--attach eth0 --xdp-mode native --seed "$2" --vnodes 1000 --table-size 65537 \
		--flow-table 65536 </dev/null 2>>"$log" &
	DPID[$n]=$!		# nsenter execs chlb: the daemon's own pid
	echo "${DPID[$n]}" >"$RUN/$n.pid"
	wait_until 15000 log_has "$log" "chlb daemon: managing " >/dev/null ||
		{ echo "daemon $n: $(tail -3 "$log" | tr '\n' ' ')"; return 1; }
}
daemon_stop() {
	stop_pids "${DPID[$1]}"
	unset "DPID[$1]"
	rm -f "$RUN/$1.pid"
}

# ---- cases ------------------------------------------------------------------

# curls N: N HTTP requests from the client to the VIP; "OK b1=N b2=N ...".
curls() {
	nx cl "$PY" - "$VIP4" "$1" <<-'EOF'
	import collections, http.client, sys
	seen, ok = collections.Counter(), 0
	for i in range(int(sys.argv[2])):
	    try:
	        c = http.client.HTTPConnection(sys.argv[1], 80, timeout=2)
	        c.request("GET", "/")
	        r = c.getresponse()
	        if r.status == 200:
	            seen[r.read().decode().strip()] += 1
	            ok += 1
	        c.close()
	    except OSError:
	        pass
	print(ok, " ".join("%s=%d" % kv for kv in sorted(seen.items())))
	EOF
}

case_setup() {
	local n ms
	if ! ectl put "${P}cluster" '{"vnodes": 1000, "table_size": 65537}' >/dev/null ||
	   ! ectl put "${P}vips/$VIP_HTTP" '{}' >/dev/null ||
	   ! ectl put "${P}vips/$VIP_ECHO" '{}' >/dev/null; then
		fail setup "etcdctl put"
		return 1
	fi
	for n in b1 b2; do
		ectl put "$(bkey "$VIP_HTTP" "$n")" '{}' >/dev/null
	done
	for n in b1 b2 b3; do
		ectl put "$(bkey "$VIP_ECHO" "$n")" '{}' >/dev/null
	done
	for n in lb1 lb2; do
		daemon_start "$n" "$SEED" >"$RUN/err" || { fail setup "$(cat "$RUN/err")"; return 1; }
	done
	ms=$(wait_until 10000 same_sums "$VIP_ECHO") ||
		{ fail setup "checksums lb1 $(checksum lb1 "$VIP_ECHO"), lb2 $(checksum lb2 "$VIP_ECHO"); lb1: $(tail -3 "$RUN/lb1.log" | tr '\n' ' ')"; return 1; }
	wait_until 5000 nodes_are "lb1 lb2" >/dev/null ||
		{ fail setup "cluster status lists: $(cluster_nodes)"; return 1; }
	pass "setup: etcd, two daemons attached natively (seed $SEED), the router's ECMP route; both nodes' tables equal ($VIP_ECHO $(checksum lb1 "$VIP_ECHO"))"
}

# A backend key put, then deleted: on both nodes, equal checksums, agreement.
case_put_del() {
	local ck0 ck1 t0 ms_put ms_del out1 rc1 out2 rc2 err='' p1 p2 p3 p4 q
	ck0=$(checksum lb1 "$VIP_HTTP")
	same_sums "$VIP_HTTP" "$ck0" || err="$err; checksums differ before"
	p1=$(vip_packets lb1 "$VIP_HTTP"); p2=$(vip_packets lb2 "$VIP_HTTP")
	t0=$(now_ms)
	ectl put "$(bkey "$VIP_HTTP" b3)" '{"weight": 2}' >/dev/null
	if wait_until 5000 backends_are "$VIP_HTTP" "$(ip_of b1) $(ip_of b2) $(ip_of b3)" >/dev/null &&
	   wait_until 2000 same_sums "$VIP_HTTP" >/dev/null; then
		ms_put=$(($(now_ms) - t0))
	else
		err="$err; put not applied on both: lb1 [$(backends lb1 "$VIP_HTTP")] lb2 [$(backends lb2 "$VIP_HTTP")]"
	fi
	ck1=$(checksum lb1 "$VIP_HTTP")
	[ "$ck1" != "$ck0" ] || err="$err; checksum unchanged by the put"
	# the node records follow the apply (rewritten after it)
	wait_until 3000 status_shows "$VIP_HTTP" "$ck1" >/dev/null
	out1=$(cstatus)
	rc1=$?
	[ "$rc1" = 0 ] && grep -q "tables agree: 2 nodes" <<<"$out1" ||
		err="$err; cluster status after the put: exit $rc1: $(tr '\n' ' ' <<<"$out1")"
	grep -q "^$VIP_HTTP .* lb1 $ck1  lb2 $ck1" <<<"$out1" || err="$err; cluster status does not show $ck1 on both"
	# traffic through both nodes reaches all three backends
	q=$(curls 60)
	p3=$(vip_packets lb1 "$VIP_HTTP"); p4=$(vip_packets lb2 "$VIP_HTTP")
	[ "${q%% *}" = 60 ] && [[ $q == *b3=* ]] || err="$err; HTTP through the VIP: $q of 60"
	[ $((p3 - p1)) -gt 0 ] && [ $((p4 - p2)) -gt 0 ] ||
		err="$err; VIP packets lb1 +$((p3 - p1)) lb2 +$((p4 - p2)): not both nodes"
	t0=$(now_ms)
	ectl del "$(bkey "$VIP_HTTP" b3)" >/dev/null
	if wait_until 5000 backends_are "$VIP_HTTP" "$(ip_of b1) $(ip_of b2)" >/dev/null &&
	   wait_until 2000 same_sums "$VIP_HTTP" "$ck0" >/dev/null; then
		ms_del=$(($(now_ms) - t0))
	else
		err="$err; delete not applied on both (or not back to $ck0): lb1 $(checksum lb1 "$VIP_HTTP") lb2 $(checksum lb2 "$VIP_HTTP")"
	fi
	wait_until 3000 status_shows "$VIP_HTTP" "$ck0" >/dev/null
	out2=$(cstatus)
	rc2=$?
	[ "$rc2" = 0 ] || err="$err; cluster status after the delete: exit $rc2: $(tr '\n' ' ' <<<"$out2")"
	grep -q "^$VIP_HTTP .* lb1 $ck0  lb2 $ck0" <<<"$out2" || err="$err; cluster status does not show $ck0 on both"
	if [ -z "$err" ]; then
		pass "put/delete: b3 put, on both nodes (polled) in $ms_put ms (both $ck1), deleted from both in $ms_del ms (both back to $ck0); cluster status agrees, exit 0 both times; 60 HTTP requests through the VIP: $q (VIP packets lb1 +$((p3 - p1)), lb2 +$((p4 - p2)))"
	else
		fail put/delete "${err#; }"
	fi
}

# lb2 re-attached with another seed: cluster status names the disagreement.
case_seed() {
	local out rc outj err=''
	daemon_stop lb2
	lbc lb2 detach >/dev/null 2>"$RUN/err" || { fail seed "detach lb2: $(cat "$RUN/err")"; return 1; }
	daemon_start lb2 beef >"$RUN/err" || { fail seed "$(cat "$RUN/err")"; return 1; }
	wait_until 5000 disagree >/dev/null
	out=$(cstatus)
	rc=$?
	outj=$(cstatus -j)
	[ "$rc" = 1 ] || err="$err; exit $rc"
	grep -q "tables differ: .*$VIP_HTTP" <<<"$out" && grep -q "tables differ: .*$VIP_ECHO" <<<"$out" ||
		err="$err; the VIPs are not named: $(grep tables <<<"$out")"
	[ "$(py 'd["agree"], sorted(d["differ"]) == sorted(sys.argv[3:])' "$outj" "$VIP_HTTP" "$VIP_ECHO")" = "False True" ] ||
		err="$err; -j: $(py 'd.get("agree"), d.get("differ")' "$outj")"
	if [ -z "$err" ]; then
		pass "seed: lb2 re-attached with seed beef: cluster status exit 1, '$(grep 'tables differ' <<<"$out")', -j agree false"
	else
		fail seed "${err#; }"
	fi
}

# hold_fail: NCONN long-lived connections through the VIP, RUN_S seconds,
# then lb1 fails (its data link down, the router's nexthop removed, its
# daemon stopped), RUN_S seconds more. Sets H_* (or H_ERR on a setup error).
hold_fail() {
	local i r nf1 nf2 pk1 pk2
	H_ERR=''
	rm -f "$RUN/hold.ready" "$RUN/hold.stop"
	pk1=$(vip_packets lb1 "$VIP_ECHO"); pk2=$(vip_packets lb2 "$VIP_ECHO")
	nf1=$(new_flows lb1 "$VIP_ECHO"); nf2=$(new_flows lb2 "$VIP_ECHO")
	ip netns exec "$ID-cl" "$PY" "$TRAFFIC/longconn.py" hold "$VIP4" 7000 "$NCONN" \
		--ready "$RUN/hold.ready" --stop "$RUN/hold.stop" --max-seconds 60 \
		--pidfile "$RUN/cl/longconn.pid" >"$RUN/hold.out" 2>"$RUN/hold.err" &
	LONG_PID=$!
	for i in $(seq 300); do [ -f "$RUN/hold.ready" ] && break; sleep 0.1; done
	if [ ! -f "$RUN/hold.ready" ] ||
	   [ "$(py 'd["established"] == d["conns"] and not d["broken"]' "$(cat "$RUN/hold.ready")")" != True ]; then
		touch "$RUN/hold.stop"; wait "$LONG_PID"; LONG_PID=''
		H_ERR="not all established: $(cat "$RUN/hold.ready" "$RUN/hold.err" 2>/dev/null)"
		return 1
	fi
	H_DIST=$(py '" ".join("%s %d" % (b, v["conns"]) for b, v in d["by_backend"].items())' "$(cat "$RUN/hold.ready")")
	sleep "$RUN_S"
	H_PK1=$(($(vip_packets lb1 "$VIP_ECHO") - pk1)); H_PK2=$(($(vip_packets lb2 "$VIP_ECHO") - pk2))
	H_NF1=$(($(new_flows lb1 "$VIP_ECHO") - nf1))
	nf2=$(($(new_flows lb2 "$VIP_ECHO") - nf2))
	H_NF2=$nf2
	# lb1 fails: what BFD or a BGP withdrawal does on the router, and the
	# node itself gone (the data plane would go on forwarding without its
	# daemon, so its link goes down).
	pk2=$(vip_packets lb2 "$VIP_ECHO")
	nf2=$(new_flows lb2 "$VIP_ECHO")
	ip -n "$ID-lb1" link set eth0 down
	ip -n "$ID-rt" route replace "$VIP4/32" via "$(ip_of lb2)"
	daemon_stop lb1
	H_MS_NODES=$(wait_until 5000 nodes_are lb2) || H_MS_NODES="> $H_MS_NODES"
	sleep "$RUN_S"
	H_PK2B=$(($(vip_packets lb2 "$VIP_ECHO") - pk2))
	H_NF2B=$(($(new_flows lb2 "$VIP_ECHO") - nf2))
	touch "$RUN/hold.stop"
	wait "$LONG_PID"
	LONG_PID=''
	r=$(cat "$RUN/hold.out")
	[ -n "$r" ] || r='{}'
	read -r H_BROKEN H_CONNS H_MIN H_RTT < <(py 'd.get("broken", -1), d.get("conns", 0), d.get("min_messages", 0), int(d.get("max_rtt_ms", 0))' "$r")
	H_FIRST=$(py '"; ".join(d.get("first_broken", [])[:3])' "$r")
}

# lb1 back: link up, its daemon, its nexthop; lb2 back on the cluster's seed.
restore() {
	ip -n "$ID-lb1" link set eth0 up || return 1
	daemon_start lb1 "$SEED" || return 1
	daemon_stop lb2
	lbc lb2 detach >/dev/null 2>&1
	daemon_start lb2 "$SEED" || return 1
	ip -n "$ID-rt" route replace "$VIP4/32" \
		nexthop via "$(ip_of lb1)" nexthop via "$(ip_of lb2)"
}

# The negative control, lb2 still on another seed: lb1's connections move
# to a node whose table differs, and most of them break. So the failover
# case below can fail.
case_control() {
	local ms
	if ! hold_fail; then
		fail control "$H_ERR"
	elif [ "$H_BROKEN" -gt $((H_NF1 / 4)) ]; then
		pass "control: the same failure with lb2 on another seed breaks $H_BROKEN/$H_CONNS connections (lb1 carried $H_NF1; about 2/3 of those expected): the test sees broken connections"
	else
		fail control "with lb2 on another seed, lb1's failure broke $H_BROKEN/$H_CONNS (lb1 carried $H_NF1 flows, lb2 $H_NF2)"
	fi
	restore >"$RUN/err" 2>&1 || { fail restore "$(cat "$RUN/err")"; return 1; }
	if ms=$(wait_until 5000 all_agree); then
		pass "seed: lb2 put back with seed $SEED, lb1 back: tables agree again after $ms ms (cluster status exit 0)"
	else
		fail seed "put back with seed $SEED: not agreeing after $ms ms: $(cstatus | tr '\n' ' ')"
		return 1
	fi
}

# 200 long-lived connections over both nodes; lb1 fails: 0 broken.
case_failover() {
	local err=''
	hold_fail || { fail failover "$H_ERR"; return; }
	# Both nodes carried a fair part: the router spreads the five-tuples.
	[ "$H_NF1" -ge $((NCONN / 5)) ] && [ "$H_NF2" -ge $((NCONN / 5)) ] ||
		err="$err; new flows lb1 $H_NF1 lb2 $H_NF2: not spread over both"
	[ "$H_BROKEN" = 0 ] && [ "$H_CONNS" = "$NCONN" ] || err="$err; $H_BROKEN/$H_CONNS broken: $H_FIRST"
	# each survivor kept talking through both periods (10 a second nominal)
	[ "$H_MIN" -ge $((RUN_S * 2 * 5)) ] || err="$err; a connection had only $H_MIN replies"
	# lb1's connections went on through lb2, which saw them as new flows
	[ "$H_NF2B" -ge $((H_NF1 * 9 / 10)) ] || err="$err; lb2 took $H_NF2B new flows after the failure, lb1 had $H_NF1"
	if [ -z "$err" ]; then
		pass "failover: $NCONN connections (on $H_DIST) spread by the router over lb1 ($H_NF1 flows, $H_PK1 packets in $RUN_S s) and lb2 ($H_NF2 flows, $H_PK2 packets); lb1 failed (link down, nexthop removed, daemon stopped): $H_BROKEN/$H_CONNS broken, lb2 took over $H_NF2B flows ($H_PK2B packets in $RUN_S s, table $(checksum lb2 "$VIP_ECHO")), each connection >= $H_MIN replies, max rtt $H_RTT ms; cluster status listed only lb2 after $H_MS_NODES ms"
	else
		fail failover "${err#; } (lb1 $H_NF1 flows $H_PK1 packets, lb2 $H_NF2 flows $H_PK2 packets; after: lb2 +$H_NF2B flows +$H_PK2B packets)"
	fi
}

main() {
	local t0
	t0=$(now_ms)
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	sweep_stale
	mkdir -p "$RUN/cl" || exit 1
	topology >"$RUN/topology.log" 2>&1 || { cat "$RUN/topology.log"; echo "FAIL: topology"; exit 1; }
	etcd_start >/dev/null || { echo "FAIL: etcd did not start: $(tail -5 "$RUN/etcd.log")"; exit 1; }
	if case_setup; then
		case_put_del
		case_seed && case_control && case_failover
	fi
	echo "cluster: $npass passed, $nfail failed ($(( ($(now_ms) - t0) / 1000 )) s)"
	[ "$nfail" -eq 0 ]
}

main "$@"
