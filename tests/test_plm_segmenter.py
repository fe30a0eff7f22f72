"""`plm` / `plm-p` (rtvos/models/plm/segmenter.py): errors a user can hit, and a real fine-tune + track run
(DAVIS and the synthetic thermal road)."""

import numpy as np
import pytest

from rtvos.models import create_segmenter


def iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


# ---------------------------------------------------------------------------- errors a user can hit
def test_missing_checkpoint_says_how_to_train(tmp_path):
    with pytest.raises(FileNotFoundError, match="rtvos train plm"):
        create_segmenter("plm", checkpoint=str(tmp_path / "none.pt"))


def test_unknown_option_is_named():
    with pytest.raises(ValueError, match="margn"):
        create_segmenter("plm", margn=0.2)


# ------------------------------------------------------------------------- real fine-tune + track
@pytest.mark.heavy
def test_short_finetune_then_track_a_davis_object(davis_root):
    from rtvos.evaluation.davis import DavisDataset

    seq = DavisDataset(davis_root).sequence("car-turn")
    seg = create_segmenter("plm", finetune_steps=15, finetune_seconds=300, progress=False)  # steps bind, not time
    seg.start(seq.load_frame(0), seq.load_mask(0))
    assert seg.finetune_report["steps"] == 15
    assert seg.finetune_report["loss_last"] < seg.finetune_report["loss_first"]
    ious = []
    for i in range(1, 9):
        r = seg.step(seq.load_frame(i))
        ious.append(iou(r.mask > 0, seq.load_mask(i) > 0))
    assert np.mean(ious) > 0.6, ious


@pytest.mark.heavy
def test_full_frame_mode_tracks_the_synthetic_thermal_road():
    from rtvos.evaluation.road_error import road_error_rate
    from rtvos.sources import open_source

    frames = list(open_source("synthetic-thermal", fps=None, frames=8, seed=3).frames())
    seg = create_segmenter("plm", full_frame=True, finetune_steps=30, progress=False)
    seg.start(frames[0].image, frames[0].gt_mask)
    rates = [road_error_rate(seg.step(f.image).mask > 0, f.gt_mask > 0) for f in frames[1:]]
    assert np.mean(rates) < 10.0, rates  # the paper: 11.5 on real thermal road video
