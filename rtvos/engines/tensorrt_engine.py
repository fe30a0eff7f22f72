"""TensorRT on NVIDIA GPUs through torch-tensorrt (optional extra: `pip install rtvos[tensorrt]`).

Written against the documented torch-tensorrt API (dynamo IR):

    trt = torch_tensorrt.compile(module, ir="dynamo", inputs=[torch_tensorrt.Input(shape, dtype=torch.half)],
                                 enabled_precisions={torch.half})
    torch_tensorrt.save(trt, "x.ep", inputs=[example])        # ExportedProgram on disk
    module = torch.export.load("x.ep").module()               # later starts only load it

fp16: the module and its inputs are converted to half explicitly (newer releases type the engine from
the graph and deprecate `enabled_precisions`; older ones honour `enabled_precisions`; both builds
then run in fp16). Shapes are static (the segmenters fix the processing size at start), which also
avoids the known dynamic-H/W + interpolate failures. Outputs come back as float32 on the CPU, like
every other engine.

NOT verified on this project's machines (no CUDA, torch-tensorrt not installable): see README,
"Engines: what was verified where".
"""

from __future__ import annotations

import logging

import torch

from rtvos.engines.base import Engine, EngineError, cache_dir, module_checksum

log = logging.getLogger("rtvos.engines")


def _import_trt():
    try:
        import torch_tensorrt
    except ImportError as exc:
        raise EngineError(
            f"backend 'tensorrt' needs torch-tensorrt ({exc}): pip install 'rtvos[tensorrt]' on a machine with "
            "an NVIDIA GPU and CUDA; on the CPU use backend=onnxruntime") from None
    if not torch.cuda.is_available():
        raise EngineError("backend 'tensorrt' needs a CUDA GPU and none is visible; use backend=onnxruntime")
    return torch_tensorrt


def engine_path(module: torch.nn.Module, shapes: list[tuple[int, ...]], trt_version: str, device_name: str):
    shape = "_".join("x".join(str(d) for d in s) for s in shapes)
    dev = "".join(c if c.isalnum() else "-" for c in device_name)
    key = f"{type(module).__name__}-{module_checksum(module)}-{shape}-fp16-trt{trt_version}-{dev}"
    return cache_dir() / f"{key.replace('+', '_')}.ep"


class TensorRTEngine(Engine):
    backend = "tensorrt"

    def __init__(self, module: torch.nn.Module, input_shapes: list[tuple[int, ...]], keep: bool = True):
        """`keep=False`: the compiled engine is not cached on disk (weights no later start will have)."""
        trt = _import_trt()
        self.input_shapes = [tuple(s) for s in input_shapes]
        self.device = torch.device("cuda")
        self.path = engine_path(module, self.input_shapes, trt.__version__, torch.cuda.get_device_name())
        if self.path.exists():
            self.module = torch.export.load(str(self.path)).module()
        else:
            log.info("building a TensorRT engine for %s %s (minutes on first use)", type(module).__name__,
                     self.input_shapes)
            half = module.eval().to(self.device).half()
            inputs = [trt.Input(s, dtype=torch.half) for s in self.input_shapes]
            compiled = trt.compile(half, ir="dynamo", inputs=inputs, enabled_precisions={torch.half})
            if keep:
                examples = [torch.randn(s, device=self.device, dtype=torch.half) for s in self.input_shapes]
                trt.save(compiled, str(self.path), inputs=examples)
            self.module = compiled

    @torch.inference_mode()
    def __call__(self, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        shapes = [tuple(x.shape) for x in xs]
        if shapes != self.input_shapes:
            raise EngineError(f"engine built for inputs {self.input_shapes}, got {shapes}")
        out = self.module(*(x.to(self.device, torch.half, non_blocking=True) for x in xs))
        out = out if isinstance(out, (tuple, list)) else (out,)
        return tuple(t.float().cpu() for t in out)
