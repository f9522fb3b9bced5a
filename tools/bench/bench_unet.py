#!/usr/bin/env python3
"""One SD 1.5 or SD 2.1 UNet call (random weights), swift-dato vs a peer engine, on the same machine and threads.

For each latent size and precision it runs `dato bench unet` (release build; `--precision bf16` for bf16) and the
same call in the peer: diffusers in PyTorch (fp32, or under bf16 autocast; the default) or OpenVINO's CPU plugin
on the same UNet converted to IR (`--peer openvino`, `openvino_peer.py`; `bench_openvino.py` runs this with that
peer), each as a median of repeats after a warm-up, and prints a table of times, achieved GFLOP/s, the fraction of
this machine's measured peak (swift-dato's dense 4096^3 product in that precision, measured in the same run) and
the ratio ours / peer.

The timed calls alternate: ours, the peer's, ours, ... (`dato bench unet --stepped` waits for a line before each
call), so that both see the same state of a machine whose speed drifts; besides the ratio of the medians the
table gives the median of the per-pair ratios. `--sequential` runs all of ours first, then all of the peer's.

Usage: python tools/bench/bench_unet.py [--peer torch|openvino] [--architecture sd15|sd21] [--latents 32,64]
                                        [--precisions fp32,bf16] [--batch 2] [--repeats 5] [--threads 2] [--sequential]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def dato_command(args, latent, precision):
    exe = os.path.join(ROOT, ".build", "release", "dato")
    if not os.path.exists(exe):
        subprocess.run(["swift", "build", "-c", "release", "--product", "dato"], cwd=ROOT, check=True)
    return [exe, "bench", "unet", "--architecture", args.architecture, "--latent", str(latent),
            "--batch", str(args.batch), "--repeats", str(args.repeats),
            "--threads", str(args.threads), "--precision", precision, "--peak", "--json"]


# The UNet configs of runwayml/stable-diffusion-v1-5 and stabilityai/stable-diffusion-2-1 (the fields that
# differ from diffusers' defaults).
ARCHITECTURES = {
    "sd15": dict(sample_size=64, cross_attention_dim=768, attention_head_dim=8),
    "sd21": dict(sample_size=96, cross_attention_dim=1024, attention_head_dim=[5, 10, 20, 20],
                 use_linear_projection=True, upcast_attention=True),
}


def torch_unet(args, latent):
    """The diffusers UNet of the architecture with seeded random weights, and its inputs."""
    import torch
    from diffusers import UNet2DConditionModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = ARCHITECTURES[args.architecture]
    unet = UNet2DConditionModel(**config).eval()
    sample = torch.randn(args.batch, 4, latent, latent)
    context = torch.randn(args.batch, 77, config["cross_attention_dim"])
    t = torch.tensor([500] * args.batch)
    return unet, (sample, t, context)


class TorchPeer:
    """diffusers' UNet in PyTorch: fp32, or bf16 under autocast; `call()` times one call."""

    def __init__(self, args, latent, precision):
        import contextlib
        import torch

        self.label = f"PyTorch/diffusers ({'bf16 autocast' if precision == 'bf16' else 'fp32'})"
        self.unet, self.inputs = torch_unet(args, latent)
        self.calls = contextlib.ExitStack()
        self.calls.enter_context(torch.inference_mode())
        self.calls.enter_context(torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"))
        self.call()   # warm-up

    def call(self):
        sample, t, context = self.inputs
        s = time.perf_counter()
        self.unet(sample, t, encoder_hidden_states=context)
        return time.perf_counter() - s

    def version(self):
        import torch

        return f"torch {torch.__version__}"

    def close(self):
        self.calls.close()
        del self.unet


def make_peer(args, latent, precision):
    """The peer `--peer` names, built and warmed up for this latent and precision."""
    if args.peer == "openvino":
        from openvino_peer import OpenVINOPeer   # imported only when asked: it needs the openvino package

        return OpenVINOPeer(args, latent, precision, torch_unet, ARCHITECTURES[args.architecture]["cross_attention_dim"])
    return TorchPeer(args, latent, precision)


def peer_result(peer, times):
    return {"median_s": statistics.median(times), "min_s": min(times),
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "version": peer.version()}


def run_sequential(args, latent, precision):
    """All of ours (one `dato bench unet` run), then all of the peer's."""
    out = subprocess.run(dato_command(args, latent, precision), cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout
    print(out.rstrip())
    ours = json.loads(out.strip().splitlines()[-1])
    peer = make_peer(args, latent, precision)
    print(f"{peer.label}:", flush=True)
    times = []
    for i in range(args.repeats):
        times.append(peer.call())
        print(f"  peer call {i + 1}: {times[-1]:.3f} s", flush=True)
    peer.close()
    return ours, peer_result(peer, times), []


def run_interleaved(args, latent, precision):
    """Our warm-up, then the peer's, then timed calls taking turns; returns both results and the pair ratios."""
    proc = subprocess.Popen(dato_command(args, latent, precision) + ["--stepped"], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def our_line(prefix):
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"dato bench unet ended early (exit status {proc.wait()})")
            print(line.rstrip(), flush=True)
            if line.lstrip().startswith(prefix):
                return line

    our_line("ready")
    peer = make_peer(args, latent, precision)
    print(f"{peer.label}: calls taking turns with ours", flush=True)
    ratios, times = [], []
    for i in range(args.repeats):
        proc.stdin.write("\n")
        proc.stdin.flush()
        ours_s = float(our_line("call").split(":")[1].split()[0])
        times.append(peer.call())
        print(f"  peer call {i + 1}: {times[-1]:.3f} s", flush=True)
        ratios.append(ours_s / times[-1])
    peer.close()
    proc.stdin.close()
    rest = proc.stdout.read()
    print(rest.rstrip())
    if proc.wait() != 0:
        raise RuntimeError(f"dato bench unet failed (exit status {proc.returncode})")
    return json.loads(rest.strip().splitlines()[-1]), peer_result(peer, times), ratios


def main(default_peer="torch"):
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", choices=["torch", "openvino"], default=default_peer,
                    help="the other engine: diffusers in PyTorch, or OpenVINO's CPU plugin on the same UNet as IR")
    ap.add_argument("--architecture", choices=sorted(ARCHITECTURES), default="sd15")
    ap.add_argument("--latents", default="32,64")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--sequential", action="store_true", help="all of our calls first, then PyTorch's")
    args = ap.parse_args()
    rows = []
    for latent in [int(x) for x in args.latents.split(",")]:
        for precision in args.precisions.split(","):
            print(f"\n== {args.architecture} latent {latent}x{latent}, batch {args.batch}, {precision}, {args.threads} threads", flush=True)
            run = run_sequential if args.sequential else run_interleaved
            ours, peer, ratios = run(args, latent, precision)
            rows.append((latent, precision, ours, peer, ratios))
    gib = 1 << 30
    print(f"\n{'latent':>6} {'prec':>5} | {'ours s':>7} {'(min)':>7} {'GFLOP/s':>8} {'% peak':>6} {'peak':>6} | "
          f"{'peer s':>7} {'(min)':>7} | {'ours/peer':>10} {'pairs':>6} | {'RSS ours':>8} {'peer':>6}")
    for latent, precision, ours, peer, ratios in rows:
        gflops, peak = ours["gflops"], ours.get("peak_gflops", float("nan"))
        pairs = f"{statistics.median(ratios):6.3f}" if ratios else f"{'-':>6}"
        print(f"{latent:>6} {precision:>5} | {ours['median_s']:7.3f} {ours['min_s']:7.3f} {gflops:8.0f} {100 * gflops / peak:6.0f} "
              f"{peak:6.0f} | {peer['median_s']:7.3f} {peer['min_s']:7.3f} | {ours['median_s'] / peer['median_s']:10.3f} {pairs} | "
              f"{ours['peak_rss_bytes'] / gib:7.2f}G {peer['peak_rss_bytes'] / gib:5.2f}G")
    print("(ours/peer: ratio of the medians; pairs: median of the ratios of calls run one after the other)")
    print(f"({rows[0][3]['version']}; the peer's peak RSS is the Python process's maximum so far; "
          "GFLOP/s count the call's multiply-adds x 2 as swift-dato's UNetCost does)")


if __name__ == "__main__":
    sys.exit(main())
