#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The daemon's side of the systemd unit (Type=notify), without systemd: a
# datagram socket of the test's own as $NOTIFY_SOCKET receives what the
# daemon tells the service manager: READY=1 once attached and applied,
# WATCHDOG=1 twice per $WATCHDOG_USEC, RELOADING=1 with MONOTONIC_USEC and
# READY=1 again on SIGHUP, STOPPING=1 on SIGTERM, and exit 0.
set -u
ID=$$
cd "$(dirname "$0")/../.." || exit 1
. tests/sh/cli_lib.bash
setup || { echo "FAIL: topology"; exit 1; }
TMP=$(mktemp -d)
SOCK=$TMP/notify.sock
trap 'cleanup; rm -rf "$TMP"' EXIT

cat >"$TMP/chlb.json" <<'J'
{ "vips": [ { "vip": "10.0.0.100:80/tcp",
              "backends": [ { "addr": "10.9.0.2", "mac": "02:00:00:00:00:02" } ] } ] }
J
# Collects datagrams, one line each, with a monotonic time in ms.
python3 - "$SOCK" >"$TMP/msgs" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
while True:
    try:
        m = s.recv(4096).decode()
    except socket.timeout:
        break
    print(f"{int(time.monotonic() * 1000)} {m.replace(chr(10), ' ')}", flush=True)
    if "STOPPING=1" in m:
        break
PY
LISTENER=$!
PIDS+=("$LISTENER")
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done

# WATCHDOG_PID names the daemon itself, so the shell execs it.
NOTIFY_SOCKET=$SOCK WATCHDOG_USEC=400000 nsenter --net="/run/netns/$NS" \
	sh -c 'WATCHDOG_PID=$$ exec "$0" -d "$1" daemon --config "$2" --attach v0 --xdp-mode skb' \
	"$CHLB" "$PIN" "$TMP/chlb.json" 2>"$TMP/log" &
DAEMON=$!
PIDS+=("$DAEMON")
for _ in $(seq 100); do grep -q READY=1 "$TMP/msgs" && break; sleep 0.05; done
check "READY=1 once attached and applied" grep -q 'READY=1' "$TMP/msgs"
run -j vip list
check "... after the first apply (the VIP is there)" grep -q '"10.0.0.100:80/tcp"' <<<"$out"
sleep 1
n=$(grep -c 'WATCHDOG=1' "$TMP/msgs")
check "WATCHDOG=1 twice per WATCHDOG_USEC (0.4 s): $n in about 1 s" [ "$n" -ge 3 ]
kill -HUP "$DAEMON"
for _ in $(seq 100); do [ "$(grep -c READY=1 "$TMP/msgs")" -ge 2 ] && break; sleep 0.05; done
check "SIGHUP: RELOADING=1 with MONOTONIC_USEC" grep -q 'RELOADING=1 MONOTONIC_USEC=[0-9]' "$TMP/msgs"
check "... then READY=1 again" [ "$(grep -c 'READY=1' "$TMP/msgs")" -ge 2 ]
order=$(awk '{for (i = 2; i <= NF; i++) if ($i ~ /^(READY|RELOADING)=1$/) printf "%s ", $i}' "$TMP/msgs")
check "order: READY, RELOADING, READY ($order)" [ "$order" = "READY=1 RELOADING=1 READY=1 " ]
kill -TERM "$DAEMON"
wait "$DAEMON"
rc=$?
wait "$LISTENER" 2>/dev/null
check "SIGTERM: STOPPING=1, exit 0 (rc $rc)" bash -c "[ $rc -eq 0 ] && grep -q STOPPING=1 '$TMP/msgs'"
run -j status
check "the data plane stays attached, no daemon registered" \
	[ "$rc" -eq 0 -a "$(jq_py "$out" 'd["attached"], d["daemon"]')" = "True None" ]
run detach
echo "notify: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
