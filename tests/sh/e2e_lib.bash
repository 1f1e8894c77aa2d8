# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shared by the testbed suites (sourced after scripts/testbed.sh, not run):
# PASS/FAIL bookkeeping and the checks that say whether a testbed can run
# here. Needs SUITE (the suite's name in its messages) and CHLB.

npass=0 nfail=0
pass() { npass=$((npass + 1)); echo "PASS: $1"; }
fail() { nfail=$((nfail + 1)); echo "FAIL: $1: $2"; }
skip_all() { echo "SKIPPED: $SUITE: $1" >&2; echo "SKIPPED: $SUITE ($1)"; exit 77; }

# Exit 77 where the testbed cannot run (said loudly), 1 when chlb or the
# test BPF objects are not built.
preflight() {
	local t
	[ "$(id -u)" -eq 0 ] || skip_all "needs root"
	for t in ip nsenter bpftool nginx socat curl python3 ethtool; do
		command -v "$t" >/dev/null || skip_all "$t missing (scripts/install-deps.sh)"
	done
	[ -x "$CHLB" ] || { echo "FAIL: $SUITE: $CHLB not built"; exit 1; }
	[ -f "$TB_BPF/gen_pass.bpf.o" ] || { echo "FAIL: $SUITE: $TB_BPF not built"; exit 1; }
}

# The summary line; succeeds when no case failed.
summary() {
	echo "$SUITE: $npass passed, $nfail failed"
	[ "$nfail" -eq 0 ]
}
