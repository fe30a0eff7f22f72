"""DAVIS reading, results writing and scoring on a fake root; a short real run when the data is present."""

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from rtvos.evaluation.davis import (
    DavisDataset,
    DavisLayoutError,
    list_sequences,
    load_sequence,
    read_label_png,
    result_path,
    write_result,
)
from rtvos.evaluation.runner import evaluate, format_table, score_results
from rtvos.segmenters.protocol import Result, Segmenter, as_target

H, W = 40, 60
DAVIS_ROOT = Path(
    os.environ.get("RTVOS_DAVIS_ROOT", Path(__file__).resolve().parents[1].parent / "shared/data/davis2016-train")
)


def square_mask(i: int) -> np.ndarray:
    """0/255 annotation of frame i: a 10x10 square moving right by 2 px a frame."""
    m = np.zeros((H, W), dtype=np.uint8)
    m[10:20, 10 + 2 * i : 20 + 2 * i] = 255
    return m


def make_fake_root(root: Path, names=("perfect", "empty"), n_frames=4) -> Path:
    for name in names:
        (root / "JPEGImages/480p" / name).mkdir(parents=True)
        (root / "Annotations/480p" / name).mkdir(parents=True)
        for i in range(n_frames):
            frame = np.full((H, W, 3), 40 * i, dtype=np.uint8)
            cv2.imwrite(str(root / "JPEGImages/480p" / name / f"{i:05d}.jpg"), frame)
            cv2.imwrite(str(root / "Annotations/480p" / name / f"{i:05d}.png"), square_mask(i))
    return root


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
        load_sequence(root, "nope")


def test_reading_and_listing(tmp_path):
    root = make_fake_root(tmp_path / "davis")
    assert list_sequences(root) == ["empty", "perfect"]  # no ImageSets: sorted folder names
    (root / "ImageSets/480p").mkdir(parents=True)
    lines = [f"/JPEGImages/480p/{s}/00000.jpg /Annotations/480p/{s}/00000.png" for s in ("perfect", "empty")]
    (root / "ImageSets/480p/train.txt").write_text("\n".join(lines) + "\n")
    assert list_sequences(root) == ["perfect", "empty"]  # ImageSets order

    seq = load_sequence(root, "perfect")
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


def test_score_results_first_and_last_frames_left_out(tmp_path):
    root = make_fake_root(tmp_path / "davis")
    results = tmp_path / "results"
    for i in range(4):
        name = f"{i:05d}"
        gt = square_mask(i) > 0
        empty = np.zeros((H, W), dtype=np.uint8)
        # "perfect": exact on the scored frames 1 and 2, empty on the (unscored) first and last frames
        write_result(results, "perfect", name, gt.astype(np.uint8) if i in (1, 2) else empty)
        # "empty": exact on the first and last frames only, empty on the scored ones
        write_result(results, "empty", name, gt.astype(np.uint8) if i in (0, 3) else empty)

    s = score_results(results, root, ["perfect", "empty"])
    perfect, empty = s["sequences"]["perfect"], s["sequences"]["empty"]
    assert perfect == {"J": 1.0, "F": 1.0, "J_recall": 1.0, "F_recall": 1.0, "J_decay": 0.0, "F_decay": 0.0, "frames": 2}
    assert empty == {"J": 0.0, "F": 0.0, "J_recall": 0.0, "F_recall": 0.0, "J_decay": 0.0, "F_decay": 0.0, "frames": 2}
    assert s["J"] == pytest.approx(0.5) and s["F"] == pytest.approx(0.5) and s["JF"] == pytest.approx(0.5)
    assert s["J_recall"] == pytest.approx(0.5) and s["F_recall"] == pytest.approx(0.5)
    assert s["frames"] == 4 and "fps" not in s
    assert set(s) == {"J", "F", "JF", "J_recall", "F_recall", "J_decay", "F_decay", "frames", "sequences"}

    # max_frames=3 scores frame 1 only
    s3 = score_results(results, root, ["perfect"], max_frames=3)
    assert s3["J"] == 1.0 and s3["frames"] == 1

    table = format_table(s)
    assert "perfect" in table and "Global" in table and "50.0" in table

    with pytest.raises(FileNotFoundError, match="missing result"):
        score_results(tmp_path / "nowhere", root, ["perfect"])


class CopyFirstMask(Segmenter):
    """Baseline for the test: repeats the first mask on every frame."""

    name = "copy-first-mask"

    def start(self, frame, target):
        t = as_target(target, frame.shape[0], frame.shape[1])
        self._mask = t.mask.copy()
        self._started = True
        return self._result()

    def step(self, frame):
        return self._result()

    def _result(self):
        ids = [int(k) for k in np.unique(self._mask) if k]
        return Result.from_label_mask(self._mask.copy(), {k: 1.0 for k in ids}, ids)


def test_evaluate_on_fake_root(tmp_path):
    root = make_fake_root(tmp_path / "davis", names=("moving",), n_frames=6)
    s = evaluate(CopyFirstMask, root, tmp_path / "out", progress=False)
    assert list(s) == ["J", "F", "JF", "J_recall", "F_recall", "J_decay", "F_decay", "fps", "frames", "sequences"]
    assert s["frames"] == 4 and s["fps"] > 0
    # the square moves 2 px a frame: overlap 10 - 2i columns of 10 + 2i -> J_i = (10 - 2i) / (10 + 2i)
    expected_j = np.mean([(10 - 2 * i) / (10 + 2 * i) for i in range(1, 5)])
    assert s["J"] == pytest.approx(expected_j)
    assert s["sequences"]["moving"]["J_decay"] > 0
    np.testing.assert_array_equal(read_label_png(tmp_path / "out/moving/00005.png"), square_mask(0) > 0)


@pytest.mark.skipif(not (DAVIS_ROOT / "JPEGImages").is_dir(), reason=f"DAVIS data not found at {DAVIS_ROOT}")
def test_evaluate_real_bear(tmp_path):
    out = tmp_path / "results"
    s = evaluate(CopyFirstMask, DAVIS_ROOT, out, sequences=["bear"], progress=False, max_frames=10)
    for i in range(10):
        assert (out / "bear" / f"{i:05d}.png").is_file()
    assert not (out / "bear" / "00010.png").exists()
    assert 0 < s["J"] <= 1 and 0 < s["F"] <= 1
    assert s["frames"] == 8 and s["sequences"]["bear"]["frames"] == 8
    print(format_table(s))
