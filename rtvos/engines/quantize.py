"""INT8 for the ONNX Runtime engine: static quantisation of an exported fp32 graph.

QDQ format, per-channel int8 weights, uint8 activations whose ranges come from calibration samples
(min/max over them), as ONNX Runtime recommends for CNNs on x86 (VNNI / AVX2 int8 kernels).  The
quantised graph is cached next to the fp32 one, keyed by the fp32 graph and the calibration's `key`
(which names the recipe that made the samples), so it is built once per machine.

Whoever asks for INT8 supplies the samples (a model knows what its inputs look like), and is
expected to measure its accuracy against fp32: `benchmarks/RESULTS.md` has the numbers for the
models that use it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from rtvos.engines.base import EngineError

log = logging.getLogger("rtvos.engines")


@dataclass(frozen=True)
class Calibration:
    """`samples(shapes)` returns calibration inputs: a list of tuples of float32 arrays, one array per
    graph input, with the given shapes.  `key` identifies the recipe (part of the cache key)."""

    key: str
    samples: Callable[[tuple[tuple[int, ...], ...]], list[tuple[np.ndarray, ...]]]


def quantized_path(fp32_path: Path, names: list[str], shapes: tuple[tuple[int, ...], ...], calibration: Calibration) -> Path:
    """The INT8 graph for `fp32_path`, built from `calibration` if it is not cached yet."""
    safe_key = "".join(c if c.isalnum() or c in "-_." else "_" for c in calibration.key)
    path = fp32_path.with_name(f"{fp32_path.stem}-int8-{safe_key}.onnx")
    if path.exists():
        return path
    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:  # pragma: no cover - part of the onnxruntime wheel
        raise EngineError(f"onnxruntime.quantization is unavailable ({exc}); use precision fp32") from None
    samples = calibration.samples(shapes)
    for sample in samples:
        got = tuple(tuple(a.shape) for a in sample)
        if got != tuple(shapes):
            raise EngineError(f"calibration {calibration.key!r} gave inputs {got}, the graph takes {shapes}")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(samples)

        def get_next(self):
            sample = next(self.it, None)
            return None if sample is None else {n: np.ascontiguousarray(a, np.float32) for n, a in zip(names, sample)}

    log.debug("quantising %s to INT8 on %d calibration samples (%s)", fp32_path.name, len(samples), calibration.key)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        pre, out = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(fp32_path), str(pre))
        quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        os.replace(out, path)
    return path
