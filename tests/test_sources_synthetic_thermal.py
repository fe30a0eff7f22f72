"""The synthetic thermal road scene (rtvos/sources/synthetic_thermal.py)."""

from __future__ import annotations

import numpy as np
import pytest

from rtvos.sources import SourceError, open_source
from rtvos.sources.synthetic_thermal import SyntheticThermalRoadSource


@pytest.fixture(scope="module")
def small_stream():
    src = SyntheticThermalRoadSource(width=320, height=256, fps=None, frames=90, seed=3)
    return src, list(src.frames())


def test_synthetic_thermal_is_deterministic():
    a = list(SyntheticThermalRoadSource(fps=None, frames=3, seed=5).frames())
    b = list(SyntheticThermalRoadSource(fps=None, frames=3, seed=5).frames())
    for fa, fb in zip(a, b):
        assert np.array_equal(fa.meta["raw"], fb.meta["raw"]) and np.array_equal(fa.image, fb.image)
        assert np.array_equal(fa.gt_mask, fb.gt_mask)
    c = SyntheticThermalRoadSource(fps=None, frames=1, seed=6).render(0)[0]
    assert not np.array_equal(a[0].meta["raw"], c)
    assert a[0].image.shape == (512, 640, 3) and a[0].target is not None and a[1].target is None


def test_synthetic_thermal_raw_range_and_radiometry(small_stream):
    src, frames = small_stream
    raw = frames[0].meta["raw"]
    assert raw.dtype == np.uint16 and raw.max() <= 16383
    assert (raw[src.dead_pixels] == 0).all() and (raw[src.hot_pixels] == 16383).all()
    med = np.median(raw)
    assert 6000 < med < 9500
    mask = frames[0].gt_mask.astype(bool)
    road, verge = np.median(raw[mask]), np.median(raw[~mask & (np.arange(256)[:, None] > 150)])
    assert abs(road - verge) > 150  # asphalt and grass differ in temperature
    assert (road > verge) == src.road_warmer


def test_synthetic_thermal_road_mask(small_stream):
    src, frames = small_stream
    fractions = [f.gt_mask.mean() for f in frames]
    assert all(0.15 < r < 0.70 for r in fractions)
    assert set(np.unique(frames[0].gt_mask)) <= {0, 1}
    assert not np.array_equal(frames[0].gt_mask, frames[-1].gt_mask)  # the road curves over time
    assert not np.array_equal(src.road_mask(0), src.road_mask(89))
    assert np.array_equal(frames[0].target, frames[0].gt_mask)


def test_synthetic_thermal_vehicles_occlude_the_road(small_stream):
    src, frames = small_stream
    occluded = [int((src.road_mask(f.seq).astype(bool) & ~f.gt_mask.astype(bool)).sum()) for f in frames]
    assert min(occluded) > 0  # the lead car is always on the road
    assert not (src.road_mask(0) < frames[0].gt_mask).any()  # occlusion only removes road
    empty = SyntheticThermalRoadSource(width=320, height=256, fps=None, seed=3, vehicles=0)
    assert np.array_equal(empty.render(10)[1], src.road_mask(10))


def test_open_source_synthetic_thermal_specs():
    src = open_source("synthetic-thermal", fps=None, frames=2)
    assert [f.image.shape for f in src.frames()] == [(512, 640, 3)] * 2
    src = open_source("synthetic-thermal:160x128", fps=None, frames=1, profile="clahe")
    (f,) = list(src.frames())
    assert f.image.shape == (128, 160, 3) and f.meta["raw"].shape == (128, 160)
    with pytest.raises(SourceError, match="available"):
        open_source("synthetic-thermal", profile="nope")
