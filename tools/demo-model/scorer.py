#!/usr/bin/env python3
"""The prompt-alignment scorer: a small CNN that reads the caption attributes (shape, colour, size, position,
background) back from a 64x64 image. Trained on shapes.py images with augmentation (blur, noise, colour
jitter) so it also reads imperfect generated images. Exported as safetensors + JSON for the Swift scorer,
with logits on fixture images for the Swift test.

Usage: python tools/demo-model/scorer.py [--steps 300] [--out Sources/DatoDemo/Resources/demo-scorer]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = 7070


class Scorer(nn.Module):
    """conv 3x3 stride 2 (3->32->64->64) with SiLU, flatten 8x8x64, linear 128 + SiLU, linear to all classes."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(64, 64, 3, stride=2, padding=1)
        self.fc1 = nn.Linear(8 * 8 * 64, 128)
        self.fc2 = nn.Linear(128, sum(len(shapes.VOCAB[a]) for a in shapes.ATTRIBUTES))

    def forward(self, x):            # x: [B, 3, 64, 64] in [-1, 1]
        x = F.silu(self.conv1(x)); x = F.silu(self.conv2(x)); x = F.silu(self.conv3(x))
        x = x.permute(0, 2, 3, 1).flatten(1)   # channels-last flatten, as the Swift side stores tensors
        return self.fc2(F.silu(self.fc1(x)))


def targets(attrs):
    return torch.tensor([[shapes.VOCAB[a].index(t[a]) for a in shapes.ATTRIBUTES] for t in attrs])


def loss_and_accuracy(logits, y):
    loss, correct, o = 0.0, 0, 0
    for i, a in enumerate(shapes.ATTRIBUTES):
        n = len(shapes.VOCAB[a])
        part = logits[:, o:o + n]
        loss = loss + F.cross_entropy(part, y[:, i])
        correct += (part.argmax(1) == y[:, i]).sum().item()
        o += n
    return loss, correct / y.numel()


def augment(x, gen):
    """Blur (random 3x3 box mix), additive noise and brightness jitter, so decoded images are read too."""
    b = x.shape[0]
    mix = torch.rand(b, 1, 1, 1, generator=gen) * 0.8
    blurred = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    x = (1 - mix) * x + mix * blurred
    x = x + torch.randn(x.shape, generator=gen) * torch.rand(b, 1, 1, 1, generator=gen) * 0.15
    return (x * (1 + 0.2 * (torch.rand(b, 1, 1, 1, generator=gen) - 0.5))).clamp(-1, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", default=os.path.join(ROOT, "Sources/DatoDemo/Resources/demo-scorer"))
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "Tests/DatoPipelineTests/Fixtures/scorer"))
    args = ap.parse_args()
    torch.manual_seed(SEED)
    model = Scorer()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(SEED)
    start, step = time.time(), 0
    while step < args.steps:
        imgs, _, attrs = shapes.batch(SEED, step * 64, 64)
        x = augment(torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1, gen)
        loss, acc = loss_and_accuracy(model(x), targets(attrs))
        opt.zero_grad(); loss.backward(); opt.step()
        step += 1
        if step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} accuracy {acc:.3f} ({(time.time() - start) / 60:.1f} min)", flush=True)
    model.eval()
    with torch.no_grad():
        imgs, _, attrs = shapes.batch(SEED + 1, 0, 500)   # held-out stream
        _, acc = loss_and_accuracy(model(torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1), targets(attrs))
    print(f"held-out accuracy on clean images: {acc:.4f} after {step} steps")
    os.makedirs(args.out, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(args.out, "scorer.safetensors"))
    with open(os.path.join(args.out, "scorer.json"), "w") as f:
        json.dump({"attributes": shapes.ATTRIBUTES, "vocabulary": shapes.VOCAB, "image_size": 64,
                   "held_out_accuracy": acc, "training_steps": step}, f, indent=1)
    os.makedirs(args.fixtures, exist_ok=True)
    with torch.no_grad():
        imgs, caps, _ = shapes.batch(SEED + 2, 0, 6)
        logits = model(torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1)
    save_file({"images": torch.from_numpy(imgs.astype(np.float32)), "logits": logits.contiguous()},
              os.path.join(args.fixtures, "scorer-logits.safetensors"))
    with open(os.path.join(args.fixtures, "captions.json"), "w") as f:
        json.dump(caps, f, indent=1)
    # The first image as a PNG written by Pillow (adaptive row filters) with a "parameters" chunk, for the reader.
    from PIL import Image, PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", caps[0] + "\nSteps: 50")
    Image.fromarray(imgs[0]).save(os.path.join(args.fixtures, "image0.png"), pnginfo=info, optimize=True)


if __name__ == "__main__":
    main()
