#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: chlb balancing real HTTP traffic on a virtual testbed, from
# nothing to torn down. Every step prints what it does and why.
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
TB_ID=demo$$
. scripts/testbed.sh
CLIENT="python3 $PWD/tests/traffic/http_client.py"
VIP=$TB_VIP4:$TB_HTTP_PORT/tcp
LOG=$(mktemp /tmp/chlb-demo.XXXXXX)

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
say() { printf '    %s\n' "$@"; }
run() { printf '    $ chlb %s\n' "$*"; tb_chlb "$@" | sed 's/^/    /'; }

# Who served N connections from the client: "b1 150  b2 148 ..."
served() {
	python3 - "$1" <<-'EOF'
	import collections, json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	c = collections.Counter(r["backend"] or "FAILED" for r in recs)
	print("  ".join("%s: %d (%.0f%%)" % (k, v, 100 * v / len(recs))
	                for k, v in sorted(c.items())))
	EOF
}

cleanup() {
	step "Tearing down: chlb detach, namespaces and servers removed"
	tb_chlb detach >/dev/null 2>&1
	tb_down
	rm -f "$LOG"
	say "done."
}

main() {
	[ "$(id -u)" -eq 0 ] || { echo "Error: the demo needs root (namespaces, XDP)" >&2; exit 1; }
	step "Checking dependencies and the build"
	scripts/install-deps.sh || exit 1
	[ -x "$CHLB" ] || make --no-print-directory BUILD="$BUILD" all || exit 1
	say "chlb: $CHLB"

	trap cleanup EXIT
	trap 'exit 1' INT TERM
	step "Building the testbed: network namespaces on one virtual L2 segment"
	TB_QUIET=1 tb_up || exit 1
	say "client  $(tb_ip4 cl)     sends to the VIP $TB_VIP4, routed via the LB" \
	    "lb      $(tb_ip4 lb)       runs chlb (XDP, native mode) on eth0" \
	    "b1..b3  $(tb_ip4 b1)..13  nginx answering with their own name;" \
	    "                          VIP on lo, replies go straight to the client (DSR)"

	step "Attaching chlb to the load balancer's interface"
	run attach eth0 --xdp-mode native
	step "Declaring the VIP and three backends with weights 1, 1 and 2"
	run vip add "$VIP"
	run backend add "$VIP" "$(tb_ip4 b1)" --weight 1
	run backend add "$VIP" "$(tb_ip4 b2)" --weight 1
	run backend add "$VIP" "$(tb_ip4 b3)" --weight 2
	say "Each backend owns a share of the VIP's slot table, in proportion to its weight:"
	run backend list

	step "Sending 1000 real HTTP requests (new TCP connection each) from the client"
	tb_exec cl $CLIENT conns "$TB_VIP4" 1000 >"$LOG"
	say "served by: $(served "$LOG")"
	say "What the XDP program counted (packets, bytes, new flows per backend):"
	run stats

	step "Live counters: 'chlb stats --watch 1' for 3 seconds while traffic runs"
	tb_exec cl $CLIENT load "$TB_VIP4" 5 --threads 2 >/dev/null &
	local load=$!
	sleep 0.5
	printf '    $ chlb stats --watch 1\n'
	timeout -s INT 3.5 nsenter --net="$TB_LB_NS" "$CHLB" -d "$TB_PIN" stats "$VIP" --watch 1 |
		sed 's/^/    /'
	wait "$load"

	step "Removing b3 while traffic runs: its flows move to b1 and b2, nothing else moves"
	tb_exec cl $CLIENT load "$TB_VIP4" 4 --threads 2 >"$LOG" &
	load=$!
	sleep 2
	local t_del t_done
	t_del=$(date +%s.%N)
	run backend del "$VIP" "$(tb_ip4 b3)"
	t_done=$(date +%s.%N)
	wait "$load"
	say "Connections by start time (one open at the very moment of removal may be" \
	    "reset: its next packet goes to the new owner of its slot):"
	python3 - "$LOG" "$t_del" "$t_done" <<-'EOF'
	import collections, json, sys
	recs = [json.loads(l) for l in open(sys.argv[1])]
	t0, t1 = float(sys.argv[2]), float(sys.argv[3])
	for label, part in (("before the removal", [r for r in recs if r["ts"] < t0]),
	                    ("during the removal", [r for r in recs if t0 <= r["ts"] <= t1]),
	                    ("after the removal ", [r for r in recs if r["ts"] > t1])):
	    c = collections.Counter(r["backend"] or "FAILED" for r in part)
	    print("    %s: %s" % (label, "  ".join("%s: %d" % kv for kv in sorted(c.items()))))
	EOF
	run backend list
	run stats
}

main "$@"
