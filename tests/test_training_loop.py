"""The one training loop (rtvos/training/loop.py), driven by a toy trainer on a tiny DAVIS-layout root:
budget, dev checks and the best network, resume, and the provenance every checkpoint carries."""

import json

import numpy as np
import pytest
import torch

from helpers import make_fake_root
from rtvos.models.checkpoint import read_checkpoint
from rtvos.training import loop


class Line(torch.nn.Module):
    def __init__(self, start: float = 0.0):
        super().__init__()
        self.config = {"start": start}
        self.w = torch.nn.Parameter(torch.tensor([start]))


class Toy(loop.Trainer):
    """Learns w -> 3 from noisy targets; the dev score is -(w - 3)^2."""

    model = "toy"
    best_metric = "score"
    lr = 0.3

    def prepare(self, args, root, train, dev):
        self.seen = (train, dev)
        return {"frames": 4}

    def build(self, args):
        self.net = Line()
        return self.net

    def step(self, rng):
        loss = ((self.net.w - 3.0 - float(rng.normal(0, 0.1))) ** 2).sum()
        loss.backward()
        return float(loss.detach())

    def evaluate(self):
        return {"score": -float((self.net.w.detach() - 3.0) ** 2)} if self.seen[1] else None


@pytest.fixture
def root(tmp_path):
    return make_fake_root(tmp_path / "davis", names=("boat", "bear"))  # bear is in the dev split


def _log(out):
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_a_run_keeps_the_best_network_with_its_provenance(root, tmp_path):
    out = tmp_path / "run"
    trainer = Toy()
    assert loop.main(trainer, ["--davis-root", str(root), "--out", str(out), "--steps", "12", "--schedule",
                               "constant", "--log-every", "4"]) == 0
    assert trainer.seen == (["boat"], ["bear"])
    ck = read_checkpoint(out / "best.pt")
    net = ck.build(Line)
    w = float(net.w.detach())
    assert abs(w - 3.0) < 1.0
    prov = ck.provenance
    assert prov["command"].startswith("rtvos train toy --davis-root") and prov["step"] == 12
    assert prov["data"]["train_sequences"] == ["boat"] and prov["data"]["frames"] == 4
    assert prov["dev"]["score"] == pytest.approx(-(w - 3.0) ** 2)
    assert prov["settings"]["steps"] == 12 and prov["provenance"]["torch"]
    assert [r["type"] for r in _log(out)] == ["start", "train", "train", "train", "dev", "end"]
    assert json.loads((out / "best.json").read_text())["step"] == 12


def test_resuming_continues_the_same_run(root, tmp_path):
    args = ["--davis-root", str(root), "--no-dev", "--schedule", "constant"]
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    loop.main(Toy(), args + ["--out", str(straight), "--steps", "4"])
    loop.main(Toy(), args + ["--out", str(halves), "--steps", "2"])
    loop.main(Toy(), args + ["--out", str(halves), "--steps", "4", "--resume"])
    a, b = (read_checkpoint(p / "best.pt") for p in (straight, halves))
    assert torch.equal(a.state["w"], b.state["w"])  # same steps, same random draws
    assert [r["step"] for r in _log(halves) if r["type"] == "start"] == [0, 2]
    assert b.provenance["dev"] is None and b.provenance["data"]["dev_sequences"] == []  # --no-dev: best = last


def test_bad_runs_say_what_to_do(root, tmp_path):
    with pytest.raises(SystemExit, match="give a budget"):
        loop.main(Toy(), ["--davis-root", str(root), "--out", str(tmp_path / "a")])
    torch.save({"decoder": {}, "step": 1}, tmp_path / "old.pt")
    with pytest.raises(SystemExit, match="older trainer"):
        loop.main(Toy(), ["--davis-root", str(root), "--out", str(tmp_path / "b"), "--steps", "2",
                          "--resume", str(tmp_path / "old.pt")])
    with pytest.raises(SystemExit, match="no DAVIS data"):
        loop.main(Toy(), ["--davis-root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c"), "--steps", "1"])


def test_the_learning_rate_decays_over_the_budget(root, tmp_path):
    out = tmp_path / "run"
    loop.main(Toy(), ["--davis-root", str(root), "--out", str(out), "--steps", "8", "--log-every", "1", "--no-dev"])
    lrs = [r["lr"] for r in _log(out) if r["type"] == "train"]
    assert lrs[0] == pytest.approx(Toy.lr) and np.all(np.diff(lrs) < 0) and lrs[-1] > 0.1 * Toy.lr


def test_a_parameter_group_learns_at_its_share_of_the_rate(root, tmp_path):
    """A trainer's `param_groups` with an "lr_scale": that group's rate is the schedule's times the scale."""

    class TwoLines(Toy):
        def build(self, args):
            self.net = Line()
            self.net.v = torch.nn.Parameter(torch.tensor([0.0]))
            return self.net

        def param_groups(self, network):
            return [{"params": [network.w]}, {"params": [network.v], "lr_scale": 0.1}]

        def step(self, rng):
            loss = ((self.net.w - 3.0) ** 2 + (self.net.v - 3.0) ** 2).sum()
            loss.backward()
            return float(loss.detach())

    trainer = TwoLines()
    loop.main(trainer, ["--davis-root", str(root), "--out", str(tmp_path / "run"), "--steps", "1", "--no-dev"])
    # Adam's first step moves each parameter by its group's rate
    assert trainer.net.w.item() == pytest.approx(Toy.lr, rel=1e-3)
    assert trainer.net.v.item() == pytest.approx(0.1 * Toy.lr, rel=1e-3)


def test_a_trainer_trains_only_where_it_can(root, tmp_path):
    with pytest.raises(SystemExit, match="--device cuda: this trainer runs on cpu"):
        loop.main(Toy(), ["--davis-root", str(root), "--out", str(tmp_path / "run"), "--steps", "2", "--device", "cuda"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is visible")
def test_cuda_is_refused_with_advice_where_there_is_no_gpu(root, tmp_path):
    class GpuToy(Toy):
        devices = ("cpu", "cuda")

    with pytest.raises(SystemExit, match="no CUDA GPU is visible.*--device cpu"):
        loop.main(GpuToy(), ["--davis-root", str(root), "--out", str(tmp_path / "run"), "--steps", "2", "--device", "cuda"])


def test_the_network_is_on_the_device_given(root, tmp_path):
    class GpuToy(Toy):
        devices = ("cpu", "cuda")

    trainer = GpuToy()
    assert loop.main(trainer, ["--davis-root", str(root), "--out", str(tmp_path / "run"), "--steps", "2",
                               "--device", "cpu"]) == 0
    assert trainer.device == torch.device("cpu") and trainer.net.w.device == trainer.device
    assert read_checkpoint(tmp_path / "run" / "best.pt").provenance["settings"]["device"] == "cpu"
