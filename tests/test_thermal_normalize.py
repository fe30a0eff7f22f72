"""Radiometric normalisation and its profiles (rtvos/thermal/normalize.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtvos.thermal import (NormalizationProfile, ProfileError, ThermalNormalizer, available_profiles, load_profile,
                           normalize)

REPO = Path(__file__).resolve().parents[1]


def _scene(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    """A smooth 16-bit scene around 7000..9000 counts with a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 7000 + 2000 * (xx / w) * (0.5 + 0.5 * yy / h)
    return np.clip(base + rng.normal(0, 20, (h, w)), 0, 65535).astype(np.uint16)


@pytest.mark.parametrize("method", ["percentile", "clahe", "minmax"])
def test_normalize_16bit_to_rgb(method):
    raw = _scene()
    out = normalize(raw, NormalizationProfile(method=method, ema=0.0))
    assert out.shape == (120, 160, 3) and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])
    assert out.max() >= 200 and out.min() <= 55  # the stretch uses the range


def test_percentile_stretch_maps_percentiles_to_black_and_white():
    raw = _scene()
    lo, hi = np.percentile(raw, (1, 99))
    n = ThermalNormalizer(NormalizationProfile(low_pct=1, high_pct=99, ema=0.0, subsample=1))
    grey = n.grey(raw)
    assert n.bounds == pytest.approx((lo, hi))
    assert (grey[raw <= lo] == 0).all() and (grey[raw >= hi] == 255).all()
    mid = np.abs(raw.astype(float) - (lo + hi) / 2) < 10
    assert abs(grey[mid].mean() - 127.5) < 4


def test_uint8_input_is_accepted_and_bad_input_rejected():
    raw8 = (_scene() // 64).astype(np.uint8)
    assert normalize(raw8, NormalizationProfile(ema=0)).dtype == np.uint8
    with pytest.raises(ValueError, match="HxW"):
        normalize(np.zeros((10, 10, 3), np.uint16))
    with pytest.raises(ValueError, match="uint16"):
        normalize(np.zeros((10, 10), np.float32))


@pytest.mark.parametrize("method", ["percentile", "minmax", "clahe"])
def test_dead_and_hot_pixels_do_not_change_the_stretch(method):
    raw = _scene()
    bad = raw.copy()
    rng = np.random.default_rng(1)
    ys, xs = rng.integers(0, 120, 12), rng.integers(0, 160, 12)
    bad[ys[:6], xs[:6]] = 65535
    bad[ys[6:], xs[6:]] = 0
    prof = NormalizationProfile(method=method, ema=0.0)
    a, b = normalize(raw, prof)[..., 0].astype(int), normalize(bad, prof)[..., 0].astype(int)
    ok = np.ones(raw.shape, bool)
    ok[ys, xs] = False
    # CLAHE is local: allow a little more around the defects' tiles.
    assert np.abs(a - b)[ok].max() <= (3 if method == "clahe" else 1)


def test_despeckle_removes_isolated_defects():
    raw = _scene()
    raw[50, 60], raw[70, 90] = 65535, 0
    out = normalize(raw, NormalizationProfile(ema=0.0, despeckle=True))[..., 0].astype(int)
    assert abs(out[50, 60] - out[50, 59]) < 20 and abs(out[70, 90] - out[70, 89]) < 20


def test_ema_smooths_the_bounds_between_frames():
    raw = _scene()
    brighter = (raw.astype(np.int32) + 1000).astype(np.uint16)
    n = ThermalNormalizer(NormalizationProfile(ema=0.8, subsample=1))
    n(raw)
    lo0, hi0 = n.bounds
    n(brighter)
    lo1, hi1 = n.bounds
    assert lo1 == pytest.approx(lo0 + 0.2 * 1000, abs=1) and hi1 == pytest.approx(hi0 + 0.2 * 1000, abs=1)
    for _ in range(40):
        n(brighter)
    assert n.bounds[0] == pytest.approx(lo0 + 1000, abs=5)
    fresh = ThermalNormalizer(NormalizationProfile(ema=0.0, subsample=1))
    fresh(raw)
    fresh(brighter)
    assert fresh.bounds[0] == pytest.approx(lo0 + 1000, abs=1)  # ema 0: no memory
    n.reset()
    assert n.bounds is None


def test_flat_frame_does_not_blow_up():
    out = normalize(np.full((40, 50), 8000, np.uint16), NormalizationProfile(ema=0))
    assert out.dtype == np.uint8 and out.shape == (40, 50, 3)


def test_shipped_profiles_load():
    assert {"default", "clahe"} <= set(available_profiles())
    assert load_profile("default").method == "percentile"
    c = load_profile("clahe")
    assert c.method == "clahe" and c.despeckle and c.tile_grid == (8, 8)
    assert load_profile(None) == load_profile("default")
    assert load_profile(REPO / "calibration" / "thermal" / "clahe.toml") == c
    assert load_profile(c) is c


def test_profile_errors_are_clear(tmp_path):
    with pytest.raises(ProfileError, match="available: .*clahe.*default"):
        load_profile("no-such-profile")
    with pytest.raises(ProfileError, match="not found"):
        load_profile(tmp_path / "missing.toml")
    p = tmp_path / "bad.toml"
    p.write_text('method = "percentile"\nlow_pct = 1\nhigh_pcnt = 99\n')
    with pytest.raises(ProfileError, match="high_pcnt"):
        load_profile(p)
    p.write_text('method = "histogram"\n')
    with pytest.raises(ProfileError, match="percentile, clahe, minmax"):
        load_profile(p)
    p.write_text('low_pct = 60\nhigh_pct = 40\n')
    with pytest.raises(ProfileError, match="low_pct"):
        load_profile(p)
    (tmp_path / "mine.toml").write_text('method = "minmax"\nema = 0.5\nclahe_tiles = [8, 6]\n')
    prof = load_profile("mine", directory=tmp_path)
    assert prof.method == "minmax" and prof.ema == 0.5 and prof.tile_grid == (8, 6)
