#!/usr/bin/env python3
"""One SD 1.5 UNet call (random weights), swift-dato vs diffusers/PyTorch, on the same machine and threads.

For each latent size and precision it runs `dato bench unet` (release build; `--precision bf16` for bf16) and the
same call in PyTorch (fp32, or under bf16 autocast), each as a median of repeats after a warm-up, and prints
a table of times, achieved GFLOP/s, the fraction of this machine's measured peak (swift-dato's dense 4096^3
product in that precision, measured in the same run) and the ratio ours / PyTorch.

Usage: python tools/bench/bench_unet.py [--latents 32,64] [--precisions fp32,bf16] [--batch 2] [--repeats 5]
                                        [--threads 2]
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


def run_dato(args, latent, precision):
    exe = os.path.join(ROOT, ".build", "release", "dato")
    if not os.path.exists(exe):
        subprocess.run(["swift", "build", "-c", "release", "--product", "dato"], cwd=ROOT, check=True)
    cmd = [exe, "bench", "unet", "--latent", str(latent), "--batch", str(args.batch), "--repeats", str(args.repeats),
           "--threads", str(args.threads), "--precision", precision, "--peak", "--json"]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    print(out.rstrip())
    return json.loads(out.strip().splitlines()[-1])


def run_torch(args, latent, precision):
    import torch
    from diffusers import UNet2DConditionModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8).eval()
    sample = torch.randn(args.batch, 4, latent, latent)
    context = torch.randn(args.batch, 77, 768)
    t = torch.tensor([500] * args.batch)
    times = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        unet(sample, t, encoder_hidden_states=context)
        for i in range(args.repeats):
            s = time.perf_counter()
            unet(sample, t, encoder_hidden_states=context)
            times.append(time.perf_counter() - s)
            print(f"  torch call {i + 1}: {times[-1]:.3f} s", flush=True)
    del unet
    return {"median_s": statistics.median(times), "min_s": min(times),
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "version": f"torch {torch.__version__}"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latents", default="32,64")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    rows = []
    for latent in [int(x) for x in args.latents.split(",")]:
        for precision in args.precisions.split(","):
            print(f"\n== latent {latent}x{latent}, batch {args.batch}, {precision}, {args.threads} threads", flush=True)
            ours = run_dato(args, latent, precision)
            print(f"PyTorch/diffusers ({'bf16 autocast' if precision == 'bf16' else 'fp32'}):", flush=True)
            peer = run_torch(args, latent, precision)
            rows.append((latent, precision, ours, peer))
    gib = 1 << 30
    print(f"\n{'latent':>6} {'prec':>5} | {'ours s':>7} {'(min)':>7} {'GFLOP/s':>8} {'% peak':>6} {'peak':>6} | "
          f"{'torch s':>7} {'(min)':>7} | {'ours/torch':>10} | {'RSS ours':>8} {'torch':>6}")
    for latent, precision, ours, peer in rows:
        gflops, peak = ours["gflops"], ours.get("peak_gflops", float("nan"))
        print(f"{latent:>6} {precision:>5} | {ours['median_s']:7.3f} {ours['min_s']:7.3f} {gflops:8.0f} {100 * gflops / peak:6.0f} "
              f"{peak:6.0f} | {peer['median_s']:7.3f} {peer['min_s']:7.3f} | {ours['median_s'] / peer['median_s']:10.3f} | "
              f"{ours['peak_rss_bytes'] / gib:7.2f}G {peer['peak_rss_bytes'] / gib:5.2f}G")
    print(f"({rows[0][3]['version']}; PyTorch's peak RSS is the Python process's maximum so far; "
          "GFLOP/s count the call's multiply-adds x 2 as swift-dato's UNetCost does)")


if __name__ == "__main__":
    sys.exit(main())
