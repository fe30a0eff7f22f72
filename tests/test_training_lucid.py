"""Synthetic 'lucid dreaming' clips (rtvos/training/lucid.py)."""

from __future__ import annotations

import numpy as np


def test_lucid_clips_move_the_pasted_object_and_label_exactly_it():
    from rtvos.training.lucid import lucid_clip

    rng = np.random.default_rng(0)
    h, w = 128, 192
    obj_image = np.zeros((h, w, 3), np.uint8)
    obj_mask = np.zeros((h, w), bool)
    obj_mask[40:80, 60:100] = True
    obj_image[obj_mask] = (250, 20, 20)                      # a red square on black
    background = np.full((h, w, 3), (20, 200, 20), np.uint8)  # over a green field
    frames, masks = lucid_clip(obj_image, obj_mask, background, 10, rng)
    assert len(frames) == len(masks) == 10
    centres = []
    for f, m in zip(frames, masks):
        assert f.shape == (h, w, 3) and m.shape == (h, w) and 0 <= m.min() and m.max() <= 1
        inside = m > 0.9
        assert inside.any()
        red = f[..., 0].astype(int) - f[..., 1].astype(int) > 50
        assert (red == (m > 0.5)).mean() > 0.98   # the label is where the object was pasted
        ys, xs = np.nonzero(inside)
        centres.append((xs.mean(), ys.mean()))
    assert np.ptp(np.array(centres), axis=0).max() > 1.0  # it moves
