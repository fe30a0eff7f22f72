"""`rtvos train crvos` (rtvos/models/crvos/train.py): the --smoke run end to end."""

from __future__ import annotations

import json

import pytest
import torch

from rtvos.models.crvos.segmenter import CRVOSDecoder, load_decoder


@pytest.mark.heavy
def test_smoke_training_writes_a_loadable_checkpoint(davis_root, tmp_path):
    from rtvos.models.crvos import train as crvos_train
    from rtvos.evaluation.splits import DEV_SEQUENCES

    assert crvos_train.main(["--smoke", "--davis-root", str(davis_root), "--out", str(tmp_path)]) == 0
    decoder = load_decoder(tmp_path / "best.pt")
    assert isinstance(decoder, CRVOSDecoder)
    sidecar = json.loads((tmp_path / "best.json").read_text())
    assert sidecar["step"] == 3 and sidecar["model"] == "crvos"
    assert not set(sidecar["data"]["train_sequences"]) & set(DEV_SEQUENCES)
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["type"] for r in lines][0] == "start" and any(r["type"] == "train" for r in lines)
    last = torch.load(tmp_path / "last.pt", map_location="cpu", weights_only=False)
    assert last["step"] == 3 and "optimizer" in last
