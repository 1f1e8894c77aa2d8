# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shared by the CLI shell suites (sourced, not run): a namespace with a veth
# pair for chlb, a peer namespace that answers ARP, a unique pin directory,
# and PASS/FAIL bookkeeping. Needs CHLB (path of the binary) and ID.

CHLB=${CHLB:-$PWD/${BUILD:-build}/chlb}
NS=chlbcli$ID
PEER=chlbclip$ID
PIN=/sys/fs/bpf/chlb-cli-$ID
passed=0
failed=0
PIDS=()

ok() { echo "PASS: $1"; passed=$((passed + 1)); }
ko() { echo "FAIL: $1${2:+ ($2)}"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else ko "$name"; fi; }

need_root() {
	if [ "$(id -u)" -ne 0 ] || [ ! -x "$CHLB" ]; then
		echo "SKIPPED: needs root and $CHLB"
		exit 77
	fi
}

# chlb inside the namespace (`ip netns exec` would hide the bpffs pins).
c() { nsenter --net="/run/netns/$NS" "$CHLB" -d "$PIN" "$@"; }

ERRF=$(mktemp)
# Run chlb; sets $out, $err, $rc for the caller.
# shellcheck disable=SC2034
run() { out=$(c "$@" 2>"$ERRF"); rc=$?; err=$(cat "$ERRF"); }

is_json() { python3 -c 'import json,sys; json.loads(sys.stdin.read())' <<<"$1" 2>/dev/null; }

# Python expression on the parsed JSON in $1, printed.
jq_py() { python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print($2)" <<<"$1"; }

# Leftovers of earlier runs whose shell is gone (names end in its PID).
remove_stale() {
	local n pid p
	for n in $(ip netns list | awk '{print $1}' | grep -E '^chlbcli[pz]?[0-9]+$'); do
		pid=${n##*[!0-9]}
		kill -0 "$pid" 2>/dev/null || ip netns del "$n" 2>/dev/null
	done
	for p in /sys/fs/bpf/chlb-cli-* /tmp/chlb-cli-*; do
		[ -e "$p" ] || [ -L "$p" ] || continue
		pid=${p##*-}
		pid=${pid%%x*}
		kill -0 "$pid" 2>/dev/null && continue
		# a symlink or file made by a hardening case: remove it, not its target
		if [ -L "$p" ] || [ ! -d "$p" ]; then rm -f "$p"; continue; fi
		rm -f "$p"/* 2>/dev/null
		rmdir "$p" 2>/dev/null
	done
}

cleanup() {
	local p d
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for d in "$PIN" "$PIN"x* /tmp/chlb-cli-"$ID"*; do
		if [ -L "$d" ] || [ -f "$d" ]; then rm -f "$d"; continue; fi
		[ -d "$d" ] || continue
		nsenter --net="/run/netns/$NS" "$CHLB" -d "$d" detach >/dev/null 2>&1
		rm -f "$d"/* 2>/dev/null
		rmdir "$d" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
	ip netns del "$PEER" 2>/dev/null
	ip netns del "chlbcliz$ID" 2>/dev/null
	rm -f "$ERRF"
}

# v0 (10.9.0.1, chlb) in $NS <-> v1 (10.9.0.2) in $PEER; a second pair
# w0/w1 for a second instance; x0/x1 and y0/y1 for the hardening cases.
make_topology() {
	local p
	ip netns add "$NS" && ip netns add "$PEER" || return 1
	for p in v w x y; do
		ip -n "$NS" link add ${p}0 type veth peer name ${p}1 netns "$PEER" || return 1
	done
	ip -n "$NS" addr add 10.9.0.1/24 dev v0
	ip -n "$NS" addr add 2001:db8:9::1/64 dev v0 nodad
	ip -n "$PEER" addr add 10.9.0.2/24 dev v1
	ip -n "$PEER" addr add 2001:db8:9::2/64 dev v1 nodad
	for p in v w x y; do
		ip -n "$NS" link set ${p}0 up && ip -n "$PEER" link set ${p}1 up || return 1
	done
}

# Everything a suite does before its first case: skip unless root, clear
# earlier runs' leftovers, clean up on any exit, build the topology.
setup() {
	need_root
	remove_stale
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	make_topology
}

finish() {
	echo "cli: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
