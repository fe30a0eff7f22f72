"""First-frame augmentation: cut the target out, inpaint the background, paste back a randomly warped
(affine) and blurred copy of the target. Gives what adapts to the first frame a varied dataset: FRTM's
target model, CRVOS's fine-tuned decoder, LSE's foreground head (the copies as frames where the object
moved)."""

from __future__ import annotations

import cv2
import numpy as np


def inpaint_background(image: np.ndarray, label: np.ndarray) -> np.ndarray:
    """The frame with every object removed (Telea inpainting at half resolution for speed)."""
    h, w = label.shape
    hole = cv2.dilate((label > 0).astype(np.uint8), np.ones((7, 7), np.uint8))
    small = cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole, (w // 2, h // 2), interpolation=cv2.INTER_NEAREST)
    filled = cv2.inpaint(small, small_hole, 3, cv2.INPAINT_TELEA)
    filled = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    out = image.copy()
    out[hole > 0] = filled[hole > 0]
    return out


def random_affine(h: int, w: int, center: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(-20, 20)
    scale = rng.uniform(0.8, 1.2)
    m = cv2.getRotationMatrix2D(center, angle, scale)
    shear = rng.uniform(-0.1, 0.1)
    m[0, 1] += shear
    m[0, 2] += rng.uniform(-0.1, 0.1) * w - shear * center[1]
    m[1, 2] += rng.uniform(-0.1, 0.1) * h
    return m


def augment_first_frame(image: np.ndarray, label: np.ndarray, count: int,
                        rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """`count` augmented (image, label) pairs from the first frame (label: 0 bg, k = object k)."""
    if count <= 0:
        return []
    h, w = label.shape
    background = inpaint_background(image, label)
    ys, xs = np.nonzero(label)
    center = (float(xs.mean()), float(ys.mean())) if len(xs) else (w / 2, h / 2)
    out = []
    for i in range(count):
        m = random_affine(h, w, center, rng)
        flip = rng.random() < 0.5
        obj = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        lab = cv2.warpAffine(label, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
        bg = background
        if flip:
            obj, lab, bg = obj[:, ::-1], lab[:, ::-1], background[:, ::-1]
        sigma = rng.uniform(0.0, 1.5)
        if sigma > 0.3:
            obj = cv2.GaussianBlur(obj, (0, 0), sigma)
        composed = np.where(lab[..., None] > 0, obj, bg)
        out.append((np.ascontiguousarray(composed), np.ascontiguousarray(lab)))
    return out
