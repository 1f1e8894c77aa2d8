#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""HTTP client for the e2e tests: many short connections or one keep-alive.

Each backend's nginx answers GET / with its own name, so every record says
which backend served that connection. One JSON object per line on stdout:
  {"ts": wall-clock start of the connection, "t": seconds from the program's
   start to its end, "sport": source port, "backend": "b1" | null,
   "error": null | "TimeoutError: ..." | ...}

  http_client.py conns HOST N [--threads T] [--port P] [--sport-base B]
  http_client.py keepalive HOST N [--port P]
  http_client.py load HOST SECONDS [--threads T] [--port P]
"""
import argparse
import http.client
import json
import sys
import threading
import time

T0 = time.monotonic()
LOCK = threading.Lock()


def emit(rec):
    with LOCK:
        sys.stdout.write(json.dumps(rec) + "\n")
        sys.stdout.flush()


def one_conn(host, port, sport, timeout):
    """One TCP connection, one GET /, closed: returns the record."""
    rec = {"ts": time.time(), "t": 0.0, "sport": sport, "backend": None,
           "error": None}
    conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=("", sport))
    try:
        conn.connect()
        rec["sport"] = conn.sock.getsockname()[1]
        conn.request("GET", "/", headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read().decode().strip()
        if resp.status == 200:
            rec["backend"] = body
        else:
            rec["error"] = "status %d" % resp.status
    except OSError as e:
        rec["error"] = type(e).__name__ + ": " + str(e)
    finally:
        conn.close()
    rec["t"] = round(time.monotonic() - T0, 4)
    return rec


def run_threads(n_threads, work):
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def cmd_conns(a):
    def work(i):
        for k in range(i, a.n, a.threads):
            sport = a.sport_base + k if a.sport_base else 0
            emit(one_conn(a.host, a.port, sport, a.timeout))
    run_threads(a.threads, work)


def cmd_load(a):
    end = time.monotonic() + a.n

    def work(_):
        while time.monotonic() < end:
            emit(one_conn(a.host, a.port, 0, a.timeout))
    run_threads(a.threads, work)


def cmd_keepalive(a):
    conn = http.client.HTTPConnection(a.host, a.port, timeout=a.timeout)
    conn.connect()
    sport = conn.sock.getsockname()[1]
    for _ in range(a.n):
        rec = {"ts": time.time(), "t": 0.0, "sport": sport, "backend": None,
               "error": None}
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            rec["backend"] = resp.read().decode().strip()
            if conn.sock is None or conn.sock.getsockname()[1] != sport:
                rec["error"] = "connection was not kept alive"
        except OSError as e:
            rec["error"] = type(e).__name__ + ": " + str(e)
        rec["t"] = round(time.monotonic() - T0, 4)
        emit(rec)
        if rec["error"]:
            break
    conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["conns", "keepalive", "load"])
    p.add_argument("host")
    p.add_argument("n", type=float, help="connections, requests or seconds")
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--sport-base", type=int, default=0)
    p.add_argument("--timeout", type=float, default=2.0)
    a = p.parse_args()
    if a.mode != "load":
        a.n = int(a.n)
    {"conns": cmd_conns, "keepalive": cmd_keepalive, "load": cmd_load}[a.mode](a)


if __name__ == "__main__":
    main()
