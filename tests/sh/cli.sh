#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The chlb CLI end to end, as root: attach to a veth in a namespace of our
# own, every command with and without -j, bad inputs (exit 2, an Error:
# line, state unchanged), neighbour resolution, two concurrent writers, a
# second instance agreeing on checksums, detach leaving nothing pinned.
set -u
ID=$$
cd "$(dirname "$0")/../.." || exit 1
. tests/sh/cli_lib.bash
setup || { echo "FAIL: topology"; exit 1; }

V4=10.0.0.100:80/tcp
V6='[2001:db8::1]:443/udp'

# ---- attach and the commands, plain and -j ---------------------------------

run attach v0
check "attach v0 (native)" [ "$rc" -eq 0 ]
run -j status
check "status -j is JSON with v0 attached" [ "$rc" -eq 0 -a \
	"$(jq_py "$out" 'd["interface"], d["attached"], d["xdp_mode"]')" = "v0 True native" ]
ip -n "$NS" neigh add 10.9.0.20 lladdr 02:00:00:00:00:20 dev v0 nud permanent
ip -n "$NS" neigh add 2001:db8:9::20 lladdr 02:00:00:00:00:21 dev v0 nud permanent

# Each line: a command that must succeed plain and as valid JSON with -j.
# State-changing commands are given in pairs (plain, then -j on another object).
plain_json() {
	local name=$1; shift
	run "$@"
	if [ "$rc" -ne 0 ] || [ -n "$err" ]; then ko "$name" "rc=$rc $err"; return; fi
	run -j "$@"
	if [ "$rc" -ne 0 ] || ! is_json "$out"; then ko "$name -j" "rc=$rc $out"; return; fi
	run -p "$@"
	if [ "$rc" -ne 0 ] || ! is_json "$out"; then ko "$name -p" "rc=$rc"; return; fi
	ok "$name (plain, -j, -p)"
}
change() {
	local name=$1 flag=$2; shift 2
	run $flag "$@"
	if [ "$rc" -ne 0 ]; then ko "$name $flag" "rc=$rc $err"; return; fi
	if [ -n "$flag" ] && ! is_json "$out"; then ko "$name $flag: JSON" "$out"; return; fi
	ok "$name ${flag:-(plain)}"
}

change "vip add v4" "" vip add $V4
change "vip add v6" -j vip add "$V6" --method dsr
change "vip add v4 udp" -j vip add 10.0.0.100:53/udp
change "backend add --mac" "" backend add $V4 10.9.0.10 --mac 02:00:00:00:00:10
change "backend add --weight --mac" -j backend add $V4 10.9.0.11 --weight 3 --mac 02:00:00:00:00:11
change "backend add (static neighbour)" "" backend add $V4 10.9.0.20
change "backend add (neighbour resolved by probing)" -j backend add $V4 10.9.0.2
peer_mac=$(ip -n "$PEER" -br link show v1 | awk '{print $3}')
check "probed MAC is the peer's ($peer_mac)" [ "$(jq_py "$out" 'd["mac"]')" = "$peer_mac" ]
change "backend add v6 (static neighbour)" "" backend add "$V6" 2001:db8:9::20
change "backend add v6 (probing)" -j backend add "$V6" 2001:db8:9::2 --weight 2
change "backend add udp" "" backend add 10.0.0.100:53/udp 10.9.0.10 --mac 02:00:00:00:00:10
change "backend set --weight" "" backend set $V4 10.9.0.20 --weight 2
change "backend set --drain" -j backend set $V4 10.9.0.10 --drain
change "backend set --undrain" "" backend set $V4 10.9.0.10 --undrain
change "backend set --drain again" "" backend set $V4 10.9.0.10 --drain
plain_json "status" status
plain_json "vip list" vip list
plain_json "backend list" backend list
plain_json "backend list VIP" backend list "$V6"
plain_json "stats" stats
plain_json "stats VIP" stats $V4
plain_json "lookup v4" lookup $V4 192.0.2.7:40000
plain_json "lookup v6" lookup "$V6" '[2001:db8:77::7]:40000'
plain_json "route" route $V4 user:1234
for cmd in "attach" "detach" "status" "vip" "vip add" "backend" "backend set" "stats" \
	"lookup" "route"; do
	run $cmd --help
	check "$cmd --help" [ "$rc" -eq 0 -a -n "$out" ]
done
run --help
check "chlb --help" [ "$rc" -eq 0 -a -n "$out" ]
run --version
check "chlb --version" [ "$rc" -eq 0 -a -n "$out" ]

# The draining backend owns no slots; shares follow weights 1:2:3 for the rest.
run -j backend list $V4
check "backend list: draining has 0 slots, slots sum to M" python3 -c '
import json, sys
d = json.loads(sys.argv[1]); b = {x["address"]: x for x in d["backends"]}
assert b["10.9.0.10"]["state"] == "draining" and b["10.9.0.10"]["slots"] == 0
assert sum(x["slots"] for x in d["backends"]) == d["table_size"]
s = {a: b[a]["slots"] / d["table_size"] for a in ("10.9.0.2", "10.9.0.20", "10.9.0.11")}
assert abs(s["10.9.0.2"] - 1/6) < 0.03 and abs(s["10.9.0.20"] - 2/6) < 0.03, s
assert abs(s["10.9.0.11"] - 3/6) < 0.03, s
' "$out"

# lookup agrees with the live table the data plane reads.
run -j lookup $V4 192.0.2.7:40000
lk=$out
run -j backend list $V4
check "lookup names an active backend of the VIP" python3 -c '
import json, sys
l = json.loads(sys.argv[1]); b = json.loads(sys.argv[2])["backends"]
assert any(x["address"] == l["backend"] and x["state"] == "active" and x["id"] == l["backend_id"]
           for x in b), (l, b)
' "$lk" "$out"

# stats --watch: rates until SIGINT; with -j one JSON object per line.
wf=$(mktemp)
# nsenter execs chlb, so $! is chlb itself.
nsenter --net="/run/netns/$NS" "$CHLB" -d "$PIN" -j stats --watch 0.2 >"$wf" 2>&1 &
wpid=$!
PIDS+=("$wpid")
sleep 1
kill -INT "$wpid"
wait "$wpid"
wrc=$?
check "stats --watch -j: JSON lines, exit 0 on SIGINT" python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) >= 2 and all("interval" in json.loads(l) for l in lines), lines
' "$wf"
check "stats --watch exit status" [ "$wrc" -eq 0 ]
nsenter --net="/run/netns/$NS" "$CHLB" -d "$PIN" stats --watch 0.2 >"$wf" 2>&1 &
wpid=$!
PIDS+=("$wpid")
sleep 0.7
kill -INT "$wpid"
wait "$wpid"
check "stats --watch (plain) prints rates" grep -q "PACKETS/S" "$wf"
rm -f "$wf"

# ---- bad input: exit 2, one Error: line, JSON error, nothing changed ----------

dump() { c -j status; c -j vip list; c -j backend list; }
before=$(dump)
nbad=0
bad() {
	local name=$1; shift
	nbad=$((nbad + 1))
	run "$@"
	if [ "$rc" -ne 2 ] || [ "$(grep -c '^Error: ' <<<"$err")" -ne 1 ] ||
		[ "$(wc -l <<<"$err")" -ne 1 ]; then
		ko "bad input: $name" "rc=$rc stderr=$err"
		return
	fi
	run -j "$@"
	if [ "$rc" -ne 2 ] || ! jq_py "$out" 'd["error"]' >/dev/null 2>&1; then
		ko "bad input -j: $name" "rc=$rc out=$out"
		return
	fi
	ok "bad input: $name -> ${err#Error: }"
}
M=--mac
bad "IPv4 octet" vip add 10.0.0.256:80/tcp
bad "leading zero" vip add 010.0.0.1:80/tcp
bad "short IPv4" vip add 10.0.1:80/tcp
bad "bad IPv6" vip add '[2001:db8::g]:80/tcp'
bad "IPv6 without brackets" vip add 2001:db8::1:80/tcp
bad "IPv4 in brackets" vip add '[10.0.0.1]:80/tcp'
bad "prefix, not address" vip add 10.0.0.0/24:80/tcp
bad "port 0" vip add 10.0.0.1:0/tcp
bad "port 65536" vip add 10.0.0.1:65536/tcp
bad "port with leading zero" vip add 10.0.0.1:080/tcp
bad "port not a number" vip add 10.0.0.1:http/tcp
bad "protocol icmp" vip add 10.0.0.1:80/icmp
bad "no protocol" vip add 10.0.0.1:80
bad "no port" vip add 10.0.0.1/tcp
bad "empty VIP" vip add ''
bad "duplicate VIP" vip add $V4
bad "unknown method" vip add 10.0.0.9:80/tcp --method nat
bad "missing VIP" vip add
bad "unknown option" vip add 10.0.0.9:80/tcp --frob
bad "unknown VIP (del)" vip del 10.0.0.99:80/tcp
bad "extra argument" vip del $V4 extra
bad "bad backend address" backend add $V4 10.9.0.300 $M 02:00:00:00:00:30
bad "backend address with port" backend add $V4 10.9.0.30:80 $M 02:00:00:00:00:30
bad "weight 0" backend add $V4 10.9.0.30 --weight 0 $M 02:00:00:00:00:30
bad "weight 257" backend add $V4 10.9.0.30 --weight 257 $M 02:00:00:00:00:30
bad "weight -1" backend add $V4 10.9.0.30 --weight -1 $M 02:00:00:00:00:30
bad "weight abc" backend add $V4 10.9.0.30 --weight abc $M 02:00:00:00:00:30
bad "weight missing value" backend add $V4 10.9.0.30 $M 02:00:00:00:00:30 --weight
bad "short MAC" backend add $V4 10.9.0.30 $M 02:00:00:00:00
bad "MAC not hex" backend add $V4 10.9.0.30 $M zz:00:00:00:00:30
bad "MAC with dashes" backend add $V4 10.9.0.30 $M 02-00-00-00-00-30
bad "broadcast MAC" backend add $V4 10.9.0.30 $M ff:ff:ff:ff:ff:ff
bad "zero MAC" backend add $V4 10.9.0.30 $M 00:00:00:00:00:00
bad "duplicate backend" backend add $V4 10.9.0.11 $M 02:00:00:00:00:11
bad "backend of unknown VIP" backend add 10.0.0.99:80/tcp 10.9.0.30 $M 02:00:00:00:00:30
bad "missing backend address" backend add $V4
bad "option given twice" backend add $V4 10.9.0.30 --weight 2 --weight 3 $M 02:00:00:00:00:30
bad "unknown backend (del)" backend del $V4 10.9.0.99
bad "unknown backend (set)" backend set $V4 10.9.0.99 --weight 2
bad "set without change" backend set $V4 10.9.0.11
bad "drain and undrain" backend set $V4 10.9.0.11 --drain --undrain
bad "weight and drain" backend set $V4 10.9.0.11 --weight 2 --drain
bad "set weight 300" backend set $V4 10.9.0.11 --weight 300
bad "list of unknown VIP" backend list 10.0.0.99:80/tcp
bad "unknown backend command" backend frob
bad "unknown command" frobnicate
bad "unknown global option" --frob status
bad "missing command" vip
bad "no command at all"
bad "lookup without port" lookup $V4 192.0.2.7
bad "lookup family mismatch" lookup $V4 '[2001:db8::7]:5'
bad "lookup unknown VIP" lookup 10.0.0.99:80/tcp 192.0.2.7:5
bad "route unknown VIP" route 10.0.0.99:80/tcp key
bad "route missing key" route $V4
bad "stats bad interval" stats --watch 0
bad "stats unknown VIP" stats 10.0.0.99:80/tcp
bad "attach when attached" attach v0
bad "attach to missing interface" -d "${PIN}x1" attach nosuchdev0
bad "attach bad XDP mode" -d "${PIN}x1" attach w0 --xdp-mode turbo
bad "attach table size 0" -d "${PIN}x1" attach w0 --table-size 0
bad "attach too many vnodes" -d "${PIN}x1" attach w0 --vnodes 100000
bad "attach bad seed" -d "${PIN}x1" attach w0 --seed xyz
bad "attach unknown algorithm" -d "${PIN}x1" attach w0 --algo nosuch
bad "attach bad --dst-mac" -d "${PIN}x1" attach w0 --dst-mac mine
bad "attach UDP timeout below two refreshes" -d "${PIN}x1" attach w0 --udp-timeout 1
bad "not attached (status)" -d "${PIN}x1" status
bad "not attached (backend add)" -d "${PIN}x1" backend add $V4 10.9.0.30 $M 02:00:00:00:00:30
bad "not attached (detach)" -d "${PIN}x1" detach
check "at least 30 bad inputs tested ($nbad)" [ "$nbad" -ge 30 ]
check "bad inputs changed nothing" [ "$before" = "$(dump)" ]
check "failed attaches left no pin directory" [ ! -e "${PIN}x1" ]
check "failed attaches left w0 without XDP" \
	bash -c "! ip -n $NS link show w0 | grep -q xdp"

# A MAC that cannot be resolved is a run-time failure (1) naming the address.
run backend add $V4 10.9.0.123
check "unresolvable MAC: exit 1, names the address" \
	[ "$rc" -eq 1 -a "$(grep -c '^Error: .*10\.9\.0\.123' <<<"$err")" -eq 1 ]
check "unresolvable MAC changed nothing" [ "$before" = "$(dump)" ]

# ---- two writers at once: exactly 200, the table consistent ------------------

VC=10.0.0.50:80/tcp
c vip add $VC
writer() {
	local i rcs=0
	for i in $(seq 1 100); do
		c backend add $VC "10.50.$1.$i" --mac "02:00:00:00:$(printf %02x "$1"):$(printf %02x "$i")" ||
			rcs=1
	done
	return $rcs
}
writer 1 & w1=$!
writer 2 & w2=$!
PIDS+=("$w1" "$w2")
wait "$w1"; r1=$?
wait "$w2"; r2=$?
check "concurrent writers: every add succeeded" [ "$r1" -eq 0 -a "$r2" -eq 0 ]
run -j backend list $VC
check "concurrent writers: exactly 200 backends, every slot owned by one" python3 -c '
import json, sys
d = json.loads(sys.argv[1]); b = d["backends"]
assert len(b) == 200, len(b)
assert len({x["address"] for x in b}) == 200 and len({x["id"] for x in b}) == 200
assert sum(x["slots"] for x in b) == d["table_size"], sum(x["slots"] for x in b)
assert all(x["slots"] > 0 for x in b)
' "$out"

# ---- same configuration, another instance: same checksums --------------------

P2=${PIN}x2
c2() { nsenter --net="/run/netns/$NS" "$CHLB" -d "$P2" "$@"; }
seed=$(c -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["seed"])')
a2=$(c2 attach w0 --seed "$seed") && c2 vip add $V4 && c2 vip add 10.0.0.99:80/tcp &&
	c2 backend add $V4 10.9.0.20 --weight 2 --mac 02:00:00:00:00:99 &&
	c2 backend add $V4 10.9.0.10 --mac 02:00:00:00:00:10 &&
	c2 backend add $V4 10.9.0.2 --mac 02:00:00:00:00:02 &&
	c2 backend add $V4 10.9.0.11 --weight 3 --mac 02:00:00:00:00:11 &&
	c2 backend set $V4 10.9.0.10 --drain
check "second instance configured in another order" [ $? -eq 0 ]
sum1=$(c -j status | python3 -c 'import json,sys; print([v["checksum"] for v in json.load(sys.stdin)["vips"] if v["vip"] == sys.argv[1]])' $V4)
sum2=$(c2 -j status | python3 -c 'import json,sys; print([v["checksum"] for v in json.load(sys.stdin)["vips"] if v["vip"] == sys.argv[1]])' $V4)
check "same configuration, same table checksum ($sum1)" [ "$sum1" = "$sum2" -a "$sum1" != "[]" ]
# A failed attach (the interface already runs another program) undoes itself.
nsenter --net="/run/netns/$NS" "$CHLB" -d "${PIN}x3" attach w0 --xdp-mode native \
	>/dev/null 2>"$ERRF"
check "attach to a busy interface fails (exit 1) with an Error: line" \
	[ $? -eq 1 -a "$(grep -c '^Error: ' "$ERRF")" -eq 1 ]
check "failed attach left no pin directory" [ ! -e "${PIN}x3" ]
run -j backend list $V4
check "the instance already there is untouched" [ "$rc" -eq 0 -a \
	"$(c2 -j status | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["attached"], d["backends_used"])')" = "True 4" ]
check "attach's plain line leaves the seed out ($a2)" [ -n "$a2" ] && [ "${a2#*"$seed"}" = "$a2" ]
check "status: --dst-mac own by default, the interface's MAC shown" \
	[ "$(c2 -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["dst_mac"])')" = own ] &&
	c2 status | grep -q "^frames: .*$(ip -n "$NS" -br link show w0 | awk '{print $3}') only"
c2 detach >/dev/null
# the seed from $CHLB_SEED (no command line shows it), --dst-mac any
CHLB_SEED=abc c2 attach w0 --dst-mac any >/dev/null
check "attach: the seed from \$CHLB_SEED; --dst-mac any in status" \
	[ "$(c2 -j status | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["seed"], d["dst_mac"])')" = "0000000000000abc any" ]
c2 detach >/dev/null

# ---- bpffs missing: attach mounts it (in a private mount namespace) ----------

if unshare -m --propagation private bash -c "umount /sys/fs/bpf && ! mountpoint -q /sys/fs/bpf &&
	nsenter --net=/run/netns/$NS '$CHLB' -d /sys/fs/bpf/chlb-cli-${ID}x4 attach w0 --xdp-mode skb &&
	mountpoint -q /sys/fs/bpf && [ -e /sys/fs/bpf/chlb-cli-${ID}x4/chlb_config ] &&
	nsenter --net=/run/netns/$NS '$CHLB' -d /sys/fs/bpf/chlb-cli-${ID}x4 detach" >/dev/null; then
	ok "attach mounts bpffs when /sys/fs/bpf is not mounted"
else
	ko "attach mounts bpffs when /sys/fs/bpf is not mounted"
fi
check "... and detach took XDP off w0 again" bash -c "! ip -n $NS link show w0 | grep -q xdp"

# ---- removal -----------------------------------------------------------------

change "backend del" "" backend del $V4 10.9.0.20
change "backend del -j" -j backend del $V4 10.9.0.11
run -j backend list $V4
check "deleted backends are gone" [ "$(jq_py "$out" 'sorted(x["address"] for x in d["backends"])')" = "['10.9.0.10', '10.9.0.2']" ]
change "vip del (with backends)" "" vip del $VC
run -j status
check "vip del removed its 200 backends" [ "$(jq_py "$out" 'd["backends_used"]')" -eq 5 ]
change "vip del -j" -j vip del "$V6"
c backend del $V4 10.9.0.2 && c backend del $V4 10.9.0.10
run -j lookup $V4 192.0.2.7:40000
check "zero backends: lookup says drop" [ "$rc" -eq 0 -a "$(jq_py "$out" 'd["backend"]')" = "None" ]
run detach
check "detach" [ "$rc" -eq 0 ]
check "detach left nothing under the pin directory" [ ! -e "$PIN" ]
check "detach removed XDP from v0" bash -c "! ip -n $NS link show v0 | grep -q xdp"
run -j attach v0 --xdp-mode skb
check "attach -j in skb mode after detach" [ "$rc" -eq 0 ] && is_json "$out"
run -j detach
check "detach -j" [ "$rc" -eq 0 ] && is_json "$out"
check "nothing pinned after the second detach" [ ! -e "$PIN" ]

# ==== hardening: pin directory, lock, interrupted attach/detach, namespaces,
# ==== exit statuses, limits, help ==============================================
# Each case below failed before the change it tests, except the modes check
# (the kernel already pins 0600 and libbpf creates the directory 0700).
# Instances here use their own pin directories (${PIN}x10..) and x0, y0.

H=${PIN}x10
cd_() { local d=$1; shift; nsenter --net="/run/netns/$NS" "$CHLB" -d "$d" "$@"; }
# Like run, on pin directory $1.
rund() { local d=$1; shift; out=$(cd_ "$d" "$@" 2>"$ERRF"); rc=$?; err=$(cat "$ERRF"); }
xdp_on() { ip -n "$NS" link show "$1" | grep -q xdp; }
# The last run exited $2 with one Error: line matching the ERE $3.
err_is() {
	if [ "$rc" -eq "$2" ] && [ "$(grep -c '^Error: ' <<<"$err")" -eq 1 ] &&
		grep -qE -- "$3" <<<"$err"; then
		ok "$1"
	else
		ko "$1" "rc=$rc $err"
	fi
}
# flock(1) holding directory $1 for $2 s in the background (-o: the lock
# is flock's own, so killing it releases the lock); sets $holder.
hold_lock() {
	local i
	flock -o -x "$1" sleep "$2" &
	holder=$!
	PIDS+=("$holder")
	for i in $(seq 100); do flock -n "$1" true || return 0; sleep 0.02; done
	return 1
}
# A clean start for each group of cases, whatever an earlier one left.
reset_h() {
	local d i
	for d in "$H" "${PIN}x11" "${PIN}x12"; do
		[ -L "$d" ] && rm -f "$d"
		cd_ "$d" detach >/dev/null 2>&1
		rm -rf "$d"
	done
	for i in x0 y0; do
		ip -n "$NS" link set "$i" xdp off 2>/dev/null
		ip -n "$NS" link set "$i" xdpgeneric off 2>/dev/null
	done
}
# How the tests count the bpf() calls of a command, to interrupt each one.
bpf_calls() {
	local f
	f=$(mktemp)
	nsenter --net="/run/netns/$NS" strace -f -o "$f" -e trace=bpf "$CHLB" "$@" >/dev/null 2>&1
	grep -c 'bpf(' "$f"
	rm -f "$f"
}
# chlb under strace, the $2nd call of the syscalls $1 made to fail with $3
# (error=EINVAL or signal=KILL).
inject() {
	local set=$1 n=$2 what=$3; shift 3
	nsenter --net="/run/netns/$NS" strace -f -o /dev/null -e trace="$set" \
		-e inject="$set:$what:when=$n" "$CHLB" "$@"
}

# ---- the pin directory: private, and nobody else's ---------------------------

rund "$H" attach x0
check "attach: pin directory 0700, every pin 0600" bash -c \
	"[ \$(stat -c %a '$H') = 700 ] && [ -z \"\$(find '$H' -mindepth 1 ! -perm 600)\" ]"
reset_h
mkdir "$H" && chown nobody "$H"
rund "$H" attach x0
err_is "attach into a directory owned by nobody: exit 1, names it and the owner" 1 \
	"$H is owned by uid 65534"
check "... pinned nothing there, attached nothing" \
	bash -c "[ -z \"\$(ls -A '$H')\" ] && ! ip -n $NS link show x0 | grep -q xdp"
rund "$H" status
err_is "status refuses that directory too" 1 "$H is owned by uid 65534"
reset_h
mkdir -m 0777 "$H" && chmod 0777 "$H"
rund "$H" attach x0
err_is "attach into a directory others can write: exit 1" 1 "$H is writable by group or others"
reset_h
mkdir "${PIN}x11" && ln -s "${PIN}x11" "$H"
rund "$H" attach x0
err_is "attach through a symlink: exit 1, names the link" 1 "$H is a symbolic link"
check "... and pinned nothing in its target" bash -c "[ -z \"\$(ls -A '${PIN}x11')\" ]"
rm -f "$H"
reset_h
rund "/tmp/chlb-cli-${ID}x1" attach x0
err_is "attach outside bpffs: exit 1" 1 "is not on a BPF filesystem"
check "... and removed the directory it made" [ ! -e "/tmp/chlb-cli-${ID}x1" ]

# ---- the lock: a bounded wait, on the directory the path still names ------------

reset_h

cd_ "$H" attach x0 >/dev/null
if hold_lock "$H" 5; then
	t0=$(date +%s%N)
	out=$(CHLB_LOCK_TIMEOUT=0.5 cd_ "$H" vip add 10.0.0.77:80/tcp 2>"$ERRF")
	rc=$? err=$(cat "$ERRF") t=$((($(date +%s%N) - t0) / 1000000))
	err_is "lock held elsewhere: vip add gives up (exit 1)" 1 "another chlb holds the lock on $H"
	check "... after about CHLB_LOCK_TIMEOUT=0.5 (${t} ms)" [ "$t" -ge 400 -a "$t" -lt 3000 ]
	out=$(CHLB_LOCK_TIMEOUT=0.2 cd_ "$H" status 2>"$ERRF")
	rc=$? err=$(cat "$ERRF")
	err_is "... status (a reader) too" 1 "another chlb holds the lock on $H"
	kill "$holder" 2>/dev/null
else
	ko "flock(1) holds the pin directory"
fi
out=$(CHLB_LOCK_TIMEOUT=soon cd_ "$H" status 2>"$ERRF")
rc=$? err=$(cat "$ERRF")
err_is "CHLB_LOCK_TIMEOUT not a number: exit 2" 2 "CHLB_LOCK_TIMEOUT"

# A command waits on the directory; meanwhile it is replaced (renamed away,
# a new instance attached at the path) and someone else locks the new one.
# The waiter must notice and wait for the new directory's lock, not act on
# the new instance while another process holds it.
if hold_lock "$H" 2; then
	h1=$holder
	CHLB_LOCK_TIMEOUT=20 cd_ "$H" vip add 10.0.0.78:80/tcp >/dev/null 2>"$ERRF" &
	waiter=$!
	PIDS+=("$waiter")
	sleep 0.3
	mv "$H" "${PIN}x12" && cd_ "$H" attach y0 >/dev/null && hold_lock "$H" 3
	h2=$holder
	kill -0 "$h1" 2>/dev/null
	check "(the first lock was still held while the directory was replaced)" [ $? -eq 0 ]
	wait "$waiter"
	wrc=$?
	kill -0 "$h2" 2>/dev/null
	h2_alive=$?
	check "a waiter whose directory was replaced waits for the new lock (rc $wrc)" \
		[ "$wrc" -eq 0 -a "$h2_alive" -ne 0 ]
	l_new=$(cd_ "$H" vip list) l_old=$(cd_ "${PIN}x12" vip list)
	check "... and acted on the new instance only" \
		[ -n "$(grep 10.0.0.78 <<<"$l_new")" -a -z "$(grep 10.0.0.78 <<<"$l_old")" ]
	cd_ "${PIN}x12" detach >/dev/null
	cd_ "$H" detach >/dev/null
else
	ko "flock(1) holds the pin directory"
fi
check "(both instances detached)" bash -c "[ ! -e '$H' ] && [ ! -e '${PIN}x12' ] &&
	! ip -n $NS link show x0 | grep -q xdp && ! ip -n $NS link show y0 | grep -q xdp"

reset_h
# Three loops of attach + detach on one directory and interface: the only
# errors are "already attached" and "not attached", and nothing leaks.
race_log=$(mktemp)
racer() {
	local i
	for i in $(seq 12); do
		cd_ "$H" attach x0 --xdp-mode skb >/dev/null
		cd_ "$H" detach >/dev/null
	done 2>>"$race_log"
}
racer & r1=$!
racer & r2=$!
racer & r3=$!
PIDS+=("$r1" "$r2" "$r3")
wait "$r1" "$r2" "$r3"
cd_ "$H" detach >/dev/null 2>&1
unexpected=$(grep -v -e "is already attached under $H" -e "is not attached (no $H)" "$race_log")
check "attach/detach racing: no other error (${unexpected:-none})" [ -z "$unexpected" ]
check "attach/detach racing: nothing left attached or pinned" \
	bash -c "[ ! -e '$H' ] && ! ip -n $NS link show x0 | grep -q xdp"
rm -f "$race_log"

# ---- attach or detach killed at any bpf() call: detach cleans up ---------------

reset_h

if ! command -v strace >/dev/null; then
	echo "SKIPPED: interrupted attach/detach (no strace)"
else
	natt=$(bpf_calls -d "$H" attach x0)
	cd_ "$H" detach >/dev/null
	bad_kill=""
	for n in $(seq 1 $((natt + 1))); do
		inject bpf "$n" signal=KILL -d "$H" attach x0 >/dev/null 2>&1
		rund "$H" attach x0
		if [ "$rc" -ne 0 ] && ! { [ "$rc" -eq 2 ] && grep -q "'chlb detach'" <<<"$err"; }; then
			bad_kill+=" [kill at $n: attach rc=$rc $err]"
		fi
		rund "$H" detach
		[ "$rc" -eq 0 ] || bad_kill+=" [kill at $n: detach rc=$rc $err]"
		if [ -e "$H" ] || xdp_on x0; then
			bad_kill+=" [kill at $n: left $(ls "$H" 2>/dev/null | tr '\n' ' ')]"
			cd_ "$H" detach >/dev/null 2>&1
		fi
	done
	check "attach killed at each of its $natt bpf() calls: attach says 'chlb detach', detach cleans up${bad_kill}" \
		[ -z "$bad_kill" -a "$natt" -gt 20 ]

	reset_h
	cd_ "$H" attach x0 >/dev/null
	ndet=$(bpf_calls -d "$H" detach)
	bad_kill=""
	for set in bpf unlink; do
		last=14	# unlink: the program's pin and the maps', and some more
		[ "$set" = bpf ] && last=$ndet
		for n in $(seq 1 "$last"); do
			cd_ "$H" attach x0 >/dev/null 2>&1
			inject $set "$n" signal=KILL -d "$H" detach >/dev/null 2>&1
			rund "$H" detach
			if ! { [ "$rc" -eq 0 ] || [ "$rc" -eq 2 -a ! -e "$H" ]; } || [ -e "$H" ] || xdp_on x0; then
				bad_kill+=" [$set $n: rc=$rc $err]"
				cd_ "$H" detach >/dev/null 2>&1
			fi
		done
	done
	check "detach killed at each bpf()/unlink() call: the next detach cleans up${bad_kill}" \
		[ -z "$bad_kill" ]
fi

# An attached program whose pin is gone (what an older chlb killed between
# attaching and pinning left, or a pin removed by hand). Holding VIPs, it
# is a user's configuration: attach refuses and sends to detach, which finds
# the program by its maps and takes it off. Holding none, it is only what an
# interrupted attach left: attach replaces it (a retried attach succeeds).
reset_h
cd_ "$H" attach x0 >/dev/null && cd_ "$H" vip add 10.0.0.9:80/tcp && rm "$H/prog"
rund "$H" attach x0
err_is "attach over an attached, unpinned program with VIPs: exit 2, says 'chlb detach'" 2 "'chlb detach'"
rund "$H" detach
check "... detach takes it off x0 and removes the pins (rc $rc)" \
	bash -c "[ $rc -eq 0 ] && [ ! -e '$H' ] && ! ip -n $NS link show x0 | grep -q xdp"
cd_ "$H" attach x0 >/dev/null && rm "$H/prog"
rund "$H" attach x0
check "attach over an attached, unpinned, empty instance replaces it (rc $rc)" \
	bash -c "[ $rc -eq 0 ] && [ -e '$H/prog' ] && [ \$(ip -n $NS link show x0 | grep -c prog/xdp) -eq 1 ]"
cd_ "$H" detach >/dev/null

# ---- what the kernel refuses is a run-time failure (exit 1) ----------------------

if command -v strace >/dev/null; then
	reset_h
	bad_rc="" saw_load=""
	for n in $(seq 1 $((natt + 1))); do
		inject bpf "$n" error=EINVAL -d "$H" attach x0 >/dev/null 2>"$ERRF"
		rc=$?
		err=$(grep '^Error: ' "$ERRF")
		case $rc in
		0) cd_ "$H" detach >/dev/null ;;
		1) grep -q "cannot load the XDP program" <<<"$err" && saw_load=1
		   if [ -e "$H" ] || xdp_on x0; then bad_rc+=" [$n: left state]"; fi ;;
		*) bad_rc+=" [$n: rc=$rc $err]"
		   cd_ "$H" detach >/dev/null 2>&1 ;;
		esac
	done
	check "attach with EINVAL at each bpf() call (the verifier's answer): exit 1, never 2, nothing left${bad_rc}" \
		[ -z "$bad_rc" -a -n "$saw_load" ]
fi

# ---- network namespaces ---------------------------------------------------------

reset_h

cd_ "$H" attach x0 >/dev/null
cp_() { nsenter --net="/run/netns/$PEER" "$CHLB" -d "$H" "$@"; }
for cmd in status "vip add 10.0.0.79:80/tcp" detach; do
	out=$(cp_ $cmd 2>"$ERRF")
	rc=$? err=$(cat "$ERRF")
	err_is "$cmd from another network namespace: exit 2, names both, says where" 2 \
		"net:\[[0-9]+\].*net:\[[0-9]+\].*nsenter --net=/run/netns/$NS "
done
check "... the refused detach left XDP on x0 and the pins" bash -c \
	"ip -n $NS link show x0 | grep -q xdp && [ -e '$H/prog' ] && [ -e '$H/chlb_config' ]"
run -d "$H" -j detach
check "detach -j: {detached, interface, pin_dir}" [ "$rc" -eq 0 -a \
	"$(jq_py "$out" 'd["detached"], d["interface"], d["pin_dir"] == "'"$H"'"')" = "True x0 True" ]

# The attach's namespace deleted (its veth with it): only detach still works.
Z=chlbcliz$ID
if ip netns add "$Z" && ip -n "$Z" link add z0 type veth peer name z1 &&
	ip -n "$Z" link set z0 up && ip -n "$Z" link set z1 up &&
	nsenter --net="/run/netns/$Z" "$CHLB" -d "$H" attach z0 >/dev/null; then
	ip netns del "$Z"
	rund "$H" status
	err_is "status after the attach's namespace was deleted: exit 2, says it is gone" 2 \
		"no longer exists.*chlb detach"
	rund "$H" detach
	check "... detach from another namespace cleans up" [ "$rc" -eq 0 -a ! -e "$H" ]
else
	ko "a namespace of its own for the gone-namespace case"
	ip netns del "$Z" 2>/dev/null
fi

# ---- limits checked together at attach -------------------------------------------

reset_h

bad "attach: V x 256 x N more points than the ring sorts" -d "$H" attach x0 --table-size 1000000
check "... the error gives the figures" grep -q "1048576000 ring points" <<<"$err"
bad "attach: maps over the memory bound" -d "$H" attach x0 --max-vips 65536 --table-size 100000
check "... the error gives the figure" grep -qE "can pin [0-9]{11} bytes" <<<"$err"
run -d "$H" attach x0 --table-size 1000000 --vnodes 100 --max-backends 1000 --xdp-mode skb
check "attach: a large table whose points fit is accepted" [ "$rc" -eq 0 ]
c -d "$H" detach >/dev/null
out=$(cd_ "$H" -v attach x0 2>"$ERRF")
rc=$?
check "attach -v: the memory the maps can pin, map by map" \
	grep -q "maps: total .* up to [0-9]* bytes" "$ERRF"
check "attach: the success line says it" grep -qE "maps up to [0-9]+ MiB" <<<"$out"
c -d "$H" detach >/dev/null
run -d "$H" -j attach x0
check "attach -j: memory_max_bytes" [ "$rc" -eq 0 -a "$(jq_py "$out" 'd["memory_max_bytes"] > 16 << 20')" = True ]

# ---- method ipip: VIPs, backends, outer sources, lookup, stats ---------------------

reset_h
I=${PIN}x20
ci() { cd_ "$I" "$@"; }
VI4=10.0.0.100:80/tcp
VI6='[2001:db8::1]:443/udp'
# v0 holds 10.9.0.1/24 and 2001:db8:9::1/64: the default outer sources (own)
run -d "$I" attach v0
check "attach: the plain line names the outer sources (own)" \
	grep -qF "ipip outer sources: 10.9.0.1/32, 2001:db8:9::1/128" <<<"$out"
run -d "$I" -j status
check "status -j: encap_src is v0's own addresses" [ "$rc" -eq 0 -a \
	"$(jq_py "$out" 'd["encap_src"]["ipv4"], d["encap_src"]["ipv6"]')" = "10.9.0.1/32 2001:db8:9::1/128" ]
run -d "$I" status
check "status: the outer sources" grep -qF "ipip source: 10.9.0.1/32, 2001:db8:9::1/128" <<<"$out"
change "vip add --method ipip (IPv4)" "" -d "$I" vip add $VI4 --method ipip
change "vip add --method ipip (IPv6)" -j -d "$I" vip add "$VI6" --method ipip
change "vip add --method dsr beside them" "" -d "$I" vip add 10.0.0.100:81/tcp --method dsr
run -d "$I" -j vip list
check "vip list -j: the methods" [ "$(jq_py "$out" '" ".join(v["method"] for v in d["vips"])')" = "ipip ipip dsr" ]
run -d "$I" vip list
check "vip list: a METHOD column with ipip" grep -qE "^10\.0\.0\.100:80/tcp +ipip " <<<"$out"
# backends off the segment, with no neighbour entry: ipip needs no MAC
change "ipip backend off the LB's segment, no --mac" "" -d "$I" backend add $VI4 203.0.113.5
change "ipip: an IPv6 backend for an IPv4 VIP (4in6)" -j -d "$I" backend add $VI4 2001:db8:77::5 --weight 2
check "... add -j shows no MAC" [ "$(jq_py "$out" 'd["mac"]')" = None ]
change "ipip: an IPv6 backend for an IPv6 VIP" "" -d "$I" backend add "$VI6" 2001:db8:77::6
change "ipip: a backend on the segment too" "" -d "$I" backend add $VI4 10.9.0.77
run -d "$I" -j backend list $VI4
check "backend list -j: ipip backends have no MAC, the table is theirs" python3 -c '
import json, sys
d = json.loads(sys.argv[1]); b = d["backends"]
assert sorted(x["address"] for x in b) == ["10.9.0.77", "2001:db8:77::5", "203.0.113.5"], b
assert all(x["mac"] is None for x in b), b
assert sum(x["slots"] for x in b) == d["table_size"]
' "$out"
run -d "$I" backend list $VI4
check "backend list: MAC '-' for ipip" grep -qE "^10\.0\.0\.100:80/tcp +203\.0\.113\.5 +1 +active +- " <<<"$out"
check "no neighbour entry was made for the off-link backend" \
	bash -c "! ip -n $NS neigh show 203.0.113.5 | grep -q ."
plain_json "lookup (ipip)" -d "$I" lookup $VI4 192.0.2.7:40000
run -d "$I" -j lookup $VI4 192.0.2.7:40000
check "lookup -j: the outer source is v0's address, no MAC" [ "$(jq_py "$out" 'd["mac"], d["outer_src"] in ("10.9.0.1", "2001:db8:9::1")')" = "None True" ]
run -d "$I" -j lookup "$VI6" '[2001:db8:77::9]:5'
check "lookup -j (IPv6): from 2001:db8:9::1 to 2001:db8:77::6" \
	[ "$(jq_py "$out" 'd["backend"], d["outer_src"]')" = "2001:db8:77::6 2001:db8:9::1" ]
run -d "$I" lookup "$VI6" '[2001:db8:77::9]:5'
check "lookup: the line names ipip and its source" grep -qF "(id 2, ipip from 2001:db8:9::1)" <<<"$out"
run -d "$I" -j stats
check "stats -j: the ipip/ICMP/fragment counters and each VIP's fragments" python3 -c '
import json, sys
d = json.loads(sys.argv[1]); g = d["global"]
for k in ("redirect", "pass_no_neigh", "drop_no_route", "drop_encap", "tx_too_big",
          "drop_too_big", "drop_fragment", "icmp_steered", "too_big_limited"):
    assert isinstance(g[k], int), k
assert all(isinstance(v["fragments"], int) for v in d["vips"]), d["vips"]
' "$out"
run -d "$I" stats
check "stats: a FRAGMENTS column, the new counters' rows" \
	bash -c 'grep -q "FRAGMENTS" <<<"$1" && grep -qE "^drop_fragment +[0-9]+" <<<"$1" &&
		grep -qE "^icmp_steered +[0-9]+" <<<"$1" && grep -qE "^redirect +[0-9]+" <<<"$1"' _ "$out"

# Bad input for ipip: exit 2, one Error: line naming the value, nothing changed.
exp_before=$(ci config export)
ipip_bad() {
	local name=$1 want=$2; shift 2
	bad "$name" -d "$I" "$@"
	grep -qF -- "$want" <<<"$err" || ko "... the error says '$want'" "$err"
}
ipip_bad "ipip: --mac refused" "ipip backends are reached through the FIB: --mac is for dsr" \
	backend add $VI4 203.0.113.6 --mac 02:00:00:00:00:66
ipip_bad "ipip: an IPv4 backend for an IPv6 VIP (6in4 not built)" \
	"an IPv4 backend for an IPv6 VIP (IPv6 in IPv4) is not supported by ipip" \
	backend add "$VI6" 203.0.113.6
ipip_bad "ipip: the LB's own address" "'10.9.0.1': this host's own address (on v0)" \
	backend add $VI4 10.9.0.1
ipip_bad "ipip: the LB's own IPv6 address" "own address (on v0)" backend add "$VI6" 2001:db8:9::1
ipip_bad "ipip: 0.0.0.0" "'0.0.0.0': the unspecified address" backend add $VI4 0.0.0.0
ipip_bad "ipip: loopback" "'127.0.0.1': a loopback address" backend add $VI4 127.0.0.1
ipip_bad "ipip: multicast" "'224.0.0.1': a multicast address" backend add $VI4 224.0.0.1
ipip_bad "ipip: broadcast" "'255.255.255.255': the limited broadcast" backend add $VI4 255.255.255.255
ipip_bad "ipip: IPv4 link-local (not routed)" "'169.254.1.1' for ipip: a link-local address" \
	backend add $VI4 169.254.1.1
ipip_bad "ipip: IPv6 link-local (not routed)" "'fe80::1' for ipip: a link-local address" \
	backend add "$VI6" fe80::1
ipip_bad "ipip: unknown method named" "unknown method 'gre': expected dsr or ipip" \
	vip add 10.0.0.100:82/tcp --method gre
ipip_bad "ipip: method in capitals" "unknown method 'IPIP'" vip add 10.0.0.100:82/tcp --method IPIP
ipip_bad "dsr keeps its family rule" "an IPv6 backend for an IPv4 VIP; DSR" \
	backend add 10.0.0.100:81/tcp 2001:db8:9::30 --mac 02:00:00:00:00:30
ipip_bad "a backend at a VIP's address (ipip)" \
	"'2001:db8::1': the address of VIP '[2001:db8::1]:443/udp'" backend add "$VI6" 2001:db8::1
ipip_bad "a backend at a VIP's address (dsr)" "'10.0.0.100': the address of VIP" \
	backend add 10.0.0.100:81/tcp 10.0.0.100 --mac 02:00:00:00:00:31
ipip_bad "a VIP at a backend's address" \
	"invalid VIP '203.0.113.5:80/tcp': 203.0.113.5 is a backend's address" \
	vip add 203.0.113.5:80/tcp --method ipip
check "ipip bad inputs changed nothing (config export before = after)" \
	[ "$exp_before" = "$(ci config export)" ]
ci detach >/dev/null

# --encap-src: bad values refused before anything is attached
for v in 10.0.0.0/8 foo 224.0.0.1 127.0.0.1/32 0.0.0.0 169.254.1.1 fe80::1 10.1.2.3/33 \
	10.0.0.1/x 2001:db8::/64 0.0.0.5/16 ff02::1/128 ''; do
	bad "attach --encap-src '$v'" -d "$I" attach x0 --encap-src "$v"
	grep -qF -- "'$v'" <<<"$err" || ko "... the error names '$v'" "$err"
done
bad "attach: two IPv4 ranges" -d "$I" attach x0 --encap-src 172.16.0.0/16 --encap-src 172.17.0.0/16
check "... names both" grep -qF "'172.17.0.0/16': a second IPv4 range (172.16.0.0/16 given already)" <<<"$err"
bad "attach: --encap-src own twice" -d "$I" attach x0 --encap-src own --encap-src own
bad "attach: --encap-src three times" -d "$I" attach x0 --encap-src own \
	--encap-src 172.16.0.0/16 --encap-src 2001:db8::/112
bad "attach: --encap-src without a value" -d "$I" attach x0 --encap-src
check "bad --encap-src: nothing pinned, nothing attached" \
	bash -c "[ ! -e '$I' ] && ! ip -n $NS link show x0 | grep -q xdp"

# x0 has no address: no outer source unless given, and ipip backends say how to get one
run -d "$I" -j attach x0 --xdp-mode skb
check "attach x0 (no addresses): encap_src null for both families" [ "$rc" -eq 0 -a \
	"$(jq_py "$out" 'd["encap_src"]["ipv4"], d["encap_src"]["ipv6"]')" = "None None" ]
ci vip add $VI4 --method ipip
bad "ipip backend without an outer source of its family" -d "$I" backend add $VI4 203.0.113.5
check "... the error names the fix (--encap-src)" bash -c 'grep -qF "the instance has no IPv4 outer source address" <<<"$1" &&
	grep -qF -- "--encap-src ADDR[/LEN]" <<<"$1"' _ "$err"
ci detach >/dev/null
# a range for IPv4 (2^16 sources), IPv6 still own (none on x0)
run -d "$I" attach x0 --xdp-mode skb --encap-src 172.16.77.9/16
check "attach --encap-src 172.16.77.9/16: the range, host bits zeroed" bash -c '[ "$1" -eq 0 ] &&
	grep -qF "ipip outer sources: 172.16.0.0/16 (65536 addresses), no IPv6" <<<"$2"' _ "$rc" "$out"
ci vip add $VI4 --method ipip
change "ipip backend with an IPv4 range" "" -d "$I" backend add $VI4 203.0.113.5
bad "an IPv6 backend: no IPv6 source on x0" -d "$I" backend add $VI4 2001:db8:77::5
check "... names IPv6" grep -qF "no IPv6 outer source address" <<<"$err"
run -d "$I" -j lookup $VI4 192.0.2.7:40000
check "lookup: the outer source is the range with the flow hash's low 16 bits" python3 -c '
import json, sys
d = json.loads(sys.argv[1]); h = d["hash"]
assert d["outer_src"] == "172.16.%d.%d" % ((h >> 8) & 255, h & 255), d
' "$out"
ci detach >/dev/null
run -d "$I" -j attach x0 --xdp-mode skb --encap-src 2001:db8:ff::/112 --encap-src 198.51.100.7
check "attach with both families given" [ "$rc" -eq 0 -a \
	"$(jq_py "$out" 'd["encap_src"]["ipv4"], d["encap_src"]["ipv6"]')" = "198.51.100.7/32 2001:db8:ff::/112" ]
ci detach >/dev/null
check "ipip cases: nothing left attached or pinned" \
	bash -c "[ ! -e '$I' ] && ! ip -n $NS link show x0 | grep -q xdp && ! ip -n $NS link show v0 | grep -q xdp"

# ---- help, detach -j, the testbed's teardown ---------------------------------------

reset_h

run detach --help
check "detach --help is detach's own" [ "$rc" -eq 0 -a "$(head -1 <<<"$out")" = "Usage: chlb detach" \
	-a -z "$(grep "attach DEV" <<<"$out")" ]
run attach --help
check "attach --help: the flow table's memory from its entry size (32 bytes)" \
	grep -q "8 MiB, 32 bytes an entry" <<<"$out"
cd_ "$H" attach x0 >/dev/null
run -d "$H" vip add $V4
run -d "$H" backend add $V4 10.9.0.10 --mac 02:00:00:00:00:10
for args in "route $V4 -h" "route -h $V4 k" "vip frob -h" "backend frob --help" "frob -h"; do
	run -d "$H" $args
	check "'$args' prints help" [ "$rc" -eq 0 -a -n "$(grep "^Usage: chlb" <<<"$out")" ]
done
run -d "$H" -j route $V4 -- -h
check "route VIP -- -h routes the key '-h'" [ "$rc" -eq 0 -a "$(jq_py "$out" 'd["key"]' 2>&1)" = "-h" ]
c -d "$H" detach >/dev/null

# make demo / tb_down: returns once the servers it stopped have exited.
(
	TB_ID=clitb$ID
	. scripts/testbed.sh
	mkdir -p "$TB_DIR/n1"
	# a server that takes a second to exit on SIGTERM, like nginx finishing
	bash -c 'trap "sleep 1; exit 0" TERM; while :; do sleep 0.1; done' &
	echo $! >"$TB_DIR/n1/slow.pid"
	srv=$!
	sleep 0.2
	tb_down
	# gone, or a zombie waiting for this shell to reap it
	[ ! -d /proc/$srv ] || grep -q '^[0-9]* ([^)]*) Z' /proc/$srv/stat
)
check "tb_down waits for the servers it stopped" [ $? -eq 0 ]

finish
