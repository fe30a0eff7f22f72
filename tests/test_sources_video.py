"""Video files and cameras (rtvos/sources/video.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rtvos.sources import SourceError, open_source
from rtvos.sources.video import CameraSource, VideoSource


def test_video_roundtrip(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    assert writer.isOpened()
    for i in range(6):
        img = np.zeros((48, 64, 3), np.uint8)
        img[..., 2] = 220  # red in BGR
        img[..., 1] = 30 * i
        writer.write(img)
    writer.release()
    src = VideoSource(path)
    frames = list(src.frames())
    assert len(frames) == 6 and [f.seq for f in frames] == list(range(6))
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8
    assert abs(int(frames[0].image[24, 32, 0]) - 220) < 20  # RGB order after conversion
    assert int(frames[5].image[24, 32, 1]) > int(frames[0].image[24, 32, 1]) + 100
    assert src.native_fps == pytest.approx(25.0)
    looped = open_source(f"video:{path}", frames=10, loop=True)
    assert [f.seq for f in looped.frames()] == list(range(10))
    src.close()
    looped.close()
    with pytest.raises(SourceError):
        VideoSource(tmp_path / "missing.avi")
    (tmp_path / "junk.avi").write_bytes(b"not a video at all")
    with pytest.raises(SourceError):
        VideoSource(tmp_path / "junk.avi")


def test_camera_missing_index():
    with pytest.raises(SourceError, match="no camera at index"):
        CameraSource(index=97)
