"""INT8 calibration data, made on the spot: no image data ships with rtvos.  (Camera calibration --
intrinsics, thermal normalisation -- is something else and lives in `calibration/` and rtvos.thermal.)

The recipe (`RECIPE`, part of every INT8 engine's cache key): frames of the built-in synthetic colour
stream (seeds 0..5, one to three objects, frames spread over each stream) and of the synthetic thermal
road, with their exact masks.  Whether that is representative enough is a measured question: the
accuracy of each INT8 model on the DAVIS dev split against its fp32 engine is in benchmarks/RESULTS.md.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from rtvos.engines import Calibration
from rtvos.models.shared.backbone import preprocess

RECIPE = "synth-v1-16"
PRECISIONS = ("int8", "fp32")


@lru_cache(maxsize=2)
def calibration_frames(count: int = 16) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """`count` (RGB uint8 frame, uint8 label mask) pairs, deterministic."""
    from rtvos.sources import open_source  # noqa: PLC0415

    out = []
    thermal = max(1, count // 4)
    seed = 0
    while len(out) < count - thermal:  # two frames (5 and 30) of each synthetic stream
        frames = list(open_source("synthetic", fps=None, frames=31, seed=seed, objects=1 + seed % 3).frames())
        out += [(frames[i].image, frames[i].gt_mask) for i in (5, 30)]
        seed += 1
    frames = list(open_source("synthetic-thermal", fps=None, frames=10 * thermal, seed=1).frames())
    out += [(f.image, f.gt_mask) for f in frames[::10][:thermal]]
    return tuple(out[:count])


def backbone_calibration(count: int = 16) -> Calibration:
    """INT8 calibration for a backbone engine: the calibration frames, preprocessed at the engine's
    input size, stacked into batches of its batch size (cycling through the frames)."""

    def samples(shapes):
        (b, _, h, w), = shapes
        xs = [preprocess(image, (h, w)) for image, _ in calibration_frames(count)]
        batches = max(1, -(-len(xs) // b))
        return [(torch.cat([xs[(i * b + j) % len(xs)] for j in range(b)]).numpy(),) for i in range(batches)]

    return Calibration(key=f"backbone-{RECIPE}", samples=samples)


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def backbone_int8(precision: str) -> Calibration | None:
    """What a backbone's engines are built with at `precision`: the INT8 calibration, or None for fp32."""
    return backbone_calibration() if check_precision(precision) == "int8" else None
