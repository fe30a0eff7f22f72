"""Box crops and maps pasted back (rtvos/models/shared/crops.py)."""

import numpy as np
import pytest

from rtvos.models.shared.crops import accumulate, crop, enlarge, mask_box, square

MAP = 48


def iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


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


def test_square_keeps_the_centre_and_the_longer_side():
    assert square((10.0, 20.0, 30.0, 60.0)) == (0.0, 20.0, 40.0, 60.0)
