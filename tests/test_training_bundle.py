"""The compact copy of the training data for a lent GPU machine (rtvos/training/bundle.py): the same
sequences in the same order with every N-th frame, images no larger than asked, masks still 0/255."""

import json

import cv2
import numpy as np

from helpers import make_fake_root, write_davis_sequence
from rtvos.evaluation.davis import DavisDataset
from rtvos.evaluation.splits import split
from rtvos.training import bundle


def _fake_ecssd(root, n=3):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(1, n + 1):
        image = np.full((50, 80, 3), 30 * i, np.uint8)
        mask = np.zeros((50, 80), np.uint8)
        mask[10:30, 20:60] = 255
        cv2.imwrite(str(root / "images" / f"{i:04d}.jpg"), image)
        cv2.imwrite(str(root / "masks" / f"{i:04d}.png"), mask)
    return root


def test_the_copy_keeps_every_nth_frame_of_the_same_sequences_at_the_size_asked(tmp_path):
    root = make_fake_root(tmp_path / "davis", names=("boat", "bear", "swing"), n_frames=5)
    (root / "ImageSets" / "480p").mkdir(parents=True)
    (root / "ImageSets" / "480p" / "train.txt").write_text(
        "".join(f"/JPEGImages/480p/{n}/00000.jpg /Annotations/480p/{n}/00000.png\n" for n in ("swing", "boat", "bear")))
    out = tmp_path / "copy"
    assert bundle.main(["--out", str(out), "--davis-root", str(root), "--ecssd-root", str(_fake_ecssd(tmp_path / "ecssd")),
                        "--frame-step", "2", "--max-side", "32", "--quality", "90"]) == 0

    original, copy = DavisDataset(root), DavisDataset(out / "davis2016-train")
    assert copy.sequence_names() == original.sequence_names() == ["swing", "boat", "bear"]
    assert split(copy.sequence_names(), "fold:1/3") == split(original.sequence_names(), "fold:1/3")
    seq = copy.sequence("boat")
    assert seq.frame_names == ("00000", "00002", "00004")  # names kept: the same frames, fewer of them
    frame, mask = seq.load_frame(1), seq.load_mask(1)
    assert frame.shape == (21, 32, 3) and mask.shape == (21, 32)
    assert set(np.unique(mask)) == {0, 1}
    full = original.sequence("boat").load_mask(2)
    expected = cv2.resize(full, (32, 21), interpolation=cv2.INTER_NEAREST)
    assert np.array_equal(mask, expected)

    image, photo_mask = cv2.imread(str(out / "ecssd" / "images" / "0002.jpg")), cv2.imread(
        str(out / "ecssd" / "masks" / "0002.png"), cv2.IMREAD_GRAYSCALE)
    assert image.shape == (20, 32, 3) and set(np.unique(photo_mask)) == {0, 255}
    record = json.loads((out / "bundle.json").read_text())
    assert record["davis_frames"] == 9 and record["ecssd_photos"] == 3 and record["frame_step"] == 2


def test_a_root_without_image_sets_keeps_its_folder_order(tmp_path):
    root = tmp_path / "davis"
    for name in ("b", "a"):
        write_davis_sequence(root, name, [(np.zeros((40, 60, 3), np.uint8), np.zeros((40, 60), np.uint8))])
    out = tmp_path / "copy"
    bundle.bundle_davis(root, out, frame_step=1, max_side=480, quality=85)
    assert DavisDataset(out).sequence_names() == ["a", "b"]
    assert not (out / "ImageSets").exists()
