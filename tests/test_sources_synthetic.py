"""The synthetic camera (rtvos/sources/synthetic.py) and real-time pacing (rtvos/sources/base.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rtvos.sources import SourceError
from rtvos.sources.synthetic import SyntheticSource


def test_synthetic_shapes_seq_and_masks():
    frames = list(SyntheticSource(width=320, height=240, fps=None, frames=31, seed=3).frames())
    assert [f.seq for f in frames] == list(range(31))
    for f in frames:
        assert f.image.shape == (240, 320, 3) and f.image.dtype == np.uint8
        assert f.gt_mask.shape == (240, 320) and f.gt_mask.dtype == np.uint8
        assert set(np.unique(f.gt_mask)) <= {0, 1}
        assert 0.01 < (f.gt_mask > 0).mean() < 0.5
        assert isinstance(f.t_capture_ns, int)
    assert np.array_equal(frames[0].target, frames[0].gt_mask)
    assert all(f.target is None for f in frames[1:])
    assert all(b.t_capture_ns >= a.t_capture_ns for a, b in zip(frames, frames[1:]))
    # The object moves: its centroid shifts between frame 0 and frame 30.
    c0 = np.argwhere(frames[0].gt_mask).mean(0)
    c30 = np.argwhere(frames[30].gt_mask).mean(0)
    assert np.hypot(*(c30 - c0)) > 5


def test_synthetic_mask_matches_object():
    """Pixels under the mask have other colour statistics than the background around them."""
    img, mask = SyntheticSource(fps=None, seed=0).render(10)
    inside = img[mask > 0].astype(np.float32).mean(0)
    outside = img[mask == 0].astype(np.float32).mean(0)
    assert np.abs(inside - outside).max() > 40
    assert img[mask > 0].std() > 10  # textured, not one flat colour
    assert img[mask == 0].std() > 10


def test_synthetic_deterministic_for_seed():
    a = list(SyntheticSource(width=160, height=120, fps=None, frames=5, seed=7).frames())
    b = list(SyntheticSource(width=160, height=120, fps=None, frames=5, seed=7).frames())
    c = list(SyntheticSource(width=160, height=120, fps=None, frames=5, seed=8).frames())
    for x, y in zip(a, b):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.gt_mask, y.gt_mask)
    assert not np.array_equal(a[0].image, c[0].image)


def test_synthetic_multiple_objects():
    src = SyntheticSource(width=320, height=240, fps=None, frames=3, seed=1, objects=3)
    f = next(iter(src.frames()))
    assert set(np.unique(f.target)) == {0, 1, 2, 3}
    with pytest.raises(SourceError):
        SyntheticSource(objects=4)


def test_synthetic_frames_count_and_generation_time():
    src = SyntheticSource(fps=None, frames=20, seed=0)
    t0 = time.perf_counter()
    n = sum(1 for _ in src.frames())
    dt = time.perf_counter() - t0
    assert n == 20
    print(f"synthetic 640x480: {dt / n * 1e3:.2f} ms/frame")  # informative only, not asserted


def test_pacing_lower_bound():
    src = SyntheticSource(width=64, height=48, fps=50, frames=10)
    t0 = time.monotonic()
    frames = list(src.frames())
    assert len(frames) == 10
    assert time.monotonic() - t0 >= 0.16  # 9 periods of 20 ms after the first frame
