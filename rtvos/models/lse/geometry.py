"""LSE's geometry: the zoomed-in crop around an object, the location embedding's targets, the
first-frame pseudo-labels from a box, and the pseudo-labels of a first pass over a recording.

Crops are squares (the paper's 321x321; here CROP = 256, a multiple of 32 that a 2-core CPU runs at
15 fps with the backbone) around the object's box grown by a margin, so the object fills a steady share
of the crop whatever its size; the maps come back into the frame with rtvos.models.shared.crops."""

from __future__ import annotations

import cv2
import numpy as np

from rtvos.models.shared.crops import Box, crop, enlarge, square

CROP = 256           # the crop's side, pixels
STRIDE = 4           # the network's output stride: maps are CROP / STRIDE on a side
MARGIN = 0.5         # the crop holds the object's box grown by this many box sizes on every side
PSEUDO_FG = 0.6      # the paper: confident (>= 0.6) pixels inside the box are the first frame's foreground
IGNORE = -1.0        # a pseudo-label that is neither: inside the box, not confident


def crop_box(box: Box, margin: float = MARGIN, min_side: float = 32.0) -> Box:
    """The square crop for an object whose (tight) box is `box`."""
    x0, y0, x1, y1 = square(enlarge(box, margin))
    if x1 - x0 < min_side:
        x0, y0, x1, y1 = square(enlarge((x0, y0, x1, y1), (min_side / (x1 - x0) - 1) / 2))
    return x0, y0, x1, y1


def offset_targets(instances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The location embedding's targets on an instance map (h x w, 0 = background, k = instance k):
    each instance pixel's offset to its instance's centre (the mean of its pixel centres), as (dy, dx)
    in map sizes (2 x h x w float32), and where the offsets are defined (h x w bool: not background)."""
    h, w = instances.shape
    ys, xs = np.mgrid[:h, :w].astype(np.float32)
    ys, xs = (ys + 0.5) / h, (xs + 0.5) / w
    out = np.zeros((2, h, w), np.float32)
    for k in np.unique(instances):
        if k == 0:
            continue
        m = instances == k
        out[0][m] = ys[m].mean() - ys[m]
        out[1][m] = xs[m].mean() - xs[m]
    return out, instances > 0


def box_pseudo_labels(prob: np.ndarray, inside: np.ndarray, threshold: float = PSEUDO_FG) -> np.ndarray:
    """First-frame labels from a box (the paper, 5.2): 1 where the network is confident (>= threshold)
    inside the box, 0 outside the box, IGNORE inside the box where it is not confident."""
    labels = np.where(inside, IGNORE, 0.0).astype(np.float32)
    labels[inside & (prob >= threshold)] = 1.0
    return labels


def first_pass_labels(mask: np.ndarray, cbox: Box, size: int, band: int = 1) -> np.ndarray:
    """A first pass's mask (HxW bool) as labels of the `size` x `size` crop `cbox` (the paper's
    adaptation, section 3): 1 inside, 0 outside, IGNORE within `band` cells of its edge (where a coarse
    mask is least sure) and outside the frame."""
    labels = crop(mask.astype(np.float32), cbox, size, interpolation=cv2.INTER_NEAREST, fill=IGNORE)
    fg = (labels == 1).astype(np.uint8)
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    labels[cv2.dilate(fg, kernel) != cv2.erode(fg, kernel)] = IGNORE
    return labels
