"""Fractal value noise for the synthetic sources (colour scene textures, thermal road surfaces)."""

from __future__ import annotations

import cv2
import numpy as np


def fbm(rng: np.random.Generator, h: int, w: int, cells: tuple[int, ...], gain: float = 0.6,
         periodic: tuple[bool, bool] = (False, False)) -> np.ndarray:
    """Multi-scale value noise in [0, 1], HxW float32; optionally periodic along rows / columns
    (then every cell must divide that dimension)."""
    out = np.zeros((h, w), np.float32)
    total, amp = 0.0, 1.0
    for cell in cells:
        dims = []
        for n, per in zip((h, w), periodic):
            if per and n % cell:
                raise ValueError(f"cell {cell} does not divide periodic size {n}")
            g = n // cell if per else n // cell + 1
            dims.append((g, (np.arange(g + 5) - 2) % g if per else np.arange(g + 5)))
        (gh, ri), (gw, ci) = dims
        grid = rng.random((max(ri.max() + 1, gh), max(ci.max() + 1, gw)), dtype=np.float32)
        ext = grid[np.ix_(ri, ci)]
        up = cv2.resize(ext, (ext.shape[1] * cell, ext.shape[0] * cell), interpolation=cv2.INTER_CUBIC)
        out += amp * up[2 * cell:2 * cell + h, 2 * cell:2 * cell + w]
        total += amp
        amp *= gain
    out /= total
    lo, hi = np.percentile(out, (1, 99))
    return np.clip((out - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
