#!/usr/bin/env python3
"""A whole 512 px image (text encoding, 50 PLMS steps, VAE decode), swift-dato against OpenVINO's pipeline
(optimum-intel's `OVStableDiffusionPipeline`), images taking turns.

Both read the same SD 1.5-architecture diffusers folder with seeded random weights, which this script writes once
(full-size UNet, VAE and CLIP text encoder; the tokenizer of the bundled demo model, which is CLIP's; PNDM with
SD 1.5's scheduler config) and exports once to OpenVINO IR with fp32 weights (`optimum-cli export openvino`). Each
round generates one image with `dato generate` per plan and one with OpenVINO, in turn; our time is what `dato
generate` reports for the image (text + denoising + decode, model loading excluded), OpenVINO's the pipeline call
(compiled once beforehand, static shapes). Medians over rounds and the median of per-round ratios are printed.
OpenVINO's text encoder and VAE decoder are also timed alone, after the rounds.

optimum-intel and diffusers 0.42 cannot share a venv: run this in its own one,
    python3 -m venv .venv-ov
    .venv-ov/bin/pip install -r tools/bench/requirements-openvino-image.txt
    .venv-ov/bin/python tools/bench/bench_openvino_image.py --precisions bf16,fp32

Usage: bench_openvino_image.py [--dato PATH] [--precisions bf16,fp32] [--plan PLAN ...]
                               [--rounds 2] [--steps 50] [--threads 2] [--vae-precision fp32|bf16]
                               [--folder DIR]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(tempfile.gettempdir(), "swift-dato-openvino")
TOKENIZER = os.path.join(ROOT, "Sources", "DatoDemo", "Resources", "demo-model", "tokenizer")
PROMPT = "a photograph of an astronaut riding a horse"


def write_random_model(folder):
    """SD 1.5's three networks with seeded random weights, saved as a diffusers folder."""
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, sample_size=512,
                        block_out_channels=[128, 256, 512, 512],
                        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                        layers_per_block=2)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                        num_hidden_layers=12, num_attention_heads=12, max_position_embeddings=77,
                                        hidden_act="quick_gelu", projection_dim=768))
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              num_train_timesteps=1000, skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)
    tokenizer = CLIPTokenizer.from_pretrained(TOKENIZER)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder)


def prepare(args):
    """The diffusers folder and its OpenVINO export, made on first use."""
    folder = args.folder or os.path.join(CACHE, "sd15-random")
    if not os.path.exists(os.path.join(folder, "model_index.json")):
        print(f"writing the random SD 1.5 folder {folder}", flush=True)
        write_random_model(folder)
    exported = folder + "-ov"
    if not os.path.exists(os.path.join(exported, "model_index.json")):
        print(f"exporting it to OpenVINO IR in {exported}", flush=True)
        subprocess.run(["optimum-cli", "export", "openvino", "--model", folder, "--task", "text-to-image",
                        "--weight-format", "fp32", exported], check=True,
                       env=dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]))
    return folder, exported


class OpenVINOPipeline:
    """optimum-intel's pipeline compiled for 512 px, one image per call, at the given precision and threads."""

    def __init__(self, exported, precision, threads):
        from optimum.intel import OVStableDiffusionPipeline

        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
                  "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}
        self.pipe = OVStableDiffusionPipeline.from_pretrained(exported, ov_config=config, compile=False)
        self.pipe.reshape(batch_size=1, height=512, width=512, num_images_per_prompt=1)
        self.pipe.compile()

    def image(self, steps):
        import numpy as np

        start = time.perf_counter()
        self.pipe(PROMPT, num_inference_steps=steps, guidance_scale=7.5, height=512, width=512,
                  generator=np.random.RandomState(1))
        return time.perf_counter() - start

    def parts(self):
        """Seconds of one text-encoder call and one VAE decode alone (median of 3)."""
        import numpy as np

        ids = self.pipe.tokenizer(PROMPT, padding="max_length", max_length=77, return_tensors="np").input_ids
        latents = np.random.default_rng(0).standard_normal((1, 4, 64, 64), dtype=np.float32)
        return (median_of(3, lambda: self.pipe.text_encoder(ids)),
                median_of(3, lambda: self.pipe.vae_decoder(latent_sample=latents)))


def median_of(n, call):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


REPORT = re.compile(r"\(text ([\d.]+) s, denoising ([\d.]+) s = [\d.]+ s/call, decode ([\d.]+) s\)")


def our_image(args, folder, precision, plan):
    """(text, denoising, decode) seconds of one image by `dato generate`."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [args.dato, "generate", "-m", folder, "-p", PROMPT, "-s", "1", "--steps", str(args.steps),
                   "-W", "512", "-H", "512", "--precision", precision, "-t", str(args.threads),
                   "-o", os.path.join(tmp, "image.png"), "--accel", plan]
        if args.vae_precision:   # otherwise dato's default: the VAE follows --precision
            command += ["--vae-precision", args.vae_precision]
        out = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, OMP_WAIT_POLICY="passive"))
    found = REPORT.search(out.stdout + out.stderr)
    if out.returncode != 0 or not found:
        sys.exit(f"dato generate failed ({out.returncode}): {out.stderr[-2000:]}")
    return tuple(float(v) for v in found.groups())


def run_precision(args, folder, exported, precision):
    peer = OpenVINOPipeline(exported, precision, args.threads)
    peer.image(2)   # warm-up
    ours = {plan: [] for plan in args.plans}
    theirs = []
    for r in range(args.rounds):
        for plan in args.plans:
            ours[plan].append(our_image(args, folder, precision, plan))
            print(f"  round {r + 1} {precision} ours {plan}: {sum(ours[plan][-1]):.1f} s "
                  f"(text {ours[plan][-1][0]:.2f}, denoising {ours[plan][-1][1]:.1f}, decode {ours[plan][-1][2]:.2f})",
                  flush=True)
        theirs.append(peer.image(args.steps))
        print(f"  round {r + 1} {precision} OpenVINO: {theirs[-1]:.1f} s", flush=True)
    text, decode = peer.parts()
    return ours, theirs, (text, decode)


def report(precision, ours, theirs, parts, steps):
    median_theirs = statistics.median(theirs)
    print(f"\n{precision}, 512 px, {steps} PLMS steps, CFG 7.5, one image (median of {len(theirs)} rounds)")
    print(f"  {'':34} {'image s':>8} {'text s':>7} {'decode s':>8} {'ours/OV':>8} {'per-round':>9} {'OV/ours':>8}")
    print(f"  {'OpenVINO (optimum-intel)':34} {median_theirs:8.1f} {parts[0]:7.2f} {parts[1]:8.2f}")
    for plan, runs in ours.items():
        totals = [sum(r) for r in runs]
        ratio = statistics.median(t / o for t, o in zip(totals, theirs))
        print(f"  {'swift-dato ' + plan:34} {statistics.median(totals):8.1f} "
              f"{statistics.median(r[0] for r in runs):7.2f} {statistics.median(r[2] for r in runs):8.2f} "
              f"{statistics.median(totals) / median_theirs:8.3f} {ratio:9.3f} {1 / ratio:8.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dato", default=os.path.join(ROOT, ".build", "release", "dato"))
    ap.add_argument("--precisions", default="bf16,fp32")
    ap.add_argument("--plan", action="append", dest="plans",
                    help="our plans to time (repeat; default: none and dato-reference+dato:0.4)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--vae-precision", choices=["fp32", "bf16"], default=None,
                    help="our VAE's format (default: as dato generate, the precision of the round; OpenVINO's follows --precisions)")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--folder", help="where the random SD 1.5 folder goes (default: in the system's temporary folder)")
    args = ap.parse_args()
    args.plans = args.plans or ["none", "dato-reference+dato:0.4"]
    import openvino
    import optimum.intel  # noqa: F401  (fail early when the venv lacks it)

    print(f"OpenVINO {openvino.__version__}, {args.threads} threads; dato: {args.dato}")
    folder, exported = prepare(args)
    for precision in args.precisions.split(","):
        ours, theirs, parts = run_precision(args, folder, exported, precision)
        report(precision, ours, theirs, parts, args.steps)


if __name__ == "__main__":
    main()
