"""The one self-describing checkpoint format (rtvos/models/checkpoint.py), and the files of older formats."""

import json

import pytest
import torch

from rtvos.models import MODELS
from rtvos.models.checkpoint import CheckpointError, load_network, read_checkpoint, save_checkpoint


class Net(torch.nn.Module):
    def __init__(self, width: int = 4, sizes: tuple[int, ...] = (1, 2)):
        super().__init__()
        self.config = {"width": width, "sizes": list(sizes)}
        self.conv = torch.nn.Conv2d(3, width, 1)


def test_a_checkpoint_rebuilds_its_own_network_with_its_provenance(tmp_path):
    net = Net(width=6)
    path = save_checkpoint(tmp_path / "best.pt", net, {"command": "rtvos train toy --steps 3", "step": 3})
    ck = read_checkpoint(path)
    assert ck.config == {"width": 6, "sizes": [1, 2]} and ck.provenance["step"] == 3
    again = ck.build(Net)
    assert again.conv.out_channels == 6 and not again.training
    assert torch.equal(again.conv.weight, net.conv.weight)
    sidecar = json.loads((tmp_path / "best.json").read_text())
    assert sidecar["command"] == "rtvos train toy --steps 3" and len(sidecar["checkpoint_sha256"]) == 64
    assert torch.load(path, weights_only=True)["format"] == 1  # plain tensors and JSON values only


def test_large_weights_are_stored_in_fp16_and_load_as_fp32(tmp_path):
    net = Net(width=6)
    path = save_checkpoint(tmp_path / "w.pt", net, {}, state={k: v.half() for k, v in net.state_dict().items()})
    assert read_checkpoint(path).state["conv.weight"].dtype == torch.float16
    assert load_network(path, Net, "toy", "rtvos train toy").conv.weight.dtype == torch.float32


@pytest.mark.parametrize("blob", ["bare", "decoder", "refiner", "config-state"])
def test_files_of_the_older_formats_are_read(tmp_path, blob):
    net = Net()
    state = net.state_dict()
    path = tmp_path / "old.pt"
    torch.save({"bare": state, "decoder": {"decoder": state}, "refiner": {"refiner": state},
                "config-state": {"config": net.config, "state": state}}[blob], path)
    (tmp_path / "old.json").write_text(json.dumps({"command": "python -m old_trainer"}))
    ck = read_checkpoint(path)
    assert ck.provenance == {"command": "python -m old_trainer"}
    assert torch.equal(ck.build(Net).conv.weight, net.conv.weight)


def test_what_is_not_a_checkpoint_says_so(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"step": 3}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="no weights"):
        read_checkpoint(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="rtvos train toy"):
        load_network(tmp_path / "missing.pt", Net, "toy", "rtvos train toy")


def test_the_packaged_checkpoints_describe_themselves():
    paths = {spec.checkpoint_path for spec in MODELS.values() if spec.checkpoint}
    assert len(paths) == 4
    for path in paths:
        blob = torch.load(path, weights_only=True)
        assert blob["format"] == 1 and blob["config"] and blob["state"]
        prov = blob["provenance"]
        assert prov["command"] and prov["data"]["train_sequences"] and prov["provenance"]["torch"]
