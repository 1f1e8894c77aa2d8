#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Packets per second through the load balancer on the testbed, beside an
# XDP_TX baseline on the same topology with the same generator:
#   generator  tests/traffic/xdpgen + gen_tx.bpf.c in the client namespace
#              (BPF_PROG_TEST_RUN, live frames: 60-byte UDP frames to the
#              VIP, a new source port each)
#   baseline   gen_fwd.bpf.c on the LB's eth0: fixed-destination MAC
#              rewrite + XDP_TX to b1
#   chlb       chlb attached natively, UDP VIP, backends b1 b2 b3 (1, 1, 2)
#   counted    on the backends' eth0 by gen_count.bpf.c (count and drop)
# pps = frames received on the backends / generator run time (frames lost on
# the way count against it). Rounds alternate baseline and chlb; the best and
# the median of each are reported, the ratio is taken on the best: on a small
# shared machine other work only ever lowers a round, so the best round is the
# least disturbed view of both.
# The routed row (method ipip): the same generator and frames on
# scripts/testbed_routed.sh, client -> LB (chlb encapsulates, XDP_TX to the
# router) -> router (kernel forwarding) -> backends on another subnet, which
# count what their `chlb decap` stripped (and then drop it in their stack:
# no socket on that port). So it includes the router's forwarding and the
# backends' stack, which the L2 row does not; the LB's own output (chlb's
# tx counter over the run time) is printed beside it.
# Figures go to $BENCH_JSON. Exit 77 when it cannot run here.
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
TB_ID=bench$$
. scripts/testbed.sh
BENCH_JSON=${BENCH_JSON:-/dev/null}
PACKETS=${E2E_BENCH_PACKETS:-1000000}
ROUNDS=${E2E_BENCH_ROUNDS:-5}
GEN=$TB_BUILD/traffic/xdpgen
UVIP=$TB_VIP4:$TB_UDP_PORT/udp

[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: bench_e2e needs root"; exit 77; }
[ -x "$CHLB" ] || { echo "bench_e2e: $CHLB not built" >&2; exit 1; }

# The generator is a small libbpf program built here, beside the Makefile's
# objects (it needs build/gen_tx.skel.h from the Makefile's BPF rules).
build_gen() {
	mkdir -p "$(dirname "$GEN")"
	[ -f "$TB_BUILD/gen_tx.skel.h" ] ||
		make --no-print-directory BUILD="$BUILD" "$BUILD/gen_tx.skel.h" || return 1
	[ "$GEN" -nt tests/traffic/xdpgen.c ] && [ "$GEN" -nt "$TB_BUILD/gen_tx.skel.h" ] && return 0
	${CC:-gcc} -O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -Iinclude \
		-I"$TB_BUILD" tests/traffic/xdpgen.c -o "$GEN" \
		$(pkg-config --cflags --libs libbpf)
}

received() {
	local b n=0
	for b in b1 b2 b3; do
		n=$((n + $(tb_counter_read "$b")))
	done
	echo "$n"
}

# One run: prints "received seconds pps" (RECEIVED, GEN_PORT: the routed row's).
run_gen() {
	local before after out secs
	before=$(${RECEIVED:-received})
	# One CPU for the generator, so a round is not split by migrations.
	out=$(tb_nsenter cl taskset -c 0 "$GEN" eth0 "$(tb_mac lb)" "$(tb_mac cl)" "$(tb_ip4 cl)" \
		"$TB_VIP4" "${GEN_PORT:-$TB_UDP_PORT}" "$PACKETS") || return 1
	sleep 0.2	# let the last frames drain through the bridge
	after=$(${RECEIVED:-received})
	secs=$(echo "$out" | awk '{print $5}')
	python3 -c "r = $after - $before; print(r, $secs, int(r / $secs))"
}

baseline_on() {
	local d=$TB_PINS/fwd m
	mkdir -p "$d"
	bpftool prog load "$TB_BPF/gen_fwd.bpf.o" "$d/prog" type xdp pinmaps "$d" || return 1
	# struct gen_cfg: dst_mac (b1) src_mac (lb) port proto drop
	m="$(tb_mac b1 | tr ':' ' ' | sed 's/[0-9a-f][0-9a-f]/0x&/g') $(tb_mac lb | tr ':' ' ' |
		sed 's/[0-9a-f][0-9a-f]/0x&/g')"
	bpftool map update pinned "$d/cfg" key 0 0 0 0 value $m \
		$((TB_UDP_PORT >> 8)) $((TB_UDP_PORT & 255)) 17 0 || return 1
	tb_nsenter lb bpftool net attach xdpdrv pinned "$d/prog" dev eth0
}

baseline_off() {
	tb_nsenter lb bpftool net detach xdpdrv dev eth0
	rm -rf "$TB_PINS/fwd"
}

chlb_on() {
	local b w
	tb_chlb attach eth0 --xdp-mode native >/dev/null || return 1
	tb_chlb vip add "$UVIP" || return 1
	for b in b1 b2 b3; do
		w=1; [ "$b" = b3 ] && w=2
		tb_chlb backend add "$UVIP" "$(tb_ip4 "$b")" --weight "$w" || return 1
	done
}

chlb_off() { tb_chlb detach >/dev/null; }

# ---- the routed row -----------------------------------------------------------

ROUTED_PORT=5399	# no socket on the backends: the stack drops what decap passes

routed_received() {
	local b n=0
	for b in b1 b2 b3; do
		n=$((n + $(rt_decap_count "$b")))
	done
	echo "$n"
}

routed_tx() {
	tb_chlb -j stats | python3 -c 'import json, sys; print(json.load(sys.stdin)["global"]["tx"])'
}

routed_on() {
	local b w v=$TB_VIP4:$ROUTED_PORT/udp
	tb_chlb attach eth0 --xdp-mode native >/dev/null || return 1
	tb_chlb vip add "$v" --method ipip || return 1
	for b in b1 b2 b3; do
		w=1; [ "$b" = b3 ] && w=2
		tb_chlb backend add "$v" "$(tb_ip4 "$b")" --weight "$w" || return 1
	done
}

# routed_rounds OUT: ROUNDS runs through chlb ipip on the routed testbed;
# OUT gets "pps..." and "lbtx..." lines. A subshell: the routed testbed
# redefines testbed.sh's addresses and names.
routed_rounds() (
	local out=$1 i r t0 t1 pps=() tx=()
	TB_ID=benchr$$
	. scripts/testbed_routed.sh
	trap tb_down EXIT
	trap 'exit 1' INT TERM
	TB_QUIET=1 rt_up >/dev/null || { echo "bench_e2e: routed testbed up failed" >&2; exit 1; }
	routed_on || exit 1
	RECEIVED=routed_received GEN_PORT=$ROUTED_PORT
	run_gen >/dev/null	# warm-up, not counted
	for i in $(seq "$ROUNDS"); do
		t0=$(routed_tx)
		r=$(run_gen) || exit 1
		t1=$(routed_tx)
		set -- $r
		pps+=("$3")
		tx+=("$(python3 -c "print(int(($t1 - $t0) / $2))")")
		echo "round $i: chlb ipip, routed         $3 pps ($1 received in $2 s; the LB sent ${tx[-1]} pps)"
	done
	tb_chlb stats | sed -n '4,7p'
	echo "pps ${pps[*]}" >"$out"
	echo "lbtx ${tx[*]}" >>"$out"
)

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
best() { printf '%s\n' "$@" | sort -n | tail -1; }

main() {
	local i r base=() lb=() base_rx=0 lb_rx=0 routed=() lbtx=() rfile
	build_gen || exit 1
	trap tb_down EXIT
	trap 'exit 1' INT TERM
	tb_up >/dev/null || { echo "bench_e2e: testbed up failed" >&2; exit 1; }
	for b in b1 b2 b3; do
		tb_counter_cfg "$b" "$TB_UDP_PORT" udp 1 || exit 1
	done
	echo "$PACKETS packets per run, $ROUNDS rounds; counted on b1..b3"
	# Warm-up (not counted): the first run after bring-up loses frames
	# while the bridge learns and the veth queues come up.
	baseline_on && run_gen >/dev/null
	baseline_off
	for i in $(seq "$ROUNDS"); do
		baseline_on || exit 1
		r=$(run_gen) || exit 1
		baseline_off
		set -- $r; base+=("$3"); base_rx=$1
		echo "round $i: baseline XDP_TX forwarder  $3 pps ($1 received in $2 s)"
		chlb_on || exit 1
		r=$(run_gen) || exit 1
		set -- $r; lb+=("$3"); lb_rx=$1
		echo "round $i: chlb                       $3 pps ($1 received in $2 s)"
		tb_chlb stats "$UVIP" | sed -n '4,7p'
		chlb_off
	done
	rfile=$(mktemp)
	routed_rounds "$rfile" || { rm -f "$rfile"; exit 1; }
	read -r _ routed < <(grep '^pps' "$rfile")
	read -r _ lbtx < <(grep '^lbtx' "$rfile")
	rm -f "$rfile"
	python3 - "$BENCH_JSON" "$(best "${base[@]}")" "$(best "${lb[@]}")" \
		"$(median "${base[@]}")" "$(median "${lb[@]}")" \
		"$PACKETS" "$base_rx" "$lb_rx" \
		"$(best $routed)" "$(median $routed)" "$(best $lbtx)" "$(median $lbtx)" <<-'EOF'
	import json, sys
	out = sys.argv[1]
	base, lb, base_med, lb_med, sent, base_rx, lb_rx = map(int, sys.argv[2:9])
	ripip, ripip_med, rtx, rtx_med = map(int, sys.argv[9:13])
	ratio = lambda a, b: round(a / b, 3) if b else 0.0
	fig = {"packets_per_run": sent, "frame_bytes": 60,
	       "baseline_xdp_tx_pps": base, "chlb_pps": lb, "ratio": ratio(lb, base),
	       "baseline_xdp_tx_pps_median": base_med, "chlb_pps_median": lb_med,
	       "ratio_median": ratio(lb_med, base_med),
	       "baseline_received_last": base_rx, "chlb_received_last": lb_rx,
	       "target_ratio": 0.9,
	       "routed_ipip_pps": ripip, "routed_ipip_pps_median": ripip_med,
	       "routed_ipip_lb_tx_pps": rtx, "routed_ipip_lb_tx_pps_median": rtx_med}
	print("%-22s %12s %12s" % ("e2e throughput", "best pps", "median pps"))
	print("%-22s %12d %12d" % ("XDP_TX baseline", base, base_med))
	print("%-22s %12d %12d" % ("chlb", lb, lb_med))
	print("%-22s %12d %12d   (received behind a router; the LB sent %d / %d)" % (
	      "chlb ipip, routed", ripip, ripip_med, rtx, rtx_med))
	print("%-22s %11.1f%% %11.1f%%   (target >= 90%%)" % ("chlb / baseline",
	      100 * fig["ratio"], 100 * fig["ratio_median"]))
	json.dump(fig, open(out, "w"), indent=2)
	EOF
}

main "$@"
