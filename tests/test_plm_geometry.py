"""PLM's geometry (rtvos/models/plm/geometry.py): candidates and the weighted median."""

import numpy as np
import pytest

from rtvos.models.plm.geometry import candidate_boxes, full_frame_boxes, weighted_median
from rtvos.models.plm.net import MAP
from rtvos.models.shared.crops import accumulate, overlap


# ------------------------------------------------------------------------------- candidate geometry
def test_nine_candidates_surround_the_box_with_the_margin():
    box = (100.0, 50.0, 200.0, 150.0)
    boxes = candidate_boxes(box, margin=0.3, shift=0.1)
    assert len(boxes) == 9
    for b in boxes:  # every candidate is the box + 30 % per side, moved by at most 10 % of its size
        assert b[2] - b[0] == pytest.approx(160.0) and b[3] - b[1] == pytest.approx(160.0)
        assert overlap(box, b) == pytest.approx(1.0)
    centres = {((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in boxes}
    assert centres == {(150.0 + dx, 100.0 + dy) for dx in (-10.0, 0.0, 10.0) for dy in (-10.0, 0.0, 10.0)}


def test_tiny_targets_get_a_minimum_candidate_size():
    b = candidate_boxes((10.0, 10.0, 12.0, 13.0), min_size=24.0)[4]
    assert b[2] - b[0] == pytest.approx(24.0) and b[3] - b[1] == pytest.approx(24.0)


def test_a_target_larger_than_the_frame_still_covers_every_pixel():
    h, w = 48, 64
    boxes = candidate_boxes((0.0, 0.0, float(w), float(h)), margin=0.3)
    out = accumulate([np.ones((MAP, MAP), np.float32)] * 9, boxes, (h, w))
    assert np.allclose(out, 1.0)
    full = full_frame_boxes((h, w))
    assert len(full) == 9 and full[4] == pytest.approx((0.0, 0.0, float(w), float(h)))


# ------------------------------------------------------------------------------------ post-process
def test_weighted_median_removes_outliers_and_follows_image_edges():
    h, w = 60, 60
    image = np.zeros((h, w, 3), np.uint8)
    image[:, 30:] = 200  # an image edge at x = 30
    mask = np.zeros((h, w), bool)
    mask[:, 28:] = True          # the mask overshoots the edge by 2 px
    mask[10, 5] = True           # and has an isolated false positive
    out = weighted_median(mask, image)
    assert not out[10, 5]
    assert out[:, 31:].all() and not out[:, :29].any()
    assert not weighted_median(np.zeros((h, w), bool), image).any()
