"""Calibration frames for INT8 engines, made on the spot: no image data ships with rtvos.

The recipe (`RECIPE`, part of every INT8 engine's cache key): frames of the built-in synthetic colour
stream (seeds 0..5, one to three objects, frames spread over each stream) and of the synthetic thermal
road, with their exact masks.  Whether that is representative enough is a measured question: the
accuracy of each INT8 model on the DAVIS dev split against its fp32 engine is in benchmarks/RESULTS.md.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

RECIPE = "synth-v1-16"


@lru_cache(maxsize=2)
def calibration_frames(count: int = 16) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """`count` (RGB uint8 frame, uint8 label mask) pairs, deterministic."""
    from rtvos.sources import open_source  # noqa: PLC0415

    out = []
    thermal = max(1, count // 4)
    per = 2
    seed = 0
    while len(out) < count - thermal:
        src = open_source("synthetic", fps=None, frames=40, seed=seed, objects=1 + seed % 3)
        frames = list(src.frames())
        for f in (frames[5], frames[30])[:per]:
            out.append((f.image, f.gt_mask))
        seed += 1
    frames = list(open_source("synthetic-thermal", fps=None, frames=10 * thermal, seed=1).frames())
    out += [(f.image, f.gt_mask) for f in frames[::10][:thermal]]
    return tuple(out[:count])
