#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# End-to-end latency of `chlb backend add` (process start, lock, state read,
# ring rebuild, table swap) with 1000 backends present in the VIP at the
# default table size and vnodes; `backend del` alongside. Target: add
# <= 50 ms. Figures go to $BENCH_JSON.
set -u
ID=$$
cd "$(dirname "$0")/.." || exit 1
. tests/sh/cli_lib.bash
setup || { echo "bench_cli: cannot build the topology"; exit 1; }
# Overridable to see where the time goes, e.g. CHLB_BENCH_VNODES=160.
PRESENT=${CHLB_BENCH_BACKENDS:-1000}
ROUNDS=${CHLB_BENCH_ROUNDS:-21}
VNODES=${CHLB_BENCH_VNODES:+--vnodes $CHLB_BENCH_VNODES}
VIP=10.0.0.100:80/tcp

mac() { printf '02:00:%02x:%02x:%02x:%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) \
	$(($1 >> 8 & 255)) $(($1 & 255)); }
addr() { echo "10.$(($1 >> 16 & 255)).$(($1 >> 8 & 255)).$(($1 & 255 | 1))"; }
now_ns() { date +%s%N; }

# shellcheck disable=SC2086 # VNODES is two words or none
c attach v0 --xdp-mode skb $VNODES >/dev/null && c vip add $VIP || exit 1
echo "bench_cli: adding $PRESENT backends (one chlb run each)..."
t0=$(now_ns)
for i in $(seq 1 "$PRESENT"); do
	c backend add $VIP "$(addr $((i * 2)))" --mac "$(mac "$i")" || exit 1
done
setup_ms=$(( ($(now_ns) - t0) / 1000000 ))

add_ms=() del_ms=()
for r in $(seq 1 "$ROUNDS"); do
	a=$(addr $((1000000 + r * 2)))
	t0=$(now_ns)
	c backend add $VIP "$a" --mac "$(mac $((900000 + r)))" || exit 1
	t1=$(now_ns)
	c backend del $VIP "$a" || exit 1
	t2=$(now_ns)
	add_ms+=("$(( (t1 - t0) / 1000 ))")
	del_ms+=("$(( (t2 - t1) / 1000 ))")
done
status=$(c -j status)

python3 - "$BENCH_JSON" "$PRESENT" "$setup_ms" "$status" "${add_ms[*]}" "${del_ms[*]}" <<'PY'
import json, statistics, sys
out, present, setup_ms, status = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
add = sorted(int(x) / 1000 for x in sys.argv[5].split())
dele = sorted(int(x) / 1000 for x in sys.argv[6].split())
p90 = lambda v: v[min(len(v) - 1, int(len(v) * 0.9))]
fig = {
    "backends_present": present,
    "table_size": status["table_size"],
    "vnodes": status["vnodes"],
    "rounds": len(add),
    "add_ms_min": add[0], "add_ms_median": statistics.median(add), "add_ms_p90": p90(add),
    "del_ms_min": dele[0], "del_ms_median": statistics.median(dele), "del_ms_p90": p90(dele),
    "setup_ms_total": setup_ms,
    "target_add_ms": 50,
}
fig["target_met"] = fig["add_ms_median"] <= 50
print(f"backend add, {present} present, M={fig['table_size']} V={fig['vnodes']}: "
      f"median {fig['add_ms_median']:.1f} ms, p90 {fig['add_ms_p90']:.1f} ms, "
      f"min {fig['add_ms_min']:.1f} ms (target <= 50 ms: {'met' if fig['target_met'] else 'NOT met'})")
print(f"backend del: median {fig['del_ms_median']:.1f} ms, p90 {fig['del_ms_p90']:.1f} ms")
if out:
    with open(out, "w") as f:
        json.dump(fig, f, indent=2)
PY
