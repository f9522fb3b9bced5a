#!/usr/bin/env python3
"""One SD 1.5 or SD 2.1 UNet call (random weights), swift-dato against OpenVINO's CPU plugin, calls taking turns.

`bench_unet.py` with `--peer openvino` (see its options: --latents, --precisions, --repeats, --threads,
--architecture). OpenVINO converts the same diffusers UNet (same seed) to IR once, cached in the system's
temporary folder (`openvino_peer.py`), and runs it with INFERENCE_PRECISION_HINT f32 or bf16.
Needs `openvino` (pinned in tools/requirements.txt) besides the PyTorch stack.

Usage: python tools/bench/bench_openvino.py [--latents 32,64] [--precisions fp32,bf16] [--repeats 5]
"""
import sys

import bench_unet

if __name__ == "__main__":
    sys.exit(bench_unet.main(default_peer="openvino"))
