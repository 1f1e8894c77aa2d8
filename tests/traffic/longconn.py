#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Long-lived TCP connections for the connection-survival tests.

Talks to tests/traffic/echo_server.py, which answers every line with
"NAME line": so each reply says which backend served it.

  longconn.py hold HOST PORT N --ready FILE --stop FILE [--interval S]
                  [--timeout S] [--max-seconds S] [--pidfile FILE]
      Opens N connections; each sends a fresh line every --interval seconds
      and checks the reply (same content, same backend as its first reply).
      Once every connection has had its first reply (or failed), FILE
      --ready appears with the backend distribution; the connections keep
      talking until FILE --stop appears (or --max-seconds pass), then one
      JSON summary goes to stdout. A connection is broken when a reply is
      missing (--timeout), wrong, or from another backend, or the
      connection resets or closes. --pidfile: where to write our pid (the
      testbed's teardown kills what its pid files name).

  longconn.py probe HOST PORT N [--concurrency C] [--timeout S]
      N new short connections, one line each: which backend served it.
"""
import argparse
import asyncio
import collections
import json
import os
import random
import time


class Conn:
    """State of one long-lived connection."""

    def __init__(self, idx):
        self.idx = idx
        self.sport = None
        self.backend = None # name in the first reply
        self.messages = 0   # verified replies
        self.broken = None  # reason, once broken
        self.max_rtt = 0.0


def parse_reply(line, msg):
    """(backend name, None) for a correct reply to msg, else (name, reason)."""
    if not line:
        return None, "closed by peer"
    name, _, echo = line.decode(errors="replace").rstrip("\n").partition(" ")
    if echo != msg:
        return name, "wrong reply %r to %r" % (line[:60], msg)
    return name, None


async def exchange(reader, writer, msg, timeout):
    writer.write(msg.encode() + b"\n")
    return await asyncio.wait_for(reader.readline(), timeout)


async def talk(c, a, ready, stopping):
    """One connection's life: connect, then a verified line per interval."""
    writer = None
    token = "%08x" % random.getrandbits(32)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(a.host, a.port), a.timeout)
        c.sport = writer.get_extra_info("sockname")[1]
        # Spread the connections over the interval, not in lockstep.
        await asyncio.sleep(random.uniform(0, a.interval))
        tick = time.monotonic()
        while not stopping.is_set():
            msg = "c%d-%d-%s" % (c.idx, c.messages, token)
            t0 = time.monotonic()
            name, why = parse_reply(
                await exchange(reader, writer, msg, a.timeout), msg)
            c.max_rtt = max(c.max_rtt, time.monotonic() - t0)
            if c.backend is None and why is None:
                c.backend = name
                ready.release()
            elif why is None and name != c.backend:
                why = "backend changed %s -> %s" % (c.backend, name)
            if why:
                c.broken = why
                break
            c.messages += 1
            tick = max(tick + a.interval, time.monotonic())
            await asyncio.sleep(tick - time.monotonic())
    except asyncio.TimeoutError:
        c.broken = "no reply within %gs" % a.timeout
    except OSError as e:
        c.broken = "%s: %s" % (type(e).__name__, e)
    finally:
        if c.backend is None:
            ready.release() # failed before its first reply: still counted
        if writer:
            writer.close()


def write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def summarize(conns, seconds):
    per = collections.defaultdict(lambda: {"conns": 0, "broken": 0})
    for c in conns:
        b = per[c.backend or "none"]
        b["conns"] += 1
        b["broken"] += c.broken is not None
    broken = [c for c in conns if c.broken]
    alive = [c.messages for c in conns if not c.broken]
    return {
        "conns": len(conns),
        "established": sum(c.backend is not None for c in conns),
        "broken": len(broken),
        "messages": sum(c.messages for c in conns),
        # The quietest surviving connection: proves each one kept talking.
        "min_messages": min(alive, default=0),
        "seconds": round(seconds, 2),
        "max_rtt_ms": round(1000 * max((c.max_rtt for c in conns), default=0), 1),
        "by_backend": dict(sorted(per.items())),
        "first_broken": ["c%d sport %s on %s: %s" % (c.idx, c.sport, c.backend, c.broken)
                 for c in broken[:5]],
    }


async def wait_file(path, deadline):
    while not os.path.exists(path) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def hold(a):
    conns = [Conn(i) for i in range(a.n)]
    ready, stopping = asyncio.Semaphore(0), asyncio.Event()
    t0 = time.monotonic()
    tasks = []
    for c in conns:
        tasks.append(asyncio.create_task(talk(c, a, ready, stopping)))
        await asyncio.sleep(0.002)  # no SYN burst of N at once
    for _ in conns:
        await ready.acquire()
    dist = summarize(conns, time.monotonic() - t0)
    write_atomic(a.ready, json.dumps(dist) + "\n")
    await wait_file(a.stop, t0 + a.max_seconds)
    stopping.set()
    await asyncio.gather(*tasks)
    print(json.dumps(summarize(conns, time.monotonic() - t0)))


async def cmd_hold(a):
    if not a.pidfile:
        return await hold(a)
    # The pid file lives only while we do: a stale one could name a
    # recycled pid when the testbed's teardown kills what pid files name.
    write_atomic(a.pidfile, "%d\n" % os.getpid())
    try:
        await hold(a)
    finally:
        os.unlink(a.pidfile)


async def probe_one(a, i, sem, seen, errors):
    async with sem:
        writer = None
        msg = "probe-%d" % i
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(a.host, a.port), a.timeout)
            name, why = parse_reply(await exchange(reader, writer, msg, a.timeout), msg)
            if why:
                errors.append(why)
            else:
                seen[name] += 1
        except (OSError, asyncio.TimeoutError) as e:
            errors.append("%s: %s" % (type(e).__name__, e))
        finally:
            if writer:
                writer.close()


async def cmd_probe(a):
    sem, seen, errors = asyncio.Semaphore(a.concurrency), collections.Counter(), []
    await asyncio.gather(*(probe_one(a, i, sem, seen, errors) for i in range(a.n)))
    print(json.dumps({"total": a.n, "ok": sum(seen.values()),
              "by_backend": dict(sorted(seen.items())), "errors": errors[:5]}))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("hold", "probe"):
        s = sub.add_parser(name)
        s.add_argument("host")
        s.add_argument("port", type=int)
        s.add_argument("n", type=int)
        s.add_argument("--timeout", type=float, default=2.0)
    h = sub.choices["hold"]
    h.add_argument("--ready", required=True)
    h.add_argument("--stop", required=True)
    h.add_argument("--interval", type=float, default=0.1)
    h.add_argument("--max-seconds", type=float, default=120)
    h.add_argument("--pidfile")
    sub.choices["probe"].add_argument("--concurrency", type=int, default=20)
    a = p.parse_args()
    asyncio.run(cmd_hold(a) if a.cmd == "hold" else cmd_probe(a))


if __name__ == "__main__":
    main()
