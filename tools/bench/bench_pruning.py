#!/usr/bin/env python3
"""Token pruning on the SD 1.5 architecture (random weights): whole PLMS runs of swift-dato with each
pruning plan, against ToMe through tomesd on diffusers/PyTorch measured in the same run.

swift-dato: `dato bench plans` (denoising loop only, batch 2 as under CFG) for the full run and each plan.
PyTorch: one UNet call without and with `tomesd.apply_patch(ratio=0.5)` (median of repeats after a
warm-up); without caching every call of a run is the same, so the per-call ratio is the whole-run
speed-up. `--peer-steps N` also times whole PLMS-N loops in PyTorch.

Usage: python tools/bench/bench_pruning.py [--latent 64] [--steps 50] [--threads 2] [--repeats 3]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLANS = ["tome:0.5", "dato:0.4", "dato-reference", "dato-reference+dato:0.4", "atedm:0.6", "atedm:0.6,temporal"]


def run_plans(args, extra=()):
    """`dato bench plans` (PNDM, whole runs only) for args.plans; echoes its output and returns, per plan,
    (seconds, speed-up over our full run or None when the full run was skipped)."""
    exe = os.path.join(ROOT, ".build", "release", "dato")
    if not os.path.exists(exe):
        subprocess.run(["swift", "build", "-c", "release", "--product", "dato"], cwd=ROOT, check=True)
    cmd = [exe, "bench", "plans", "--latent", str(args.latent), "--steps", str(args.steps), "--scheduler", "pndm",
           "--depths", "", "--threads", str(args.threads), *extra]
    for p in args.plans:
        cmd += ["--accel", p]
    results = {}
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            print(line.rstrip(), flush=True)
            m = re.match(r"\s+(\S+)\s+([\d.]+) s\s+speed-up\s+([\d.]+x|-)", line)
            if m:
                results[m.group(1)] = (float(m.group(2)), None if m.group(3) == "-" else float(m.group(3)[:-1]))
    if proc.returncode:
        sys.exit(proc.returncode)
    return results


def torch_unet(threads, latent):
    import torch
    from diffusers import UNet2DConditionModel
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8).eval()
    sample = torch.randn(2, 4, latent, latent)
    context = torch.randn(2, 77, 768)
    return torch, unet, sample, context


def time_calls(torch, unet, sample, context, repeats):
    t = torch.tensor([500, 500])
    times = []
    with torch.inference_mode():
        unet(sample, t, encoder_hidden_states=context)
        for _ in range(repeats):
            s = time.perf_counter()
            unet(sample, t, encoder_hidden_states=context)
            times.append(time.perf_counter() - s)
    return statistics.median(times)


def time_loop(torch, unet, sample, context, steps):
    from diffusers import PNDMScheduler
    sched = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True,
                          steps_offset=1, set_alpha_to_one=False)
    sched.set_timesteps(steps)
    x = sample.clone()
    s = time.perf_counter()
    with torch.inference_mode():
        for t in sched.timesteps:
            out = unet(x, t, encoder_hidden_states=context).sample
            x = sched.step(out, t, x).prev_sample
    return time.perf_counter() - s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latent", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peer-steps", type=int, default=0, help="also time whole PLMS loops in PyTorch")
    ap.add_argument("--plans", nargs="*", default=PLANS)
    args = ap.parse_args()
    print(f"SD 1.5 UNet (random weights), latent {args.latent}x{args.latent}, batch 2, PLMS-{args.steps}, {args.threads} threads")
    ours = {plan: speedup for plan, (_, speedup) in run_plans(args).items()}

    import tomesd
    torch, unet, sample, context = torch_unet(args.threads, args.latent)
    print(f"\nPyTorch {torch.__version__} + tomesd {getattr(tomesd, '__version__', '0.1.3')}, one UNet call (median of {args.repeats}):")
    dense = time_calls(torch, unet, sample, context, args.repeats)
    print(f"  dense          {dense:8.2f} s")
    loop_dense = time_loop(torch, unet, sample, context, args.peer_steps) if args.peer_steps else None
    tomesd.apply_patch(unet, ratio=0.5)
    merged = time_calls(torch, unet, sample, context, args.repeats)
    print(f"  tomesd 0.5     {merged:8.2f} s   speed-up {dense / merged:.2f}x")
    if loop_dense:
        loop_merged = time_loop(torch, unet, sample, context, args.peer_steps)
        print(f"  PLMS-{args.peer_steps} loop: dense {loop_dense:.1f} s, tomesd 0.5 {loop_merged:.1f} s, speed-up {loop_dense / loop_merged:.2f}x")
    print("\nsummary (speed-up over each engine's own unpruned run):")
    for plan, x in ours.items():
        print(f"  swift-dato {plan:28s} {x:5.2f}x")
    print(f"  tomesd 0.5 (PyTorch)                   {dense / merged:5.2f}x")
    if "tome:0.5" in ours:
        print(f"  ToMe 0.5 speed-up, swift-dato / tomesd: {ours['tome:0.5'] / (dense / merged):.2f}")


if __name__ == "__main__":
    sys.exit(main())
