"""Running `dato compare` and reading its table, shared by the benchmark scripts in tools/bench.

`dato compare` prints one row per plan (the unaccelerated run first, labelled `none`):
plan, loop time s, speed-up, MAC ratio, PSNR dB, SSIM, relative latent error and, on demo-style 64x64
images, prompt alignment. `compare()` runs it and returns those rows as dictionaries, in plan order.
"""
import os
import re
import subprocess
import tempfile

# plan, time, speed-up, MAC ratio, PSNR, SSIM, latent error, then alignment when the scorer applies.
ROW = re.compile(r"^(\S.*?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)(?:\s+([\d.]+))?$")
FIELDS = ("seconds", "speedup", "mac_ratio", "psnr", "ssim", "latent_error")


def parse(stdout, plans, baseline=False):
    """The rows of `dato compare`'s table for `plans`, each a dict of FIELDS plus `plan` and `alignment` (None
    when compare printed none); with `baseline` the unaccelerated run's row comes first, labelled `none`.
    Raises SystemExit when the row count differs."""
    rows = []
    labels = (["none"] if baseline else []) + list(plans)
    for line in stdout.splitlines():
        m = ROW.match(line)
        if not m or m.group(1) == "plan" or (m.group(1) == "none" and not baseline):
            continue
        row = {"plan": m.group(1)}
        row.update({k: float(v) for k, v in zip(FIELDS, m.groups()[1:7])})
        row["alignment"] = float(m.group(8)) if m.group(8) is not None else None
        rows.append(row)
    if len(rows) != len(labels):
        raise SystemExit(f"expected {len(labels)} rows from dato compare, got {len(rows)}:\n{stdout}")
    for row, plan in zip(rows, labels):
        row["plan"] = plan   # compare cuts labels at 40 characters
    return rows


def compare(exe, plans, prompts, seeds, steps=50, threads=2, grid=None, cwd=None, extra=(), baseline=False):
    """Runs `exe compare` on every prompt x seed with each plan (demo model unless `extra` names one) and
    returns `parse()`'s rows. `grid`: where compare writes its side-by-side PNG (a temporary file if None)."""
    with tempfile.TemporaryDirectory() as tmp:
        prompt_file = os.path.join(tmp, "prompts.txt")
        with open(prompt_file, "w") as f:
            f.write("\n".join(prompts) + "\n")
        cmd = [exe, "compare", "--prompt-file", prompt_file, "--seeds", seeds, "--steps", str(steps),
               "--threads", str(threads), "-o", grid or os.path.join(tmp, "grid.png"), *extra]
        for plan in plans:
            cmd += ["--accel", plan]
        out = subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True,
                             env=dict(os.environ, OMP_WAIT_POLICY="passive")).stdout
    return parse(out, plans, baseline)
