"""OpenVINO's CPU plugin as a peer of `dato bench unet` (used by bench_unet.py and bench_openvino.py).

The same diffusers UNet with the same seeded random weights that the PyTorch peer builds is converted to OpenVINO IR
once per architecture (`openvino.convert_model`, fp32 weights, kept in a cache folder), reshaped to the run's static
input shapes and compiled for the CPU with the run's thread count, latency hint and precision hint: `f32`, or
`bf16` (what OpenVINO picks by itself on CPUs with AVX-512 BF16 or AMX).
"""
import os
import tempfile
import time

CACHE = os.path.join(tempfile.gettempdir(), "swift-dato-openvino")


class UNetForExport:
    """diffusers' UNet with positional inputs and a plain tensor output, as `convert_model` wants it."""

    def __new__(cls, unet):
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.unet = unet

            def forward(self, sample, timestep, encoder_hidden_states):
                return self.unet(sample, timestep, encoder_hidden_states=encoder_hidden_states, return_dict=False)[0]

        return Wrapper().eval()


def ir_path(args):
    return os.path.join(CACHE, f"unet-{args.architecture}.xml")


def converted_model(args, torch_unet):
    """The IR of the architecture's random UNet, converted on first use (the weights do not depend on the latent)."""
    import openvino as ov
    import torch

    path = ir_path(args)
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        unet, inputs = torch_unet(args, 32)
        with torch.no_grad():
            model = ov.convert_model(UNetForExport(unet), example_input=inputs)
        ov.save_model(model, path, compress_to_fp16=False)
        del unet, model
    return ov.Core().read_model(path)


class OpenVINOPeer:
    """One compiled UNet at the run's latent, batch, threads and precision (`width`: the text context's width);
    `call()` times one inference."""

    def __init__(self, args, latent, precision, torch_unet, width):
        import openvino as ov

        core = ov.Core()
        model = converted_model(args, torch_unet)
        model.reshape({model.inputs[0]: [args.batch, 4, latent, latent], model.inputs[1]: [args.batch],
                       model.inputs[2]: [args.batch, 77, width]})
        config = {"INFERENCE_NUM_THREADS": args.threads, "PERFORMANCE_HINT": "LATENCY",
                  "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"}
        self.compiled = core.compile_model(model, "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.label = f"OpenVINO {ov.__version__} CPU plugin ({self.compiled.get_property('INFERENCE_PRECISION_HINT').get_type_name()})"
        self.feeds = self.inputs(args, latent, width)
        self.call()   # warm-up

    @staticmethod
    def inputs(args, latent, width):
        import numpy as np

        rng = np.random.default_rng(0)
        return [rng.standard_normal((args.batch, 4, latent, latent), dtype=np.float32),
                np.full((args.batch,), 500, dtype=np.int64),
                rng.standard_normal((args.batch, 77, width), dtype=np.float32)]

    def call(self):
        s = time.perf_counter()
        self.request.infer(self.feeds)
        return time.perf_counter() - s

    def version(self):
        import openvino as ov

        return f"openvino {ov.__version__}"

    def close(self):
        del self.request, self.compiled
