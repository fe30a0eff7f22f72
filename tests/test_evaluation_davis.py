"""Reading a DAVIS-layout dataset and writing results (rtvos/evaluation/davis.py)."""

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import H, W, make_fake_root, square_mask

from rtvos.evaluation.davis import (DavisDataset, DavisLayoutError, read_label_png,
                                    result_path, write_result)


def write_palette_png(path: Path, labels: np.ndarray, palette: list[tuple[int, int, int]]) -> None:
    """A minimal 8-bit indexed-colour PNG, like the DAVIS 2017 annotations (no PIL needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w = labels.shape
    raw = b"".join(b"\x00" + labels[y].astype(np.uint8).tobytes() for y in range(h))
    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
    png += chunk(b"PLTE", bytes(c for rgb in palette for c in rgb))
    png += chunk(b"IDAT", zlib.compress(raw))
    png += chunk(b"IEND", b"")
    path.write_bytes(png)


def test_layout_errors_name_the_expected_path(tmp_path):
    with pytest.raises(DavisLayoutError, match="JPEGImages/480p"):
        DavisDataset(tmp_path)
    root = make_fake_root(tmp_path / "davis")
    with pytest.raises(DavisLayoutError, match="JPEGImages/480p/nope"):
        DavisDataset(root).sequence("nope")


def test_reading_and_listing(tmp_path):
    root = make_fake_root(tmp_path / "davis")
    assert DavisDataset(root).sequence_names() == ["empty", "perfect"]  # no ImageSets: sorted folder names
    (root / "ImageSets/480p").mkdir(parents=True)
    lines = [f"/JPEGImages/480p/{s}/00000.jpg /Annotations/480p/{s}/00000.png" for s in ("perfect", "empty")]
    (root / "ImageSets/480p/train.txt").write_text("\n".join(lines) + "\n")
    assert DavisDataset(root).sequence_names() == ["perfect", "empty"]  # ImageSets order

    seq = DavisDataset(root).sequence("perfect")
    assert seq.frame_names == ("00000", "00001", "00002", "00003")
    frame = seq.load_frame(1)
    assert frame.shape == (H, W, 3) and frame.dtype == np.uint8
    mask = seq.load_mask(2)
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}  # 0/255 on disk -> object 1
    np.testing.assert_array_equal(mask, square_mask(2) > 0)


def test_write_result_round_trip(tmp_path):
    one = (square_mask(0) > 0).astype(np.uint8)
    path = write_result(tmp_path, "seq", "00007", one)
    assert path == result_path(tmp_path, "seq", "00007") == tmp_path / "seq" / "00007.png"
    on_disk = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(on_disk)) == {0, 255}  # single object: written like DAVIS 2016 annotations
    np.testing.assert_array_equal(read_label_png(path), one)

    multi = one.copy()
    multi[30:35, 40:50] = 2
    path = write_result(tmp_path, "seq", "00008", multi)
    np.testing.assert_array_equal(read_label_png(path), multi)  # several objects keep their ids


def test_palette_annotation_keeps_labels(tmp_path):
    labels = np.zeros((H, W), dtype=np.uint8)
    labels[5:15, 5:15] = 1
    labels[20:30, 30:50] = 2
    palette = [(0, 0, 0), (128, 0, 0), (0, 128, 0)] + [(0, 0, 0)] * 253
    path = tmp_path / "00000.png"
    write_palette_png(path, labels, palette)
    np.testing.assert_array_equal(read_label_png(path), labels)
