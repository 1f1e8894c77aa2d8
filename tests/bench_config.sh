#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# End-to-end latency of `chlb config apply` (SPEC §9) with the real binary,
# beside the per-command path it replaces, measured in the same run:
#   1. create 10 VIPs x 100 backends (every backend with "mac": no neighbour
#      resolution) on an empty instance with one document; target <= 250 ms
#      median; the -j output must report 10 swaps (one per changed VIP).
#      Rounds of the same 10x100 built with 1010 commands (10 `vip add`,
#      1000 `backend add`) are interleaved with them; `config export` of the
#      10x100 instance is timed in every round.
#   2. in a VIP of 1000 backends (a second instance), a document that adds
#      one backend and one that changes one backend's weight; target <= 50 ms
#      median, 1 swap each. Interleaved (order rotated every round) with
#      `backend add`/`del` and `backend set --weight` of the same backend.
# A swap count other than the expected one fails the bench. Figures go to
# $BENCH_JSON as one object.
set -u
# shellcheck disable=SC2034 # ID names cli_lib.bash's namespaces and pins
ID=$$
cd "$(dirname "$0")/.." || exit 1
. tests/sh/cli_lib.bash
setup || { echo "bench_config: cannot build the topology"; exit 1; }
TMPD=$(mktemp -d)
trap 'cleanup; rm -rf "$TMPD"' EXIT

ROUNDS=${CHLB_BENCH_ROUNDS:-15}		# document creates of 10x100
CMD_ROUNDS=${CHLB_BENCH_CMD_ROUNDS:-3}	# the same with 1010 commands
ROUNDS2=${CHLB_BENCH_ROUNDS2:-21}	# one-backend changes in a 1000-backend VIP
NVIPS=10
PER_VIP=100
BIG=1000
BIGVIP=10.0.0.100:80/tcp
T_CREATE=250
T_CHANGE=50

die() { echo "bench_config: FAIL: $*" >&2; exit 1; }
# The second instance: its own pin directory (cleanup() detaches "$PIN"x*)
# on the second veth pair.
c2() { nsenter --net="/run/netns/$NS" "$CHLB" -d "${PIN}x2" "$@"; }
# Run "$@"; dt = its wall time in microseconds ($EPOCHREALTIME: no fork).
timed() {
	local t0=${EPOCHREALTIME//[!0-9]/} rc
	"$@"
	rc=$?
	dt=$((${EPOCHREALTIME//[!0-9]/} - t0))
	return $rc
}
# apply INSTANCE FILE SWAPS WHAT: time `config apply -j FILE`, check the swaps
# it reports; dt as timed(), res = its JSON line.
apply() {
	timed "$1" -j config apply "$2" >"$TMPD/out" || die "$4: config apply $2 failed"
	res=$(<"$TMPD/out")
	[[ $res =~ \"swaps\":([0-9]+) ]] || die "$4: no swap count in '$res'"
	[ "${BASH_REMATCH[1]}" -eq "$3" ] ||
		die "$4: ${BASH_REMATCH[1]} swaps reported, expected $3 ('$res')"
}

# Documents, and the commands building the same 10x100, generated up front.
python3 - "$TMPD" "$NVIPS" "$PER_VIP" "$BIG" "$BIGVIP" <<'PY' || die "cannot write the documents"
import json, sys
d, nvips, per_vip, big, bigvip = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
mac = lambda i: "02:00:%02x:%02x:%02x:%02x" % (i >> 24 & 255, i >> 16 & 255, i >> 8 & 255, i & 255)
addr = lambda i: "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255 | 1)
def dump(name, doc):
    with open(f"{d}/{name}", "w") as f:
        json.dump(doc, f, indent=1)
dump("empty.json", {"vips": []})
vips = [{"vip": f"10.200.0.{v + 1}:80/tcp",
         "backends": [{"addr": addr(2 * (v * per_vip + b + 1)), "mac": mac(v * per_vip + b + 1)}
                      for b in range(per_vip)]} for v in range(nvips)]
dump("create.json", {"vips": vips})
with open(f"{d}/create.cmds", "w") as f:
    for v in vips:
        for b in v["backends"]:
            f.write(f'{v["vip"]} {b["addr"]} {b["mac"]}\n')
base = [{"addr": addr(2 * i), "mac": mac(i)} for i in range(1, big + 1)]
extra = {"addr": addr(1000000 + 2), "mac": mac(900001)}
dump("base.json", {"vips": [{"vip": bigvip, "backends": base}]})
dump("plus1.json", {"vips": [{"vip": bigvip, "backends": base + [extra]}]})
w = [dict(b) for b in base]
w[big // 2]["weight"] = 2
dump("weight.json", {"vips": [{"vip": bigvip, "backends": w}]})
with open(f"{d}/big.vars", "w") as f:
    f.write(f'XADDR={extra["addr"]} XMAC={extra["mac"]} WADDR={base[big // 2]["addr"]}\n')
PY
mapfile -t CMDS <"$TMPD/create.cmds"
# shellcheck disable=SC1091 # written just above
. "$TMPD/big.vars"
VIPS=()
for l in "${CMDS[@]}"; do
	v=${l%% *}
	[[ " ${VIPS[*]-} " == *" $v "* ]] || VIPS+=("$v")
done

c attach v0 --xdp-mode skb >/dev/null || die "attach v0"
c2 attach w0 --xdp-mode skb >/dev/null || die "attach w0"
start=$SECONDS

# ---- 1. create 10x100: one document against 1010 commands -----------------
create_doc=() export_us=() create_cmd=() clear_us=()
cmd_round() {
	local l v a m t0 n=0
	apply c "$TMPD/empty.json" 0 "clear before commands"
	t0=${EPOCHREALTIME//[!0-9]/}
	for v in "${VIPS[@]}"; do
		c vip add "$v" || die "vip add $v"
		n=$((n + 1))
	done
	for l in "${CMDS[@]}"; do
		read -r v a m <<<"$l"
		c backend add "$v" "$a" --mac "$m" || die "backend add $v $a"
		n=$((n + 1))
	done
	create_cmd+=("$((${EPOCHREALTIME//[!0-9]/} - t0))")
	NCMDS=$n
	# Same configuration as the document's: the same bytes exported.
	c config export >"$TMPD/export.cmd" || die "config export"
	cmp -s "$TMPD/export.cmd" "$TMPD/export.doc" ||
		die "1010 commands and the document left different configurations"
}
echo "bench_config: $NVIPS x $PER_VIP by document ($ROUNDS rounds)," \
	"by $((NVIPS + NVIPS * PER_VIP)) commands ($CMD_ROUNDS rounds, interleaved)..."
for r in $(seq 1 "$ROUNDS"); do
	apply c "$TMPD/empty.json" 0 "clear"
	clear_us+=("$dt")
	apply c "$TMPD/create.json" "$NVIPS" "create $NVIPS x $PER_VIP"
	create_doc+=("$dt")
	create_res=$res
	timed c config export >"$TMPD/export.doc" || die "config export"
	export_us+=("$dt")
	if [ "$r" -eq 1 ]; then
		# export > f; apply f changes nothing
		apply c "$TMPD/export.doc" 0 "apply of the exported document"
		noop_us=$dt
	fi
	# CMD_ROUNDS command rounds spread evenly among the document rounds
	if [ $((r * CMD_ROUNDS / ROUNDS)) -gt $(((r - 1) * CMD_ROUNDS / ROUNDS)) ]; then
		cmd_round
		echo "  round $r: document $((create_doc[-1] / 1000)) ms," \
			"$NCMDS commands $((create_cmd[-1] / 1000)) ms"
	fi
done
export_bytes=$(wc -c <"$TMPD/export.doc")

# ---- 2. one backend changed in a VIP of 1000 -------------------------------
apply c2 "$TMPD/base.json" 1 "create the $BIG-backend VIP"
add_doc=() del_doc=() w_doc=() wback_doc=() add_cmd=() del_cmd=() w_cmd=() wback_cmd=()
op() {
	case $1 in
	0)	apply c2 "$TMPD/plus1.json" 1 "add one backend by document"; add_doc+=("$dt")
		apply c2 "$TMPD/base.json" 1 "remove it by document"; del_doc+=("$dt") ;;
	1)	apply c2 "$TMPD/weight.json" 1 "change one weight by document"; w_doc+=("$dt")
		apply c2 "$TMPD/base.json" 1 "restore the weight by document"; wback_doc+=("$dt") ;;
	2)	timed c2 backend add "$BIGVIP" "$XADDR" --mac "$XMAC" || die "backend add"
		add_cmd+=("$dt")
		timed c2 backend del "$BIGVIP" "$XADDR" || die "backend del"
		del_cmd+=("$dt") ;;
	3)	timed c2 backend set "$BIGVIP" "$WADDR" --weight 2 || die "backend set"
		w_cmd+=("$dt")
		timed c2 backend set "$BIGVIP" "$WADDR" --weight 1 || die "backend set"
		wback_cmd+=("$dt") ;;
	esac
}
echo "bench_config: one backend changed in a VIP of $BIG ($ROUNDS2 rounds, order rotated)..."
for r in $(seq 1 "$ROUNDS2"); do
	for k in 0 1 2 3; do op $(((r + k) % 4)); done
done
# every round put the VIP back as the base document has it
apply c2 "$TMPD/base.json" 0 "the base document after the rounds"
status=$(c2 -j status) || die "status"
elapsed=$((SECONDS - start))

python3 - "${BENCH_JSON:-}" "$status" "$create_res" "$NCMDS" "$export_bytes" "$noop_us" \
	"$elapsed" "$T_CREATE" "$T_CHANGE" \
	"${create_doc[*]}" "${create_cmd[*]}" "${export_us[*]}" "${clear_us[*]}" \
	"${add_doc[*]}" "${del_doc[*]}" "${w_doc[*]}" "${wback_doc[*]}" \
	"${add_cmd[*]}" "${del_cmd[*]}" "${w_cmd[*]}" "${wback_cmd[*]}" <<'PY'
import json, statistics, sys
a = sys.argv[1:]
out, status, create_res = a[0], json.loads(a[1]), json.loads(a[2])
ncmds, export_bytes, noop_us, elapsed, t_create, t_change = map(int, a[3:9])
names = ["create_doc", "create_cmd", "export", "clear_doc",
         "add_doc", "del_doc", "weight_doc", "weight_back_doc",
         "add_cmd", "del_cmd", "weight_cmd", "weight_back_cmd"]
ms = {n: sorted(int(x) / 1000 for x in s.split()) for n, s in zip(names, a[9:])}
p90 = lambda v: v[min(len(v) - 1, int(len(v) * 0.9))]
fig = {"table_size": status["table_size"], "vnodes": status["vnodes"],
       "create_vips": 10, "create_backends_per_vip": 100, "big_vip_backends": 1000,
       "create_swaps": create_res["swaps"], "create_vips_changed": create_res["vips_changed"],
       "create_entries": create_res["entries"], "create_commands": ncmds,
       "export_bytes": export_bytes, "noop_apply_ms": noop_us / 1000,
       "target_create_ms": t_create, "target_change_ms": t_change,
       "change_swaps": 1, "elapsed_s": elapsed}
for n, v in ms.items():
    fig[n + "_rounds"] = len(v)
    fig[n + "_ms_median"] = round(statistics.median(v), 2)
    fig[n + "_ms_p90"] = round(p90(v), 2)
    fig[n + "_ms_min"] = round(v[0], 2)
fig["create_cmd_ms_per_command"] = round(fig["create_cmd_ms_median"] / ncmds, 2)
fig["create_cmd_over_doc"] = round(fig["create_cmd_ms_median"] / fig["create_doc_ms_median"], 1)
fig["add_doc_over_cmd"] = round(fig["add_doc_ms_median"] / fig["add_cmd_ms_median"], 2)
fig["weight_doc_over_cmd"] = round(fig["weight_doc_ms_median"] / fig["weight_cmd_ms_median"], 2)
fig["target_create_met"] = fig["create_doc_ms_median"] <= t_create
fig["target_add_met"] = fig["add_doc_ms_median"] <= t_change
fig["target_weight_met"] = fig["weight_doc_ms_median"] <= t_change
fig["target_met"] = fig["target_create_met"] and fig["target_add_met"] and fig["target_weight_met"]

print(f"M={fig['table_size']} V={fig['vnodes']}; milliseconds, end to end (process start to exit)")
print(f"{'':52} {'median':>8} {'p90':>8} {'min':>8} {'rounds':>6}")
def row(label, n, target=None):
    s = (f"{label:52} {fig[n + '_ms_median']:8.1f} {fig[n + '_ms_p90']:8.1f} "
         f"{fig[n + '_ms_min']:8.1f} {fig[n + '_rounds']:6}")
    if target is not None:
        met = fig[n + "_ms_median"] <= target
        s += f"   target <= {target} ms: {'met' if met else 'NOT met'}"
    print(s)
print("-- 10 VIPs x 100 backends on an empty instance")
row(f"config apply (one document, {fig['create_swaps']} swaps)", "create_doc", t_create)
row(f"{ncmds} commands (10 vip add + 1000 backend add)", "create_cmd")
print(f"{'':52} {fig['create_cmd_ms_per_command']:8.2f} ms a command; "
      f"{fig['create_cmd_over_doc']}x the document")
row(f"config export ({export_bytes} bytes)", "export")
row("config apply {\"vips\": []} (clear it)", "clear_doc")
print(f"{'config apply of the export (no change, 0 swaps)':52} {fig['noop_apply_ms']:8.1f}")
print("-- one backend in a VIP of 1000 (1 swap each)")
row("config apply: add one", "add_doc", t_change)
row("backend add (same backend)", "add_cmd", t_change)
row("config apply: remove it", "del_doc")
row("backend del", "del_cmd")
row("config apply: one weight 1 -> 2", "weight_doc", t_change)
row("backend set --weight 2", "weight_cmd")
row("config apply: weight 2 -> 1", "weight_back_doc")
row("backend set --weight 1", "weight_back_cmd")
print(f"document / command: add {fig['add_doc_over_cmd']}x, weight {fig['weight_doc_over_cmd']}x; "
      f"bench took {elapsed} s")
print(f"targets: create <= {t_create} ms {'met' if fig['target_create_met'] else 'NOT met'}, "
      f"add one <= {t_change} ms {'met' if fig['target_add_met'] else 'NOT met'}, "
      f"weight <= {t_change} ms {'met' if fig['target_weight_met'] else 'NOT met'}")
if out:
    with open(out, "w") as f:
        json.dump(fig, f, indent=2)
PY
