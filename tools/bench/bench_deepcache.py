#!/usr/bin/env python3
"""Feature caching speed-ups, swift-dato vs the DeepCache package on diffusers/PyTorch, in one run.

Both sides use the SD 1.5 UNet architecture with random weights, DDIM, batch 2 (classifier-free guidance),
the same thread count, and time the denoising loop (PyTorch: the pipeline with output_type="latent").
swift-dato's `deepcache:N` (depth 2 on partial calls) matches DeepCacheSDHelper(cache_interval=N,
cache_branch_id=1) (shared/spec/caching.md section 4). Prints each side's speed-up over its own full run.

Usage: python tools/bench/bench_deepcache.py [--latent 32] [--steps 50] [--intervals 3,5] [--threads 2]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))


def run_dato(args, intervals):
    exe = os.path.join(ROOT, ".build", "release", "dato")
    if not os.path.exists(exe):
        subprocess.run(["swift", "build", "-c", "release", "--product", "dato"], cwd=ROOT, check=True)
    cmd = [exe, "bench", "plans", "--latent", str(args.latent), "--steps", str(args.steps), "--scheduler", "ddim",
           "--depths", "12", "--repeats", "1", "--threads", str(args.threads)]
    for n in intervals:
        cmd += ["--accel", f"deepcache:{n}"]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    print(out.rstrip())
    times = {}
    for line in out.splitlines():
        m = re.match(r"\s+(\S+)\s+([\d.]+) s\s+speed-up", line)
        if m:
            times[m.group(1)] = float(m.group(2))
    return times


def run_torch(args, intervals):
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    from DeepCache import DeepCacheSDHelper
    import make_fixtures

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        make_fixtures.clip_vocab_files(os.path.join(ROOT, "Sources/DatoPipeline/Resources/bpe_simple_vocab_16e6.txt.gz"), tmp)
        tokenizer = CLIPTokenizer.from_pretrained(tmp, model_max_length=77)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8).eval()
    text = CLIPTextModel(CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                                        num_hidden_layers=12, max_position_embeddings=77, hidden_act="quick_gelu")).eval()
    vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), layers_per_block=2,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4).eval()
    sched = DDIMScheduler.from_config(make_fixtures.SD15_SCHEDULER)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=sched,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    size = args.latent * 8

    def timed():
        s = time.perf_counter()
        with torch.inference_mode():
            pipe("a photo of a cat", height=size, width=size, num_inference_steps=args.steps, output_type="latent",
                 generator=torch.Generator().manual_seed(0))
        return time.perf_counter() - s

    with torch.inference_mode():   # warm-up at one step
        pipe("warm up", height=size, width=size, num_inference_steps=1, output_type="latent")
    times = {"none": timed()}
    print(f"  torch none             {times['none']:8.1f} s")
    for n in intervals:
        helper = DeepCacheSDHelper(pipe=pipe)
        helper.set_params(cache_interval=n, cache_branch_id=1)
        helper.enable()
        times[f"deepcache:{n}"] = timed()
        helper.disable()
        print(f"  torch deepcache:{n}      {times[f'deepcache:{n}']:8.1f} s")
    return times, torch.__version__


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--intervals", default="3,5")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    intervals = [int(n) for n in args.intervals.split(",")]
    print(f"DDIM-{args.steps}, latent {args.latent}x{args.latent}, batch 2, {args.threads} threads, random SD 1.5 weights")
    ours = run_dato(args, intervals)
    print("PyTorch/diffusers + DeepCache:")
    peer, version = run_torch(args, intervals)
    print(f"\n{'plan':<16} {'swift-dato s':>13} {'speed-up':>9} {'torch ' + version + ' s':>22} {'speed-up':>9}")
    for key in ["none"] + [f"deepcache:{n}" for n in intervals]:
        o, p = ours.get(key, float("nan")), peer[key]
        print(f"{key:<16} {o:13.1f} {ours['none'] / o:9.2f} {p:22.1f} {peer['none'] / p:9.2f}")
    print(f"full run, swift-dato / PyTorch: {ours['none'] / peer['none']:.3f}")


if __name__ == "__main__":
    sys.exit(main())
