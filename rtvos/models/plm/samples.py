"""PLM's training pairs, used by both stages (pre-training on DAVIS, first-frame fine-tuning).

- Query: the target's box enlarged by 25 % of its size on each side (the paper), background pixels
  replaced by the ImageNet mean colour ("completely segmented"), resized to CROPxCROP.  In full-frame
  mode (thermal road) the whole frame, background removed.
- Search: a box around the target enlarged by a margin drawn from (10 %, 30 %, 50 %) with a little scale
  jitter, moved by a random translation that keeps at least half of the target's box inside (the
  paper's >= 50 % overlap rule), optionally mirrored and rotated; the label is the target mask seen
  through the same crop at MAPxMAP.  In full-frame mode the frame itself, scaled 0.9-1.1 and moved by up
  to 5 %.
"""

from __future__ import annotations

import cv2
import numpy as np

from rtvos.models.shared.crops import PAD_RGB, Box, crop, enlarge, mask_box, overlap

QUERY_MARGIN = 0.25
SEARCH_MARGINS = (0.1, 0.3, 0.5)
MIN_BOX = 24.0


def query_crop(image: np.ndarray, mask: np.ndarray, size: int, full_frame: bool = False) -> np.ndarray:
    """The reference crop (size x size x 3 uint8) of the object in `mask` (bool HxW, not empty)."""
    cut = np.where(mask[..., None], image, np.array(PAD_RGB, np.uint8)).astype(np.uint8)
    if full_frame:
        h, w = mask.shape
        return crop(cut, (0.0, 0.0, float(w), float(h)), size, interpolation=cv2.INTER_AREA)
    box = mask_box(mask)
    if box is None:
        raise ValueError("query_crop: the object mask is empty")
    return crop(cut, enlarge(box, QUERY_MARGIN, MIN_BOX), size, interpolation=cv2.INTER_AREA)


def sample_search_box(object_box: Box, rng: np.random.Generator, min_overlap: float = 0.5,
                      tries: int = 20) -> Box:
    """A random search box around `object_box` (see the module doc)."""
    margin = float(rng.choice(SEARCH_MARGINS)) * float(rng.uniform(0.8, 1.2))
    base = enlarge(object_box, margin, MIN_BOX)
    bw, bh = base[2] - base[0], base[3] - base[1]
    for _ in range(tries):
        dx, dy = rng.uniform(-0.5, 0.5) * bw, rng.uniform(-0.5, 0.5) * bh
        box = (base[0] + dx, base[1] + dy, base[2] + dx, base[3] + dy)
        if overlap(object_box, box) >= min_overlap:
            return box
    return base


def sample_full_frame_box(frame_hw: tuple[int, int], rng: np.random.Generator) -> Box:
    h, w = frame_hw
    s = rng.uniform(0.9, 1.1)
    cx, cy = w / 2 + rng.uniform(-0.05, 0.05) * w, h / 2 + rng.uniform(-0.05, 0.05) * h
    return cx - s * w / 2, cy - s * h / 2, cx + s * w / 2, cy + s * h / 2


def search_sample(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, size: int, map_size: int,
                  full_frame: bool = False, max_angle: float = 10.0, flip: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(size x size x 3 uint8 search crop, map_size x map_size float32 label in [0, 1]).

    `mask` is the target frame's object mask (bool); when it is empty (the object left the frame) the
    crop is taken around the middle of the frame and the label is all background."""
    h, w = mask.shape
    if full_frame:
        box = sample_full_frame_box((h, w), rng)
    else:
        obox = mask_box(mask)
        if obox is None:
            obox = (w * 0.4, h * 0.4, w * 0.6, h * 0.6)
        box = sample_search_box(obox, rng)
    mirror = bool(flip and rng.random() < 0.5)
    angle = float(rng.uniform(-max_angle, max_angle)) if max_angle else 0.0
    x = crop(image, box, size, mirror, angle)
    y = crop(mask.astype(np.float32), box, size, mirror, angle, fill=0.0)
    y = cv2.resize(y, (map_size, map_size), interpolation=cv2.INTER_AREA)
    return x, y
