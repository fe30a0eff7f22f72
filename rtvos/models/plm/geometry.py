"""PLM's geometry: candidate boxes and the weighted median (box crops and maps pasted back are
rtvos.models.shared.crops, which LSE uses too).

Candidates (the paper's "nine bounding boxes around the current target area with certain margins"):
the previous target box enlarged by `margin` of its size on every side, on a 3x3 grid of centre
offsets (-s, 0, +s) x (-s, 0, +s) with s = `shift` times the box's width (x) and height (y).  Every
candidate's map is resized back onto its box and the maps are averaged where they overlap, so each
frame pixel gets the mean foreground probability of the candidates that saw it (0 where none did).
"""

from __future__ import annotations

import cv2
import numpy as np

from rtvos.models.shared.crops import Box, enlarge, mask_box


def candidate_boxes(box: Box, margin: float = 0.3, shift: float = 0.1, min_size: float = 24.0) -> list[Box]:
    """The nine candidates around `box` (see the module doc), row by row from the top-left."""
    x0, y0, x1, y1 = enlarge(box, margin, min_size)
    dx, dy = shift * (box[2] - box[0]), shift * (box[3] - box[1])
    return [(x0 + i * dx, y0 + j * dy, x1 + i * dx, y1 + j * dy) for j in (-1, 0, 1) for i in (-1, 0, 1)]


def full_frame_boxes(frame_hw: tuple[int, int], shift: float = 0.05) -> list[Box]:
    """Full-frame mode (thermal road): the whole frame on the same 3x3 grid of offsets."""
    h, w = frame_hw
    return candidate_boxes((0.0, 0.0, float(w), float(h)), margin=0.0, shift=shift, min_size=0.0)


def weighted_median(mask: np.ndarray, image: np.ndarray, radius: int = 2, iterations: int = 3,
                    sigma: float = 25.0) -> np.ndarray:
    """PLM_P's post-process: a weighted median filter (window 2*radius+1, guided by `image`'s colour)
    on a binary mask, `iterations` times.  For binary values the weighted median is the weighted vote:
    a pixel is foreground when its window's foreground weight exceeds half the window's weight, the
    weight of a neighbour being exp(-|I(p) - I(q)|^2 / (2 sigma^2)) (colour distance, 8-bit units).
    Sharpens edges along image edges and removes isolated outliers."""
    # Only pixels within radius * iterations of the foreground can change: filter that window alone.
    box = mask_box(mask)
    if box is None:
        return np.zeros(mask.shape, bool)
    reach = radius * iterations + 1
    H, W = mask.shape
    x0, y0 = max(0, int(box[0]) - reach), max(0, int(box[1]) - reach)
    x1, y1 = min(W, int(box[2]) + reach), min(H, int(box[3]) + reach)
    out = np.zeros(mask.shape, bool)
    out[y0:y1, x0:x1] = _weighted_median(mask[y0:y1, x0:x1], image[y0:y1, x0:x1], radius, iterations, sigma)
    return out


def _weighted_median(mask: np.ndarray, image: np.ndarray, radius: int, iterations: int, sigma: float) -> np.ndarray:
    guide = image.astype(np.float32)
    if guide.ndim == 2:
        guide = guide[..., None]
    h, w = mask.shape
    pad = radius
    g = cv2.copyMakeBorder(guide, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    if g.ndim == 2:
        g = g[..., None]
    weights = []
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            d = g[pad + dy:pad + dy + h, pad + dx:pad + dx + w] - guide
            weights.append(np.exp(-(d * d).sum(axis=2) / (2 * sigma * sigma)))
    total = np.sum(weights, axis=0)
    out = mask.astype(np.float32)
    for _ in range(iterations):
        m = cv2.copyMakeBorder(out, pad, pad, pad, pad, cv2.BORDER_REFLECT)
        vote = np.zeros((h, w), np.float32)
        k = 0
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                vote += weights[k] * m[pad + dy:pad + dy + h, pad + dx:pad + dx + w]
                k += 1
        out = (vote > 0.5 * total).astype(np.float32)
    return out > 0
