#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run every test suite: CUnit binaries (ASan/UBSan build), TSan binaries, then
# the shell suites (CLI, data plane end to end). Prints one line per suite
# and a closing "N passed, N failed, N skipped" line; exits 1 if any failed.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
export CHLB=${CHLB:-$PWD/$BUILD/chlb}
export BUILD

passed=0 failed=0 skipped=0
failures=()

run_suite() {
	local name=$1; shift
	local log rc
	log=$(mktemp)
	echo "=== $name"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 77 ]; then
		skipped=$((skipped + 1))
		echo "--- SKIPPED: $name"
	elif [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		echo "--- PASS: $name"
	else
		failed=$((failed + 1))
		failures+=("$name")
		echo "--- FAIL: $name (exit $rc)"
	fi
	rm -f "$log"
}

for t in "$BUILD"/tests/test_* "$BUILD"/tests/tsan_*; do
	[ -x "$t" ] || continue
	run_suite "$(basename "$t")" "$t"
done
for s in tests/sh/*.sh; do
	[ -f "$s" ] || continue
	run_suite "$(basename "$s")" bash "$s"
done

echo
echo "suites: $passed passed, $failed failed, $skipped skipped"
for f in "${failures[@]+"${failures[@]}"}"; do
	echo "FAILED: $f"
done
[ "$failed" -eq 0 ]
