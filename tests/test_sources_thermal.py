"""Thermal recordings as a source (rtvos/sources/thermal.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtvos.sources import SourceError, open_source
from rtvos.sources.thermal import ThermalSource
from rtvos.thermal import NormalizationProfile

REPO = Path(__file__).resolve().parents[1]


EXAMPLE_YAML = REPO / "calibration" / "thermal_camera_example.yaml"


def _scene(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    """A smooth 16-bit scene around 7000..9000 counts with a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 7000 + 2000 * (xx / w) * (0.5 + 0.5 * yy / h)
    return np.clip(base + rng.normal(0, 20, (h, w)), 0, 65535).astype(np.uint16)


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
