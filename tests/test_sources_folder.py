"""Image folders, DAVIS included (rtvos/sources/folder.py)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import take
from rtvos.sources import SourceError, open_source
from rtvos.sources.folder import FolderSource

DAVIS_ROOT = Path(os.environ.get("RTVOS_DAVIS_ROOT",
                                 Path(__file__).resolve().parent.parent.parent / "shared/data/davis2016-train"))


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
    frames = take(src, 7)
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
