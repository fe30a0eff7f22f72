"""A first mask from a box (rtvos/models/shared/box_init.py), on a real frame."""

import numpy as np
import pytest

from rtvos.evaluation.metrics import iou
from rtvos.models import create_segmenter
from rtvos.models.target import Target


@pytest.fixture(scope="module")
def bear_frames(davis_frames):
    return davis_frames("bear", range(4))


def test_box_target_is_turned_into_a_mask(bear_frames):
    frame, gt = bear_frames[0]
    ys, xs = np.nonzero(gt)
    box = (xs.min() - 5, ys.min() - 5, xs.max() + 5, ys.max() + 5)
    seg = create_segmenter("online", augmentations=3)
    first = seg.start(frame, Target.from_boxes({1: box}, "grabcut"))
    assert iou(first.mask > 0, gt > 0) > 0.6  # GrabCut inside the box
    r = seg.step(bear_frames[3][0])
    assert iou(r.mask > 0, bear_frames[3][1] > 0) > 0.5
