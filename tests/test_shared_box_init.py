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


def test_grabcut_from_a_prior_takes_the_prior_s_object_and_never_returns_nothing():
    """Two discs of different colours in one box: from the box alone GrabCut cannot know which is meant;
    a prior on one of them (as LSE's network gives it) picks that one. A prior of nothing inside the box
    (the network missed the object) leaves it to GrabCut from the box alone; a box where nothing stands
    out still yields a mask (the box, shrunk)."""
    import cv2

    from rtvos.models.shared.box_init import grabcut, shrunk_box

    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(90, 160, (200, 300, 3)).astype(np.uint8), (0, 0), 3)
    left, right = np.zeros((200, 300), np.uint8), np.zeros((200, 300), np.uint8)
    cv2.circle(left, (110, 100), 30, 1, -1)
    cv2.circle(right, (190, 100), 30, 1, -1)
    frame[left > 0], frame[right > 0] = (220, 40, 40), (40, 40, 220)
    box = (70, 60, 230, 140)
    prior = cv2.GaussianBlur(right.astype(np.float32), (0, 0), 4)
    picked = grabcut(frame, box, prior=prior)
    assert iou(picked, right > 0) > 0.85 and (picked & (left > 0)).sum() < 0.05 * left.sum()
    assert np.array_equal(grabcut(frame, box, prior=np.zeros((200, 300), np.float32)), grabcut(frame, box))
    flat = np.full((200, 300, 3), 128, np.uint8)
    assert np.array_equal(grabcut(flat, box), shrunk_box((200, 300), *box))  # nothing stands out


def test_the_same_box_gives_the_same_mask(bear_frames):
    import cv2

    from rtvos.models.shared.box_init import grabcut

    frame, gt = bear_frames[0]
    ys, xs = np.nonzero(gt)
    box = (xs.min() - 5, ys.min() - 5, xs.max() + 5, ys.max() + 5)
    first = grabcut(frame, box)
    cv2.randu(np.zeros((4, 4), np.float32), 0, 1)  # OpenCV's own generator moves on in between
    assert np.array_equal(grabcut(frame, box), first)
