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


def _elastic_field(h: int, w: int, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth random displacement field (h x w x 2, pixels): a 4x4 grid of offsets, cubic-upsampled."""
    coarse = rng.normal(0, strength * min(h, w), size=(4, 4, 2)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


class _Path:
    """An object's smooth random walk over the frame: position, scale, rotation."""

    def __init__(self, w: int, h: int, rng: np.random.Generator):
        self.w, self.h = w, h
        self.scale = rng.uniform(0.5, 1.2)
        self.cx, self.cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        self.angle = rng.uniform(-15, 15)
        self.vx, self.vy = rng.normal(0, 0.015 * w), rng.normal(0, 0.015 * h)

    def step(self, rng: np.random.Generator) -> None:
        w, h = self.w, self.h
        self.vx = 0.85 * self.vx + rng.normal(0, 0.01 * w) + 0.02 * (w / 2 - self.cx) * 0.1
        self.vy = 0.85 * self.vy + rng.normal(0, 0.01 * h) + 0.02 * (h / 2 - self.cy) * 0.1
        self.cx, self.cy = self.cx + self.vx, self.cy + self.vy
        self.scale = float(np.clip(self.scale * np.exp(rng.normal(0, 0.03)), 0.3, 1.6))
        self.angle += rng.normal(0, 3.0)


def lucid_clip(obj_image: np.ndarray, obj_mask: np.ndarray, background: np.ndarray, length: int,
               rng: np.random.Generator, *, distractor: bool = False,
               elastic: float = 0.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """`length` frames (HxWx3 uint8) and soft masks (HxW float32 0..1), all the size of `background`.

    `obj_image`/`obj_mask` (same size as `background`): a frame and its boolean object mask.
    `distractor`: a second copy of the object (its own path and colour change) moves behind the target
    and is *not* in the masks -- a look-alike the model must learn to leave out.
    `elastic`: the object also bends from frame to frame, a smooth random deformation of up to about
    this fraction of its size, changing smoothly over the clip (0: rigid)."""
    h, w = background.shape[:2]
    ys, xs = np.nonzero(obj_mask)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    obj = obj_image[y0:y1, x0:x1].astype(np.float32)
    alpha = obj_mask[y0:y1, x0:x1].astype(np.float32)
    gain = rng.uniform(0.75, 1.25, size=3) * rng.uniform(0.85, 1.15)
    obj_target = np.clip(obj * gain, 0, 255)
    oh, ow = alpha.shape
    ox, oy = ow / 2, oh / 2

    big = cv2.resize(background, (int(w * 1.1) + 1, int(h * 1.1) + 1), interpolation=cv2.INTER_LINEAR)
    bx, by = rng.uniform(0, big.shape[1] - w), rng.uniform(0, big.shape[0] - h)
    bvx, bvy = rng.normal(0, 1.0, size=2)

    target = _Path(w, h, rng)
    others = []  # (path, colour-changed copy) of each look-alike
    if distractor:
        others.append((_Path(w, h, rng), np.clip(obj * rng.uniform(0.8, 1.2, size=3), 0, 255)))
    fields = [_elastic_field(oh, ow, elastic, rng) for _ in range(2)] if elastic > 0 else None
    grid = np.stack(np.meshgrid(np.arange(ow, dtype=np.float32), np.arange(oh, dtype=np.float32)), axis=-1)

    def place(path: _Path, o: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = _affine(path.cx, path.cy, path.scale, path.angle, ox, oy)
        a = cv2.warpAffine(a, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        return cv2.warpAffine(o, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0), cv2.GaussianBlur(a, (3, 3), 0)

    frames, masks = [], []
    for t in range(length):
        o_t, a_t = obj_target, alpha
        if fields is not None:
            u = t / max(1, length - 1)
            flow = grid + (1 - u) * fields[0] + u * fields[1]
            o_t = cv2.remap(obj_target, flow, None, cv2.INTER_LINEAR, borderValue=0)
            a_t = cv2.remap(alpha, flow, None, cv2.INTER_LINEAR, borderValue=0)
        ix, iy = int(np.clip(bx, 0, big.shape[1] - w)), int(np.clip(by, 0, big.shape[0] - h))
        canvas = big[iy:iy + h, ix:ix + w].astype(np.float32)
        for path, copy in others:  # behind the target
            o, a = place(path, copy, alpha)
            canvas = a[..., None] * o + (1 - a[..., None]) * canvas
        o, a = place(target, o_t, a_t)
        frames.append(np.clip(a[..., None] * o + (1 - a[..., None]) * canvas, 0, 255).astype(np.uint8))
        masks.append(a)
        # smooth random walks, kept mostly inside the frame
        target.step(rng)
        for path, _ in others:
            path.step(rng)
        bx, by = bx + bvx, by + bvy
    return frames, masks
