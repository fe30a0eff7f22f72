"""Choosing a backend for a static network at a fixed input shape (see the package doc)."""

from __future__ import annotations

from rtvos.engines.base import Engine, EngineError
from rtvos.engines.quantize import Calibration
from rtvos.engines.torch_engine import TorchEngine

BACKENDS = ("auto", "torch", "onnxruntime", "tensorrt")


def load_engine(module, input_shape: tuple[int, ...] | tuple[tuple[int, ...], ...], backend: str = "auto",
                threads: int | None = None, int8: Calibration | None = None, keep: bool = True) -> Engine:
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
        return TensorRTEngine(module, [tuple(s) for s in shapes], keep=keep)
    try:
        from rtvos.engines.onnxruntime_engine import OnnxRuntimeEngine
    except ImportError as exc:
        if backend == "onnxruntime":
            raise EngineError(f"onnxruntime is not installed ({exc}); pip install onnxruntime") from None
        return TorchEngine(module)
    return OnnxRuntimeEngine(module, input_shape, threads=threads, int8=int8, keep=keep)
