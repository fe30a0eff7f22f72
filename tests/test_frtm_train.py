"""`rtvos train frtm` (rtvos/models/frtm/train.py): the --smoke run end to end."""

import numpy as np
import pytest

from rtvos.models.frtm.segmenter import FRTMSegmenter


@pytest.mark.heavy
@pytest.mark.parametrize("tune", [[], ["--tune-blocks", "2"], ["--backbone", "lite2", "--tune-blocks", "2"]],
                         ids=["frozen-backbone", "tuned-blocks", "lite2-tuned-blocks"])
def test_smoke_training_writes_a_checkpoint_the_segmenter_loads(tmp_path, davis_root, tune):
    from rtvos.models.frtm.train import main

    from rtvos.training.ecssd import default_root

    out = tmp_path / "run"
    photos = ["--ecssd-clips", "1", "--synthetic-p", "0.5"] if (default_root() / "images").is_dir() else []
    assert main(["--smoke", "--davis-root", str(davis_root), "--out", str(out), *photos, *tune]) == 0
    seg = FRTMSegmenter(checkpoint=str(out / "best.pt"), augmentations=1, height=128)
    assert (seg.refiner.tuned is not None) == bool(tune)
    # R trained on Lite2's features brings its segmenter onto Lite2 (the same taps D and R read)
    assert seg.backbone.variant.name == ("Lite2" if "lite2" in tune else "Lite0") == seg.refiner.variant.name
    assert seg.backbone.channels == tuple(seg.refiner.config["channels"])
    frame = np.zeros((96, 128, 3), np.uint8)
    frame[20:60, 30:80] = 200
    mask = np.zeros((96, 128), np.uint8)
    mask[20:60, 30:80] = 1
    seg.start(frame, mask)
    assert seg.step(frame).mask.shape == (96, 128)


def test_tuned_blocks_learn_at_their_share_of_the_rate():
    import argparse

    from rtvos.models.frtm.train import FRTMTrainer

    trainer = FRTMTrainer()
    trainer.args = argparse.Namespace(tune_lr=0.2)
    refiner = trainer.build(argparse.Namespace(tune_blocks=3, backbone="lite0"))
    own, tuned = trainer.param_groups(refiner)
    assert tuned["lr_scale"] == 0.2 and len(tuned["params"]) == len(list(refiner.tuned.parameters()))
    assert len(own["params"]) + len(tuned["params"]) == len(list(refiner.parameters()))
    assert len(trainer.param_groups(trainer.build(argparse.Namespace(tune_blocks=0, backbone="lite0")))) == 1
    with pytest.raises(SystemExit, match="--tune-blocks: tuned_blocks must be 0..5"):
        trainer.prepare(argparse.Namespace(tune_blocks=6, backbone="lite0"), None, [], [])
    with pytest.raises(SystemExit, match="--tune-blocks: tuned_blocks must be 0..7 .blocks of EfficientNet-Lite2"):
        trainer.prepare(argparse.Namespace(tune_blocks=8, backbone="lite2"), None, [], [])
