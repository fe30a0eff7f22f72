"""`rtvos train crvos` (rtvos/models/crvos/train.py): the --smoke run end to end."""

from __future__ import annotations

import json

import numpy as np
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


def _clips(object_cols: tuple[int, int], value: float, background: float, t: int = 2, h16: int = 2, w16: int = 12):
    """Clips (T x 1 x ...) as load_clips gives them: every feature `value` over the object's stride-16
    columns and `background` elsewhere, the object's mask 1 there."""
    c0, c1 = object_cols
    f16 = torch.full((t, 1, 3, h16, w16), background)
    f16[..., c0:c1 + 1] = value

    def up(x, s):
        return x.repeat_interleave(s, -1).repeat_interleave(s, -2)[:, :, :1]

    masks = torch.zeros(t, 1, 1, 16 * h16, 16 * w16)
    masks[..., 16 * c0:16 * (c1 + 1)] = 1.0
    return up(f16, 4), up(f16, 2), f16, masks


@pytest.mark.parametrize("target, other", [((2, 3), (8, 9)), ((8, 9), (2, 3))])
def test_mosaic_puts_the_other_object_beside_the_target_as_background(target, other):
    from rtvos.models.crvos.train import mosaic_clips

    clips, others = _clips(target, 1.0, 0.5), _clips(other, 100.0, 0.0)
    for seed in range(20):
        f4, f8, f16, masks = mosaic_clips(clips, others, 1.0, np.random.default_rng(seed))
        assert torch.equal(masks, clips[3])  # the target's mask as it was, nothing added on the other side
        row = f16[0, 0, 0, 0]
        mine = ((row == 0.5) | (row == 1.0)).nonzero().flatten().tolist()  # the target clip's columns
        assert mine == list(range(min(mine), max(mine) + 1)) and (min(mine) == 0 or max(mine) == 11)
        assert min(mine) <= target[0] - 1 and max(mine) >= target[1] + 1  # a column clear of the target
        theirs = (row == 100.0).nonzero().flatten().tolist()
        assert len(theirs) == 2 and not set(theirs) & set(mine)  # the other object, whole, on the other side
        for level, scale in ((f8, 2), (f4, 4)):  # every level cut and moved by the same columns
            assert torch.equal(level[0, 0, 0, 0, ::scale], row)


def test_mosaic_keeps_clips_whose_object_leaves_no_room():
    from rtvos.models.crvos.train import mosaic_clips

    wide, others = _clips((1, 10), 1.0, 0.5), _clips((8, 9), 100.0, 0.0)
    out = mosaic_clips(wide, others, 1.0, np.random.default_rng(0))
    assert all(torch.equal(a, b) for a, b in zip(out, wide))
    assert mosaic_clips(wide, others, 0.0, np.random.default_rng(0)) is wide


def test_a_decoder_with_the_clue_prior_can_start_from_one_without(tmp_path):
    import argparse

    from rtvos.models.checkpoint import save_checkpoint
    from rtvos.models.crvos.train import CRVOSTrainer

    plain, prior = CRVOSDecoder(), CRVOSDecoder(clue_prior=True)
    save_checkpoint(tmp_path / "plain.pt", plain, {"model": "crvos"})
    save_checkpoint(tmp_path / "prior.pt", prior, {"model": "crvos"})
    started = CRVOSTrainer().build(argparse.Namespace(clue_prior=True, tune_blocks=0, init=tmp_path / "plain.pt"))
    assert torch.equal(started.rm1.conv.weight, plain.rm1.conv.weight) and started.prior_scale is not None
    with pytest.raises(SystemExit, match="--clue-prior and --tune-blocks must match"):
        CRVOSTrainer().build(argparse.Namespace(clue_prior=False, tune_blocks=0, init=tmp_path / "prior.pt"))


def test_tuned_blocks_learn_at_their_share_of_the_rate_and_start_from_a_plain_decoder(tmp_path):
    import argparse

    from rtvos.models.checkpoint import save_checkpoint
    from rtvos.models.crvos.train import CRVOSTrainer

    plain = CRVOSDecoder(clue_prior=True)
    save_checkpoint(tmp_path / "plain.pt", plain, {"model": "crvos"})
    trainer = CRVOSTrainer()
    trainer.args = argparse.Namespace(tune_lr=0.1)
    tuned = trainer.build(argparse.Namespace(clue_prior=True, tune_blocks=2, init=tmp_path / "plain.pt"))
    assert torch.equal(tuned.rm1.conv.weight, plain.rm1.conv.weight) and tuned.tuned is not None
    decoder_group, tuned_group = trainer.param_groups(tuned)
    assert tuned_group["lr_scale"] == 0.1
    # in the network's order, every run the same (a resumed optimizer's state is matched by position)
    order = [n for n, _ in tuned.named_parameters()]
    names = {id(p): n for n, p in tuned.named_parameters()}
    assert [names[id(p)] for p in decoder_group["params"] + tuned_group["params"]] == \
           [n for n in order if not n.startswith("tuned.")] + [n for n in order if n.startswith("tuned.")]
    assert len(trainer.param_groups(plain)) == 1
    save_checkpoint(tmp_path / "tuned.pt", tuned, {"model": "crvos"})
    with pytest.raises(SystemExit, match="fine-tuned 2 backbone blocks, not --tune-blocks 3"):
        trainer.build(argparse.Namespace(clue_prior=True, tune_blocks=3, init=tmp_path / "tuned.pt"))
