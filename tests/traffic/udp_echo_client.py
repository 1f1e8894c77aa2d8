#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""UDP client for the testbed suites: N echo round trips to HOST:PORT, each
from a new socket (a new source port, so a new flow). The testbed's echo
server answers "NAME MESSAGE" from the VIP. Prints one line:
  FAILED BACKENDS NAME:COUNT ...
(round trips lost or garbled, how many backends answered, each one's count).

  udp_echo_client.py HOST PORT N [TAG]
"""
import collections
import socket
import sys


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    tag = sys.argv[4].encode() if len(sys.argv) > 4 else b"ping"
    seen, bad = collections.Counter(), 0
    for i in range(n):
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                          socket.SOCK_DGRAM)
        s.settimeout(2)
        s.connect((host, port))
        msg = b"%s-%d" % (tag, i)
        s.send(msg)
        try:
            name, _, echo = s.recv(200).partition(b" ")
            if echo.strip() == msg:
                seen[name.decode()] += 1
            else:
                bad += 1
        except OSError:
            bad += 1
        s.close()
    print(bad, len(seen), " ".join("%s:%d" % kv for kv in sorted(seen.items())))


if __name__ == "__main__":
    main()
