#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Fault injection (issue 8, item 6). Every state-changing command C (attach,
# detach, vip add/del, backend add/del/set --weight/--drain, and config
# apply with a large change when this chlb has it) is run from a fixed
# baseline with its Nth bpf() call failed (strace -e inject=bpf:error=EIO)
# and, separately, with the process SIGKILLed there (signal=KILL), for
# every N that C makes. After each:
#   1. the state, as `status -j` (run first: it may recover), `vip list -j`,
#      `backend list -j`, the pins and the program on v0 show it, and as
#      tests/tools/agree_pinned judges the live data plane (tables, XDP on
#      10,000 tuples per VIP, `chlb lookup` on a sample), must be exactly
#      the one before C or the one after C: the references, taken once
#      without injection from the same baseline. Nothing in between, no
#      drift between configuration and live tables, status reporting no
#      drift (status -j's per-VIP "drift"; without that field, noted once,
#      the live tables alone judge). An EIO run must not crash, and its exit
#      status must tell which (0: after, else before); a killed run may
#      leave either.
#   2. unless it is already "after", C retried without injection must exit
#      0, and the state must then be exactly "after".
#   3. attach only: the baseline configuration added on top must give
#      exactly the baseline reference (the attached data plane works).
# Backend and VIP ids are left out of the comparison (an id is not part of
# the configuration); everything else (weights, states, MACs, slots, table
# digests by address and MAC, checksums, pins) must be equal. "Not
# attached" is one state whatever the message says, as long as nothing is
# pinned and no program runs on v0; status's "recovered" (what that status
# run did) is not state.
#
# Each point starts from the baseline: rebuilt from nothing, or, after a
# good point, by one undoing command when the lists then equal the
# baseline's byte for byte. About 4 minutes on a 2-vCPU VM (800 points).
#
# FAULTS_JOBS workers (3) share the points (worker w takes N = w, w + 3,
# ...), each with a namespace and pin directory of its own and its own
# references. One line per command, mode and worker as it finishes, one
# FAIL line per bad point, then one line per command ("C: N points, EIO: x
# ok / y bad, KILL: x ok / y bad") and the total number of injection
# points. Exit 0 all good, 1 any bad point, 77 cannot run (said why).
#
# Environment: FAULTS_ATTACH_STRIDE (1: inject at every Kth of attach's
# calls, which libbpf's probes make many), FAULTS_TUPLES (10000), FAULTS_LOOKUPS
# (chlb lookup runs per VIP and check, 5), FAULTS_ONLY (command names, e.g.
# "vip-add backend-del"), FAULTS_MODES ("EIO KILL"), FAULTS_JOBS (3).
set -u
ID=$$
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
CHLB=${CHLB:-$PWD/$BUILD/chlb}
AGREE=${AGREE:-$PWD/$BUILD/tools/agree_pinned}
TOP=${TMPDIR:-/tmp}/chlb-flt-$ID
TUPLES=${FAULTS_TUPLES:-10000}
LOOKUPS=${FAULTS_LOOKUPS:-5}
ATTACH_STRIDE=${FAULTS_ATTACH_STRIDE:-1}
ONLY=${FAULTS_ONLY:-}
MODES=${FAULTS_MODES:-EIO KILL}
JOBS=${FAULTS_JOBS:-3}
T=30	# seconds any one chlb run may take

# Small table, few vnodes, small flow table: resets are fast, and whether a
# command leaves a consistent state does not depend on the sizes.
ATTACH=(attach v0 --seed 5eed --table-size 4093 --vnodes 100 --flow-table 4096)
V4=10.0.0.1:80/tcp
V6='[2001:db8::1]:53/udp'

skip() { echo "SKIPPED: $1"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root"
[ -x "$CHLB" ] || skip "no chlb binary at $CHLB"
[ -x "$AGREE" ] || skip "no $AGREE (make BUILD=$BUILD $BUILD/tools/agree_pinned)"
command -v strace >/dev/null || skip "needs strace (apt-get install strace)"
strace -f -o /dev/null -e trace=getpid -e inject=getpid:error=EIO:when=1 true 2>/dev/null ||
	skip "this strace cannot inject faults (-e inject needs strace >= 4.16)"
mountpoint -q /sys/fs/bpf || skip "no bpffs on /sys/fs/bpf"
case $ATTACH_STRIDE$TUPLES$LOOKUPS$JOBS in *[!0-9]*) skip "FAULTS_* must be numbers" ;; esac
[ "$ATTACH_STRIDE" -ge 1 ] && [ "$JOBS" -ge 1 ] || skip "FAULTS_ATTACH_STRIDE, FAULTS_JOBS >= 1"

# One worker's names (set by worker_names W): namespace, pins, files.
NS="" PIN="" WORK=""
worker_names() { NS=chlbflt${ID}w$1 PIN=/sys/fs/bpf/chlb-flt-${ID}w$1 WORK=$TOP/w$1; }

c() { timeout "$T" nsenter --net="/run/netns/$NS" "$CHLB" -d "$PIN" "$@"; }
ag() { CHLB=$CHLB timeout "$T" nsenter --net="/run/netns/$NS" "$AGREE" "$@"; }

# Leftovers of earlier runs whose shell is gone (names carry its PID).
remove_stale() {
	local n p pid
	for n in $(ip netns list | awk '{print $1}' | grep -E '^chlbflt[0-9]+w[0-9]+$'); do
		pid=${n#chlbflt}
		pid=${pid%w*}
		kill -0 "$pid" 2>/dev/null || ip netns del "$n" 2>/dev/null
	done
	for p in /sys/fs/bpf/chlb-flt-* "${TMPDIR:-/tmp}"/chlb-flt-*; do
		[ -e "$p" ] || continue
		pid=${p##*/chlb-flt-}
		pid=${pid%w*}
		case $pid in '' | *[!0-9]*) continue ;; esac
		kill -0 "$pid" 2>/dev/null || rm -rf -- "$p"
	done
}

WPIDS=()
cleanup() {
	local p w
	for p in "${WPIDS[@]+"${WPIDS[@]}"}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for ((w = 1; w <= JOBS; w++)); do
		worker_names "$w"
		if [ -d "$PIN" ]; then
			c detach >/dev/null 2>&1
			rm -rf -- "$PIN"
		fi
		ip netns del "$NS" 2>/dev/null
	done
	rm -rf -- "$TOP"
}

# ---- baselines ---------------------------------------------------------------

# base: two VIPs (IPv4 TCP, IPv6 UDP) x 8 backends, some weighted, one draining.
write_base() {
	local i w
	echo "vip add $V4"
	echo "vip add $V6"
	for i in 1 2 3 4 5 6 7 8; do
		w=1
		[ "$i" -eq 2 ] && w=2
		[ "$i" -eq 7 ] && w=4
		echo "backend add $V4 10.9.0.$i --weight $w --mac 02:00:00:00:00:0$i"
		echo "backend add $V6 2001:db8:9::$i --mac 02:00:00:00:01:0$i"
	done
	echo "backend set $V4 10.9.0.3 --drain"
}

# The configuration document (SPEC §9): a, 3 VIPs x 50 backends; b, the
# large change: per VIP 25 kept (every 5th reweighted, every 7th draining),
# 25 removed, 25 added.
write_doc() { # a|b
	local which=$1 v i w st sep vsep=""
	local vips=("10.0.1.1:80/tcp" "[2001:db8::2]:443/tcp" "10.0.1.1:53/udp")
	printf '{"vips": ['
	for v in 0 1 2; do
		printf '%s\n {"vip": "%s", "method": "dsr", "backends": [' "$vsep" "${vips[$v]}"
		vsep=, sep=""
		for i in $(seq 0 74); do
			[ "$which" = a ] && [ "$i" -ge 50 ] && continue
			[ "$which" = b ] && [ "$i" -ge 25 ] && [ "$i" -lt 50 ] && continue
			w=1 st=active
			if [ "$which" = b ] && [ "$i" -lt 25 ]; then
				[ $((i % 5)) -eq 0 ] && w=3
				[ $((i % 7)) -eq 3 ] && st=draining
			fi
			if [ "$v" -eq 1 ]; then
				printf '%s\n  {"addr": "2001:db8:9:1::%x"' "$sep" $((i + 1))
			else
				printf '%s\n  {"addr": "10.9.%d.%d"' "$sep" $((v + 1)) $((i + 1))
			fi
			printf ', "weight": %d, "state": "%s", "mac": "02:00:00:0%d:00:%02x"}' \
				"$w" "$st" "$v" $((i + 1))
			sep=,
		done
		printf ']}'
	done
	printf '\n]}\n'
}

# Back to nothing: chlb's own detach, then by force whatever it left.
force_clean() {
	c detach >/dev/null 2>&1
	ip -n "$NS" link set v0 xdpgeneric off 2>/dev/null
	ip -n "$NS" link set v0 xdpdrv off 2>/dev/null
	rm -rf -- "$PIN"
}

# Replay a command list (one command per line, words split on blanks).
replay() { # FILE
	local a
	while read -ra a; do
		c "${a[@]}" >/dev/null 2>>"$WORK/reset.err" || {
			echo "command failed: ${a[*]}: $(tail -1 "$WORK/reset.err")"
			return 1
		}
	done <"$1"
}

# KIND: none (detached), base or doc.
reset() { # KIND
	force_clean
	[ "$1" = none ] && return 0
	c "${ATTACH[@]}" >/dev/null 2>>"$WORK/reset.err" || {
		echo "attach failed: $(tail -1 "$WORK/reset.err")"
		return 1
	}
	replay "$TOP/$1"
}

# ---- the state as seen from outside -------------------------------------------

# The state into FILE: "M" lines, the configuration (status without
# program id, memory and drift; lists without ids, slots and shares; the
# pins); "L" lines, the live data plane (agree_pinned's verdict and table
# digests, slot counts, status's VIPs with their drift, the program on v0).
# One JSON object per line; raw outputs are kept in FILE.status, .agree, ...
# status's "recovered" says what that status run did (rolled back an
# interrupted command), not what the state is: left out.
snap() { # FILE
	local f=$1 src vrc brc arc
	c -j status >"$f.status" 2>/dev/null
	src=$?
	c -j vip list >"$f.vips" 2>/dev/null
	vrc=$?
	c -j backend list >"$f.backends" 2>/dev/null
	brc=$?
	ag --digest --lookup "$LOOKUPS" "$PIN" "$TUPLES" >"$f.agree" 2>&1
	arc=$?
	awk -v src="$src" -v vrc="$vrc" -v brc="$brc" -v arc="$arc" \
		-v pins="$(ls -A "$PIN" 2>/dev/null)" -v ipl="$(ip -n "$NS" link show v0)" \
		-v S="$f.status" -v V="$f.vips" -v B="$f.backends" -v A="$f.agree" '
	function pieces(s, arr) {
		gsub(/\},\{/, "},\n{", s)
		gsub(/\[\{/, "[\n{", s)
		gsub(/"error":"[^"]*not attached[^"]*"/, "\"error\":\"not attached\"", s)
		gsub(/,?"recovered":(true|false)/, "", s)
		return split(s, arr, "\n")
	}
	function out(tag, s, strip, n, i, p, x) {
		n = pieces(s, p)
		for (i = 1; i <= n; i++) {
			x = p[i]
			if (strip != "")
				gsub(strip, "", x)
			print tag x
		}
	}
	FILENAME == S { st = st $0 }
	FILENAME == V { vl = vl $0 }
	FILENAME == B { bl = bl $0 }
	FILENAME == A && /^digest / { dig[++nd] = $0 }
	FILENAME == A && /^prog id / { prog = $3 }
	END {
		print "M status rc=" src
		out("M status ", st, "\"(prog_id|memory_bytes)\":[0-9]+,?|,?\"drift\":(true|false)")
		print "M vips rc=" vrc
		out("M vips ", vl, "\"id\":[0-9]+,?")
		print "M backends rc=" brc
		out("M backends ", bl, "\"(id|slots|share)\":[^,}]*,?")
		gsub(/\n/, " ", pins)
		print "M pins: " pins
		print "L agree rc=" arc
		for (i = 1; i <= nd; i++)
			print "L " dig[i]
		out("L slots ", bl, "\"id\":[0-9]+,?")
		n = pieces(st, p)
		for (i = 1; i <= n; i++)
			if (p[i] ~ /"checksum"/)
				print "L status " p[i]
		xdp = ""
		if (match(ipl, /prog\/xdp[a-z]* id [0-9]+/)) {
			xdp = substr(ipl, RSTART, RLENGTH)
			sub(/.* /, "", xdp)
		}
		print "L xdp on v0: " (xdp == "" ? "none" : xdp == prog ? "the pinned program" : \
			"a program that is not the pinned one")
	}' "$f.status" "$f.vips" "$f.backends" "$f.agree" >"$f"
}

# The VIPs status -j reports drifted ("drift": true), as a reason.
drift_of() { # SNAP
	grep -q '"drift":true' "$1.status" &&
		echo "status reports drift on $(grep -o '"vip":"[^"]*"[^}]*"drift":true' "$1.status" |
			sed 's/"vip":"\([^"]*\)".*/\1/' | tr '\n' ' ' | sed 's/ $//'); "
}

# A status with VIPs but no per-VIP "drift" field: unknown, not a failure
# by itself (drift is then judged from the live tables alone); said once.
drift_note() { # SNAP
	grep -q '"checksum"' "$1.status" && ! grep -q '"drift":' "$1.status" &&
		mkdir "$TOP/drift-note" 2>/dev/null &&
		echo "NOTE: status -j has no per-VIP \"drift\" field yet: drift is judged from the" \
			"live tables alone"
}

# A snapshot's lines of one kind (M or L) as one field per line, each with
# its section and the VIP/address it belongs to, so a diff names them.
fields() { # SNAP LETTER
	sed -n "s/^$2 //p" "$1" | sed 's/[{}]//g' | awk '{
		sec = $1; n = split(substr($0, length(sec) + 2), f, ","); ctx = ""
		for (i = 1; i <= n; i++)
			if (f[i] ~ /^"(vip|address)":/) ctx = ctx f[i] " "
		for (i = 1; i <= n; i++)
			if (f[i] != "" && f[i] !~ /^"(vip|address)":/) print sec " " ctx f[i]
	}'
}

# The first few differences from REF to SNAP, on one line.
firstdiff() { # REF SNAP LETTER
	diff <(fields "$1" "$3") <(fields "$2" "$3") | grep '^[<>]' | head -4 | cut -c1-120 |
		sed 's/^< /-/; s/^> /+/' | tr '\n' ' ' | sed 's/ $//'
}

# Why a snapshot is none of the references: REFS are NAME:FILE pairs.
explain() { # SNAP REF...
	local f=$1 r name ref why="" m="" src
	shift
	if grep -q '^MISMATCH' "$f.agree"; then
		why="agree_pinned: $(sed -n 's/^agree_pinned: .*, \([0-9]*\) mismatches$/\1/p' "$f.agree") mismatches, first: $(grep -m1 '^MISMATCH' "$f.agree" | cut -c11-230); "
	elif grep -q '^L agree rc=2' "$f" && ! grep -qs '^L agree rc=2' "${1#*:}"; then
		why="agree_pinned: $(grep -m1 -v '^prog id' "$f.agree" | cut -c1-160); "
	fi
	why+=$(drift_of "$f")
	src=$(sed -n 's/^M status rc=//p' "$f")
	if [ "$src" -ge 124 ] || { [ "$src" -ne 0 ] && grep -qs '^M status rc=0' "${1#*:}"; }; then
		why+="status exit $src${src:+: }$(head -c 160 "$f.status"); "
	fi
	for r in "$@"; do
		name=${r%%:*} ref=${r#*:}
		if cmp -s <(grep '^M ' "$f") <(grep '^M ' "$ref"); then
			m="configuration as $name, live data plane differs: $(firstdiff "$ref" "$f" L)"
			grep -q '"drift":false' "$f.status" && m+=", status says no drift"
			break
		fi
	done
	if [ -z "$m" ]; then
		m="configuration is neither"
		for r in "$@"; do
			m+=" ${r%%:*} ($(firstdiff "${r#*:}" "$f" M))"
		done
	fi
	echo "$why$m"
}

# ---- one command --------------------------------------------------------------

# C's arguments (ARGV), its baseline (KIND) and, where one command takes the
# state after C back to the baseline, that command (UNDO): a point that
# ended well is undone by it instead of rebuilding the baseline, when
# `vip list -j` and `backend list -j` then equal the baseline's byte for
# byte (ids included); otherwise the baseline is rebuilt from nothing.
NAME="" KIND="" ARGV=() UNDO=()
define() { # NAME
	NAME=$1 KIND=base UNDO=()
	case $1 in
	attach) KIND=none ARGV=("${ATTACH[@]}") ;;
	detach) ARGV=(detach) ;;
	vip-add) ARGV=(vip add 10.0.0.3:443/tcp) UNDO=(vip del 10.0.0.3:443/tcp) ;;
	vip-del) ARGV=(vip del "$V4") ;;
	backend-add)
		ARGV=(backend add "$V4" 10.9.0.20 --weight 2 --mac 02:00:00:00:00:20)
		UNDO=(backend del "$V4" 10.9.0.20) ;;
	backend-del)
		ARGV=(backend del "$V6" 2001:db8:9::5)
		UNDO=(backend add "$V6" 2001:db8:9::5 --mac 02:00:00:00:01:05) ;;
	backend-weight)
		ARGV=(backend set "$V4" 10.9.0.4 --weight 3)
		UNDO=(backend set "$V4" 10.9.0.4 --weight 1) ;;
	backend-drain)
		ARGV=(backend set "$V6" 2001:db8:9::6 --drain)
		UNDO=(backend set "$V6" 2001:db8:9::6 --undrain) ;;
	config-apply)
		KIND=doc ARGV=(config apply "$TOP/doc_b.json")
		UNDO=(config apply "$TOP/doc_a.json") ;;
	esac
}

undo() {
	[ "${#UNDO[@]}" -gt 0 ] && c "${UNDO[@]}" >/dev/null 2>&1 &&
		c -j vip list 2>/dev/null | cmp -s - "$WORK/B.vips" &&
		c -j backend list 2>/dev/null | cmp -s - "$WORK/B.backends"
}

# Inject MODE at the Nth bpf() call of C (from the baseline) and judge.
# Prints a FAIL line and returns 1 for a bad point.
point() { # MODE N
	local mode=$1 n=$2 spec=signal=KILL rc rc2 st why=""
	[ "$mode" = EIO ] && spec=error=EIO
	# (not the subshell's last command: its shell, not ours, reports the kill)
	(strace -f -o /dev/null -e trace=bpf -e "inject=bpf:$spec:when=$n" timeout "$T" \
		nsenter --net="/run/netns/$NS" "$CHLB" -d "$PIN" "${ARGV[@]}" \
		>/dev/null 2>"$WORK/inj.err"; exit $?) 2>/dev/null
	rc=$?
	[ "$mode" = EIO ] && [ "$rc" -ge 124 ] && why="crashed or hung (exit $rc); "
	snap "$WORK/s1"
	if cmp -s "$WORK/s1" "$WORK/B"; then
		st=before
		[ "$mode" = EIO ] && [ "$rc" -eq 0 ] && why+="exit 0, but nothing changed; "
	elif cmp -s "$WORK/s1" "$WORK/E"; then
		st=after
		[ "$mode" = EIO ] && [ "$rc" -ne 0 ] &&
			why+="exit $rc ($(head -c 120 "$WORK/inj.err")), but the change was made; "
	else
		st=other
		why+="$(explain "$WORK/s1" "before:$WORK/B" "after:$WORK/E"); "
	fi
	if [ "$st" != after ]; then
		c "${ARGV[@]}" >/dev/null 2>"$WORK/retry.err"
		rc2=$?
		[ "$rc2" -ne 0 ] && why+="retry: exit $rc2 ($(head -c 160 "$WORK/retry.err")); "
		snap "$WORK/s2"
		cmp -s "$WORK/s2" "$WORK/E" ||
			why+="after the retry: $(explain "$WORK/s2" "after:$WORK/E"); "
	fi
	if [ -z "$why" ] && [ "$NAME" = attach ]; then
		replay "$TOP/base" >"$WORK/replay.out" ||
			why+="baseline on top of it: $(cat "$WORK/replay.out"); "
		snap "$WORK/s3"
		cmp -s "$WORK/s3" "$WORK/BASE" ||
			why+="baseline on top of it: $(explain "$WORK/s3" "baseline:$WORK/BASE"); "
	fi
	[ -z "$why" ] && return 0
	echo "FAIL: $NAME $mode@$n (exit $rc, state $st): ${why%; }"
	return 1
}

# A reference state must be consistent: agree_pinned content (unless
# detached), no drift reported.
healthy() { # SNAP
	{ grep -q '^L agree rc=0' "$1" || grep -q '^M status rc=2' "$1"; } && ! drift_of "$1" >/dev/null
}

# One command in every mode, at this worker's share of the points (N = w,
# w + JOBS, ... in units of the stride), recorded as "NAME MODE COUNT
# STRIDE OK BAD" lines in $TOP/results (COUNT 0: could not run).
run_command() { # NAME W
	local n stride=1 mode i ok bad t0 at=after why="" w=$2
	define "$1"
	if ! reset "$KIND" >"$WORK/reset.out"; then
		why="baseline: $(cat "$WORK/reset.out")"
	else
		snap "$WORK/B"
		healthy "$WORK/B" || why="the baseline is inconsistent: $(explain "$WORK/B")"
	fi
	[ -z "$why" ] &&
		! (strace -f -o "$WORK/count" -e trace=bpf timeout "$T" nsenter --net="/run/netns/$NS" \
		"$CHLB" -d "$PIN" "${ARGV[@]}" >/dev/null 2>"$WORK/count.err"; exit $?) 2>/dev/null &&
		why="fails without injection: $(head -c 200 "$WORK/count.err")"
	if [ -z "$why" ]; then
		n=$(grep -c 'bpf(' "$WORK/count")
		snap "$WORK/E"
		drift_note "$WORK/E"
		healthy "$WORK/E" ||
			why="without injection, leaves an inconsistent state: $(explain "$WORK/E")"
	fi
	if [ -n "$why" ]; then
		echo "FAIL: $NAME: $why"
		for mode in $MODES; do echo "$NAME $mode 0 1 0 1"; done >>"$TOP/results"
		return
	fi
	[ "$NAME" = attach ] && stride=$ATTACH_STRIDE
	for mode in $MODES; do
		ok=0 bad=0 t0=$SECONDS
		for ((i = 1 + (w - 1) * stride; i <= n; i += JOBS * stride)); do
			if [ "$at" != after ] || ! undo; then
				if ! reset "$KIND" >"$WORK/reset.out"; then
					echo "FAIL: $NAME $mode@$i: reset: $(cat "$WORK/reset.out")"
					bad=$((bad + 1)) at=unknown
					continue
				fi
			fi
			if point "$mode" "$i"; then
				ok=$((ok + 1)) at=after
			else
				bad=$((bad + 1)) at=unknown
			fi
		done
		echo "$NAME $mode, worker $w: $ok ok / $bad bad ($((SECONDS - t0)) s)"
		echo "$NAME $mode $n $stride $ok $bad" >>"$TOP/results"
	done
}

# Worker W: its own namespace and pins, its share of every command's points.
worker() { # W
	local cmd w=$1
	worker_names "$w"
	if ! { mkdir -p "$WORK" && ip netns add "$NS" &&
		ip -n "$NS" link add v0 type veth peer name v1 &&
		ip -n "$NS" link set v0 up && ip -n "$NS" link set v1 up; }; then
		echo "FAIL: worker $w: cannot build its namespace $NS"
		return
	fi
	# The reference for "attach, then the baseline": the baseline itself.
	if ! reset base >"$WORK/reset.out"; then
		echo "FAIL: the baseline cannot be built: $(cat "$WORK/reset.out")"
		return
	fi
	snap "$WORK/BASE"
	if ! healthy "$WORK/BASE"; then
		echo "FAIL: the baseline is inconsistent before any injection: $(explain "$WORK/BASE")"
		return
	fi
	for cmd in $COMMANDS; do
		run_command "$cmd" "$w"
	done
	force_clean
}

remove_stale
trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir -p "$TOP" || exit 1
write_base >"$TOP/base"
write_doc a >"$TOP/doc_a.json"
write_doc b >"$TOP/doc_b.json"
echo "config apply $TOP/doc_a.json" >"$TOP/doc"
: >"$TOP/results"

COMMANDS=""
for cmd in attach detach vip-add vip-del backend-add backend-del backend-weight backend-drain \
	config-apply; do
	[ -z "$ONLY" ] || [[ " $ONLY " == *" $cmd "* ]] && COMMANDS+=" $cmd"
done
if [[ $COMMANDS == *config-apply* ]] && ! "$CHLB" config apply --help >/dev/null 2>&1; then
	echo "config apply: not in this chlb ('chlb config apply --help' fails): not tested"
	COMMANDS=${COMMANDS/ config-apply/}
fi
echo "faults: every bpf() call of:$COMMANDS; modes $MODES; per check $TUPLES tuples per VIP" \
	"through the pinned program, $LOOKUPS per VIP through chlb lookup"
[ "$ATTACH_STRIDE" -gt 1 ] && [[ $COMMANDS == *attach* ]] &&
	echo "attach: sampled, one bpf() call in $ATTACH_STRIDE (FAULTS_ATTACH_STRIDE)"

t0=$SECONDS
for ((w = 1; w <= JOBS; w++)); do
	if [ "$JOBS" -gt 1 ]; then
		worker "$w" &
		WPIDS+=($!)
	else
		worker "$w"
	fi
done
for p in "${WPIDS[@]+"${WPIDS[@]}"}"; do wait "$p"; done
WPIDS=()

echo
total=0 runs=0 nbad=0
for cmd in $COMMANDS; do
	line="" n="" stride=1
	for mode in $MODES; do
		r=$(awk -v c="$cmd" -v m="$mode" '$1 == c && $2 == m {
			k++; if (!n || $3 < n) n = $3; if ($3 > x) x = $3; s = $4; ok += $5; bad += $6 }
			END { if (k) print n, x, s, ok, bad + ('"$JOBS"' - k) }' "$TOP/results")
		if [ -z "$r" ]; then
			line+=", $mode: not run"
			nbad=$((nbad + 1))
			continue
		fi
		read -r cnt cmax stride ok bad <<<"$r"
		n=${n:-$cnt} runs=$((runs + ok + bad)) nbad=$((nbad + bad))
		line+=", $mode: $ok ok / $bad bad"
		[ "$cnt" != "$cmax" ] && line+=" (the workers counted $cnt and $cmax calls)"
	done
	pts=$(((${n:-0} + stride - 1) / stride))
	total=$((total + pts))
	[ "$stride" -gt 1 ] && note=" (one in $stride injected: $pts)" || note=""
	echo "$cmd: ${n:-0} points$note$line"
done
echo "faults: $total injection points exercised ($runs injected runs: ${MODES// / + }), $nbad bad," \
	"$((SECONDS - t0)) s"
[ "$nbad" -eq 0 ]
