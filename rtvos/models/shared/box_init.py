"""Turning a box into a first mask with OpenCV GrabCut: `box_init="grabcut"`, the default (the other way is
LSE's network, rtvos.models.lse.box; rtvos.models.target.box_mask picks)."""

from __future__ import annotations

import cv2
import numpy as np


def box_to_mask(frame_rgb: np.ndarray, box: tuple[float, float, float, float], iterations: int = 5) -> np.ndarray:
    """Boolean HxW mask of the object inside `box` (x0, y0, x1, y1), by GrabCut.

    Falls back to the filled box (shrunk a little) if GrabCut finds nothing, so a box never yields an
    empty target.
    """
    h, w = frame_rgb.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(w, x1), min(h, y1)
    rect = (x0, y0, max(1, x1 - x0), max(1, y1 - y0))
    mask = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR), mask, rect, bgd, fgd, iterations,
                    cv2.GC_INIT_WITH_RECT)
        out = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    except cv2.error:
        out = np.zeros((h, w), bool)
    if out.sum() < 0.05 * max(1, (x1 - x0) * (y1 - y0)):
        out = np.zeros((h, w), bool)
        mx, my = (x1 - x0) // 8, (y1 - y0) // 8
        out[y0 + my:y1 - my, x0 + mx:x1 - mx] = True
    return out
