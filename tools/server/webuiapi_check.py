#!/usr/bin/env python3
"""Drives a running `dato serve` with the webuiapi client (AUTOMATIC1111's Python API client, from PyPI).

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install -r tools/server/requirements.txt
    .build/debug/dato serve --port 7861 &        # the demo model
    /tmp/venv/bin/python tools/server/webuiapi_check.py --port 7861

Checks txt2img with every sampler the server lists (and DPM++ 2M with Karras), the PNG's parameters chunk,
progress during a long job, interrupt, skip, samplers, schedulers, models, options and model switching, plans
through override_settings (dato_accel, token_merging_ratio), png-info and a 422 for a bad field. Prints one line per
check and exits non-zero when one fails.
"""
import argparse
import sys
import threading
import time

import webuiapi

failures = []


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}")
    if not ok:
        failures.append(name)


def small(api, **kw):
    args = dict(prompt="a red circle on a white background", seed=42, steps=6, width=64, height=64, cfg_scale=7)
    args.update(kw)
    return api.txt2img(**args)


def check_listings(api):
    samplers = [s["name"] for s in api.get_samplers()]
    check("samplers", len(samplers) > 0, ", ".join(samplers))
    schedulers = [s["label"] for s in api.get_schedulers()]
    check("schedulers", "Automatic" in schedulers, ", ".join(schedulers))
    models = api.util_get_model_names()
    check("sd-models", len(models) >= 1, ", ".join(models))
    options = api.get_options()
    check("options", options.get("sd_model_checkpoint") == models[0], f"sd_model_checkpoint={options.get('sd_model_checkpoint')}")
    api.util_set_model(models[0])
    check("util_set_model to the loaded model", api.util_get_current_model() == models[0])
    if len(models) > 1:   # dato serve --model-dir DIR: switch to another model and back
        other = models[1]
        api.util_set_model(other)
        now = api.util_get_current_model()
        check("model switching (util_set_model to another model)", now.startswith(other), f"{other} -> current {now}")
        r = small(api, override_settings={"sd_model_checkpoint": models[0]})
        check("model switching through override_settings", models[0].startswith(r.info["sd_model_name"]), r.info["sd_model_name"])
        models = api.util_get_model_names()
    return samplers, models


def check_samplers(api, samplers):
    for name in samplers:
        t0 = time.time()
        r = small(api, sampler_name=name)
        params = r.image.info.get("parameters", "")
        check(f"txt2img sampler {name!r}", r.image.size == (64, 64) and r.info["sampler_name"] == name and f"Seed: 42" in params,
              f"{r.image.size}, info.sampler_name={r.info['sampler_name']!r}, {time.time() - t0:.2f} s, parameters: {params.splitlines()[-1]}")
    r = small(api, sampler_name="DPM++ 2M", scheduler="Karras")
    info = api.png_info(r.image)   # PIL re-encodes the PNG with its text chunk
    check("png-info of the image as PIL re-encodes it", info.info == r.image.info.get("parameters") and info.parameters.get("Seed") == "42",
          f"parameters Seed={info.parameters.get('Seed')}, Size-1={info.parameters.get('Size-1')}")
    check("txt2img DPM++ 2M + Karras", "Karras" in r.image.info.get("parameters", ""), r.image.info.get("parameters", "").splitlines()[-1])


def check_plans(api, models):
    full = small(api, steps=10)
    cached = small(api, steps=10, override_settings={"dato_accel": "deepcache:2"})
    check("plan through override_settings.dato_accel", cached.info["dato_mac_ratio"] < 1,
          f"{cached.info['dato_plan']} MAC ratio {cached.info['dato_mac_ratio']:.3f} (full {full.info['dato_mac_ratio']:.3f})")
    tome = small(api, override_settings={"token_merging_ratio": 0.5})
    check("token_merging_ratio -> tome", "tome" in tome.info["dato_plan"], f"{tome.info['dato_plan']} MAC ratio {tome.info['dato_mac_ratio']:.3f}")
    pinned = small(api, override_settings={"sd_model_checkpoint": models[0]})
    check("override_settings.sd_model_checkpoint", pinned.info["sd_model_name"] in models[0], pinned.info["sd_model_name"])
    batch = small(api, batch_size=2, n_iter=2, seed=5)
    check("batch_size 2 x n_iter 2", len(batch.images) == 4 and batch.info["all_seeds"] == [5, 6, 7, 8], f"all_seeds={batch.info['all_seeds']}")


def run_long(api, result, **kw):
    try:
        result["r"] = small(api, steps=150, n_iter=16, **kw)
    except Exception as e:  # noqa: BLE001 - reported by the caller
        result["error"] = e


def wait_sampling(api, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        p = api.get_progress()
        if p["state"]["sampling_step"] > 0:
            return p
        time.sleep(0.05)
    return None


def check_progress_and_interrupt(api):
    result = {}
    t = threading.Thread(target=run_long, args=(api, result))
    t.start()
    p = wait_sampling(api)
    check("progress during a long job", p is not None and 0 < p["progress"] < 1,
          p and f"progress {p['progress']:.3f}, eta_relative {p['eta_relative']:.1f} s, step {p['state']['sampling_step']}/{p['state']['sampling_steps']}, image {p['state']['job_no'] + 1}/{p['state']['job_count']}")
    time.sleep(0.5)
    later = api.get_progress()
    check("progress advances", p is not None and later["progress"] >= p["progress"], f"{later['progress']:.3f}")
    api.skip()
    time.sleep(0.3)
    t0 = time.time()
    api.interrupt()
    t.join(30)
    r = result.get("r")
    check("interrupt stops the job", r is not None and r.info["dato_interrupted"] and time.time() - t0 < 5,
          r and f"returned {time.time() - t0:.2f} s after interrupt with {len(r.images)} of 16 images")
    idle = api.get_progress()
    check("progress idle after the job", idle["progress"] == 0 and idle["state"]["job_count"] == 0)


def check_errors(api):
    try:
        small(api, width=70)
        check("422 for width 70", False, "no error")
    except RuntimeError as e:
        check("422 for width 70", e.args[0] == 422, str(e.args[1])[:160])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--user")
    ap.add_argument("--password")
    a = ap.parse_args()
    api = webuiapi.WebUIApi(host=a.host, port=a.port, username=a.user, password=a.password)
    if a.user:
        api.set_auth(a.user, a.password)
    samplers, models = check_listings(api)
    check_samplers(api, samplers)
    check_plans(api, models)
    check_progress_and_interrupt(api)
    check_errors(api)
    print(f"{len(failures)} failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
