"""Square crops of boxes and maps pasted back into the frame: how PLM's candidates and LSE's zoomed
windows see part of a frame.

Boxes are (x0, y0, x1, y1) floats in pixel-edge coordinates (x1, y1 exclusive), and may reach outside
the frame: a crop pads with a constant (the ImageNet mean colour, i.e. zero after normalisation) and
the part of a map that falls outside the frame is dropped.
"""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[float, float, float, float]
PAD_RGB = (124, 116, 104)  # ImageNet mean colour: what a crop shows outside the frame


def mask_box(mask: np.ndarray) -> Box | None:
    """Tight box of the nonzero pixels, or None when the mask is empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)


def enlarge(box: Box, margin: float, min_size: float = 0.0) -> Box:
    """`box` grown by `margin` x its width/height on each side, then to at least `min_size` per side
    (about the same centre)."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w = max((x1 - x0) * (1 + 2 * margin), min_size)
    h = max((y1 - y0) * (1 + 2 * margin), min_size)
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def square(box: Box) -> Box:
    """The square with `box`'s centre whose side is the longer side of `box`."""
    x0, y0, x1, y1 = box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2
    return cx - half, cy - half, cx + half, cy + half


def box_affine(box: Box, size: int, flip: bool = False, angle: float = 0.0) -> np.ndarray:
    """2x3 matrix mapping frame pixels to a `size` x `size` crop of `box` (optionally mirrored, and
    rotated by `angle` degrees about the box centre)."""
    x0, y0, x1, y1 = box
    sx, sy = size / (x1 - x0), size / (y1 - y0)
    m = np.array([[sx, 0.0, -x0 * sx], [0.0, sy, -y0 * sy], [0.0, 0.0, 1.0]])
    if flip:
        m = np.array([[-1.0, 0.0, size], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ m
    if angle:
        r = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0)
        m = np.vstack([r, [0.0, 0.0, 1.0]]) @ m
    return m[:2]


def crop(image: np.ndarray, box: Box, size: int, flip: bool = False, angle: float = 0.0,
         interpolation: int = cv2.INTER_LINEAR, fill=PAD_RGB) -> np.ndarray:
    """`size` x `size` crop of `box` from `image` (HxW or HxWxC); outside the frame: `fill`."""
    m = box_affine(box, size, flip, angle)
    if image.ndim == 2 and not np.isscalar(fill):
        fill = 0
    return cv2.warpAffine(image, m, (size, size), flags=interpolation, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=fill)


def accumulate(maps: list[np.ndarray] | np.ndarray, boxes: list[Box], frame_hw: tuple[int, int]) -> np.ndarray:
    """HxW float32: the mean of the candidate maps (each SxS, covering its box) over the candidates
    that cover each pixel; 0 where no candidate does."""
    h, w = frame_hw
    total = np.zeros((h, w), np.float32)
    count = np.zeros((h, w), np.float32)
    for prob, box in zip(maps, boxes):
        s = prob.shape[0]
        x0, y0, x1, y1 = box
        # Clip to the frame, in whole pixels whose centres lie inside the box.
        cx0, cy0 = max(0, int(np.ceil(x0 - 0.5))), max(0, int(np.ceil(y0 - 0.5)))
        cx1, cy1 = min(w, int(np.floor(x1 - 0.5)) + 1), min(h, int(np.floor(y1 - 0.5)) + 1)
        if cx1 <= cx0 or cy1 <= cy0:
            continue
        # Frame pixel centre (x + 0.5) -> map coordinate u = (x + 0.5 - x0) * s / bw - 0.5 (pixel centres).
        ax, ay = s / (x1 - x0), s / (y1 - y0)
        m = np.array([[ax, 0.0, (cx0 + 0.5 - x0) * ax - 0.5], [0.0, ay, (cy0 + 0.5 - y0) * ay - 0.5]])
        patch = cv2.warpAffine(np.ascontiguousarray(prob, np.float32), m, (cx1 - cx0, cy1 - cy0),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        total[cy0:cy1, cx0:cx1] += patch
        count[cy0:cy1, cx0:cx1] += 1.0
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def overlap(object_box: Box, box: Box) -> float:
    """Fraction of `object_box`'s area inside `box` (the paper's >= 50 % rule for training crops)."""
    ix = max(0.0, min(object_box[2], box[2]) - max(object_box[0], box[0]))
    iy = max(0.0, min(object_box[3], box[3]) - max(object_box[1], box[1]))
    area = (object_box[2] - object_box[0]) * (object_box[3] - object_box[1])
    return ix * iy / area if area > 0 else 0.0
