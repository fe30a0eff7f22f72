"""A box to a first mask with LSE's pre-trained network: the object inside the box, as the network sees
it zoomed in. What every model's start from a box uses by default (rtvos.models.target.box_mask); the
network and its backbone engine load once per process."""

from __future__ import annotations

import functools

import numpy as np

from rtvos.models.lse.net import LSENetwork
from rtvos.models.lse.segmenter import CropFeatures, box_probability, load_pretrained
from rtvos.models.shared.crops import Box
from rtvos.models.target import TargetError

BOX_THRESHOLD = 0.5     # the mask: the fused probability inside the box
MIN_SHARE = 0.05        # a mask under this share of the box falls back to the box itself, shrunk


@functools.lru_cache(maxsize=2)
def _network_and_features(checkpoint: str | None):
    return load_pretrained(checkpoint), CropFeatures()


def box_to_mask(frame_rgb: np.ndarray, box: Box, checkpoint: str | None = None) -> np.ndarray:
    """Boolean HxW mask of the object inside `box` (x0, y0, x1, y1) by the packaged network (or the one
    at `checkpoint`); never empty."""
    return mask_in_box(*_network_and_features(checkpoint), frame_rgb, box)


def mask_in_box(net: LSENetwork, features: CropFeatures, frame_rgb: np.ndarray, box: Box) -> np.ndarray:
    """Boolean HxW mask of the object inside `box` by `net`; the box itself, shrunk, when it finds
    (almost) nothing."""
    prob, inside = box_probability(net, features, frame_rgb, box)
    if not inside.any():
        raise TargetError(f"the box {tuple(round(v, 1) for v in box)} covers no whole pixel of the frame")
    mask = (prob >= BOX_THRESHOLD) & inside
    if mask.sum() < MIN_SHARE * max(1, inside.sum()):
        ys, xs = np.nonzero(inside)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        my, mx = (y1 - y0) // 8, (x1 - x0) // 8
        mask = np.zeros_like(inside)
        mask[y0 + my:y1 - my, x0 + mx:x1 - mx] = True
    return mask
