#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Line echo server for the connection-survival tests (tests/sh/e2e_persist.sh).

Every line a client sends comes back prefixed with the server's name:
"NAME line\n". A client can thus tell which backend serves each connection
and notice when that ever changes. One asyncio process serves hundreds of
long-lived connections (a socat fork per connection would cost a process
pair each, 800 of them for the tests' 200 connections on four backends).

  echo_server.py NAME ADDR PORT [--pidfile FILE]
"""
import argparse
import asyncio
import os
import signal


async def serve_conn(name, conns, reader, writer):
    prefix = name.encode() + b" "
    conns.add(writer)
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            writer.write(prefix + line)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # a reset client is the client's problem, not ours
    finally:
        conns.discard(writer)
        writer.close()


async def main(a):
    conns = set()
    server = await asyncio.start_server(
        lambda r, w: serve_conn(a.name, conns, r, w), a.addr, a.port,
        backlog=1024, reuse_address=True)
    if a.pidfile:
        # Written only once the socket listens, so "pid file exists" also
        # means "ready"; the testbed's teardown kills by this file.
        with open(a.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(
            sig, lambda: stop.done() or stop.set_result(None))
    await stop
    # Exit now: connections whose client went elsewhere (a deleted
    # backend's) never see a FIN, and waiting for them would outlive the
    # testbed.
    server.close()
    for w in list(conns):
        w.transport.abort()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name")
    p.add_argument("addr")
    p.add_argument("port", type=int)
    p.add_argument("--pidfile")
    asyncio.run(main(p.parse_args()))
