#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# chlb daemon --etcd, chlb register and chlb cluster status against a real
# etcd (issue 10 items 1-3, SPEC §10 and §12), as root: etcd runs in the
# namespace of instance A (on its 127.0.0.1, and on a veth address that a
# second namespace, instance B's, reaches). Backends carry "mac" values, so
# nothing needs neighbour resolution. One PASS/FAIL line per case with the
# measured time; exit 0 all passed, 1 any failed, 77 cannot run here (said
# loudly).
set -u
ID=$$
cd "$(dirname "$0")/../.." || exit 1
. tests/sh/cli_lib.bash
need_root
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
	echo "SKIPPED: needs etcd and etcdctl (apt-get install etcd-server etcd-client)"
	exit 77
fi
setup || { echo "FAIL: topology"; exit 1; }

NS2=chlbcliz$ID			# instance B (cleanup removes it)
PINB=${PIN}xb			# cleanup detaches $PIN and $PIN"x*" in $NS: B first
TMP=$(mktemp -d /tmp/chlb-cli-"$ID"x.XXXX)
EURL=http://127.0.0.1:2379	# etcd, from $NS
EURL_B=http://10.99.0.1:2379	# the same, from $NS2
DEAD=http://127.0.0.1:2999	# no etcd there: A's first endpoint, to fail over
VIP=10.0.0.100:80/tcp
P=/chlbtest/			# the prefix
METRICS=127.0.0.1:9479		# daemon A's, in $NS
ETCD_PID='' DA='' DB='' DLOG=$TMP/a.log DLOG_B=$TMP/b.log

export ETCDCTL_API=3
ectl() { nsenter --net="/run/netns/$NS" etcdctl --endpoints "$EURL" "$@"; }
cb() { nsenter --net="/run/netns/$NS2" "$CHLB" -d "$PINB" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

etcd_cleanup() {
	local p
	for p in $DA $DB; do kill -CONT "$p" 2>/dev/null; done
	for p in $DA $DB $ETCD_PID; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	cb detach >/dev/null 2>&1
	rm -rf "$PINB" 2>/dev/null
	cleanup
	rm -rf "$TMP"
}
trap etcd_cleanup EXIT

# B's namespace: a veth to the peer for its instance, one to A's namespace for etcd.
topology_b() {
	ip netns add "$NS2" || return 1
	ip -n "$NS2" link add z0 type veth peer name z1 netns "$PEER" || return 1
	ip -n "$NS2" link add e1 type veth peer name e0 netns "$NS" || return 1
	ip -n "$NS2" addr add 10.99.0.2/24 dev e1
	ip -n "$NS" addr add 10.99.0.1/24 dev e0
	ip -n "$NS2" link set z0 up && ip -n "$NS2" link set e1 up && ip -n "$NS2" link set lo up
	ip -n "$NS" link set e0 up && ip -n "$NS" link set lo up && ip -n "$PEER" link set z1 up
}

etcd_start() {
	nsenter --net="/run/netns/$NS" etcd --name chlbtest --data-dir "$TMP/etcd" \
		--listen-client-urls "$EURL,$EURL_B" --advertise-client-urls "$EURL" \
		--listen-peer-urls http://127.0.0.1:2380 \
		--initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster chlbtest=http://127.0.0.1:2380 \
		--heartbeat-interval 50 --election-timeout 500 >>"$TMP/etcd.log" 2>&1 &
	ETCD_PID=$!
	wait_until 10000 ectl endpoint health >/dev/null 2>&1
}
etcd_stop() {
	kill "$ETCD_PID" && wait "$ETCD_PID" 2>/dev/null
	ETCD_PID=''
}

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

# field INSTANCE-CMD ADDR NAME: a backend's field in `backend list -j` ("-": absent).
field() {
	local j re
	j=$($1 -j backend list "$VIP" 2>/dev/null)
	re="\"address\":\"$2\"[^}]*\"$3\":\"?([^\",}]*)"
	[[ $j =~ $re ]] && echo "${BASH_REMATCH[1]}" || echo -
}
has() { [ "$(field c "$1" state)" != - ]; }
gone() { [ "$(field c "$1" state)" = - ]; }
state_is() { [ "$(field c "$1" state)" = "$2" ]; }
nbackends() { c -j backend list "$VIP" 2>/dev/null | grep -o '"address"' | wc -l; }
count_is() { [ "$(nbackends)" = "$1" ]; }
checksum() {
	local j re='"checksum":"([0-9a-f]+)"'
	j=$($1 -j status)
	[[ $j =~ $re ]] && echo "${BASH_REMATCH[1]}"
}
log_has() { grep -q -- "$2" "$1"; }
swaps() { grep -c 'VIP tables\? swapped' "$DLOG"; }
metric() {
	nsenter --net="/run/netns/$NS" curl -sf -m 2 "http://$METRICS/metrics" |
		awk -v s="$1" '$1 == s { print $2 }'
}
mac() { printf '02:00:00:00:%02x:%02x' $(($1 / 256)) $(($1 % 256)); }
backend() { ectl put "${P}vips/$VIP/backends/$1" "{\"mac\": \"$(mac "$2")\"${3:+, $3}}" >/dev/null; }

daemon_a() {
	nsenter --net="/run/netns/$NS" "$CHLB" -d "$PIN" daemon --etcd "$DEAD,$EURL" \
		--prefix "$P" --node lb-a --metrics "$METRICS" </dev/null 2>>"$DLOG" &
	DA=$!
	START_MS=$(wait_until 10000 log_has "$DLOG" "chlb daemon: managing ")
}
daemon_b() {
	: >"$DLOG_B"
	nsenter --net="/run/netns/$NS2" "$CHLB" -d "$PINB" daemon --etcd "$EURL_B" \
		--prefix "${P%/}" --node lb-b </dev/null 2>>"$DLOG_B" &
	DB=$!
	wait_until 10000 log_has "$DLOG_B" "chlb daemon: managing " >/dev/null
}

# ---- cases ----------------------------------------------------------------

case_start() {
	local ms
	ectl put "${P}cluster" '{"seed": "5eed"}' >/dev/null
	ectl put "${P}vips/$VIP" '{"method": "dsr"}' >/dev/null
	backend 10.9.0.10 10
	backend 10.9.0.11 11 '"weight": 2'
	daemon_a || { ko "daemon --etcd starts" "$(tail -3 "$DLOG" | tr '\n' ' ')"; return 1; }
	ms=$START_MS
	if [ "$(nbackends)" = 2 ] && [ "$(field c 10.9.0.11 weight)" = 2 ] &&
	   c status | grep -q "source: etcd $DEAD,$EURL $P"; then
		ok "daemon --etcd (first endpoint dead) read the prefix and applied it in ${ms} ms; status names the source"
	else
		ko "daemon --etcd first apply" "$(nbackends) backends; $(c status | grep daemon:)"
	fi
}

case_put_del() {
	local t0 ms1 ms2
	t0=$(now_ms)
	backend 10.9.0.12 12
	wait_until 3000 has 10.9.0.12 >/dev/null
	ms1=$(($(now_ms) - t0))
	t0=$(now_ms)
	ectl del "${P}vips/$VIP/backends/10.9.0.12" >/dev/null
	wait_until 3000 gone 10.9.0.12 >/dev/null
	ms2=$(($(now_ms) - t0))
	if [ "$ms1" -le 1000 ] && [ "$ms2" -le 1000 ] && has 10.9.0.10 && has 10.9.0.11; then
		ok "backend key put: in the table after $ms1 ms; deleted: out after $ms2 ms (limit 1000 ms)"
	else
		ko "backend put/delete within 1 s" "put $ms1 ms, delete $ms2 ms"
	fi
}

case_invalid() {
	ectl put "${P}vips/$VIP/backends/10.9.0.13" '{"weight": 0}' >/dev/null
	ectl put "${P}vips/$VIP/backends/10.9.0.014" '{}' >/dev/null
	ectl put "${P}vips/$VIP/backends/10.9.0.15" "{\"mac\": \"$(mac 15)\", \"colour\": 1}" >/dev/null
	ectl put "${P}vips/$VIP/backends/10.9.0.16" "{\"mac\": \"$(mac 16)\"}" >/dev/null
	wait_until 3000 has 10.9.0.16 >/dev/null
	sleep 0.3
	local err='' b
	gone 10.9.0.13 || err="$err; 10.9.0.13 applied"
	gone 10.9.0.15 || err="$err; 10.9.0.15 applied"
	log_has "$DLOG" "backends/10.9.0.13 ignored: weight: 0 is not in 1..256" ||
		err="$err; weight 0 not reported"
	log_has "$DLOG" "backends/10.9.0.014 ignored: invalid backend address '10.9.0.014'" ||
		err="$err; non-canonical address not reported"
	log_has "$DLOG" "backends/10.9.0.15 ignored: .*colour" || err="$err; unknown key not reported"
	[ "$(grep -c 'backends/10.9.0.13 ignored' "$DLOG")" = 1 ] || err="$err; reported more than once"
	if [ -z "$err" ] && has 10.9.0.16; then
		ok "invalid values (weight 0, address not canonical, unknown key) ignored and logged once each; the valid key beside them applied"
	else
		ko "invalid values" "${err#; }: $(grep ignored "$DLOG" | tr '\n' ' ')"
	fi
	for b in 13 014 15 16; do ectl del "${P}vips/$VIP/backends/10.9.0.$b" >/dev/null; done
	wait_until 3000 count_is 2 >/dev/null
}

# 200 puts as fast as one HTTP client sends them to etcd's gateway.
burst() {
	nsenter --net="/run/netns/$NS" python3 - "$P" "$VIP" <<-'EOF'
	import base64, http.client, json, sys
	p, vip = sys.argv[1], sys.argv[2]
	c = http.client.HTTPConnection("127.0.0.1", 2379)
	b64 = lambda s: base64.b64encode(s.encode()).decode()
	for i in range(200):
	    key = f"{p}vips/{vip}/backends/10.9.{100 + i // 250}.{1 + i % 250}"
	    val = json.dumps({"mac": "02:00:00:01:%02x:%02x" % (i // 256, i % 256)})
	    c.request("POST", "/v3/kv/put", json.dumps({"key": b64(key), "value": b64(val)}))
	    r = c.getresponse(); r.read()
	    assert r.status == 200, r.status
	EOF
}

case_burst() {
	local s0 ms t0 t1 n
	s0=$(swaps)
	t0=$(now_ms)
	burst || { ko "burst of 200 puts" "the client failed"; return; }
	t1=$(now_ms)
	ms=$(wait_until 5000 count_is 202) || { ko "burst of 200 puts" "$(nbackends) backends after $ms ms"; return; }
	ms=$(($(now_ms) - t0))
	sleep 0.5
	n=$(($(swaps) - s0))
	if [ "$n" -ge 1 ] && [ "$n" -le 4 ]; then
		ok "200 puts in $((t1 - t0)) ms: all 202 backends in the table $ms ms after the first put, in $n table swap(s)"
	else
		ko "burst applied together" "$n swaps for 200 puts"
	fi
	ectl del --prefix "${P}vips/$VIP/backends/10.9.1" >/dev/null
	wait_until 3000 count_is 2 >/dev/null
}

case_register_killed() {
	local pid t0 ms
	nsenter --net="/run/netns/$NS" "$CHLB" register --etcd "$EURL" --prefix "$P" "$VIP" \
		10.9.0.20 --mac "$(mac 20)" --ttl 2 2>>"$TMP/reg.log" &
	pid=$!
	if ! wait_until 3000 has 10.9.0.20 >/dev/null; then
		ko "register" "10.9.0.20 not in the table: $(tail -2 "$TMP/reg.log" | tr '\n' ' ')"
		kill "$pid"
		return
	fi
	sleep 3		# longer than the TTL: the lease is renewed
	has 10.9.0.20 || { ko "register keeps its lease alive" "gone after 3 s"; kill "$pid"; return; }
	t0=$(now_ms)
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	ms=$(wait_until 6000 gone 10.9.0.20)
	ms=$(($(now_ms) - t0))
	if [ "$ms" -le 3000 ]; then
		ok "chlb register --ttl 2: stays past its TTL; killed (SIGKILL): out of the table after $ms ms (limit TTL + 1 s = 3000 ms)"
	else
		ko "registered backend leaves within TTL + 1 s" "$ms ms"
	fi
}

case_register_drain() {
	local pid t0 ms_drain ms_gone rc
	nsenter --net="/run/netns/$NS" "$CHLB" register --etcd "$EURL" --prefix "$P" "$VIP" \
		10.9.0.21 --mac "$(mac 21)" --weight 3 --ttl 2 --drain-wait 2 2>>"$TMP/reg.log" &
	pid=$!
	wait_until 3000 state_is 10.9.0.21 active >/dev/null
	t0=$(now_ms)
	kill -TERM "$pid"
	ms_drain=$(wait_until 3000 state_is 10.9.0.21 draining)
	ms_gone=$(wait_until 6000 gone 10.9.0.21)
	ms_gone=$(($(now_ms) - t0))
	wait "$pid"
	rc=$?
	if [ "$ms_drain" -le 1000 ] && [ "$ms_gone" -ge 2000 ] && [ "$ms_gone" -le 3500 ] &&
	   [ "$rc" = 0 ]; then
		ok "chlb register --drain-wait 2, SIGTERM: draining after $ms_drain ms, gone after $ms_gone ms, exit 0"
	else
		ko "register drain" "draining after $ms_drain ms, gone after $ms_gone ms, exit $rc"
	fi
}

# etcd away: the instance as it was; back: changes made meanwhile converge.
case_restart() {
	local ck0 ck1 up t0 ms err=''
	ck0=$(checksum c)
	etcd_stop
	sleep 2
	ck1=$(checksum c)
	up=$(metric chlb_source_up)
	kill -0 "$DA" 2>/dev/null || err="$err; the daemon died"
	[ "$ck1" = "$ck0" ] || err="$err; table $ck1 while etcd was away, $ck0 before"
	[ "$up" = 0 ] || err="$err; chlb_source_up $up while etcd was away"
	etcd_start >/dev/null || { ko "etcd restart" "etcd did not come back"; return 1; }
	t0=$(now_ms)
	backend 10.9.0.30 30
	ectl del "${P}vips/$VIP/backends/10.9.0.10" >/dev/null
	ms=$(wait_until 40000 eval 'has 10.9.0.30 && gone 10.9.0.10') || err="$err; not converged in $ms ms"
	up=$(metric chlb_source_up)
	[ "$up" = 1 ] || err="$err; chlb_source_up $up after"
	if [ -z "$err" ]; then
		ok "etcd stopped 2 s: daemon alive, table unchanged ($ck0), chlb_source_up 0; restarted: a put and a delete made meanwhile applied after $ms ms (backoff), chlb_source_up 1"
	else
		ko "etcd restart" "${err#; }"
	fi
}

compact_converged() { has 10.9.0.31 && gone 10.9.0.30 && [ "$(field c 10.9.0.11 weight)" = 5 ]; }

# The daemon frozen while etcd restarts, gets changes and is compacted: its
# watch resumes at a revision that is gone, so it reads everything again.
case_compact() {
	local rev t0 ms want got err=''
	kill -STOP "$DA"
	etcd_stop
	etcd_start >/dev/null || { kill -CONT "$DA"; ko "compaction" "etcd did not come back"; return 1; }
	backend 10.9.0.31 31
	backend 10.9.0.11 11 '"weight": 5'
	ectl del "${P}vips/$VIP/backends/10.9.0.30" >/dev/null
	rev=$(ectl get / -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
	ectl compact "$rev" >/dev/null || err="$err; compact $rev failed"
	t0=$(now_ms)
	kill -CONT "$DA"
	ms=$(wait_until 10000 compact_converged) ||
		err="$err; not converged after $ms ms"
	log_has "$DLOG" "was compacted" || err="$err; no compaction in the log"
	want=$(ectl get --prefix "${P}vips/$VIP/backends/" --keys-only | grep -c backends)
	got=$(nbackends)
	[ "$want" = "$got" ] || err="$err; etcd has $want backends, the table $got"
	if [ -z "$err" ]; then
		ok "watched revision compacted (to $rev) while the daemon was frozen: read again and converged $ms ms after it resumed ($got backends, as etcd)"
	else
		ko "compaction" "${err#; }"
	fi
}

same_tables() { [ "$(checksum cb)" = "$(checksum c)" ]; }
cluster_rc() { nsenter --net="/run/netns/$NS" "$CHLB" "$@" cluster status --etcd "$EURL" --prefix "$P"; }

case_cluster() {
	local out rc ms
	ectl del "${P}cluster" >/dev/null	# B is attached with its own seed below
	cb attach z0 --seed 5eed >/dev/null || { ko "attach B"; return 1; }
	daemon_b >/dev/null || { ko "daemon B" "$(tail -3 "$DLOG_B" | tr '\n' ' ')"; return 1; }
	ms=$(wait_until 5000 same_tables)
	out=$(wait_until 3000 eval 'cluster_rc -j | grep -q "\"node\": *\"lb-b\""' >/dev/null; cluster_rc)
	rc=$?
	if [ "$rc" = 0 ] && grep -q "tables agree: 2 nodes" <<<"$out" && grep -q "lb-a" <<<"$out"; then
		ok "two daemons, two instances (same seed): equal checksums ($(checksum c)) $ms ms after B started; cluster status: tables agree, exit 0"
	else
		ko "cluster status agreement" "exit $rc: $(tr '\n' ' ' <<<"$out")"
	fi
	kill "$DB" && wait "$DB"
	DB=''
	cb detach >/dev/null
	cb attach z0 --seed beef >/dev/null || { ko "attach B again"; return 1; }
	daemon_b >/dev/null || { ko "daemon B" "$(tail -3 "$DLOG_B" | tr '\n' ' ')"; return 1; }
	wait_until 3000 eval 'cluster_rc -j | grep -q "\"node\": *\"lb-b\""' >/dev/null
	out=$(cluster_rc -j)
	rc=$?
	if [ "$rc" = 1 ] && [ "$(jq_py "$out" 'd["agree"]')" = False ] &&
	   [ "$(jq_py "$out" 'd["differ"]')" = "['$VIP']" ] &&
	   cluster_rc | grep -q "tables differ: $VIP"; then
		ok "instance B attached with another seed: cluster status says the tables differ on $VIP, exit 1 (-j: agree false)"
	else
		ko "cluster status disagreement" "exit $rc: $out"
	fi
}

# Started while etcd is down: forwarding as pinned, applying once etcd answers.
case_start_down() {
	local ck0 ms err='' prom
	kill "$DA" && wait "$DA"
	ck0=$(checksum c)
	etcd_stop
	: >"$DLOG"
	nsenter --net="/run/netns/$NS" "$CHLB" -d "$PIN" daemon --etcd "$EURL" \
		--prefix "$P" --node lb-a --metrics "$METRICS" </dev/null 2>>"$DLOG" &
	DA=$!
	wait_until 5000 log_has "$DLOG" "waiting to manage" >/dev/null || err="$err; no 'waiting' line"
	[ "$(checksum c)" = "$ck0" ] || err="$err; table changed while etcd was down"
	[ "$(metric chlb_source_up)" = 0 ] || err="$err; chlb_source_up not 0"
	etcd_start >/dev/null || { ko "start with etcd down" "etcd did not come back"; return 1; }
	backend 10.9.0.40 40
	ms=$(wait_until 10000 has 10.9.0.40) || err="$err; not applied after $ms ms"
	c status | grep -q "pid $DA manages it" || err="$err; status does not name the daemon"
	prom=$(nsenter --net="/run/netns/$NS" curl -sf -m 2 "http://$METRICS/metrics" |
		promtool check metrics 2>&1) || err="$err; promtool: $prom"
	[ "$(metric chlb_source_up)" = 1 ] || err="$err; chlb_source_up not 1"
	if [ -z "$err" ]; then
		ok "daemon started with etcd down: waits, table unchanged ($ck0); etcd back: applied a put after $ms ms; metrics pass promtool (chlb_source_up 1, chlb_source_revision $(metric chlb_source_revision))"
	else
		ko "start with etcd down" "${err#; }"
	fi
}

topology_b || { echo "FAIL: topology B"; exit 1; }
run attach v0 --seed 5eed
[ "$rc" = 0 ] || { ko "attach A" "$err"; finish; exit 1; }
etcd_start >/dev/null || { echo "FAIL: etcd did not start: $(tail -5 "$TMP/etcd.log")"; exit 1; }
case_start && {
	case_put_del
	case_invalid
	case_burst
	case_register_killed
	case_register_drain
	case_restart && case_compact
	case_cluster
	case_start_down
}
finish
