"""Turning a box into a first mask with OpenCV GrabCut: `box_init="grabcut"` from the box alone;
`box_init="lse+grabcut"`, the default, starts it from LSE's probabilities (rtvos.models.lse.box;
rtvos.models.target.box_mask picks)."""

from __future__ import annotations

import cv2
import numpy as np


SURE = 0.9  # a prior probability at least this inside the box is sure foreground for GrabCut
MIN_SHARE = 0.05  # a first mask under this share of its box falls back to the box itself, shrunk


def pixel_box(box: tuple[float, float, float, float], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """`box` (x0, y0, x1, y1) in whole pixels (rounded, exclusive end), clipped to a frame of `shape` (h, w)."""
    h, w = shape
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def shrunk_box(shape: tuple[int, int], x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """The box (exclusive end) shrunk by an eighth of its size on each side, as an HxW mask: the first
    mask when nothing in the box stands out, so a box never yields an empty target."""
    out = np.zeros(shape, bool)
    mx, my = (x1 - x0) // 8, (y1 - y0) // 8
    out[y0 + my:y1 - my, x0 + mx:x1 - mx] = True
    return out


def or_shrunk_box(mask: np.ndarray | None, shape: tuple[int, int], x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """`mask`, or the box (whole pixels, exclusive end) shrunk (`shrunk_box`, HxW of `shape`) when there is
    no mask or it covers under MIN_SHARE of the box: a box never yields an empty target."""
    if mask is None or mask.sum() < MIN_SHARE * max(1, (x1 - x0) * (y1 - y0)):
        return shrunk_box(shape, x0, y0, x1, y1)
    return mask


def _grabcut(bgr: np.ndarray, mask: np.ndarray, rect: tuple[int, int, int, int], iterations: int,
             mode: int) -> np.ndarray | None:
    """GrabCut's foreground (bool), or None where it cannot run (e.g. no foreground to start from)."""
    cv2.setRNGSeed(0)  # GrabCut seeds its colour models by k-means: the same box, the same mask
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(bgr, mask, rect, bgd, fgd, iterations, mode)
    except cv2.error:
        return None
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def grabcut(frame_rgb: np.ndarray, box: tuple[float, float, float, float], prior: np.ndarray | None = None,
            iterations: int = 5) -> np.ndarray:
    """Boolean HxW mask of the object inside `box` (x0, y0, x1, y1), by GrabCut: started from the box
    alone, or from `prior` (HxW foreground probability: inside the box >= SURE sure foreground, >= 0.5
    probable foreground, else probable background; outside it, background). A prior with nothing
    >= 0.5 in the box says nothing about the object: GrabCut then starts from the box alone.

    Falls back to the box, shrunk (`shrunk_box`), if GrabCut finds nothing, so a box never yields an
    empty target. Deterministic: the same frame and box give the same mask (it seeds OpenCV's random
    generator of the calling thread).
    """
    h, w = frame_rgb.shape[:2]
    x0, y0, x1, y1 = pixel_box(box, (h, w))
    rect = (x0, y0, max(1, x1 - x0), max(1, y1 - y0))
    bgr = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR)
    out = None
    if prior is not None and (prior[y0:y1, x0:x1] >= 0.5).any():
        inside = prior[y0:y1, x0:x1]
        mask = np.zeros((h, w), np.uint8)  # GC_BGD outside the box
        mask[y0:y1, x0:x1] = np.where(inside >= SURE, cv2.GC_FGD, np.where(inside >= 0.5, cv2.GC_PR_FGD, cv2.GC_PR_BGD))
        out = _grabcut(bgr, mask, rect, iterations, cv2.GC_INIT_WITH_MASK)
    if out is None:
        out = _grabcut(bgr, np.zeros((h, w), np.uint8), rect, iterations, cv2.GC_INIT_WITH_RECT)
    return or_shrunk_box(out, (h, w), x0, y0, x1, y1)


def box_to_mask(frame_rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """`box_init="grabcut"`: GrabCut from the box alone."""
    return grabcut(frame_rgb, box)
