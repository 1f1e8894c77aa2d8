#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Configuration documents and the truth in status, as root on a veth in a
# namespace of our own: config apply/export round trips byte for byte,
# --dry-run changes nothing, invalid documents are refused whole with the
# JSON path (exit 2), one table swap per changed VIP (counted), status
# reports drift of a live table changed behind chlb's back and sync
# repairs it, pins of another layout are refused, and a VIP never adopts
# the leftovers of an earlier one.
set -u
ID=$$
cd "$(dirname "$0")/../.." || exit 1
. tests/sh/cli_lib.bash
setup || { echo "FAIL: topology"; exit 1; }
command -v bpftool >/dev/null || { echo "SKIPPED: needs bpftool"; exit 77; }
TMP=$(mktemp -d)
trap 'cleanup; rm -rf "$TMP"' EXIT

V4=10.0.0.100:80/tcp
V6='[2001:db8::1]:443/udp'

# A document: VIP V4 with backends 10.9.0.1x, V6 with 2001:db8:9::1x.
doc() {
	python3 - "$@" <<'PY'
import json, sys
n4, n6, w = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
b4 = [{"addr": f"10.9.0.{10 + i}", "weight": w if i == 0 else 1,
       "mac": f"02:00:00:00:04:{i:02x}"} for i in range(n4)]
b6 = [{"addr": f"2001:db8:9::{10 + i:x}", "mac": f"02:00:00:00:06:{i:02x}"} for i in range(n6)]
print(json.dumps({"cluster": {"seed": "5eed"}, "vips": [
    {"vip": "10.0.0.100:80/tcp", "health": {"type": "http", "path": "/healthz"},
     "backends": b4},
    {"vip": "[2001:db8::1]:443/udp", "backends": b6}]}))
PY
}
checksums() { c -j status | python3 -c 'import json,sys; print(" ".join(v["checksum"] for v in json.load(sys.stdin)["vips"]))'; }
field() { jq_py "$out" "$1"; }

run attach v0 --seed 5eed
check "attach" [ "$rc" -eq 0 ]

# ---- apply, export, round trip ----------------------------------------------
doc 6 4 2 >"$TMP/a.json"
run -j config apply "$TMP/a.json"
check "apply a new document: one swap per VIP" [ "$rc" -eq 0 -a "$(field 'd["swaps"]')" = 2 ]
run config export
echo "$out" >"$TMP/e1.json"
check "export names every backend and the health check" \
	[ "$(grep -c '"addr"' "$TMP/e1.json")" -eq 10 -a "$(grep -c '"/healthz"' "$TMP/e1.json")" -eq 1 ]
sum1=$(checksums)
run -j config apply "$TMP/e1.json"
check "export -> apply changes nothing" [ "$rc" -eq 0 -a "$(field 'd["swaps"], d["entries"]')" = "0 0" ]
run config export
echo "$out" >"$TMP/e2.json"
check "a second export is byte for byte the first" cmp -s "$TMP/e1.json" "$TMP/e2.json"
check "same checksums after the round trip" [ "$(checksums)" = "$sum1" ]
run config export "$V6"
check "export VIP: only that VIP" [ "$rc" -eq 0 -a "$(grep -c '"vip"' <<<"$out")" -eq 1 ]
c config export | c config apply - >/dev/null
check "export | apply - works through stdin" [ "$(checksums)" = "$sum1" ]

# ---- dry run ---------------------------------------------------------------
doc 7 4 3 >"$TMP/b.json"
run -j config apply --dry-run "$TMP/b.json"
check "dry run: a plan with the added and changed backends" [ "$rc" -eq 0 -a \
	"$(field 'd["changes"], len(d["vips"][0]["added"]) + len(d["vips"][1]["added"]), len(d["vips"][0]["changed"])')" = "2 1 1" ]
check "dry run: a share of the table moves, balance reported" \
	python3 -c "import json,sys; v=json.loads(sys.argv[1])['vips'][0]; sys.exit(not (0 < v['moved_share'] < 0.5 and 1 <= v['max_mean_share'] < 1.5))" "$out"
run config apply --dry-run "$TMP/b.json"
check "dry run plain names the new backend" grep -q '+ 10.9.0.16' <<<"$out"
check "dry run changed nothing" [ "$(checksums)" = "$sum1" ]
c config export >"$TMP/e3.json"
check "dry run: export unchanged" cmp -s "$TMP/e1.json" "$TMP/e3.json"

# ---- one swap per changed VIP ------------------------------------------------
run -j config apply "$TMP/b.json"
check "a change to one VIP swaps one table" [ "$rc" -eq 0 -a "$(field 'd["swaps"]')" = 1 ]

# ---- invalid documents are refused whole -------------------------------------
c config export >"$TMP/before.json"
bad() {
	local name=$1 want=$2 text=$3
	run config apply - <<<"$text"
	if [ "$rc" -eq 2 ] && grep -qF "$want" <<<"$err" && [ "$(grep -c '^Error: ' <<<"$err")" -eq 1 ]; then
		ok "$name"
	else
		ko "$name" "rc=$rc err=$err"
	fi
}
bad "weight 0: path and value" 'vips[0].backends[1].weight: 0 is not in 1..256' \
	'{"vips":[{"vip":"10.0.0.100:80/tcp","backends":[{"addr":"10.9.0.10"},{"addr":"10.9.0.11","weight":0}]}]}'
bad "unknown key" 'vips[0].bakends' '{"vips":[{"vip":"10.0.0.100:80/tcp","bakends":[]}]}'
bad "other seed: named, neither value shown" 'cluster.seed differs from the instance'"'"'s (the seed is secret' \
	'{"cluster":{"seed":"1"},"vips":[]}'
check "the instance's seed is not in the error" [ "${err#*5eed}" = "$err" ]
bad "multicast backend: path" 'vips[0].backends[0]' \
	'{"vips":[{"vip":"10.0.0.100:80/tcp","backends":[{"addr":"224.0.0.1","mac":"02:00:00:00:00:01"}]}]}'
bad "not JSON" 'invalid JSON' '{"vips": ['
c config export >"$TMP/after.json"
check "refused documents changed nothing" cmp -s "$TMP/before.json" "$TMP/after.json"
run config apply "$TMP/does-not-exist.json"
check "unreadable file: exit 1 naming it" [ "$rc" -eq 1 ] && grep -q 'does-not-exist' <<<"$err"

# ---- drift: a live table changed behind chlb's back ---------------------------
vip_id=$(c -j vip list | python3 -c 'import json,sys; print([v["id"] for v in json.load(sys.stdin)["vips"] if v["vip"]=="10.0.0.100:80/tcp"][0])')
inner=$(bpftool -j map lookup pinned "$PIN/chlb_tables" key $vip_id 0 0 0 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("value") if isinstance(d.get("value"), int) else int.from_bytes(bytes(int(x,16) for x in d["value"]), "little"))')
bpftool map update id "$inner" key 7 0 0 0 value 0xff 0xff 0xff 0xff
run -j status
check "status reports the drifted VIP" [ "$rc" -eq 0 -a \
	"$(field 'd["drifted"], [v["drift"] for v in d["vips"]].count(True)')" = "1 1" ]
check "its checksum is the live table's, not the model's" \
	[ "$(field '[v["checksum"] != v["model_checksum"] for v in d["vips"] if v["drift"]][0]')" = True ]
run status
check "plain status says to run sync" grep -q "chlb sync" <<<"$out"
run -j sync
check "sync repairs it" [ "$rc" -eq 0 -a "$(field 'd["repaired"] >= 1')" = True ]
check "no drift after sync, checksums as before" [ "$(c -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["drifted"])')" = 0 ]

# ---- a VIP never adopts an earlier VIP's leftovers ----------------------------
# A backend entry in use for VIP id 5, which no VIP has (a crash of an older chlb).
python3 - "$PIN" <<'PY'
import subprocess, sys
pin = sys.argv[1]
addr = bytes(10) + b"\xff\xff" + bytes([10, 9, 0, 99])
val = addr + bytes([2, 0, 0, 0, 0, 0x99]) + (1).to_bytes(2, "little") + (5).to_bytes(4, "little") \
    + (1).to_bytes(4, "little") + (1).to_bytes(4, "little") + bytes(4)
key = (4000).to_bytes(4, "little")
subprocess.check_call(["bpftool", "map", "update", "pinned", f"{pin}/chlb_backends", "key", "hex",
                       *[f"{b:02x}" for b in key], "value", "hex", *[f"{b:02x}" for b in val]])
PY
for v in 10.0.0.101 10.0.0.102 10.0.0.103 10.0.0.104; do c vip add $v:80/tcp; done
run -j vip list
check "a new VIP with the id of the leftover has no backends" \
	[ "$(field '[v["backends"] for v in d["vips"] if v["id"] == 5]')" = "[0]" ]
run -j backend list
check "the leftover is not listed" [ "$(field '[b["address"] for b in d["backends"]].count("10.9.0.99")')" = 0 ]

# ---- addresses that cannot work are refused (exit 2, the value named) ---------------
refused() {
	local name=$1 want=$2; shift 2
	run "$@"
	if [ "$rc" -eq 2 ] && grep -qF -- "$want" <<<"$err"; then ok "$name"; else ko "$name" "rc=$rc $err"; fi
}
refused "VIP 0.0.0.0 refused" "0.0.0.0" vip add 0.0.0.0:80/tcp
refused "multicast VIP refused" "224.0.0.1" vip add 224.0.0.1:80/tcp
refused "broadcast VIP refused" "255.255.255.255" vip add 255.255.255.255:80/tcp
refused "link-local VIP refused" "169.254.1.1" vip add 169.254.1.1:80/tcp
refused "the LB's own address as a VIP refused" "own address" vip add 10.9.0.1:22/tcp
refused "broadcast backend refused" "255.255.255.255" backend add $V4 255.255.255.255 --mac 02:00:00:00:00:01
refused "multicast backend refused" "224.0.0.9" backend add $V4 224.0.0.9 --mac 02:00:00:00:00:01
refused "IPv6 backend on an IPv4 VIP refused" "IPv6 backend for an IPv4 VIP" backend add $V4 2001:db8:9::99 --mac 02:00:00:00:00:01
refused "::ffff:a.b.c.d spelling refused" "write IPv4 as 10.9.0.98" backend add $V4 ::ffff:10.9.0.98 --mac 02:00:00:00:00:01
refused "broadcast --mac refused" "ff:ff:ff:ff:ff:ff" backend add $V4 10.9.0.97 --mac ff:ff:ff:ff:ff:ff
# 10.9.0.255 is v0's subnet broadcast: the neighbour table gives ff:ff:ff:ff:ff:ff
refused "a backend whose resolved MAC is broadcast refused" "neighbour table's MAC for 10.9.0.255" \
	backend add $V4 10.9.0.255
run -j backend list
check "refused backends left nothing behind" \
	[ "$(field '[b["address"] for b in d["backends"] if b["address"] in ("10.9.0.255","10.9.0.97","224.0.0.9")]')" = "[]" ]

# ---- method ipip in documents ------------------------------------------------------
c config export >"$TMP/pre-ipip.json"
# The instance's document plus VIP $1 with method $2 and backends $3 (JSON).
ipdoc() {
	python3 - "$TMP/pre-ipip.json" "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["vips"].append({"vip": sys.argv[2], "method": sys.argv[3], "backends": json.loads(sys.argv[4])})
print(json.dumps(d))
PY
}
nv=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["vips"]))' "$TMP/pre-ipip.json")
VI=10.0.0.120:80/tcp
VM=10.0.0.121:80/tcp
ipdoc $VI ipip '[{"addr":"203.0.113.5"},{"addr":"2001:db8:77::5","weight":2}]' >"$TMP/i1.json"
run -j config apply "$TMP/i1.json"
check "apply an ipip VIP (off-link and 4in6 backends, no MAC): one swap" \
	[ "$rc" -eq 0 -a "$(field 'd["swaps"]')" = 1 ]
run config export
echo "$out" >"$TMP/i-e1.json"
check "export: the VIP's method is ipip, its backends have no mac" python3 -c '
import json, sys
v = [v for v in json.load(open(sys.argv[1]))["vips"] if v["vip"] == sys.argv[2]][0]
assert v["method"] == "ipip" and all("mac" not in b for b in v["backends"]), v
' "$TMP/i-e1.json" $VI
run -j config apply "$TMP/i-e1.json"
check "ipip: export -> apply changes nothing" [ "$rc" -eq 0 -a "$(field 'd["swaps"], d["entries"]')" = "0 0" ]
c config export >"$TMP/i-e2.json"
check "ipip: a second export is byte for byte the first" cmp -s "$TMP/i-e1.json" "$TMP/i-e2.json"

# dsr -> ipip: the same backends, the method changed, the table not swapped
ipdoc $VM dsr '[{"addr":"10.9.0.2"},{"addr":"10.9.0.30","mac":"02:00:00:00:00:30"}]' >"$TMP/m1.json"
run config apply "$TMP/m1.json"
check "a dsr VIP, one MAC resolved (the peer), one given" [ "$rc" -eq 0 ]
c config export >"$TMP/m-e1.json"
ipdoc $VM ipip '[{"addr":"10.9.0.2"},{"addr":"10.9.0.30"}]' >"$TMP/m2.json"
run config apply --dry-run "$TMP/m2.json"
check "dry run: the VIP changes, the plan names the method" \
	grep -qF "$VM: changed (method dsr -> ipip)" <<<"$out"
run -j config apply --dry-run "$TMP/m2.json"
check "dry run -j: method ipip, method_before dsr, no slot moves" [ "$(field '[(v["method"], v["method_before"], v["moved_share"]) for v in d["vips"] if v["vip"] == "'$VM'"][0]')" = "('ipip', 'dsr', 0.0)" ]
run -j config apply "$TMP/m2.json"
check "dsr -> ipip applied: no table swap" [ "$rc" -eq 0 -a "$(field 'd["swaps"]')" = 0 ]
run -j vip list
check "vip list: now ipip" [ "$(field '[v["method"] for v in d["vips"] if v["vip"] == "'$VM'"]')" = "['ipip']" ]
run config export "$VM"
check "export: ipip, the given MAC dropped" bash -c 'grep -q "\"method\": \"ipip\"" <<<"$1" && ! grep -q "\"mac\"" <<<"$1"' _ "$out"
run -j backend list "$VM"
check "backend list: no MAC for the ipip VIP's backends" [ "$(field '[b["mac"] for b in d["backends"]]')" = "[None, None]" ]

# ipip -> dsr refused: a backend of the other family, a MAC that cannot be resolved
c config export >"$TMP/i-before.json"
ipdoc $VI dsr '[{"addr":"203.0.113.5"},{"addr":"2001:db8:77::5","weight":2}]' >"$TMP/i2.json"
run config apply "$TMP/i2.json"
check "ipip -> dsr with an IPv6 backend on an IPv4 VIP: exit 2, the path" \
	bash -c '[ "$1" -eq 2 ] && grep -qF "vips[$2].backends[1]: invalid backend address '"'"'2001:db8:77::5'"'"' for VIP '"'"'$3'"'"': an IPv6 backend for an IPv4 VIP; DSR" <<<"$4"' \
	_ "$rc" "$nv" "$VI" "$err"
ipdoc $VI dsr '[{"addr":"203.0.113.5"}]' >"$TMP/i3.json"
run config apply "$TMP/i3.json"
check "ipip -> dsr, a backend off the segment: exit 1, its MAC cannot be resolved" \
	bash -c '[ "$1" -eq 1 ] && grep -qF "cannot resolve the MAC of 203.0.113.5" <<<"$2"' _ "$rc" "$err"
ipdoc $VI ipip '[{"addr":"203.0.113.5","mac":"02:00:00:00:00:05"}]' >"$TMP/i4.json"
run config apply "$TMP/i4.json"
check "a \"mac\" in an ipip VIP's backend: exit 2, the path" \
	bash -c '[ "$1" -eq 2 ] && grep -qF "vips[$2].backends[0].mac: ipip backends are reached through the FIB" <<<"$3"' \
	_ "$rc" "$nv" "$err"
ipdoc $VI gre '[]' >"$TMP/i5.json"
run config apply "$TMP/i5.json"
check "an unknown method: exit 2, named" \
	bash -c '[ "$1" -eq 2 ] && grep -qF "].method: unknown method '"'"'gre'"'"': expected dsr or ipip" <<<"$2"' _ "$rc" "$err"
c config export >"$TMP/i-after.json"
check "refused method changes changed nothing" cmp -s "$TMP/i-before.json" "$TMP/i-after.json"

# ipip -> dsr: the peer's MAC resolved like a new backend's, the other one given
ipdoc $VM dsr '[{"addr":"10.9.0.2"},{"addr":"10.9.0.30","mac":"02:00:00:00:00:31"}]' >"$TMP/m3.json"
run -j config apply "$TMP/m3.json"
check "ipip -> dsr applied" [ "$rc" -eq 0 ]
peer_mac=$(ip -n "$PEER" -br link show v1 | awk '{print $3}')
run -j backend list "$VM"
check "dsr again: the peer's MAC resolved, the given one set" \
	[ "$(field '" ".join(b["mac"] for b in sorted(d["backends"], key=lambda b: b["address"]))')" = "$peer_mac 02:00:00:00:00:31" ]
c config apply "$TMP/pre-ipip.json" >/dev/null
c config export >"$TMP/post-ipip.json"
check "the document before the ipip cases applies again, exported the same" \
	cmp -s "$TMP/pre-ipip.json" "$TMP/post-ipip.json"

# ---- pins of another layout are refused with what to do -------------------------
python3 - "$PIN" 1 <<'PY'
import json, subprocess, sys
pin, ver = sys.argv[1], int(sys.argv[2])
d = json.loads(subprocess.check_output(["bpftool", "-j", "map", "lookup", "pinned", f"{pin}/chlb_config", "key", "0", "0", "0", "0"]))
v = bytearray(int(x, 16) for x in d["value"]) if isinstance(d["value"], list) else None
v[36:40] = ver.to_bytes(4, "little")
subprocess.check_call(["bpftool", "map", "update", "pinned", f"{pin}/chlb_config", "key", "0", "0", "0", "0", "value", "hex", *[f"{b:02x}" for b in v]])
PY
run status
abi=$(sed -n 's/^#define CHLB_ABI_VERSION[[:space:]]*\([0-9]*\).*/\1/p' include/chlb/shared.h)
check "another layout: one clear error, exit 1" [ "$rc" -eq 1 ] && grep -q "layout version 1; this chlb uses $abi" <<<"$err" && grep -q "detach" <<<"$err"
run vip add 10.0.0.105:80/tcp
check "another layout: changes refused too" [ "$rc" -eq 1 ]
python3 - "$PIN" "$abi" <<'PY' 2>/dev/null || true
import json, subprocess, sys
pin, ver = sys.argv[1], int(sys.argv[2])
d = json.loads(subprocess.check_output(["bpftool", "-j", "map", "lookup", "pinned", f"{pin}/chlb_config", "key", "0", "0", "0", "0"]))
v = bytearray(int(x, 16) for x in d["value"])
v[36:40] = ver.to_bytes(4, "little")
subprocess.check_call(["bpftool", "map", "update", "pinned", f"{pin}/chlb_config", "key", "0", "0", "0", "0", "value", "hex", *[f"{b:02x}" for b in v]])
PY
run status
check "the right layout again: status works" [ "$rc" -eq 0 ]

run detach
check "detach" [ "$rc" -eq 0 ]
echo "config: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
