"""`rtvos train plm` (rtvos/models/plm/train.py): the --smoke run end to end."""

import json

import pytest

from rtvos.models.plm.net import PLMNet


@pytest.mark.heavy
def test_smoke_pretraining_writes_a_loadable_checkpoint(davis_root, tmp_path):
    from rtvos.models.plm import train as plm_train
    from rtvos.models.plm.segmenter import load_pretrained
    from rtvos.evaluation.splits import DEV_SEQUENCES
    from rtvos.training.ecssd import default_root

    photos = ["--ecssd-clips", "2"] if (default_root() / "images").is_dir() else []
    assert plm_train.main(["--smoke", "--davis-root", str(davis_root), "--out", str(tmp_path),
                           "--lucid-clips", "1", "--synthetic-p", "0.5", *photos]) == 0
    assert isinstance(load_pretrained(tmp_path / "best.pt"), PLMNet)
    sidecar = json.loads((tmp_path / "best.json").read_text())
    assert sidecar["model"] == "plm" and sidecar["step"] == 3
    assert not set(sidecar["data"]["train_sequences"]) & set(DEV_SEQUENCES)
    assert sidecar["data"]["synthetic"]["lucid"] == 1 and sidecar["data"]["synthetic"]["ecssd"] == (2 if photos else 0)
