"""Engines: how a static network (backbone, decoders) is executed.

    engine = load_engine(module, input_shape, backend="onnxruntime")
    outputs = engine(x)            # tuple of tensors, same as module(x)

    # several inputs: a tuple of shapes, and the tensors in the same order
    engine = load_engine(decoder, ((1, 24, 64, 112), (1, 40, 32, 56)), backend="onnxruntime")
    outputs = engine(a, b)         # same as decoder(a, b)

- ``torch``        eager PyTorch, the reference; always available.
- ``onnxruntime``  the module exported to ONNX once per (weights, input shape, versions), cached on
                   disk, run by ONNX Runtime on the CPU. The CPU default.
- ``tensorrt``     torch-tensorrt, fp16, on an NVIDIA GPU; engine cached on disk (optional extra, see
                   tensorrt_engine.py for what was and was not verified).
- ``auto``         onnxruntime when installed, else torch.

Models never call a backend directly; the online optimisation (autograd / GN-CG) always stays eager.
"""

from __future__ import annotations

from rtvos.engines.base import Engine, EngineError, cache_dir
from rtvos.engines.quantize import Calibration
from rtvos.engines.torch_engine import TorchEngine

BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")


def load_engine(module, input_shape: tuple[int, ...] | tuple[tuple[int, ...], ...], backend: str = "auto",
                threads: int | None = None, int8: Calibration | None = None) -> Engine:
    """An engine for `module` at a fixed input shape: one shape (ints) for a one-input module, or a
    tuple of shapes for a module with several inputs (called as ``engine(x0, x1, ...)``).
    `int8`: calibration for a statically quantised INT8 graph; honoured by onnxruntime (and by auto
    when it picks onnxruntime), ignored by torch (the fp32 reference) and tensorrt (fp16)."""
    if backend not in BACKENDS:
        raise EngineError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "torch":
        return TorchEngine(module)
    if backend == "tensorrt":
        from rtvos.engines.tensorrt_engine import TensorRTEngine

        shapes = input_shape if isinstance(input_shape[0], (tuple, list)) else (input_shape,)
        return TensorRTEngine(module, [tuple(s) for s in shapes])
    try:
        from rtvos.engines.onnxruntime_engine import OnnxRuntimeEngine
    except ImportError as exc:
        if backend == "onnxruntime":
            raise EngineError(f"onnxruntime is not installed ({exc}); pip install onnxruntime") from None
        return TorchEngine(module)
    return OnnxRuntimeEngine(module, input_shape, threads=threads, int8=int8)


__all__ = ["BACKENDS", "Calibration", "Engine", "EngineError", "cache_dir", "load_engine"]
