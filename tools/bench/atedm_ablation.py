#!/usr/bin/env python3
"""AT-EDM ablations on the bundled demo model (issue 23): each reading of the paper changed one at a time, from
the reading used before issue 23 and from the current default, plus ToMe at several ratios for the equal-MAC
comparison. Runs `dato compare` (PNDM 50 steps, CFG 7.5 unless told) over two prompts x four seeds and prints a
Markdown table (plan, what it changes, MAC ratio, PSNR, SSIM against the unaccelerated run).

Usage: python tools/bench/atedm_ablation.py [--steps 50] [--seeds 7,8,9,10] [--threads 2]
           [--group all|old|default|tome|walk|dsap] [--plan PLAN]... [--tiny]
`--plan` (repeatable) runs the given plans, after ToMe 0.4 / 0.5 and the default, instead of the groups.
"""
import argparse
import os
import subprocess

import compare_runs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPTS = ["a red circle on a blue background", "a green square on a yellow background"]
# The reading before issue 23, written with today's options (its DSAP then protected SD 1.5's module names,
# which on the demo model left the up stages' last modules unprotected).
OLD = "atedm:0.5,levels=0+1,recovery=attention,copy=state,share=none,gwpr=received,self=1"


def vary(base, change):
    """`base` with the options in `change` (",key=value,..." or ",flag") replacing those of the same key."""
    head, *options = base.split(",")
    merged = {o.split("=")[0]: o for o in options}
    for o in change.strip(",").split(","):
        merged[o.split("=")[0]] = o
    return ",".join([head, *merged.values()])


TINY = "Tests/DatoPipelineTests/Fixtures/tiny-sd"
# The default before the reverse walk.
PREV = "atedm:0.5,gwpr=received,self=1"
# In every group that tries new readings: ToMe at the MAC ratios around the default's, and the default.
REFERENCES = [("tome:0.4", "ToMe, attn1 only"), ("tome:0.5", "ToMe, attn1 only"), ("atedm:0.5", "default")]

GROUPS = {
    "old": [
        (OLD, "reading before issue 23: whole-state copy from the most attended kept token, levels 0+1"),
        (vary(OLD, ",mask=ffn"), "mask after the FFN (paper's figure); no savings on one-layer blocks"),
        (vary(OLD, ",copy=update"), "copy only the source's update"),
        (vary(OLD, ",recovery=similarity"), "source by cosine similarity after attn1"),
        (vary(OLD, ",recovery=similarity,features=input"), "source by cosine similarity of the block input"),
        (vary(OLD, ",gwpr=given"), "G-WPR s <- A s (row-stochastic; stays uniform)"),
        (vary(OLD, ",iterations=1"), "one G-WPR step (column mean)"),
        (vary(OLD, ",share=mask"), "CFG rows share the mask"),
        (vary(OLD, ",share=sources"), "CFG rows share mask and sources"),
        (vary(OLD, ",levels=0"), "level 0 only (16x16)"),
        (vary(OLD, ",levels=1"), "level 1 only (8x8; AT-EDM-dagger analogue)"),
        (vary(OLD, ",dsap=0"), "no DSAP"),
    ],
    "default": [
        ("atedm:0.5", "default: reverse walk without the diagonal, similarity after attn1, update copy, CFG rows share "
                      "mask and sources, level 0"),
        (PREV, "previous default walk: s <- A^T s on the map as it is"),
        ("atedm:0.5,mask=ffn", "mask after the FFN: identical outputs, no savings"),
        ("atedm:0.5,copy=state", "whole-state copy"),
        ("atedm:0.5,recovery=attention", "source by attention weight"),
        ("atedm:0.5,features=input", "similarity of the block input"),
        ("atedm:0.5,damping=0.85", "PageRank damping 0.85"),
        ("atedm:0.5,iterations=1", "one iteration"),
        ("atedm:0.5,cfgscores=cond", "shared mask ranked by the cond row's scores"),
        ("atedm:0.5,share=none", "CFG rows on their own masks"),
        ("atedm:0.5,share=mask", "CFG rows share the mask only"),
        ("atedm:0.5,levels=0+1", "levels 0 and 1"),
        ("atedm:0.5,levels=1", "level 1 only"),
        ("atedm:0.5,dsap=0", "no DSAP"),
        ("atedm:0.5,dsap=0.5", "DSAP tau 0.5"),
        ("atedm:0.5,protect=0", "DSAP without protected modules"),
        ("atedm:0.5,stages=up", "up stages only"),
        ("atedm:0.7,stages=up", "up stages only, ratio 0.7"),
        ("atedm:0.3", "ratio 0.3"),
        ("atedm:0.4", "ratio 0.4"),
        ("atedm:0.6", "ratio 0.6"),
        ("atedm:0.7", "ratio 0.7"),
        ("atedm:0.3,temporal", "temporal placement, ratio 0.3"),
        ("atedm:0.5,temporal", "temporal placement, ratio 0.5"),
    ],
    "tome": [(f"tome:{r}", "ToMe, attn1 only") for r in ("0.3", "0.4", "0.5", "0.6", "0.75")]
            + [("tome:0.5,mlp", "ToMe, attn1 and MLP")],
    # G-WPR's walk, one choice at a time: from the previous default (s <- A^T s on the map, PREV) and from the
    # current one (the reverse walk without the diagonal), with the references in the same run.
    "walk": REFERENCES + [
        (PREV, "previous default: s <- A^T s on the map as it is"),
        (PREV + ",iterations=1", "one iteration: the column mean (= one more iteration from a column-mean start)"),
        (PREV + ",iterations=2", "two iterations"),
        (PREV + ",iterations=3", "three iterations"),
        (PREV + ",iterations=50,tolerance=0", "50 iterations, no early stop (Zero-TPrune's early-layer count)"),
        (PREV + ",damping=0.85", "PageRank damping 0.85"),
        (PREV + ",damping=0.5", "PageRank damping 0.5"),
        ("atedm:0.5,gwpr=received,self=0", "a token's attention to itself left out"),
        (PREV + ",normalize=columns", "map rescaled per column, s <- A^T s (stays uniform: an arbitrary mask)"),
        (PREV + ",cfgscores=cond", "shared mask ranked by the cond row's scores"),
        (PREV + ",share=none", "scores and mask per CFG row"),
        ("atedm:0.5,self=1", "reverse walk with the diagonal"),
        ("atedm:0.5,self=1,iterations=1", "reverse walk with the diagonal, one iteration"),
        ("atedm:0.5,self=1,iterations=50,tolerance=0", "reverse walk with the diagonal, 50 iterations"),
        ("atedm:0.5,self=1,damping=0.85", "reverse walk with the diagonal, damping 0.85"),
        ("atedm:0.5,self=1,cfgscores=cond", "reverse walk with the diagonal, cond row's scores"),
        ("atedm:0.5,self=1,share=none", "reverse walk with the diagonal, per CFG row"),
        ("atedm:0.5,self=1,recovery=attention", "reverse walk with the diagonal, sources by attention"),
        ("atedm:0.5,self=1,levels=0+1", "reverse walk with the diagonal, levels 0 and 1"),
    ],
    # DSAP's tau (unpublished) against the ratio, at demo MAC ratios near ToMe's 0.950.
    "dsap": REFERENCES + [
        (PREV.replace("0.5", "0.55") + ",dsap=0.4", "previous default walk, tau 0.4, ratio 0.55"),
        (PREV.replace("0.5", "0.6") + ",dsap=0.5", "previous default walk, tau 0.5, ratio 0.6"),
        (PREV.replace("0.5", "0.7") + ",dsap=0.6", "previous default walk, tau 0.6, ratio 0.7"),
        (PREV.replace("0.5", "0.8") + ",dsap=0.7", "previous default walk, tau 0.7, ratio 0.8"),
        ("atedm:0.6,dsap=0.5,self=1", "reverse walk with the diagonal, tau 0.5, ratio 0.6"),
        ("atedm:0.7,dsap=0.6,self=1", "reverse walk with the diagonal, tau 0.6, ratio 0.7"),
    ],
}

def run(plans, args):
    """`dato compare` over PROMPTS x seeds; returns (MAC ratio, PSNR, SSIM) per plan, in order."""
    exe = os.path.join(ROOT, ".build", "release", "dato")
    if not os.path.exists(exe):
        subprocess.run(["swift", "build", "-c", "release", "--product", "dato"], cwd=ROOT, check=True)
    extra = ["-m", os.path.join(ROOT, TINY), "-W", "64", "-H", "64"] if args.tiny else []
    rows = compare_runs.compare(exe, [plan for plan, _ in plans], PROMPTS, args.seeds, steps=args.steps,
                                threads=args.threads, cwd=ROOT, extra=extra)
    return [(r["mac_ratio"], r["psnr"], r["ssim"]) for r in rows]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--seeds", default="7,8,9,10")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--group", default="all", choices=["all", *GROUPS])
    ap.add_argument("--tiny", action="store_true", help=f"the tiny random-weight fixture ({TINY}) at 64x64 px")
    ap.add_argument("--plan", action="append", default=[], help="run these plans (with the references) instead")
    args = ap.parse_args()
    if args.plan:
        GROUPS["plans"] = REFERENCES + [(p, "") for p in args.plan]
    groups = ["plans"] if args.plan else list(GROUPS) if args.group == "all" else [args.group]
    print("| plan | what it changes | MAC ratio | PSNR dB | SSIM |")
    print("|---|---|---|---|---|")
    for g in groups:
        for (plan, what), (mac, psnr, ssim) in zip(GROUPS[g], run(GROUPS[g], args)):
            print(f"| `{plan}` | {what} | {mac:.3f} | {psnr:.1f} | {ssim:.4f} |", flush=True)


if __name__ == "__main__":
    main()
