#!/usr/bin/env python3
"""One table of every acceleration method's quality and speed (issue 23), and a grid of its images.

Rows: the unaccelerated run, DeepCache (deepcache:2/3/5), DaTo, AT-EDM inline and temporal and ToMe at each
--ratios value, and dato-reference's depths joined with each pruning method. Columns:
- quality on the bundled demo model: `dato compare` (50 PNDM steps, CFG 7.5, two prompts x four seeds) against
  the unaccelerated run of the same prompt and seed: MAC ratio, PSNR, SSIM, prompt alignment;
- speed on the SD 1.5 architecture at 512 px (latent 64, random weights): speed-up over the unaccelerated
  50-step run and its MAC ratio, scaled from short `dato bench plans` runs (tools/bench/speed_model.py says how).

Results are cached in a JSON file (--json); `--only table` rebuilds the Markdown from it without running
anything, `--only quality` / `--only speed` re-run one half, `--only validate` checks the scaled speed-up
against one real 50-step run. The Markdown goes to stdout and, between the markers below, into --out.

Usage: python tools/bench/method_table.py --dato .build/release/dato [--only all|quality|speed|validate|table]
       [--ratios 0.3,0.5,0.7] [--rounds 1] [--precision fp32] [--threads 2] [--note TEXT]
"""
import argparse
import datetime
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import compare_runs
import speed_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPTS = ["a red circle on a blue background", "a green square on a yellow background"]
BEGIN, END = "<!-- method_table:begin -->", "<!-- method_table:end -->"
PLAN_LINE = re.compile(r"^plan (\S+) \(")


def plan_rows(ratios):
    """Rows of the table as lists (one list per line of the grid): plans in the order they are shown."""
    rows = [["none", "deepcache:2", "deepcache:3", "deepcache:5"]]
    for term in ("dato:{}", "atedm:{}", "atedm:{},temporal", "tome:{}"):
        rows.append([term.format(r) for r in ratios])
    for method in ("dato", "atedm", "tome"):
        rows.append([f"dato-reference+{method}:{r}" for r in ratios])
    return rows


def expand(field):
    """A compact plan's list ("12,1*5,0") as numbers."""
    out = []
    for item in filter(None, field.split(",")):
        value, _, count = item.partition("*")
        out += [float(value) if "." in value else int(value)] * int(count or 1)
    return out


def parse_compact(text):
    """{'depths', 'ratios', 'method'} of a compact plan `d:...;r:...;m:...`."""
    parts = dict(p.split(":", 1) for p in text.split(";"))
    return {"depths": [int(d) for d in expand(parts["d"])], "ratios": [float(r) for r in expand(parts.get("r", ""))],
            "method": parts.get("m")}


def resolve(exe, plan, steps, threads):
    """Checks `plan` with the binary and returns it resolved for a PNDM run of `steps` steps (`dato generate` on
    the demo model prints the resolved compact plan). Raises SystemExit naming the plan when dato refuses it."""
    if plan == "none":
        return {"depths": [12] * (steps + 1), "ratios": [], "method": None}
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([exe, "generate", "-p", PROMPTS[0], "-s", "1", "--steps", str(steps), "--threads",
                               str(threads), "--accel", plan, "-o", os.path.join(tmp, "x.png")],
                              capture_output=True, text=True, env=bench_env())
    if proc.returncode != 0:
        raise SystemExit(f"dato refused the plan '{plan}':\n{proc.stderr.strip()}")
    for line in proc.stdout.splitlines():
        if m := PLAN_LINE.match(line):
            return parse_compact(m.group(1))
    raise SystemExit(f"dato generate printed no resolved plan for '{plan}':\n{proc.stdout}")


def bench_env():
    return dict(os.environ, OMP_WAIT_POLICY="passive")


def cpu_model():
    """lscpu's model name, the core count and whether AVX512-BF16 and AMX are there (they decide the kernels)."""
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    info = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}
    flags = info.get("Flags", "").split()
    features = ["AVX512-BF16" if "avx512_bf16" in flags else "no AVX512-BF16", "AMX" if "amx_tile" in flags else "no AMX"]
    if info.get("CPU family") == "25" and "avx512f" in flags:
        features.insert(0, "Zen 4")   # family 19h with AVX-512: Zen 4 (Zen 3 has none)
    return f"{info.get('Model name', '?')} ({', '.join(features)}, {os.cpu_count()} CPUs)"


def stamp(args):
    """Date, CPU, command and conditions of a measurement."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    return {"date": now, "cpu": cpu_model(), "threads": args.threads, "command": cmd, "note": args.note}


def run_quality(args, plans, results):
    """`dato compare` per prompt (every plan, all seeds): the mean over both prompts per plan, and the grid."""
    per_prompt, grids = [], []
    for i, prompt in enumerate(PROMPTS):
        grid = os.path.join(args.work, f"compare-{i}.png")
        rows = compare_runs.compare(args.dato, plans, [prompt], args.seeds, steps=args.steps, threads=args.threads,
                                    grid=grid, cwd=ROOT, baseline=True)
        per_prompt.append({r["plan"]: r for r in rows})
        grids.append(grid)
        print(f"quality: prompt {i + 1}/{len(PROMPTS)} done", file=sys.stderr)
    fields = ("mac_ratio", "psnr", "ssim", "latent_error", "alignment")
    results["quality"] = {
        "stamp": stamp(args), "steps": args.steps, "seeds": args.seeds, "prompts": PROMPTS,
        "plans": {p: {f: mean([pp[p][f] for pp in per_prompt]) for f in fields} for p in ["none", *plans]}}
    draw_grid(grids, args)


def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def draw_grid(grids, args):
    """One image per plan and prompt (seed --grid-seed), laid out as plan_rows(), captions above the cells."""
    from PIL import Image, ImageDraw, ImageFont
    seeds = args.seeds.split(",")
    row = seeds.index(args.grid_seed) if args.grid_seed in seeds else 0
    sources = [Image.open(g).convert("RGB") for g in grids]
    cell, label, scale = 64, 9, 2   # compare's cells: 64 px images under a 9 px label band
    columns = ["none", *[p for r in plan_rows(args.ratios) for p in r if p != "none"]]
    layout = plan_rows(args.ratios)
    side = cell * scale
    cap = 14
    width = max(map(len, layout)) * (len(sources) * side + 8)
    out = Image.new("RGB", (width, len(layout) * (side + cap + 6)), "white")
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default()
    for y, plans in enumerate(layout):
        for x, plan in enumerate(plans):
            left, top = x * (len(sources) * side + 8), y * (side + cap + 6)
            draw.text((left + 2, top + 1), plan, fill="black", font=font)
            for s, src in enumerate(sources):
                c = columns.index(plan)
                box = (c * cell, row * (cell + label) + label, (c + 1) * cell, (row + 1) * (cell + label))
                img = src.crop(box).resize((side, side), Image.NEAREST)
                out.paste(img, (left + s * side, top + cap))
    os.makedirs(os.path.dirname(args.grid), exist_ok=True)
    out.save(args.grid, optimize=True)
    print(f"wrote {args.grid}", file=sys.stderr)


def run_speed(args, plans, results):
    """--rounds measurement rounds of bench plans; the speed-up and SD 1.5 MAC ratio of every plan."""
    speed = results.get("speed") if args.append else None
    if not speed or speed.get("precision") != args.precision:
        speed = {"precision": args.precision, "rounds": []}
        results.pop("validation", None)   # it was checked against the rounds being replaced
    for i in range(args.rounds):
        raw = speed_model.measure(args.dato, args.ratios, args.precision, args.threads, args.repeats, bench_env())
        raw["stamp"] = stamp(args)
        speed["rounds"].append(raw)
        results["speed"] = speed
        save(results, args.json)
        print(f"speed: round {i + 1}/{args.rounds} done", file=sys.stderr)
    results["speed"] = speed


def speed_table(results, plans, ratios):
    """{plan: (speed-up, SD 1.5 MAC ratio, (lowest, highest) speed-up of the single rounds)} from the stored
    rounds, and the combined factors (medians over rounds)."""
    speed = results.get("speed")
    if not speed or not speed["rounds"]:
        return {}, None
    per_round = [speed_model.round_factors(r, ratios) for r in speed["rounds"]]
    factors = speed_model.combine(per_round)
    table = {}
    for p in plans:
        speed_up, mac = speed_model.predict(results["resolved"][p], factors)
        single = [speed_model.predict(results["resolved"][p], f)[0] for f in per_round]
        table[p] = (speed_up, mac, (min(single), max(single)))
    return table, factors


def run_validation(args, results):
    """One real 50-step bench plans run of --validate-plan against the scaled prediction."""
    plan = args.validate_plan
    _, factors = speed_table(results, [], args.ratios)   # medians over the stored rounds
    if factors is None:
        raise SystemExit("run --only speed first: the validation compares against its factors")
    cmd = [args.dato, "bench", "plans", "--steps", str(args.steps), "--depths", "12,2,1,0", "--repeats", str(args.repeats),
           "--skip-full", "--precision", args.precision, "--threads", str(args.threads), "--accel", plan]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=bench_env()).stdout
    depths, runs = speed_model.parse_bench(out)
    here = dict(factors, rho={d: t / depths[12][0] for d, (t, _) in depths.items()})
    speed_up, mac = speed_model.predict(results["resolved"][plan], here)
    calls = len(results["resolved"][plan]["depths"])
    results["validation"] = {"plan": plan, "command": cmd, "stdout": out, "stamp": stamp(args),
                             "measured_seconds": runs[0][1], "predicted_seconds": depths[12][0] * calls / speed_up,
                             "measured_mac_ratio": runs[0][2], "predicted_mac_ratio": mac}


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def markdown(results, args):
    """The generated section: header (date, CPU, commands, conditions), the table, the grid."""
    rows = [p for r in plan_rows(args.ratios) for p in r]
    speeds, factors = speed_table(results, rows, args.ratios)
    q = results.get("quality")
    lines = []
    if q:
        s = q["stamp"]
        lines.append(f"- Quality: {s['date']}, {s['cpu']}, {s['threads']} threads, `{s['command']}`"
                     + (f" ({s['note']})" if s.get("note") else "") + ".")
    if results.get("speed", {}).get("rounds"):
        sp = results["speed"]
        stamps = [r["stamp"] for r in sp["rounds"]]
        s = dict(stamps[-1], command="`, `".join(dict.fromkeys(t["command"] for t in stamps)),
                 date=" to ".join(dict.fromkeys((stamps[0]["date"], stamps[-1]["date"]))))
        lines.append(f"- Speed: {s['date']}, {s['cpu']}, {s['threads']} threads, {sp['precision']}, "
                     f"scaled to 50 PNDM steps from {len(sp['rounds'])} round(s) of short `dato bench plans` runs (median of rounds; "
                     f"see above), unaccelerated 50-step run about "
                     f"{len(results['resolved']['none']['depths']) * factors['t12']:.0f} s, `{s['command']}`" + (f" ({s['note']})" if s.get("note") else "") + ".")
    if v := results.get("validation"):
        lines.append(f"- Check of the scaling: a real 50-step run of `{v['plan']}` took {v['measured_seconds']:.1f} s "
                     f"against {v['predicted_seconds']:.1f} s predicted ({v['measured_seconds'] / v['predicted_seconds'] - 1:+.1%}); "
                     f"MAC ratio {v['measured_mac_ratio']:.3f} measured, {v['predicted_mac_ratio']:.3f} predicted "
                     f"({v['stamp']['date']}).")
    lines += ["", "| plan | demo MAC ratio | PSNR dB | SSIM | alignment | SD 1.5 MAC ratio | SD 1.5 speed-up x |",
              "|---|---|---|---|---|---|---|"]
    for plan in rows:
        m = (q or {}).get("plans", {}).get(plan, {})
        sp = speeds.get(plan, (None, None, None))
        spread = f" ({sp[2][0]:.2f}-{sp[2][1]:.2f})" if sp[2] and len(results["speed"]["rounds"]) > 1 else ""
        psnr = "identical" if plan == "none" else fmt(m.get("psnr"), ".1f")
        lines.append(f"| `{plan}` | {fmt(m.get('mac_ratio'), '.3f')} | {psnr} | {fmt(m.get('ssim'), '.4f')} | "
                     f"{fmt(m.get('alignment'), '.3f')} | {fmt(sp[1], '.3f')} | {fmt(sp[0], '.2f')}{spread} |")
    grid = os.path.relpath(args.grid, os.path.dirname(os.path.abspath(args.out)))
    lines += ["", f"![every plan, seed {args.grid_seed}, both prompts]({grid})", ""]
    return "\n".join(lines)


def publish(text, path):
    """Replaces the section between BEGIN and END in `path` (or writes a file holding only the section)."""
    body = f"{BEGIN}\n{text}\n{END}"
    old = open(path).read() if os.path.exists(path) else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + body + old[old.index(END) + len(END):]
    else:
        new = old + ("\n" if old else "") + body + "\n"
    with open(path, "w") as f:
        f.write(new)


def save(results, path):
    with open(path, "w") as f:
        json.dump(results, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dato", help="the dato binary (a release build); not needed for --only table")
    ap.add_argument("--only", default="all", choices=["all", "quality", "speed", "validate", "table"])
    ap.add_argument("--ratios", default="0.3,0.5,0.7")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--seeds", default="7,8,9,10")
    ap.add_argument("--grid-seed", default="7")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument("--rounds", type=int, default=1, help="speed measurement rounds (median over rounds)")
    ap.add_argument("--repeats", type=int, default=3, help="bench plans' repeats per depth")
    ap.add_argument("--append", action="store_true", help="add speed rounds to the stored ones")
    ap.add_argument("--validate-plan", default="dato-reference+dato:0.5")
    ap.add_argument("--note", default="", help="conditions, e.g. 'machine shared with builds'")
    ap.add_argument("--json", default=os.path.join(ROOT, "docs/methods/comparison.json"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs/methods/comparison.md"))
    ap.add_argument("--grid", default=os.path.join(ROOT, "docs/methods/images/comparison-grid.png"))
    args = ap.parse_args()
    args.ratios = [f"{float(r):g}" for r in args.ratios.split(",")]
    if args.only != "table" and not args.dato:
        ap.error("--dato PATH is needed to measure (only --only table works without it)")
    args.dato = os.path.abspath(args.dato) if args.dato else None
    results = json.load(open(args.json)) if os.path.exists(args.json) else {}
    plans = [p for r in plan_rows(args.ratios) for p in r if p != "none"]
    if args.only != "table":
        results["resolved"] = {p: resolve(args.dato, p, args.steps, args.threads) for p in ["none", *plans]}
        print(f"dato accepted all {len(plans)} plans", file=sys.stderr)
    with tempfile.TemporaryDirectory() as work:
        args.work = work
        if args.only in ("all", "quality"):
            run_quality(args, plans, results)
            save(results, args.json)
        if args.only in ("all", "speed"):
            run_speed(args, plans, results)
            save(results, args.json)
        if args.only == "validate":
            run_validation(args, results)
            save(results, args.json)
    text = markdown(results, args)
    print(text)
    publish(text, args.out)


if __name__ == "__main__":
    main()
