"""Frame sources: synthetic stream, image folders (incl. DAVIS), video files, cameras, open_source."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtvos.sources import Frame, Source, SourceError, open_source
from rtvos.sources.folder import FolderSource
from rtvos.sources.synthetic import SyntheticSource
from rtvos.sources.video import CameraSource, VideoSource

DAVIS_ROOT = Path(os.environ.get("RTVOS_DAVIS_ROOT",
                                 Path(__file__).resolve().parent.parent.parent / "shared/data/davis2016-train"))


def _take(source: Source, n: int) -> list[Frame]:
    out = []
    gen = source.frames()
    for f in gen:
        out.append(f)
        if len(out) >= n:
            break
    gen.close()
    return out


# --- synthetic -----------------------------------------------------------------------------------------

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


# --- folder --------------------------------------------------------------------------------------------

def _write_sequence(root: Path, n: int = 5, corrupt: int | None = 2) -> tuple[Path, list[np.ndarray]]:
    img_dir = root / "JPEGImages" / "480p" / "toy"
    ann_dir = root / "Annotations" / "480p" / "toy"
    img_dir.mkdir(parents=True)
    ann_dir.mkdir(parents=True)
    masks = []
    for i in range(n):
        img = np.full((48, 64, 3), 40 * i, np.uint8)
        img[:, :, 2] = 200  # BGR red channel -> R in RGB
        cv2.imwrite(str(img_dir / f"{i:05d}.png"), img)
        m = np.zeros((48, 64), np.uint8)
        m[10:20, 5 + i:15 + i] = 255
        cv2.imwrite(str(ann_dir / f"{i:05d}.png"), m)
        masks.append((m > 0).astype(np.uint8))
    if corrupt is not None:
        (img_dir / f"{corrupt:05d}.png").write_bytes(b"this is not a png")
    (img_dir / "notes.txt").write_text("ignored")
    return img_dir, masks


def test_folder_davis_layout_with_corrupt_file(tmp_path, caplog):
    img_dir, masks = _write_sequence(tmp_path)
    src = FolderSource(img_dir)
    assert src.annotations == tmp_path / "Annotations" / "480p" / "toy"
    with caplog.at_level(logging.WARNING):
        frames = list(src.frames())
    assert [f.name for f in frames] == ["00000", "00001", "00003", "00004"]
    assert [f.seq for f in frames] == [0, 1, 2, 3]
    assert src.skipped == 1
    assert any("00002" in r.getMessage() for r in caplog.records)
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8
    assert frames[0].image[0, 0, 0] == 200  # RGB order
    assert set(np.unique(frames[0].target)) == {0, 1}
    assert np.array_equal(frames[0].target, masks[0])
    assert np.array_equal(frames[3].gt_mask, masks[4])
    assert all(f.target is None for f in frames[1:])


def test_folder_plain_and_loop(tmp_path):
    d = tmp_path / "plain"
    d.mkdir()
    for i in range(3):
        cv2.imwrite(str(d / f"f{i}.jpg"), np.full((16, 16, 3), 50 * i, np.uint8))
    src = FolderSource(d, loop=True)
    frames = _take(src, 7)
    assert [f.name for f in frames] == ["f0", "f1", "f2", "f0", "f1", "f2", "f0"]
    assert [f.seq for f in frames] == list(range(7))
    assert all(f.gt_mask is None and f.target is None for f in frames)
    with pytest.raises(SourceError):
        FolderSource(tmp_path / "missing")


def test_folder_multilabel_mask_kept(tmp_path):
    img_dir, _ = _write_sequence(tmp_path, n=2, corrupt=None)
    m = np.zeros((48, 64), np.uint8)
    m[:10, :10], m[30:, 30:] = 1, 2
    cv2.imwrite(str(tmp_path / "Annotations" / "480p" / "toy" / "00000.png"), m)
    f = next(iter(FolderSource(img_dir).frames()))
    assert set(np.unique(f.target)) == {0, 1, 2}


@pytest.mark.skipif(not (DAVIS_ROOT / "JPEGImages" / "480p" / "bear").is_dir(), reason="DAVIS data not present")
def test_folder_davis_bear():
    src = open_source(f"folder:{DAVIS_ROOT / 'JPEGImages' / '480p' / 'bear'}")
    frames = list(src.frames())
    assert len(frames) == 82 and src.skipped == 0
    assert frames[0].image.shape == (480, 854, 3)
    assert set(np.unique(frames[0].target)) == {0, 1}
    assert all(f.gt_mask is not None for f in frames)
    assert frames[-1].name == "00081"


# --- video and camera ----------------------------------------------------------------------------------

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


# --- open_source ---------------------------------------------------------------------------------------

def test_open_source_parsing(tmp_path):
    s = open_source("synthetic:160x120", frames=4)
    frames = list(s.frames())
    assert len(frames) == 4 and frames[0].image.shape == (120, 160, 3)
    s = open_source("synthetic", width=96, height=64, frames=2, seed=5)
    assert isinstance(s, SyntheticSource) and next(iter(s.frames())).image.shape == (64, 96, 3)

    img_dir, _ = _write_sequence(tmp_path)
    limited = open_source(f"folder:{img_dir}", frames=2)
    assert len(list(limited.frames())) == 2
    assert open_source(str(img_dir)).name == "toy"  # bare directory -> folder

    with pytest.raises(SourceError, match="valid forms"):
        open_source("bogus:thing")
    with pytest.raises(SourceError, match="valid forms"):
        open_source("folder:")
    with pytest.raises(SourceError, match="WxH"):
        open_source("synthetic:big")
    with pytest.raises(SourceError, match="no camera"):
        open_source("camera:97")
