"""`rtvos view --record`: frames published next to masks, paired by seq, drawn over the video."""

import subprocess

import cv2
from helpers import FAST_MODEL, RTVOS


def test_view_records_the_overlaid_stream(tmp_path, free_port):
    endpoint = f"tcp://127.0.0.1:{free_port}"
    video = tmp_path / "demo.avi"
    view = subprocess.Popen(RTVOS + ["view", "--connect", endpoint, "--record", str(video), "--count", "10",
                                     "--timeout", "120"], stderr=subprocess.PIPE, text=True)
    run = subprocess.run(RTVOS + ["run", "--source", "synthetic:320x240", "--frames", "150", "--fps", "15",
                                  "--bind", endpoint, "--publish-images", *FAST_MODEL], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    _, err = view.communicate(timeout=120)
    assert view.returncode == 0, err
    assert "drew 10 frames" in err
    cap = cv2.VideoCapture(str(video))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 10
