"""LSE's geometry (rtvos/models/lse/geometry.py): the crop, the offsets' targets, the box pseudo-labels, the
first pass's pseudo-labels."""

import numpy as np

from rtvos.models.lse.geometry import IGNORE, box_pseudo_labels, crop_box, first_pass_labels, offset_targets


def test_the_crop_is_a_square_around_the_box_grown_by_the_margin():
    x0, y0, x1, y1 = crop_box((100.0, 50.0, 140.0, 130.0), margin=0.5)  # 40 x 80 box
    assert (x1 - x0, y1 - y0) == (160.0, 160.0) and ((x0 + x1) / 2, (y0 + y1) / 2) == (120.0, 90.0)
    x0, y0, x1, y1 = crop_box((10.0, 10.0, 12.0, 12.0), margin=0.5)
    assert x1 - x0 == 32.0  # a tiny box still gets a crop of some context


def test_offsets_point_every_instance_pixel_at_its_instance_centre():
    inst = np.zeros((8, 8), np.uint8)
    inst[0:2, 0:2] = 1
    inst[4:8, 4:8] = 2
    offsets, valid = offset_targets(inst)
    assert valid.sum() == 4 + 16 and not valid[3, 3]
    ys, xs = (np.mgrid[:8, :8] + 0.5) / 8
    centres_y, centres_x = ys + offsets[0], xs + offsets[1]
    assert np.allclose(centres_y[inst == 1], 1 / 8) and np.allclose(centres_x[inst == 1], 1 / 8)
    assert np.allclose(centres_y[inst == 2], 6 / 8) and np.allclose(centres_x[inst == 2], 6 / 8)
    assert np.all(offsets[:, ~valid] == 0)


def test_box_pseudo_labels_follow_the_papers_rule():
    prob = np.array([[0.9, 0.55, 0.2, 0.95]], np.float32)
    inside = np.array([[True, True, True, False]])
    assert box_pseudo_labels(prob, inside).tolist() == [[1.0, IGNORE, IGNORE, 0.0]]  # outside: background


def test_first_pass_labels_trust_a_masks_inside_and_outside_but_not_its_edge_or_beyond_the_frame():
    mask = np.zeros((40, 40), bool)
    mask[10:30, 10:30] = True
    whole = first_pass_labels(mask, (0.0, 0.0, 40.0, 40.0), 40)  # the crop is the frame, one cell a pixel
    assert whole[20, 20] == 1.0 and whole[2, 2] == 0.0             # deep inside / far outside
    assert whole[10, 20] == IGNORE and whole[9, 20] == IGNORE      # the mask's first row and the row before
    assert whole[12, 20] == 1.0 and whole[7, 20] == 0.0            # two cells in / out: labelled again
    beyond = first_pass_labels(mask, (-40.0, 0.0, 40.0, 80.0), 40)  # half the crop lies beyond the frame
    assert np.all(beyond[:, :18] == IGNORE) and np.all(beyond[22:] == IGNORE)   # left of it, below it
    assert beyond[10, 30] == 1.0 and beyond[2, 22] == 0.0
