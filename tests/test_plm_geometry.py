"""PLM's geometry (rtvos/models/plm/geometry.py): candidates, crops, accumulation, the weighted median."""

import numpy as np
import pytest

from rtvos.models.plm.geometry import (accumulate, candidate_boxes, crop, enlarge, full_frame_boxes, mask_box, overlap,
                                       weighted_median)
from rtvos.models.plm.net import MAP


def iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


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


def test_a_map_pasted_back_lands_on_its_box_and_off_frame_parts_are_dropped():
    h, w = 60, 80
    # A box hanging over the top-left corner: only its inside part is written, with the map's values.
    box = (-20.0, -10.0, 28.0, 38.0)  # 48 x 48 px, the map is 48 x 48: one map cell per pixel
    m = np.zeros((48, 48), np.float32)
    m[:, 24:] = 1.0  # right half foreground: frame x >= 4
    out = accumulate([m], [box], (h, w))
    assert out.shape == (h, w)
    assert np.all(out[:38, 4:28] > 0.99) and np.all(out[:38, :4] < 0.01)
    assert np.all(out[38:, :] == 0) and np.all(out[:, 28:] == 0)  # not covered: 0


def test_overlapping_candidates_are_averaged_not_summed():
    ones, zeros = np.ones((MAP, MAP), np.float32), np.zeros((MAP, MAP), np.float32)
    out = accumulate([ones, zeros], [(0.0, 0.0, 40.0, 40.0), (20.0, 0.0, 60.0, 40.0)], (40, 60))
    assert np.allclose(out[:, :19], 1.0) and np.allclose(out[:, 21:40], 0.5) and np.allclose(out[:, 41:], 0.0)


def test_a_target_larger_than_the_frame_still_covers_every_pixel():
    h, w = 48, 64
    boxes = candidate_boxes((0.0, 0.0, float(w), float(h)), margin=0.3)
    out = accumulate([np.ones((MAP, MAP), np.float32)] * 9, boxes, (h, w))
    assert np.allclose(out, 1.0)
    full = full_frame_boxes((h, w))
    assert len(full) == 9 and full[4] == pytest.approx((0.0, 0.0, float(w), float(h)))


@pytest.mark.parametrize("box", [(300.0, 200.0, 380.0, 300.0), (-30.0, 400.0, 60.0, 500.0), (600.0, -20.0, 660.0, 30.0),
                                 (0.0, 0.0, 640.0, 480.0)])
def test_crop_then_accumulate_reproduces_the_mask(box):
    """Cropping a mask to a candidate's map and pasting it back gives the mask again (edges, corners,
    and a box as large as the frame)."""
    h, w = 480, 640
    mask = np.zeros((h, w), bool)
    mask[180:320, 280:420] = True
    mask[420:470, 0:40] = True
    mask[0:20, 610:640] = True
    m = crop(mask.astype(np.float32), box, MAP, fill=0.0)
    back = accumulate([m], [box], (h, w)) > 0.5
    inside = np.zeros((h, w), bool)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    inside[max(0, y0):y1, max(0, x0):x1] = True
    assert iou(back, mask & inside) > 0.85


def test_mask_box_and_enlarge():
    m = np.zeros((20, 30), bool)
    assert mask_box(m) is None
    m[5:9, 10:20] = True
    assert mask_box(m) == (10.0, 5.0, 20.0, 9.0)
    assert enlarge((10.0, 5.0, 20.0, 9.0), 0.5) == (5.0, 3.0, 25.0, 11.0)


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
