#!/usr/bin/env python3
"""Two builds of swift-dato against each other: one SD 1.5 UNet call (random weights) from each, taking turns.

Both `dato bench unet --stepped` processes are started (model built, warm-up done), then their timed calls
alternate (A B, B A, A B, ...), so that both see the same state of a machine whose speed drifts by tens of
percent within minutes. Prints every pair and the median of the per-pair ratios B / A. Extra arguments go to
both `dato bench unet` commands (e.g. --precision bf16 --latent 64). No Python packages needed.

Usage: python tools/bench/ab_unet.py A/dato B/dato [--pairs 8] [--both-orders] [-- options of dato bench unet]
  e.g. git worktree add /tmp/base HEAD~3 && (cd /tmp/base && swift build -c release)
       python tools/bench/ab_unet.py /tmp/base/.build/release/dato .build/release/dato -- --precision bf16
"""
import argparse
import statistics
import subprocess
import sys


def start(binary, pairs, extra):
    return subprocess.Popen([binary, "bench", "unet", "--stepped", "--repeats", str(pairs)] + extra, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def line_starting(proc, prefix):
    while True:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"dato bench unet ended early (exit status {proc.wait()})")
        if line.lstrip().startswith(prefix):
            return line


def timed_call(proc):
    proc.stdin.write("\n")
    proc.stdin.flush()
    return float(line_starting(proc, "call").split(":")[1].split()[0])


def session(binaries, pairs, extra, first):
    """One round of `pairs` pairs with both processes alive; `first` ("A" or "B") is started first."""
    order = (first, "B" if first == "A" else "A")
    procs = {name: start(binaries[name], pairs, extra) for name in order}
    for proc in procs.values():
        line_starting(proc, "ready")
    times = {"A": [], "B": []}
    for i in range(pairs):
        for name in ("A", "B") if i % 2 == 0 else ("B", "A"):
            times[name].append(timed_call(procs[name]))
        print(f"pair {i + 1}: A {times['A'][-1]:.3f} s, B {times['B'][-1]:.3f} s, B/A {times['B'][-1] / times['A'][-1]:.3f}",
              flush=True)
    for proc in procs.values():
        proc.stdin.close()
        proc.stdout.read()
        proc.wait()
    ratio = statistics.median(b / a for a, b in zip(times["A"], times["B"]))
    print(f"median A {statistics.median(times['A']):.3f} s, B {statistics.median(times['B']):.3f} s; "
          f"median of the pair ratios B/A {ratio:.3f} ({first} started first)")
    return ratio


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--both-orders", action="store_true",
                    help="a second round with B started first, and the geometric mean of both rounds (one round "
                         "of the same binary against itself gave 0.95 to 1.07 on this machine)")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args, extra = ap.parse_args(argv[:cut]), argv[cut + 1:]
    binaries = {"A": args.a, "B": args.b}
    ratios = [session(binaries, args.pairs, extra, "A")]
    if args.both_orders:
        ratios.append(session(binaries, args.pairs, extra, "B"))
        print(f"B/A over both orders (geometric mean): {(ratios[0] * ratios[1]) ** 0.5:.3f}")


if __name__ == "__main__":
    main()
