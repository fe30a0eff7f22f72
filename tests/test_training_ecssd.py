"""Synthetic clips from the ECSSD photographs (rtvos/training/ecssd.py) and the look-alikes and bending
that lucid_clip adds for them (rtvos/training/lucid.py)."""

import numpy as np
import pytest

from rtvos.training.lucid import lucid_clip


def _square_scene(h=128, w=192):
    obj_image = np.zeros((h, w, 3), np.uint8)
    obj_mask = np.zeros((h, w), bool)
    obj_mask[40:80, 60:100] = True
    obj_image[obj_mask] = (250, 20, 20)                      # a red square ...
    return obj_image, obj_mask, np.full((h, w, 3), (20, 200, 20), np.uint8)  # ... over a green field


def test_a_look_alike_moves_behind_the_target_and_is_not_in_its_mask():
    frames, masks = lucid_clip(*_square_scene(), 8, np.random.default_rng(2), distractor=True)
    outside = 0
    for f, m in zip(frames, masks):
        red = f[..., 0].astype(int) - f[..., 1].astype(int) > 50
        outside += int((red & (m < 0.1)).sum())
        assert ((m > 0.5) & ~red).mean() < 0.01  # the mask is red (the target is on top) ...
    assert outside > 8 * 200  # ... and there is red the mask leaves out: the look-alike


def test_bending_changes_the_shape_smoothly_and_the_mask_follows():
    rigid, _ = lucid_clip(*_square_scene(), 6, np.random.default_rng(3))
    frames, masks = lucid_clip(*_square_scene(), 6, np.random.default_rng(3), elastic=0.1)
    assert any(not np.array_equal(a, b) for a, b in zip(rigid, frames))
    for f, m in zip(frames, masks):
        red = f[..., 0].astype(int) - f[..., 1].astype(int) > 50
        assert (red == (m > 0.5)).mean() > 0.98


@pytest.fixture
def ecssd():
    from rtvos.training.ecssd import EcssdDataset

    try:
        return EcssdDataset()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


def test_photographs_are_cropped_to_the_processing_aspect_and_become_clips(ecssd):
    from rtvos.training.ecssd import ecssd_clip, paint_out

    assert len(ecssd) == 1000
    image, mask = ecssd.load(0, (256, 448))
    assert image.shape == (256, 448, 3) and mask.shape == (256, 448) and mask.dtype == bool and mask.any()
    out = paint_out(image, mask)
    assert np.abs(out[mask].astype(int) - image[mask].astype(int)).mean() > 5  # the object is painted over
    frames, masks, name = ecssd_clip(ecssd, (128, 224), 5, np.random.default_rng(0))
    assert name.startswith("ecssd:") and len(frames) == len(masks) == 5
    assert all(f.shape == (128, 224, 3) and m.shape == (128, 224) for f, m in zip(frames, masks))
    assert all(m.max() > 0.9 for m in masks)
