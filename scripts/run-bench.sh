#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run every benchmark: C benches (build/bench/bench_*) and shell benches
# (tests/bench_*.sh). Each prints its table and writes its figures as a JSON
# object to the file named by --json (C) or $BENCH_JSON (shell); they are
# merged into $BUILD/bench.json keyed by bench name.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
export CHLB=${CHLB:-$PWD/$BUILD/chlb}
export BUILD
out=$BUILD/bench
mkdir -p "$out"
rc=0

for b in "$BUILD"/bench/bench_*; do
	[ -x "$b" ] || continue
	name=$(basename "$b")
	echo "=== $name"
	"$b" --json "$out/$name.json" || rc=1
done
for s in tests/bench_*.sh; do
	[ -f "$s" ] || continue
	name=$(basename "$s" .sh)
	echo "=== $name"
	BENCH_JSON="$out/$name.json" bash "$s" || rc=1
done

python3 - "$out" "$BUILD/bench.json" <<'PY'
import json, os, sys
src, dst = sys.argv[1], sys.argv[2]
merged = {}
for f in sorted(os.listdir(src)):
    if f.endswith(".json"):
        with open(os.path.join(src, f)) as fh:
            try:
                merged[f[:-5]] = json.load(fh)
            except ValueError as e:
                merged[f[:-5]] = {"error": str(e)}
with open(dst, "w") as fh:
    json.dump(merged, fh, indent=2, sort_keys=True)
print("figures written to", dst)
PY
exit $rc
