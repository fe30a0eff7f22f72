"""Thermal road tracking: normalisation, profiles, undistortion, thermal sources, the road error rate."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtvos.sources import SourceError, open_source
from rtvos.sources.synthetic_thermal import SyntheticThermalRoadSource
from rtvos.sources.thermal import ThermalSource
from rtvos.thermal import (CalibrationError, CameraInfo, NormalizationProfile, ProfileError, RoadErrorAccumulator,
                           ThermalNormalizer, Undistorter, available_profiles, load_profile, normalize,
                           parse_simple_yaml, read_camera_info, road_error_rate)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_YAML = REPO / "calibration" / "thermal_camera_example.yaml"


def _scene(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    """A smooth 16-bit scene around 7000..9000 counts with a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 7000 + 2000 * (xx / w) * (0.5 + 0.5 * yy / h)
    return np.clip(base + rng.normal(0, 20, (h, w)), 0, 65535).astype(np.uint16)


# --- normalisation -------------------------------------------------------------------------------------

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


# --- undistortion --------------------------------------------------------------------------------------

def _ramps(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    xs = np.tile(np.arange(w, dtype=np.float32), (h, 1))
    ys = np.tile(np.arange(h, dtype=np.float32)[:, None], (1, w))
    return xs, ys


def test_example_camera_info_reads():
    ci = read_camera_info(EXAMPLE_YAML)
    assert (ci.width, ci.height) == (640, 512)
    assert ci.K.shape == (3, 3) and 700 < ci.K[0, 0] < 860 and 700 < ci.K[1, 1] < 860
    assert ci.distortion_model == "plumb_bob" and ci.D.shape == (5,) and -0.3 < ci.D[0] < -0.2
    assert ci.P.shape == (3, 4) and ci.R.shape == (3, 3)


def test_undistort_example_keeps_the_principal_point():
    u = Undistorter(EXAMPLE_YAML)
    ci = u.info
    xs, ys = _ramps(640, 512)
    ux, uy = u(xs), u(ys)
    cx, cy = int(round(ci.K[0, 2])), int(round(ci.K[1, 2]))
    assert abs(ux[cy, cx] - cx) < 1.0 and abs(uy[cy, cx] - cy) < 1.0
    # Barrel distortion: the output corner samples from inside the image.
    assert ux[0, 0] > 5 and uy[0, 0] > 5 and ux[-1, -1] < 634
    raw = _scene(512, 640)
    out = u(raw)
    assert out.dtype == np.uint16 and out.shape == raw.shape
    with pytest.raises(CalibrationError, match="640x512"):
        u(np.zeros((480, 640), np.uint16))


def test_zero_distortion_is_identity():
    k = np.array([[780.0, 0, 320], [0, 780, 256], [0, 0, 1]])
    u = Undistorter(CameraInfo(640, 512, k, np.zeros(5)))
    raw = _scene(512, 640)
    assert np.array_equal(u(raw), raw)


def test_yaml_subset_parser_and_opencv_files(tmp_path):
    data = parse_simple_yaml("# c\n%YAML:1.0\n---\na: {rows: 1, cols: 2, data: [1, 2.5]}\n"
                             "b:\n  - 1\n  - 'x # y'  # comment\nc: [1,\n   2,\n   3e-1]\nname: lwir\n")
    assert data == {"a": {"rows": 1, "cols": 2, "data": [1, 2.5]}, "b": [1, "x # y"], "c": [1, 2, 0.3],
                    "name": "lwir"}
    # A file written by cv2.FileStorage (!!opencv-matrix nodes, multi-line data) reads the same.
    ci = read_camera_info(EXAMPLE_YAML)
    p = str(tmp_path / "cv.yaml")
    fs = cv2.FileStorage(p, cv2.FILE_STORAGE_WRITE)
    fs.write("image_width", 640)
    fs.write("image_height", 512)
    fs.write("camera_matrix", ci.K)
    fs.write("distortion_coefficients", ci.D.reshape(1, -1))
    fs.release()
    ci2 = read_camera_info(p)
    assert np.allclose(ci2.K, ci.K) and np.allclose(ci2.D, ci.D)
    bad = tmp_path / "bad.yaml"
    bad.write_text("image_width: 640\n")
    with pytest.raises(CalibrationError, match="camera_matrix"):
        read_camera_info(bad)
    with pytest.raises(CalibrationError, match="not found"):
        read_camera_info(tmp_path / "nope.yaml")


# --- ThermalSource -------------------------------------------------------------------------------------

def _write_png_sequence(folder: Path, n: int = 4, h: int = 48, w: int = 64) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    frames = []
    for k in range(n):
        raw = _scene(h, w, seed=k) + np.uint16(50 * k)
        assert cv2.imwrite(str(folder / f"{k:05d}.png"), raw)
        frames.append(raw)
    return frames


def test_thermal_folder_of_16bit_pngs_with_a_corrupt_file(tmp_path, caplog):
    seq = tmp_path / "drive"
    frames = _write_png_sequence(seq, n=5)
    (seq / "00002.png").write_bytes(b"not a png")  # replaces frame 2
    cv2.imwrite(str(seq / "00005.png"), np.zeros((20, 20), np.uint16))  # wrong size
    src = ThermalSource(seq, profile=NormalizationProfile(ema=0.0))
    with caplog.at_level(logging.WARNING):
        out = list(src.frames())
    assert [f.name for f in out] == ["00000", "00001", "00003", "00004"]
    assert [f.seq for f in out] == [0, 1, 2, 3]
    assert src.skipped == 2 and "skipping" in caplog.text
    for f in out:
        assert f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8
        assert f.meta["raw"].dtype == np.uint16 and f.meta["bits"] == 16
        assert f.gt_mask is None and f.target is None
    assert np.array_equal(out[0].meta["raw"], frames[0])
    assert np.array_equal(out[3].meta["raw"], frames[4])


def test_thermal_folder_road_masks_give_target_and_gt(tmp_path):
    seq = tmp_path / "drive"
    _write_png_sequence(seq, n=3)
    masks = tmp_path / "drive_masks"
    masks.mkdir()
    for k in range(3):
        m = np.zeros((48, 64), np.uint8)
        m[24 + k:, :] = 255
        cv2.imwrite(str(masks / f"{k:05d}.png"), m)
    out = list(ThermalSource(seq).frames())
    assert out[0].target is not None and out[1].target is None
    assert set(np.unique(out[0].gt_mask)) == {0, 1}
    assert out[2].gt_mask[:26].sum() == 0 and out[2].gt_mask[26:].all()


def test_thermal_raw_files_and_raw_stream(tmp_path):
    h, w = 24, 32
    frames = [_scene(h, w, seed=k) for k in range(3)]
    folder = tmp_path / "rawdir"
    folder.mkdir()
    for k, f in enumerate(frames):
        f.astype("<u2").tofile(folder / f"{k:03d}.raw")
    (folder / "003.raw").write_bytes(b"\x00" * 100)  # truncated
    with pytest.raises(SourceError, match="width and height"):
        ThermalSource(folder)
    src = ThermalSource(folder, width=w, height=h)
    out = list(src.frames())
    assert len(out) == 3 and src.skipped == 1
    assert all(np.array_equal(o.meta["raw"], f) for o, f in zip(out, frames))
    # One file of many frames plus a partial one at the end.
    stream = tmp_path / "drive.bin"
    stream.write_bytes(b"".join(f.astype("<u2").tobytes() for f in frames) + b"\x01\x02\x03")
    src = open_source(f"thermal:{stream}", width=w, height=h, profile="clahe")
    out = list(src.frames())
    assert [o.name for o in out] == ["00000", "00001", "00002"] and src.skipped == 1
    assert np.array_equal(out[2].meta["raw"], frames[2]) and out[2].image.shape == (h, w, 3)
    with pytest.raises(SourceError, match="whole"):
        ThermalSource(stream, width=w * 10, height=h * 10)


def test_thermal_source_with_calibration_and_errors(tmp_path):
    seq = tmp_path / "cam"
    _write_png_sequence(seq, n=2, h=512, w=640)
    src = open_source(f"thermal:{seq}", calibration=str(EXAMPLE_YAML), frames=1)
    (f,) = list(src.frames())
    assert f.image.shape == (512, 640, 3) and f.meta["raw"].shape == (512, 640)
    with pytest.raises(SourceError, match="available"):
        ThermalSource(seq, profile="nope")
    with pytest.raises(SourceError, match="not found"):
        ThermalSource(seq, calibration=tmp_path / "missing.yaml")
    with pytest.raises(SourceError, match="neither"):
        ThermalSource(tmp_path / "missing")


def test_thermal_video_file(tmp_path):
    path = tmp_path / "lwir.avi"
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48), isColor=False)
    if not vw.isOpened():
        pytest.skip("no video writer")
    for k in range(3):
        vw.write(((_scene(48, 64, seed=k) - 7000) // 8).astype(np.uint8))
    vw.release()
    src = ThermalSource(path)
    out = list(src.frames())
    src.close()
    assert len(out) == 3 and out[0].meta["bits"] == 8 and out[0].meta["raw"].dtype == np.uint16


# --- synthetic thermal road ----------------------------------------------------------------------------

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


# --- road error rate -----------------------------------------------------------------------------------

def test_road_error_rate_known_values():
    gt = np.zeros((10, 10), np.uint8)
    gt[5:] = 1
    assert road_error_rate(gt, gt) == 0.0
    assert road_error_rate(1 - gt, gt) == 100.0
    pred = gt.copy()
    pred[4, :] = 1        # 10 false positives
    pred[9, :3] = 0       # 3 false negatives
    assert road_error_rate(pred, gt) == pytest.approx(13.0)
    assert road_error_rate(pred * 255, gt * 7) == pytest.approx(13.0)  # any nonzero is road
    with pytest.raises(ValueError, match="shape"):
        road_error_rate(gt, gt[:5])


def test_road_error_accumulator():
    acc = RoadErrorAccumulator()
    gt = np.ones((10, 10), np.uint8)
    assert acc.add(gt, gt) == 0.0
    assert acc.add(np.zeros_like(gt), gt) == 100.0
    small = np.ones((2, 5), np.uint8)
    pred = small.copy()
    pred[0, 0] = 0
    assert acc.add(pred, small) == pytest.approx(10.0)
    assert (acc.fp, acc.fn, acc.total, acc.frames) == (0, 101, 210, 3)
    assert acc.rate == pytest.approx(100 * 101 / 210)
    assert acc.mean_frame_rate == pytest.approx(110 / 3)
    assert acc.summary()["error_rate"] == pytest.approx(acc.rate)
    assert RoadErrorAccumulator().rate == 0.0
