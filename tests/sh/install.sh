#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make install` into a scratch DESTDIR, then build the README's library
# example against the installed header, static library and chlb.pc, and
# check that it routes keys in proportion to the weights, deterministically.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
dest=$(mktemp -d /tmp/chlb-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

if make --no-print-directory -s BUILD="$BUILD" install DESTDIR="$dest" PREFIX=/usr >"$dest/log" 2>&1 &&
	[ -x "$dest/usr/bin/chlb" ] && [ -f "$dest/usr/lib/libchlb.a" ] &&
	[ -f "$dest/usr/include/chlb/chlb.h" ] && [ -f "$dest/usr/include/chlb/shared.h" ]; then
	pass "make install: binary, static library, headers, chlb.pc"
else
	fail "make install: $(tail -3 "$dest/log")"
fi

# Point the installed .pc at the scratch prefix, as a packager's sysroot would.
pc=$dest/usr/lib/pkgconfig/chlb.pc
sed -i "s|^prefix=.*|prefix=$dest/usr|" "$pc"
if cc -Wall -Wextra -Werror -o "$dest/route_keys" tests/example/route_keys.c \
	$(PKG_CONFIG_PATH=$dest/usr/lib/pkgconfig pkg-config --cflags --libs chlb) 2>"$dest/cc.log"; then
	pass "example builds with pkg-config --cflags --libs chlb"
else
	fail "example does not build: $(head -3 "$dest/cc.log")"
fi

# Weights 1 and 2: over many keys the second backend takes about two thirds.
keys=$(seq -f 'user:%g' 1 3000)
out=$("$dest/route_keys" $keys 2>&1)
n1=$(grep -c ' 10.0.0.1$' <<<"$out")
n2=$(grep -c ' 10.0.0.2$' <<<"$out")
if [ $((n1 + n2)) -eq 3000 ] && [ "$n2" -gt 1800 ] && [ "$n2" -lt 2200 ]; then
	pass "example routes 3000 keys: 10.0.0.1 $n1, 10.0.0.2 $n2 (weights 1:2)"
else
	fail "example routing: 10.0.0.1 $n1, 10.0.0.2 $n2 of 3000 ($(head -2 <<<"$out"))"
fi
again=$("$dest/route_keys" $keys 2>&1)
[ "$out" = "$again" ] && pass "routing is deterministic across runs" ||
	fail "two runs route the same keys differently"

# The systemd unit: installed with the binary's path, valid for systemd-analyze.
# Installed under a real prefix here so the ExecStart it names exists.
unit=$dest/p/lib/systemd/system/chlb.service
if ! command -v systemd-analyze >/dev/null; then
	echo "SKIPPED: systemd-analyze verify (no systemd-analyze)"
elif make --no-print-directory -s BUILD="$BUILD" install PREFIX="$dest/p" >"$dest/log2" 2>&1 &&
	grep -q "^ExecStart=$dest/p/bin/chlb daemon " "$unit" && grep -q '^Type=notify$' "$unit" &&
	systemd-analyze verify "$unit" >"$dest/verify" 2>&1; then
	pass "systemd unit installed (Type=notify, ExecStart $dest/p/bin/chlb); systemd-analyze verify passes"
else
	fail "systemd unit: $(tail -3 "$dest/log2") $(cat "$dest/verify" 2>/dev/null)"
fi

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
