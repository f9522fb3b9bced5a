#!/usr/bin/env python3
"""Which tokens G-WPR prunes on the demo model (issue 23): one diffusers run (PNDM 50 steps, CFG 7.5, torch seed),
self-attention head-mean maps recorded at a few steps, G-WPR scores from the AT-EDM oracle
(tools/fixtures/pruning_oracles.py), and how many of the object's tokens (pixels far from the median
background colour of the final image, pooled to the block's grid) fall among the pruned ones, against the count
a random mask would prune.

With `--walks`, one row per G-WPR walk variant (tools/fixtures/pruning_oracles.py WALKS plus the iteration
counts below) instead: object tokens pruned at ratio 0.5 in each block and step, summed over the blocks.

Usage: python tools/bench/atedm_gwpr_object.py [--prompt TEXT] [--seed 7] [--steps 5,25,45] [--walks]
"""
import argparse
import os
import sys

import numpy as np
import torch
from diffusers import StableDiffusionPipeline

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "fixtures"))
from pruning_oracles import DEFAULT_WALK, WALKS, gwpr  # noqa: E402

# Walk variants for --walks: name -> gwpr() keyword arguments.
VARIANTS = {"received (previous default)": {}, "received, iterations=1": dict(iterations=1),
            "received, iterations=50": dict(iterations=50, tol=0), **WALKS,
            "reverse, no diagonal (default)": DEFAULT_WALK}

BLOCKS = ["down_blocks.0.attentions.0", "up_blocks.2.attentions.1", "down_blocks.1.attentions.0", "up_blocks.1.attentions.1"]


class MapRecorder:
    """An attention processor that computes attention explicitly and keeps the head-mean map per step."""

    def __init__(self, maps, name, step):
        self.maps, self.name, self.step = maps, name, step

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **kw):
        b, n, _ = hidden_states.shape
        split = lambda t: t.view(b, n, attn.heads, -1).transpose(1, 2)
        q, k, v = split(attn.to_q(hidden_states)), split(attn.to_k(hidden_states)), split(attn.to_v(hidden_states))
        p = torch.softmax(q @ k.transpose(-1, -2) * attn.scale, -1)
        self.maps.setdefault(self.name, {})[self.step[0]] = p.mean(1).numpy()
        return attn.to_out[1](attn.to_out[0]((p @ v).transpose(1, 2).reshape(b, n, -1)))


def object_tokens(image, obj, n):
    """Which of a block's n tokens cover the object (pooled from the image's object pixels)."""
    g = int(round(np.sqrt(n)))
    f = image.shape[0] // g
    return (obj.reshape(g, f, g, f).mean((1, 3)) > 0.3).reshape(-1)


def walk_table(maps, image, obj, steps):
    """Per walk variant: object tokens pruned at ratio 0.5 (cond row, shared-mask mean of both rows) per step,
    summed over the level-0 blocks, against a random mask's expectation."""
    largest = max(m[steps[0]].shape[-1] for m in maps.values())
    blocks = sorted(b for b in maps if maps[b][steps[0]].shape[-1] == largest)
    print("| walk | " + " | ".join(f"step {s}: pruned object tokens (random)" for s in steps) + " |")
    print("|---|" + "---|" * len(steps))
    for name, kw in VARIANTS.items():
        cells = []
        for st in steps:
            pruned_obj, expected = 0, 0.0
            for block in blocks:
                a = maps[block][st].astype(np.float64)
                n = a.shape[-1]
                o = object_tokens(image, obj, n)
                s = (gwpr(a[0], **kw) + gwpr(a[1], **kw)) / 2
                order = np.lexsort((np.arange(n), -s))
                pruned = order[n - n // 2:]
                pruned_obj += int(o[pruned].sum())
                expected += o.sum() * (n // 2) / n
            cells.append(f"{pruned_obj} ({expected:.1f})")
        print(f"| {name} | " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompt", default="a red circle on a blue background")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--steps", default="5,25,45")
    ap.add_argument("--walks", action="store_true", help="compare G-WPR walk variants")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    pipe = StableDiffusionPipeline.from_pretrained(os.path.join(ROOT, "Sources/DatoDemo/Resources/demo-model"),
                                                   torch_dtype=torch.float32, safety_checker=None)
    maps, step = {}, [0]
    for name, module in pipe.unet.named_modules():
        if name.endswith("transformer_blocks.0.attn1"):
            module.set_processor(MapRecorder(maps, name.split(".transformer_blocks")[0], step))

    def advance(_pipe, i, _t, kw):
        step[0] = i + 1
        return kw

    image = pipe(args.prompt, num_inference_steps=50, guidance_scale=7.5, output_type="np",
                 generator=torch.Generator().manual_seed(args.seed), callback_on_step_end=advance).images[0]
    background = np.median(image.reshape(-1, 3), 0)
    obj = np.abs(image - background).sum(-1) > 0.3
    if args.walks:
        walk_table(maps, image, obj, [int(v) for v in args.steps.split(",")])
        return
    print("| block | step | tokens | object tokens | mean score object / background | pruned object tokens at 0.2 (random) | at 0.5 (random) |")
    print("|---|---|---|---|---|---|---|")
    for block in BLOCKS:
        for st in map(int, args.steps.split(",")):
            a = maps[block][st][1].astype(np.float64)   # the cond row
            n = a.shape[0]
            g = int(round(np.sqrt(n)))
            f = image.shape[0] // g
            o = (obj.reshape(g, f, g, f).mean((1, 3)) > 0.3).reshape(-1)
            s = gwpr(a)
            order = np.lexsort((np.arange(n), -s))
            cells = []
            for ratio in (0.2, 0.5):
                pruned = order[n - int(ratio * n):]
                cells.append(f"{o[pruned].sum()} ({o.sum() * ratio:.1f})")
            print(f"| {block} | {st} | {n} | {o.sum()} | {s[o].mean() / s[~o].mean():.2f} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
