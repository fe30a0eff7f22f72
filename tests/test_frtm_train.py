"""`rtvos train frtm` (rtvos/models/frtm/train.py): the --smoke run end to end."""

import numpy as np
import pytest

from rtvos.models.frtm.segmenter import FRTMSegmenter


@pytest.mark.heavy
def test_smoke_training_writes_a_checkpoint_the_segmenter_loads(tmp_path, davis_root):
    from rtvos.models.frtm.train import main

    from rtvos.training.ecssd import default_root

    out = tmp_path / "run"
    photos = ["--ecssd-clips", "1", "--synthetic-p", "0.5"] if (default_root() / "images").is_dir() else []
    assert main(["--smoke", "--davis-root", str(davis_root), "--out", str(out), *photos]) == 0
    seg = FRTMSegmenter(checkpoint=str(out / "best.pt"), augmentations=1, height=128)
    frame = np.zeros((96, 128, 3), np.uint8)
    frame[20:60, 30:80] = 200
    mask = np.zeros((96, 128), np.uint8)
    mask[20:60, 30:80] = 1
    seg.start(frame, mask)
    assert seg.step(frame).mask.shape == (96, 128)
