#!/usr/bin/env python3
"""One SD 1.5 UNet call (random weights), swift-dato vs diffusers/PyTorch, on the same machine and threads.

Runs `dato bench unet` (release build) and then the same call in PyTorch, each as a median of repeats
after a warm-up, and prints both times, peak memory and the ratio ours / PyTorch.

Usage: python tools/bench/bench_unet.py [--latent 64] [--batch 2] [--repeats 5] [--threads 2] [--bf16]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_dato(args):
    exe = os.path.join(ROOT, ".build", "release", "dato")
    if not os.path.exists(exe):
        subprocess.run(["swift", "build", "-c", "release", "--product", "dato"], cwd=ROOT, check=True)
    cmd = [exe, "bench", "unet", "--latent", str(args.latent), "--batch", str(args.batch),
           "--repeats", str(args.repeats), "--threads", str(args.threads), "--json"]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    print(out.rstrip())
    return json.loads(out.strip().splitlines()[-1])


def run_torch(args):
    import torch
    from diffusers import UNet2DConditionModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8).eval()
    sample = torch.randn(args.batch, 4, args.latent, args.latent)
    context = torch.randn(args.batch, 77, 768)
    t = torch.tensor([500] * args.batch)
    times = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
        for _ in range(1):
            unet(sample, t, encoder_hidden_states=context)
        for i in range(args.repeats):
            s = time.perf_counter()
            unet(sample, t, encoder_hidden_states=context)
            times.append(time.perf_counter() - s)
            print(f"  torch call {i + 1}: {times[-1]:.3f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"median_s": statistics.median(times), "min_s": min(times), "peak_rss_bytes": peak,
            "version": f"torch {torch.__version__}"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latent", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--bf16", action="store_true", help="PyTorch under bf16 autocast (ours stays fp32)")
    args = ap.parse_args()
    print(f"SD 1.5 UNet call, latent {args.latent}x{args.latent}, batch {args.batch}, {args.threads} threads")
    ours = run_dato(args)
    print("PyTorch/diffusers:")
    peer = run_torch(args)
    gib = 1 << 30
    print(f"\nswift-dato fp32: median {ours['median_s']:.3f} s (min {ours['min_s']:.3f}), peak RSS {ours['peak_rss_bytes'] / gib:.2f} GiB")
    print(f"{peer['version']} {'bf16 autocast' if args.bf16 else 'fp32'}: median {peer['median_s']:.3f} s "
          f"(min {peer['min_s']:.3f}), peak RSS {peer['peak_rss_bytes'] / gib:.2f} GiB")
    print(f"ratio swift-dato / PyTorch (median): {ours['median_s'] / peer['median_s']:.3f}")


if __name__ == "__main__":
    sys.exit(main())
