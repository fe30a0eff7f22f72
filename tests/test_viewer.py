"""The live demo path: frames published next to masks, paired by seq, drawn over the video."""

import subprocess
import sys

import cv2
import numpy as np

from rtvos.viewer import overlay

RTVOS = [sys.executable, "-m", "rtvos"]


def test_overlay_tints_objects_and_keeps_the_background():
    img = np.full((40, 60, 3), 100, np.uint8)
    mask = np.zeros((40, 60), np.uint8)
    mask[10:20, 10:30] = 1
    out = overlay(img, mask, [{"id": 1, "score": 0.9, "bbox": [10, 10, 30, 20], "area": 200}], [])
    assert out.shape == (40, 60, 3)
    assert not np.array_equal(out[15, 20], [100, 100, 100])  # tinted
    np.testing.assert_array_equal(out[35, 50], [100, 100, 100])  # untouched


def test_view_records_the_overlaid_stream(tmp_path, free_port):
    endpoint = f"tcp://127.0.0.1:{free_port}"
    video = tmp_path / "demo.avi"
    view = subprocess.Popen(RTVOS + ["view", "--connect", endpoint, "--record", str(video), "--count", "10",
                                     "--timeout", "120"], stderr=subprocess.PIPE, text=True)
    run = subprocess.run(RTVOS + ["run", "--source", "synthetic:320x240", "--frames", "150", "--fps", "15",
                                  "--bind", endpoint, "--publish-images", "--option", "height=192",
                                  "--option", "augmentations=3"], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    _, err = view.communicate(timeout=120)
    assert view.returncode == 0, err
    assert "drew 10 frames" in err
    cap = cv2.VideoCapture(str(video))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 10
