"""`rtvos segment`: a recording segmented completely (rtvos/segment.py)."""

import subprocess

import cv2
import numpy as np
import pytest
from helpers import FAST_MODEL, RTVOS

from rtvos.evaluation.davis import read_label_png
from rtvos.evaluation.metrics import iou
from rtvos.sources import open_source


@pytest.fixture
def clip(tmp_path):
    """An 80-frame video of the synthetic scene, its first frame's mask, and every frame's truth."""
    path, truth = tmp_path / "clip.avi", []
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (320, 240))
    with open_source("synthetic:320x240", frames=80) as source:
        for frame in source.frames():
            writer.write(cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
            truth.append(frame.gt_mask)
    writer.release()
    cv2.imwrite(str(tmp_path / "first.png"), truth[0])
    return path, tmp_path / "first.png", truth


def test_every_frame_of_an_80_frame_video_gets_its_mask(tmp_path, clip):
    path, first, truth = clip
    out = tmp_path / "masks"
    p = subprocess.run(RTVOS + ["segment", f"video:{path}", "--out", str(out), "--target-mask", str(first),
                                "--mcap", str(tmp_path / "clip.mcap"), "--overlay", str(tmp_path / "overlay.avi"),
                                *FAST_MODEL], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "80 masks of 80 frames" in p.stderr
    pngs = sorted((out / "clip").glob("*.png"))
    assert [f.name for f in pngs] == [f"{i:05d}.png" for i in range(80)]
    ious = []
    for f, gt in zip(pngs, truth):
        mask = read_label_png(f) > 0
        ious.append((mask & (gt > 0)).sum() / max(1, (mask | (gt > 0)).sum()))
    assert ious[0] == 1.0 and np.mean(ious) > 0.6  # frame 0 is the target; the model follows the object

    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    with open(tmp_path / "clip.mcap", "rb") as f:
        masks = [m for _, c, _, m in make_reader(f, decoder_factories=[DecoderFactory()]).iter_decoded_messages()
                 if c.topic == "/rtvos/cam0/mask"]
    assert len(masks) == 80 and masks[0].encoding == "mono8"
    stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in masks]
    assert np.allclose(np.diff(stamps), 1e9 / 25, atol=1)  # stamped at the video's own rate
    video, n = cv2.VideoCapture(str(tmp_path / "overlay.avi")), 0
    while video.read()[0]:
        n += 1
    assert n == 80


def test_a_recording_brings_its_own_target_or_the_job_says_what_to_give(tmp_path, clip):
    from helpers import make_fake_root

    root = make_fake_root(tmp_path / "davis", names=("moving",), n_frames=6)
    p = subprocess.run(RTVOS + ["segment", f"folder:{root}/JPEGImages/480p/moving", "--out", str(tmp_path / "r"),
                                "--model", "static", "--quiet"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert len(list((tmp_path / "r" / "moving").glob("*.png"))) == 6  # its first annotation was the target
    p = subprocess.run(RTVOS + ["segment", str(clip[0]), "--out", str(tmp_path / "r"), "--model", "static"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--target-mask" in p.stderr  # a bare video has no target of its own
    p = subprocess.run(RTVOS + ["segment", "synthetic", "--out", str(tmp_path / "r")], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 2 and "never ends" in p.stderr


def test_two_passes_over_a_recording_write_every_mask_once_and_only_for_a_model_that_adapts(tmp_path):
    from helpers import disc_davis_root

    from rtvos.models.lse import SPEC

    folder = f"folder:{disc_davis_root(tmp_path / 'davis', n_frames=8)}/JPEGImages/480p/disc"
    p = subprocess.run(RTVOS + ["segment", folder, "--out", str(tmp_path / "s"), "--model", "static", "--two-pass"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "does not adapt" in p.stderr
    if not SPEC.checkpoint_path.is_file():
        pytest.skip(f"no trained LSE network at {SPEC.checkpoint_path}")
    p = subprocess.run(RTVOS + ["segment", folder, "--out", str(tmp_path / "l"), "--model", "lse", "--two-pass",
                                "--option", "adapt_steps=5", "--option", "finetune_seconds=600"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "8 masks of 8 frames" in p.stderr and "first pass" in p.stderr  # both passes' progress bars
    truth = sorted((tmp_path / "davis/Annotations/480p/disc").glob("*.png"))
    masks = sorted((tmp_path / "l/disc").glob("*.png"))
    assert [m.name for m in masks] == [t.name for t in truth]
    ious = [iou(read_label_png(m) > 0, read_label_png(t) > 0) for m, t in zip(masks, truth)]
    assert np.mean(ious) > 0.6, ious
