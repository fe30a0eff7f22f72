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


def test_a_negative_snap_radius_or_no_regularisation_is_refused():
    with pytest.raises(ValueError, match="snap must be >= 0"):
        create_segmenter("plm", snap=-1)
    with pytest.raises(ValueError, match="snap_eps"):
        create_segmenter("plm", snap=1, snap_eps=0)


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


@pytest.mark.heavy
def test_masks_snapped_to_the_frames_edges_change_and_follow_the_outline_at_least_as_well(davis_root):
    from rtvos.evaluation.davis import DavisDataset
    from rtvos.evaluation.metrics import boundary_f
    from rtvos.models.plm.segmenter import PLMConfig

    seq = DavisDataset(davis_root).sequence("car-turn")
    scores, masks = {}, {}
    default = PLMConfig.snap
    assert default > 0  # snapping is on unless switched off
    for snap in (0.0, default):
        seg = create_segmenter("plm", finetune_steps=15, finetune_seconds=300, progress=False, snap=snap)
        seg.start(seq.load_frame(0), seq.load_mask(0))
        pairs = [(seg.step(seq.load_frame(i)).mask > 0, seq.load_mask(i) > 0) for i in range(1, 6)]
        masks[snap] = [m for m, _ in pairs]
        scores[snap] = (np.mean([boundary_f(m, gt) for m, gt in pairs]), np.mean([iou(m, gt) for m, gt in pairs]))
    assert any((a != b).any() for a, b in zip(masks[0.0], masks[default]))  # the filter did something
    (f0, j0), (f1, j1) = scores[0.0], scores[default]
    assert f1 >= f0 - 0.01 and j1 >= j0 - 0.01, scores
