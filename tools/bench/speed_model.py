"""Scaled wall-clock speed-ups of acceleration plans on the SD 1.5 UNet at 512 px (random weights), from short
`dato bench plans` runs instead of whole 50-step runs (one fp32 full run takes minutes on a small CPU).

Method. A UNet call's time depends on its depth and on what pruning does in the five latent-grid (level 0)
transformer blocks it runs; every other block is dense under the default `levels=0` of all three methods.
`measure()` times, in one `dato bench plans` process:
- one call at each depth 12, 2, 1, 0 without pruning (bench plans' per-depth section, median of repeats);
- short runs of two full calls (DDIM, 2 steps) with each pruning behaviour, taking turns with unpruned runs of
  the same length: DaTo, ToMe, AT-EDM inline (no DSAP) and AT-EDM temporal with a mask that is never refreshed
  (`refresh=1000`: the first call computes the mask, the second reuses it).
A behaviour's run time over the mean of the unpruned runs next to it gives the call's time relative to a full
call; one fifth of what it saves is the net saving of one pruned level-0 block (overheads included).
`predict()` then walks a plan's 50-step schedule call by call: the depth's relative time, minus the saving of
every level-0 block that call runs and prunes (AT-EDM's DSAP leaves `down_blocks.0.attentions.0` and
`up_blocks.3.attentions.2` dense in early steps; temporal AT-EDM reuses a block's mask for `refresh` steps).
MAC ratios are predicted the same way from the MAC fractions bench plans prints, and are exact up to its
rounding to three decimals.
"""
import math
import re
import statistics
import subprocess

# Level-0 transformer blocks of SD 1.5 and the smallest call depth that runs each (docs/methods/unet-layout.md:
# D_1, D_2 hold down_blocks.0's attentions; U_0, U_1, U_2 up_blocks.3's attentions 2, 1, 0).
LEVEL0 = [("down_blocks.0.attentions.0", 2), ("down_blocks.0.attentions.1", 3),
          ("up_blocks.3.attentions.2", 1), ("up_blocks.3.attentions.1", 2), ("up_blocks.3.attentions.0", 3)]
DSAP_PROTECTED = {"down_blocks.0.attentions.0", "up_blocks.3.attentions.2"}
DEPTHS = (12, 2, 1, 0)
# Method options predict() understands; any other option changes costs in ways the model does not know.
MODELLED = {"dato": set(), "tome": set(), "atedm": {"temporal", "refresh", "dsap", "protect"}}

DEPTH_LINE = re.compile(r"^\s+depth\s+(\d+):\s+([\d.]+) s\s+\(([\d.]+) of the full MACs\)")
RUN_LINE = re.compile(r"^\s+(\S+)\s+([\d.]+) s\s+speed-up\s+\S+\s+MAC ratio ([\d.]+)")


class ModelError(Exception):
    """A plan the speed model cannot predict, or bench output it cannot read."""


def behaviours(ratios):
    """(key, two-call compact plan) for every pruning behaviour measured; key = method:ratio:kind."""
    out = []
    for r in (f"{float(x):g}" for x in ratios):
        out += [(f"dato:{r}:inline", f"d:12*2;r:{r}*2;m:dato"),
                (f"tome:{r}:inline", f"d:12*2;r:{r}*2;m:tome"),
                (f"atedm:{r}:inline", f"d:12*2;r:{r}*2;m:atedm,dsap=0"),
                (f"atedm:{r}:pair", f"d:12*2;r:{r}*2;m:atedm,temporal,refresh=1000,dsap=0")]
    return out


def bench_command(exe, ratios, precision, threads, repeats):
    """The `dato bench plans` command of one measurement round: unpruned runs before, between every two
    behaviours and after them."""
    cmd = [exe, "bench", "plans", "--scheduler", "ddim", "--steps", "2", "--depths", ",".join(map(str, DEPTHS)),
           "--repeats", str(repeats), "--skip-full", "--precision", precision, "--threads", str(threads)]
    plans = ["d:12*2"]
    for i, (_, plan) in enumerate(behaviours(ratios)):
        plans.append(plan)
        if i % 2 == 1:
            plans.append("d:12*2")
    if plans[-1] != "d:12*2":
        plans.append("d:12*2")
    for p in plans:
        cmd += ["--accel", p]
    return cmd


def parse_bench(stdout):
    """Per-depth (seconds, MAC fraction) and the whole runs [(label, seconds, MAC ratio)] of bench plans."""
    depths, runs = {}, []
    for line in stdout.splitlines():
        if m := DEPTH_LINE.match(line):
            depths[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
        elif m := RUN_LINE.match(line):
            runs.append((m.group(1), float(m.group(2)), float(m.group(3))))
    if 12 not in depths or not runs:
        raise ModelError(f"could not read dato bench plans' output:\n{stdout}")
    return depths, runs


def measure(exe, ratios, precision="fp32", threads=2, repeats=3, env=None):
    """One measurement round: runs bench plans and returns its raw figures (a JSON-able dict)."""
    cmd = bench_command(exe, ratios, precision, threads, repeats)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    depths, runs = parse_bench(out)
    return {"command": cmd, "stdout": out, "depths": {str(d): v for d, v in depths.items()}, "runs": runs}


def round_factors(raw, ratios):
    """Relative call times and per-block savings of one round: {'rho': {depth: t_d / t_12}, 'mac': {depth: MAC
    fraction}, 'save': {key: net time saved per pruned block, in full calls}, 'macsave': {key: MACs saved per
    pruned block, as a fraction of a full call}}."""
    depths = {int(d): v for d, v in raw["depths"].items()}
    t12 = depths[12][0]
    rho = {d: t / t12 for d, (t, _) in depths.items()}
    mac = {d: f for d, (_, f) in depths.items()}
    runs = raw["runs"]
    keys = [k for k, _ in behaviours(ratios)]
    plans = dict(behaviours(ratios))
    save, macsave, q, qm = {}, {}, {}, {}
    for i, (label, seconds, mac_ratio) in enumerate(runs):
        if label == "d:12*2":
            continue
        key = next(k for k in keys if plans[k] == label and k not in q)
        before = next(s for lab, s, _ in reversed(runs[:i]) if lab == "d:12*2")
        after = next((s for lab, s, _ in runs[i + 1:] if lab == "d:12*2"), before)
        q[key] = seconds / ((before + after) / 2)
        qm[key] = mac_ratio
    for key in keys:
        method, r, kind = key.split(":")
        if kind == "pair":   # refresh call + reuse call: the reuse call is what is left
            inline = f"{method}:{r}:inline"
            reuse_q, reuse_m = 2 * q[key] - q[inline], 2 * qm[key] - qm[inline]
            save[f"{method}:{r}:reuse"], macsave[f"{method}:{r}:reuse"] = (1 - reuse_q) / 5, (1 - reuse_m) / 5
        else:
            save[key], macsave[key] = (1 - q[key]) / 5, (1 - qm[key]) / 5
    return {"rho": rho, "mac": mac, "save": save, "macsave": macsave, "t12": t12}


def combine(rounds):
    """Median over rounds of every factor."""
    def med(part):
        keys = rounds[0][part].keys()
        return {k: statistics.median(r[part][k] for r in rounds) for k in keys}
    return {"rho": med("rho"), "mac": med("mac"), "save": med("save"), "macsave": med("macsave"),
            "t12": statistics.median(r["t12"] for r in rounds), "rounds": len(rounds)}


def parse_method(method):
    """('dato'|'tome'|'atedm'|None, {option: value}) from a compact plan's m: field."""
    if not method or method == "none":
        return None, {}
    name, *opts = method.split(",")
    name = "atedm" if name == "at-edm" else name.split(":")[0]
    options = dict((o.split("=") + [""])[:2] for o in opts)
    unknown = set(options) - MODELLED.get(name, set())
    if name not in MODELLED or unknown:
        raise ModelError(f"the speed model knows no '{name}' with options {sorted(unknown)}; "
                         f"it models {', '.join(f'{k} {sorted(v)}' for k, v in MODELLED.items())}")
    return name, options


def step_of_call(k, calls, steps):
    """PLMS (steps + 1 calls) repeats the second timestep: calls 1 and 2 are step 1, call k >= 2 is step k - 1."""
    if calls == steps + 1:
        return 0 if k == 0 else max(1, k - 1)
    return k


def predict(resolved, factors):
    """(speed-up over the unaccelerated run, SD 1.5 MAC ratio) of a resolved plan ({'depths', 'ratios',
    'method'}) from `combine()`'s factors."""
    depths, ratios = resolved["depths"], resolved["ratios"]
    name, options = parse_method(resolved.get("method"))
    steps = len(ratios) if ratios else len(depths) - 1
    early_steps = math.ceil(float(options.get("dsap", 0.3)) * steps)
    protect = options.get("protect", "1") != "0"
    refresh = int(options.get("refresh", 5)) if "temporal" in options else 0
    stored = {}
    time = macs = 0.0
    for k, d in enumerate(depths):
        time += factors["rho"][d]
        macs += factors["mac"][d]
        step = step_of_call(k, len(depths), steps)
        ratio = ratios[step] if ratios else 0
        if name is None or d == 0 or ratio <= 0:
            continue
        for block, need in LEVEL0:
            if d < need or (name == "atedm" and step < early_steps and protect and block in DSAP_PROTECTED):
                continue
            kind = "inline"
            if refresh and block in stored and step - stored[block] < refresh:
                kind = "reuse"
            elif refresh:
                stored[block] = step
            key = f"{name}:{ratio:g}:{kind}"
            if key not in factors["save"]:
                raise ModelError(f"no measurement for {key}; measure ratio {ratio:g} with --ratios")
            time -= factors["save"][key]
            macs -= factors["macsave"][key]
    return len(depths) / time, macs / len(depths)
