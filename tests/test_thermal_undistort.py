"""Lens undistortion from camera_info YAML (rtvos/thermal/undistort.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from rtvos.thermal import CalibrationError, CameraInfo, Undistorter, parse_simple_yaml, read_camera_info


def _scene(h: int = 120, w: int = 160, seed: int = 0) -> np.ndarray:
    """A smooth 16-bit scene around 7000..9000 counts with a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 7000 + 2000 * (xx / w) * (0.5 + 0.5 * yy / h)
    return np.clip(base + rng.normal(0, 20, (h, w)), 0, 65535).astype(np.uint16)


REPO = Path(__file__).resolve().parents[1]


EXAMPLE_YAML = REPO / "calibration" / "thermal_camera_example.yaml"


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
