"""Synthetic training clips in the manner of "lucid data dreaming": an object cut out of one train frame
(with its mask) moves over a frame of another train sequence.

Per clip: a random source object (frame with at least 1 % foreground) and a random background frame
from a different sequence (its own objects stay: distractors that are *not* the target).  The object
starts at a random place and scale (0.5-1.2 of its size) and follows a smooth random walk in position,
scale (+-3 %/frame) and rotation (+-3 deg/frame); the background pans slowly (a drifting crop of a 10 %
larger copy).  Per clip the object also gets a colour/brightness change.  Alpha is the warped mask,
feathered by a 3x3 blur, so edges are not pasted-looking.  All at the processing size.
"""

from __future__ import annotations

import cv2
import numpy as np


def _affine(cx: float, cy: float, scale: float, angle: float, ox: float, oy: float) -> np.ndarray:
    """Maps object-crop pixels (centre ox, oy) to the frame: rotate/scale about the centre, move to (cx, cy)."""
    m = cv2.getRotationMatrix2D((ox, oy), angle, scale)
    m[:, 2] += (cx - ox, cy - oy)
    return m


def lucid_clip(obj_image: np.ndarray, obj_mask: np.ndarray, background: np.ndarray, length: int,
               rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """`length` frames (HxWx3 uint8) and soft masks (HxW float32 0..1), all the size of `background`.

    `obj_image`/`obj_mask` (same size as `background`): a frame and its boolean object mask."""
    h, w = background.shape[:2]
    ys, xs = np.nonzero(obj_mask)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    obj = obj_image[y0:y1, x0:x1].astype(np.float32)
    alpha = obj_mask[y0:y1, x0:x1].astype(np.float32)
    gain = rng.uniform(0.75, 1.25, size=3) * rng.uniform(0.85, 1.15)
    obj = np.clip(obj * gain, 0, 255)
    oh, ow = alpha.shape
    ox, oy = ow / 2, oh / 2

    big = cv2.resize(background, (int(w * 1.1) + 1, int(h * 1.1) + 1), interpolation=cv2.INTER_LINEAR)
    bx, by = rng.uniform(0, big.shape[1] - w), rng.uniform(0, big.shape[0] - h)
    bvx, bvy = rng.normal(0, 1.0, size=2)

    scale = rng.uniform(0.5, 1.2)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    angle = rng.uniform(-15, 15)
    vx, vy = rng.normal(0, 0.015 * w), rng.normal(0, 0.015 * h)
    frames, masks = [], []
    for _ in range(length):
        m = _affine(cx, cy, scale, angle, ox, oy)
        a = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        a = cv2.GaussianBlur(a, (3, 3), 0)
        o = cv2.warpAffine(obj, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        ix, iy = int(np.clip(bx, 0, big.shape[1] - w)), int(np.clip(by, 0, big.shape[0] - h))
        bg = big[iy:iy + h, ix:ix + w].astype(np.float32)
        frames.append(np.clip(a[..., None] * o + (1 - a[..., None]) * bg, 0, 255).astype(np.uint8))
        masks.append(a)
        # smooth random walk, kept mostly inside the frame
        vx = 0.85 * vx + rng.normal(0, 0.01 * w) + 0.02 * (w / 2 - cx) * 0.1
        vy = 0.85 * vy + rng.normal(0, 0.01 * h) + 0.02 * (h / 2 - cy) * 0.1
        cx, cy = cx + vx, cy + vy
        scale = float(np.clip(scale * np.exp(rng.normal(0, 0.03)), 0.3, 1.6))
        angle += rng.normal(0, 3.0)
        bx, by = bx + bvx, by + bvy
    return frames, masks
