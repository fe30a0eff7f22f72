"""`rtvos train lse` (rtvos/models/lse/train.py): the stages, and the --smoke run end to end."""

import json

import pytest

from rtvos.models.lse.net import LSENetwork


def test_the_three_stages_follow_the_budget_and_train_their_own_parameters():
    from rtvos.models.lse.train import STAGE3_LR, LSETrainer

    import argparse

    trainer = LSETrainer()
    trainer.bounds = (0.4, 0.6)
    args = argparse.Namespace(schedule="cosine")
    for progress, stage, factor in ((0.0, 1, 1.0), (0.2, 1, 0.55), (0.4, 2, 1.0), (0.6, 3, STAGE3_LR), (1.0, 3, 0.1 * STAGE3_LR)):
        trainer.progress = progress
        assert trainer.stage == stage and abs(trainer.lr_factor(args, 0, 0.0) - factor) < 1e-9  # per stage
    args.schedule = "constant"
    assert trainer.lr_factor(args, 0, 0.0) == STAGE3_LR
    assert set(LSENetwork.STAGE1) | set(LSENetwork.STAGE2) | {"foreground"} == {n for n, _ in LSENetwork().named_children()}


@pytest.mark.heavy
def test_smoke_training_writes_a_loadable_checkpoint(davis_root, tmp_path):
    from rtvos.evaluation.splits import DEV_SEQUENCES
    from rtvos.models.lse import train as lse_train
    from rtvos.models.lse.segmenter import load_pretrained

    assert lse_train.main(["--smoke", "--davis-root", str(davis_root), "--out", str(tmp_path)]) == 0
    assert isinstance(load_pretrained(tmp_path / "best.pt"), LSENetwork)
    sidecar = json.loads((tmp_path / "best.json").read_text())
    assert sidecar["model"] == "lse" and sidecar["step"] == 3
    assert not set(sidecar["data"]["train_sequences"]) & set(DEV_SEQUENCES)
