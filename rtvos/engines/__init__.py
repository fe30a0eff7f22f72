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

Models never call a backend directly: they hold an `EngineCache` (one engine per input shape, built on
first use).  The online optimisation (autograd / GN-CG) always stays eager.
"""

from __future__ import annotations

from rtvos.engines.backends import BACKENDS, load_engine
from rtvos.engines.base import Engine, EngineError, cache_dir
from rtvos.engines.engine_cache import EngineCache
from rtvos.engines.quantize import Calibration

__all__ = ["BACKENDS", "Calibration", "Engine", "EngineCache", "EngineError", "cache_dir", "load_engine"]
