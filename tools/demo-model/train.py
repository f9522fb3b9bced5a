#!/usr/bin/env python3
"""Trains swift-dato's demo model on the procedural shapes data (shapes.py), on CPU, resumably.

Phases (each resumes from its last checkpoint in --workdir and stops after --minutes or at the end of its
schedule, checkpointing first):
  vae        AutoencoderKL 64x64 RGB -> 16x16x4 latents (factor 4): L1 + MSE and a tiny KL term, VAE_STEPS steps.
  diffusion  CLIPTextModel (standard CLIP tokenizer) + UNet2DConditionModel (SD 1.x block types, cross-attention
             at two levels), DDPM with SD's scaled-linear betas, epsilon loss, 10% empty-caption dropout,
             DIFFUSION_STEPS steps on a cached set of VAE latents.
  layout     experimental, not part of the shipped model's recipe: fine-tunes the diffusion checkpoint towards
             captions deciding where the shape goes (LAYOUT_STEPS steps; see train_layout). 420 steps did not
             bind position (MODEL_CARD.md); export prefers its layout.pt when one exists.
  export     a diffusers folder (fp16 safetensors, configs, tokenizer, PNDM scheduler config as SD 1.5's, and
             MODEL_CARD.md as its README.md).

Both training phases use AdamW with a linear warm-up and cosine decay, and clip gradients to norm 1.
Every random draw is seeded: VAE batch s holds samples s * batch ... of stream SEED; the diffusion phase draws
its batch indices, dropout, timesteps and noise from a generator seeded with SEED * 7 + step. A progress log
(progress.jsonl) records loss and wall time.

Usage: python tools/demo-model/train.py --phase vae [--minutes 60] [--workdir ~/.cache/swift-dato/demo-train]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BPE = os.path.join(ROOT, "Sources/DatoPipeline/Resources/bpe_simple_vocab_16e6.txt.gz")

VAE_CONFIG = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 3,
                  up_block_types=("UpDecoderBlock2D",) * 3, block_out_channels=(32, 64, 64), layers_per_block=1,
                  latent_channels=4, norm_num_groups=16, sample_size=64)
TEXT_CONFIG = dict(hidden_size=96, intermediate_size=384, num_attention_heads=4, num_hidden_layers=3,
                   max_position_embeddings=77, hidden_act="quick_gelu")
UNET_CONFIG = dict(sample_size=16, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(64, 128, 128),
                   down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
                   up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
                   attention_head_dim=4, cross_attention_dim=96, norm_num_groups=16)
SEED = 20261122
DIFFUSION_STEPS = 2400   # batch 64, about 2.2 s a step on 2 cores
DATASET_SIZE = 40960
LAYOUT_STEPS = 1200      # fine-tuning after diffusion step 2000 (the recipe: --phase diffusion --stop-at 2000)
VAE_STEPS = 900          # about 25 minutes on 2 cores at batch 32


def cosine_lr(step, total, high, low, warmup=50):
    """Linear warm-up to `high`, then a cosine decay to `low` at `total` steps."""
    if step < warmup:
        return high * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return low + 0.5 * (high - low) * (1 + np.cos(np.pi * t))


def images_to_tensor(x):
    return torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1


def save_atomic(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def log(workdir, record):
    with open(os.path.join(workdir, "progress.jsonl"), "a") as f:
        f.write(json.dumps(record) + "\n")
    print(json.dumps(record), flush=True)


def tokenizer_folder(workdir):
    folder = os.path.join(workdir, "tokenizer")
    if not os.path.exists(os.path.join(folder, "merges.txt")):
        sys.path.insert(0, os.path.join(ROOT, "tools/fixtures"))
        from make_fixtures import clip_vocab_files   # (importing it switches autograd off: switch it back on)
        torch.set_grad_enabled(True)
        clip_vocab_files(BPE, folder)
    return folder


def train_vae(args):
    from diffusers import AutoencoderKL
    torch.manual_seed(SEED)
    vae = AutoencoderKL(**VAE_CONFIG)
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0)
    path = os.path.join(args.workdir, "vae.pt")
    step, elapsed = 0, 0.0
    if os.path.exists(path):
        ck = torch.load(path, weights_only=False)
        vae.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"]); step, elapsed = ck["step"], ck["elapsed"]
        torch.set_rng_state(ck["rng"])
    start = time.time()
    gen = torch.Generator().manual_seed(SEED + step)
    while time.time() - start < args.minutes * 60 and step < VAE_STEPS:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, VAE_STEPS, 1e-3, 1e-4)
        imgs, _, _ = shapes.batch(SEED, step * args.batch, args.batch)
        x = images_to_tensor(imgs)
        post = vae.encode(x).latent_dist
        z = post.mean + post.std * torch.randn(post.mean.shape, generator=gen)
        rec = vae.decode(z).sample
        loss = F.l1_loss(rec, x) + F.mse_loss(rec, x) + 1e-6 * post.kl().mean()
        opt.zero_grad(); loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)   # a constant 1e-3 without clipping diverged at ~1400 steps
        opt.step()
        step += 1
        if step % 20 == 0:
            psnr = 10 * torch.log10(4 / F.mse_loss(rec.clamp(-1, 1), x)).item()
            log(args.workdir, {"phase": "vae", "step": step, "loss": loss.item(), "psnr": psnr,
                               "minutes": (elapsed + time.time() - start) / 60})
        if step % 100 == 0:
            save_atomic({"model": vae.state_dict(), "opt": opt.state_dict(), "step": step,
                         "elapsed": elapsed + time.time() - start, "rng": torch.get_rng_state()}, path)
    save_atomic({"model": vae.state_dict(), "opt": opt.state_dict(), "step": step,
                 "elapsed": elapsed + time.time() - start, "rng": torch.get_rng_state()}, path)


def load_vae(workdir):
    from diffusers import AutoencoderKL
    path = os.path.join(workdir, "vae.pt")
    if not os.path.exists(path):
        sys.exit(f"no trained VAE in {workdir}: run --phase vae first")
    vae = AutoencoderKL(**VAE_CONFIG)
    vae.load_state_dict(torch.load(path, weights_only=False)["model"])
    return vae.eval().requires_grad_(False)


def make_text_and_unet(tokenizer):
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                                        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                                        **TEXT_CONFIG))
    return text, UNet2DConditionModel(**UNET_CONFIG)


def latent_dataset(workdir, vae, tokenizer, scaling, count=DATASET_SIZE):
    """Scaled VAE latents (posterior means) and token ids of samples 0..count-1 of stream SEED + 1, made once
    and cached in the work folder: rendering and encoding every batch anew would cost about a fifth of a step."""
    path = os.path.join(workdir, "latents.pt")
    if os.path.exists(path):
        return torch.load(path)
    latents, ids = [], []
    with torch.no_grad():
        for start in range(0, count, 256):
            imgs, caps, _ = shapes.batch(SEED + 1, start, min(256, count - start))
            latents.append(vae.encode(images_to_tensor(imgs)).latent_dist.mean * scaling)
            ids.append(tokenizer(caps, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids)
    data = {"latents": torch.cat(latents), "ids": torch.cat(ids)}
    save_atomic(data, path)
    return data


def denoising_step(unet, text, sched, opt, params, data, empty, batch, gen, noisy_from, noise=torch.randn, weight=None):
    """One optimiser step of the epsilon loss on a batch drawn from the cached latents with `gen`: 10% of the
    captions replaced by the empty one (classifier-free guidance dropout), half the timesteps uniform and half
    from [noisy_from, 1000) (the noisy steps decide the layout: position, size, shape), noise from
    noise(shape, generator=gen), the per-sample loss weighted by weight(t) when given. Returns the loss."""
    pick = torch.randint(0, len(data["ids"]), (batch,), generator=gen)
    latents, ids = data["latents"][pick], data["ids"][pick].clone()
    ids[torch.rand(batch, generator=gen) < 0.1] = empty[0]
    t = torch.where(torch.rand(batch, generator=gen) < 0.5, torch.randint(0, 1000, (batch,), generator=gen),
                    torch.randint(noisy_from, 1000, (batch,), generator=gen))
    eps = noise(latents.shape, generator=gen)
    pred = unet(sched.add_noise(latents, eps, t), t, encoder_hidden_states=text(ids)[0]).sample
    per_sample = ((pred - eps) ** 2).mean(dim=(1, 2, 3))
    loss = (per_sample * weight(t)).mean() if weight else per_sample.mean()
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    return loss


def train_diffusion(args):
    from diffusers import DDPMScheduler
    from transformers import CLIPTokenizer
    vae = load_vae(args.workdir)
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_folder(args.workdir), model_max_length=77)
    torch.manual_seed(SEED + 1)
    text, unet = make_text_and_unet(tokenizer)
    sched = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)
    params = list(unet.parameters()) + list(text.parameters())
    opt = torch.optim.AdamW(params, lr=5e-4, weight_decay=1e-2)
    path = os.path.join(args.workdir, "diffusion.pt")
    step, elapsed = 0, 0.0
    if os.path.exists(path):
        ck = torch.load(path, weights_only=False)
        unet.load_state_dict(ck["unet"]); text.load_state_dict(ck["text"]); opt.load_state_dict(ck["opt"])
        step, elapsed, scaling = ck["step"], ck["elapsed"], ck["scaling"]
    else:
        with torch.no_grad():   # SD's convention: scale latents to unit standard deviation
            imgs, _, _ = shapes.batch(SEED + 2, 0, 256)
            scaling = float(1 / vae.encode(images_to_tensor(imgs)).latent_dist.mean.std())
    empty = tokenizer([""], padding="max_length", max_length=77, return_tensors="pt").input_ids

    def checkpoint():
        save_atomic({"unet": unet.state_dict(), "text": text.state_dict(), "opt": opt.state_dict(), "step": step,
                     "elapsed": elapsed + time.time() - start, "scaling": scaling}, path)

    start = time.time()
    data = latent_dataset(args.workdir, vae, tokenizer, scaling)
    while time.time() - start < args.minutes * 60 and step < min(DIFFUSION_STEPS, args.stop_at):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, DIFFUSION_STEPS, 5e-4, 2e-5, warmup=100)
        gen = torch.Generator().manual_seed(SEED * 7 + step)
        loss = denoising_step(unet, text, sched, opt, params, data, empty, args.batch, gen, noisy_from=500)
        step += 1
        if step % 20 == 0:
            log(args.workdir, {"phase": "diffusion", "step": step, "loss": loss.item(),
                               "minutes": (elapsed + time.time() - start) / 60})
        if step % 100 == 0:
            checkpoint()
    checkpoint()


def pyramid_noise(shape, generator=None, discount=0.6):
    """White noise plus coarser white noise upsampled from 8x8, 4x4 and 2x2 grids (weights discount^level),
    rescaled to unit variance. Low frequencies of the noisy latent then carry little of the image, even at the
    last timesteps, so the model must take the layout from the caption instead of reading it from the noise."""
    b, c, h, w = shape
    noise = torch.randn(shape, generator=generator)
    level, size = 1, h // 2
    while size >= 2:
        coarse = torch.randn((b, c, size, size), generator=generator)
        noise = noise + discount ** level * F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
        level, size = level + 1, size // 2
    return noise / noise.std(dim=(1, 2, 3), keepdim=True)


def train_layout(args):
    """Position binding. With SD's betas the last timestep still holds sqrt(alphas_cumprod[999]) = 0.068 of the
    latent, and an epsilon loss rewards knowing the image there only with weight SNR (0.005): after the
    diffusion phase the model placed shapes where the noise suggested, whatever the caption said (position
    accuracy at chance). This phase continues from diffusion.pt with multi-scale ("pyramid") noise and weights
    the loss by clamp(1 / SNR(t), 1, 5), so the noisy timesteps that decide the layout count, on a cosine
    schedule 2e-4 -> 2e-5 over LAYOUT_STEPS, into layout.pt."""
    from diffusers import DDPMScheduler
    from transformers import CLIPTokenizer
    vae = load_vae(args.workdir)
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_folder(args.workdir), model_max_length=77)
    text, unet = make_text_and_unet(tokenizer)
    sched = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)
    snr = sched.alphas_cumprod / (1 - sched.alphas_cumprod)
    params = list(unet.parameters()) + list(text.parameters())
    opt = torch.optim.AdamW(params, lr=2e-4, weight_decay=1e-2)
    path = os.path.join(args.workdir, "layout.pt")
    source = path if os.path.exists(path) else os.path.join(args.workdir, "diffusion.pt")
    ck = torch.load(source, weights_only=False)
    unet.load_state_dict(ck["unet"]); text.load_state_dict(ck["text"])
    scaling, elapsed = ck["scaling"], ck["elapsed"]
    step = ck.get("layout_step", 0)
    if step:
        opt.load_state_dict(ck["opt"])
    empty = tokenizer([""], padding="max_length", max_length=77, return_tensors="pt").input_ids

    def checkpoint():
        save_atomic({"unet": unet.state_dict(), "text": text.state_dict(), "opt": opt.state_dict(), "step": ck["step"],
                     "layout_step": step, "elapsed": elapsed + time.time() - start, "scaling": scaling}, path)

    start = time.time()
    data = latent_dataset(args.workdir, vae, tokenizer, scaling)
    while time.time() - start < args.minutes * 60 and step < min(LAYOUT_STEPS, args.stop_at):
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, LAYOUT_STEPS, 2e-4, 2e-5, warmup=20)
        gen = torch.Generator().manual_seed(SEED * 11 + step)
        loss = denoising_step(unet, text, sched, opt, params, data, empty, args.batch, gen, noisy_from=600,
                              noise=pyramid_noise, weight=lambda t: (1 / snr[t]).clamp(1, 5))
        step += 1
        if step % 20 == 0:
            log(args.workdir, {"phase": "layout", "step": step, "loss": loss.item(),
                               "minutes": (elapsed + time.time() - start) / 60})
        if step % 100 == 0:
            checkpoint()
    checkpoint()


def export(args):
    """The diffusers folder (fp16) under --out."""
    from diffusers import PNDMScheduler, StableDiffusionPipeline
    from transformers import CLIPTokenizer
    vae = load_vae(args.workdir)
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_folder(args.workdir), model_max_length=77)
    text, unet = make_text_and_unet(tokenizer)
    layout = os.path.join(args.workdir, "layout.pt")
    ck = torch.load(layout if os.path.exists(layout) else os.path.join(args.workdir, "diffusion.pt"), weights_only=False)
    unet.load_state_dict(ck["unet"]); text.load_state_dict(ck["text"])
    vae.register_to_config(scaling_factor=ck["scaling"])
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                              set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae.half(), text_encoder=text.half(), tokenizer=tokenizer, unet=unet.half(),
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(args.out, safe_serialization=True)
    # The tokenizer as vocab.json + merges.txt (what every CLIP tokenizer reads), not the 3.5 MB tokenizer.json.
    import shutil
    tok_out = os.path.join(args.out, "tokenizer")
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(tokenizer_folder(args.workdir), name), os.path.join(tok_out, name))
    if os.path.exists(os.path.join(tok_out, "tokenizer.json")):
        os.remove(os.path.join(tok_out, "tokenizer.json"))
    shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "MODEL_CARD.md"), os.path.join(args.out, "README.md"))
    print(f"exported to {args.out} after {ck['step']} diffusion steps and {ck.get('layout_step', 0)} layout steps "
          f"({ck['elapsed'] / 60:.1f} min)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", choices=["vae", "diffusion", "layout", "export"], required=True)
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--batch", type=int, default=32, help="batch size (diffusion: 64 recommended)")
    ap.add_argument("--stop-at", type=int, default=10**9,
                    help="diffusion, layout: stop after this step (the learning-rate schedule still spans the phase)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--workdir", default=os.path.expanduser("~/.cache/swift-dato/demo-train"))
    ap.add_argument("--out", default=os.path.join(ROOT, "Sources/DatoDemo/Resources/demo-model"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.workdir, exist_ok=True)
    {"vae": train_vae, "diffusion": train_diffusion, "layout": train_layout, "export": export}[args.phase](args)


if __name__ == "__main__":
    main()
