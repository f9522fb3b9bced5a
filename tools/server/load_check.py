#!/usr/bin/env python3
"""Load on a running `dato serve`: N txt2img requests from C concurrent clients (demo model, 64x64).

    .build/debug/dato serve --port 7861 --queue-size 4 & echo $! > serve.pid
    /tmp/venv/bin/python tools/server/load_check.py --port 7861 --requests 50 --clients 8 --pid $(cat serve.pid)

Every request must be answered (200 with an image, or 503 with Retry-After); prints the counts, p50/p95
latency of the 200s and the server's peak RSS (VmHWM from /proc, with --pid).
"""
import argparse
import concurrent.futures
import math
import statistics
import sys
import time

import requests


def one(url, i, steps):
    body = {"prompt": "a blue triangle", "seed": i, "steps": steps, "width": 64, "height": 64}
    t0 = time.time()
    try:
        r = requests.post(url, json=body, timeout=300)
    except requests.RequestException as e:
        return ("error", time.time() - t0, str(e))
    dt = time.time() - t0
    if r.status_code == 200:
        return ("ok" if len(r.json().get("images", [])) == 1 else "no image", dt, "")
    if r.status_code == 503:
        return ("503" if r.headers.get("Retry-After") else "503 without Retry-After", dt, "")
    return (f"HTTP {r.status_code}", dt, r.text[:200])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--pid", type=int)
    a = ap.parse_args()
    url = f"http://{a.host}:{a.port}/sdapi/v1/txt2img"
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(a.clients) as pool:
        results = list(pool.map(lambda i: one(url, i, a.steps), range(a.requests)))
    wall = time.time() - t0
    counts = {}
    for kind, _, _ in results:
        counts[kind] = counts.get(kind, 0) + 1
    ok = sorted(dt for kind, dt, _ in results if kind == "ok")
    print(f"{a.requests} requests from {a.clients} clients in {wall:.1f} s: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if ok:
        p95 = ok[max(math.ceil(0.95 * len(ok)) - 1, 0)]   # nearest rank
        print(f"latency of the 200s: p50 {statistics.median(ok):.2f} s, p95 {p95:.2f} s, max {ok[-1]:.2f} s")
    for kind, _, text in results:
        if kind not in ("ok", "503"):
            print(f"unexpected: {kind} {text}")
    if a.pid:
        with open(f"/proc/{a.pid}/status") as f:
            hwm = next(line for line in f if line.startswith("VmHWM"))
        print(f"server peak RSS: {hwm.split(':', 1)[1].strip()}")
    alive = requests.get(f"http://{a.host}:{a.port}/health", timeout=10).status_code == 200
    print(f"server alive afterwards: {alive}")
    return 0 if alive and set(counts) <= {"ok", "503"} else 1


if __name__ == "__main__":
    sys.exit(main())
