"""Targets (rtvos/models/target.py): checked against the frame, turned into the label mask a model starts from."""

import numpy as np
import pytest

from rtvos.models.target import Target, TargetError, as_target, label_ids, merged_label, target_to_mask

H, W = 60, 80


def _frame():
    """A bright square on a dark, slightly textured background: what GrabCut can cut out of a box."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 30, (H, W, 3)).astype(np.uint8)
    img[20:40, 30:55] = (220, 200, 40)
    return img


def test_masks_are_checked_against_the_frame():
    with pytest.raises(TargetError, match="80x60"):
        as_target(np.ones((10, 10), np.uint8), H, W)
    with pytest.raises(TargetError, match="empty"):
        as_target(np.zeros((H, W), np.uint8), H, W)
    with pytest.raises(TargetError, match="HxW"):
        as_target(np.ones((H, W, 2), np.uint8), H, W)
    assert as_target(np.ones((H, W, 1), bool), H, W).mask.shape == (H, W)  # HxWx1 and bool are accepted


def test_boxes_are_checked_against_the_frame():
    with pytest.raises(TargetError, match="empty target"):
        as_target(Target(), H, W)
    with pytest.raises(TargetError, match="out of range"):
        as_target(Target.from_boxes({300: (1, 1, 20, 20)}), H, W)
    with pytest.raises(TargetError, match="degenerate"):
        as_target(Target.from_boxes({1: (5, 5, 6, 6)}), H, W)
    with pytest.raises(TargetError, match="outside"):
        as_target(Target.from_boxes({1: (100, 100, 120, 120)}), H, W)


def test_a_box_becomes_the_object_inside_it_by_grabcut_when_asked():
    label = target_to_mask(_frame(), Target.from_boxes({4: (26, 16, 59, 44)}, "grabcut"))
    assert label_ids(label) == [4]
    inside = np.zeros((H, W), bool)
    inside[20:40, 30:55] = True
    iou = (inside & (label == 4)).sum() / (inside | (label == 4)).sum()
    assert iou > 0.8, iou


def test_merged_label_replaces_one_object_and_keeps_the_others():
    current = np.zeros((H, W), np.uint8)
    current[0:10, 0:10] = 1
    current[50:60, 70:80] = 2
    new = np.zeros((H, W), np.uint8)
    new[30:35, 30:35] = 9  # any nonzero value marks the object
    label = merged_label(_frame(), 2, new, current)
    assert label_ids(label) == [1, 2]
    assert (label == 2).sum() == 25 and label[55, 75] == 0 and (label == 1).sum() == 100
    with pytest.raises(TargetError, match="current label mask"):
        merged_label(_frame(), 2, new, current[:10])


def test_how_a_box_becomes_a_mask_is_checked():
    for bad in ("magic", "grabcut:x.pt", "lse:", "lse+grabcut:", ":x.pt", None):
        with pytest.raises(TargetError, match="box_init"):
            Target.from_boxes({1: (0, 0, 10, 10)}, bad)
    for good in ("grabcut", "lse", "lse+grabcut", "lse:x.pt", "lse+grabcut:x.pt"):
        assert Target.from_boxes({1: (0, 0, 10, 10)}, good).box_init == good
    assert Target.from_boxes({1: (0, 0, 10, 10)}).box_init == "lse+grabcut"  # the best first masks, measured


def test_a_bad_box_init_is_refused_wherever_it_enters(tmp_path):
    from rtvos.cli import build_parser
    from rtvos.models.target import box_mask

    with pytest.raises(TargetError, match="box_init"):
        Target(mask=np.zeros((4, 4), np.uint8), box_init="magic")
    with pytest.raises(TargetError, match="box_init"):
        box_mask(_frame(), (1, 1, 5, 5), "grabcut:x.pt")
    parser = build_parser()
    assert parser.parse_args(["run", "--box-init", "lse+grabcut:x.pt"]).box_init == "lse+grabcut:x.pt"
    with pytest.raises(SystemExit):
        parser.parse_args(["eval", "--box-init", "magic"])
