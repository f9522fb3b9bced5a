#!/usr/bin/env python3
"""Whole 512 px PLMS-50 denoising runs: swift-dato accelerated in bf16 against diffusers' full fp32 run.

swift-dato: `dato bench plans --precision bf16 --skip-full` with each plan (default `dato-reference+dato:0.4`;
denoising loop only, batch 2 as under classifier-free guidance, SD 1.5 architecture with random weights).
diffusers/PyTorch: the same UNet architecture in fp32 through a PNDM (PLMS) loop of --peer-steps steps; with
fewer than --steps steps the time is scaled to --steps (every unaccelerated call costs the same) and marked so.

Usage: python tools/bench/bench_generation.py [--latent 64] [--steps 50] [--peer-steps 50] [--threads 2]
                                              [--plans dato-reference+dato:0.4 ...]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_pruning import run_plans, time_loop, torch_unet  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latent", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--peer-steps", type=int, default=50, help="PLMS steps actually run in PyTorch")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--plans", nargs="*", default=["dato-reference+dato:0.4"])
    args = ap.parse_args()
    print(f"SD 1.5 UNet (random weights), latent {args.latent}x{args.latent}, batch 2, PLMS-{args.steps}, "
          f"{args.threads} threads")
    ours = {plan: seconds for plan, (seconds, _) in run_plans(args, ["--precision", "bf16", "--skip-full"]).items()}
    torch, unet, sample, context = torch_unet(args.threads, args.latent)
    print(f"\nPyTorch {torch.__version__} / diffusers, fp32, full PLMS-{args.peer_steps} loop:", flush=True)
    loop = time_loop(torch, unet, sample, context, args.peer_steps)
    full = loop * args.steps / args.peer_steps
    note = "" if args.peer_steps == args.steps else f" (scaled from {args.peer_steps} steps: {loop:.1f} s)"
    print(f"  full fp32 {full:.1f} s{note}")
    print(f"\n{'plan (swift-dato, bf16)':<32} {'s':>8} {'speed-up over diffusers fp32 full':>34}")
    for plan, s in ours.items():
        print(f"{plan:<32} {s:8.1f} {full / s:33.2f}x")


if __name__ == "__main__":
    sys.exit(main())
