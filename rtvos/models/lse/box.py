"""A box to a first mask with LSE's pre-trained network: the object inside the box, as the network sees
it zoomed in. What a model's start from a box uses with `box_init="lse"`, or with "lse+grabcut", which
hands the network's probabilities to GrabCut (rtvos.models.target.BOX_INITS); the network and its
backbone engine load once per process."""

from __future__ import annotations

import functools

import numpy as np

from rtvos.models.lse.segmenter import CropFeatures, box_probability, first_mask, load_pretrained
from rtvos.models.shared.crops import Box


@functools.lru_cache(maxsize=2)
def _network_and_features(checkpoint: str | None):
    return load_pretrained(checkpoint), CropFeatures()


def box_to_mask(frame_rgb: np.ndarray, box: Box, checkpoint: str | None = None) -> np.ndarray:
    """`box_init="lse"`: boolean HxW mask of the object inside `box` (x0, y0, x1, y1) by the packaged
    network (or the one at `checkpoint`); never empty."""
    return _first_mask("lse", frame_rgb, box, checkpoint)


def grabcut_from_network(frame_rgb: np.ndarray, box: Box, checkpoint: str | None = None) -> np.ndarray:
    """`box_init="lse+grabcut"`: GrabCut started from the network's probabilities in the box (the network
    says what the object is, GrabCut's colour models where its boundary runs); never empty."""
    return _first_mask("lse+grabcut", frame_rgb, box, checkpoint)


def _first_mask(way: str, frame_rgb: np.ndarray, box: Box, checkpoint: str | None) -> np.ndarray:
    prob, inside = box_probability(*_network_and_features(checkpoint), frame_rgb, box)
    return first_mask(way, frame_rgb, box, prob, inside)
