"""`crvos` behind the protocol (rtvos/models/crvos/segmenter.py), with the packaged decoder, on real DAVIS frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtvos.models import create_segmenter
from rtvos.models.crvos import SPEC


@pytest.fixture(scope="module")
def bear(davis_frames):
    return davis_frames("bear", range(6))


def test_missing_checkpoint_names_the_train_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="train crvos"):
        create_segmenter("crvos", checkpoint=str(tmp_path / "none.pt"))
    with pytest.raises(ValueError, match="unknown option"):
        create_segmenter("crvos", bogus=1)


@pytest.fixture(scope="module")
def packaged_segmenter():
    if not SPEC.checkpoint_path.is_file():
        pytest.skip(f"no CRVOS checkpoint at {SPEC.checkpoint_path} (train one: rtvos train crvos)")

    # without first-frame fine-tuning unless a test asks for it (it has its own tests, and takes seconds)
    return lambda **opts: create_segmenter("crvos", **({"finetune_steps": 0} | opts))


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_segmenter_protocol_on_davis(bear, packaged_segmenter, backend):
    from rtvos.evaluation.metrics import iou

    seg = packaged_segmenter(backend=backend)
    with pytest.raises(RuntimeError):
        seg.step(bear[0][0])
    first = seg.start(*bear[0])
    assert np.array_equal(first.mask > 0, bear[0][1] > 0)
    ious = []
    for frame, gt in bear[1:]:
        r = seg.step(frame)
        assert r.mask.shape == gt.shape and r.mask.dtype == np.uint8
        assert [o.id for o in r.objects] == [1] and 0 <= r.objects[0].score <= 1
        ious.append(iou(r.mask > 0, gt > 0))
    assert np.mean(ious) > 0.5, ious
    with pytest.raises(ValueError):
        seg.step(bear[1][0][:200])


def test_masks_snapped_to_the_frames_edges_follow_the_outline_at_least_as_well(bear, packaged_segmenter):
    from rtvos.evaluation.metrics import boundary_f, iou

    scores = {}
    for snap in (0.0, 2.0):
        seg = packaged_segmenter(backend="torch", snap=snap)
        seg.start(*bear[0])
        masks = [(seg.step(frame).mask > 0, gt > 0) for frame, gt in bear[1:]]
        scores[snap] = (np.mean([boundary_f(m, gt) for m, gt in masks]), np.mean([iou(m, gt) for m, gt in masks]))
    (f0, j0), (f2, j2) = scores[0.0], scores[2.0]
    assert f2 >= f0 - 0.01 and j2 >= j0 - 0.01, scores
    with pytest.raises(ValueError, match="snap"):
        packaged_segmenter(snap=-1)


def test_segmenter_several_objects(bear, packaged_segmenter):
    frame, gt = bear[0]
    label = (gt > 0).astype(np.uint8)
    xs = np.nonzero(label)[1]
    label[:, int(np.median(xs)):] *= 2  # the bear's left half is object 1, its right half object 2
    seg = packaged_segmenter(backend="torch")
    seg.start(frame, label)
    r = seg.step(bear[1][0])
    assert [o.id for o in r.objects] == [1, 2]
    assert set(np.unique(r.mask)) <= {0, 1, 2}
    both = r.mask > 0
    assert both.any()


def test_int8_engines_agree_with_fp32_on_real_frames(bear, packaged_segmenter, tmp_path, monkeypatch):
    """The default onnxruntime precision is INT8 (calibrated on synthetic frames); its masks on real
    frames stay close to the fp32 graph's."""
    from rtvos.evaluation.metrics import iou

    monkeypatch.setenv("RTVOS_CACHE", str(tmp_path))
    fp32, int8 = packaged_segmenter(backend="onnxruntime", precision="fp32"), packaged_segmenter(backend="onnxruntime")
    assert int8.cfg.precision == "int8"
    fp32.start(*bear[0])
    int8.start(*bear[0])
    assert len(list((tmp_path / "engines").glob("*-int8-*.onnx"))) == 2  # backbone and decoder
    agreement = [iou(fp32.step(f).mask > 0, int8.step(f).mask > 0) for f, _ in bear[1:]]
    assert min(agreement) > 0.9, agreement
    with pytest.raises(ValueError, match="precision"):
        packaged_segmenter(precision="int4")


def test_zoomed_in_follows_the_object_and_finds_it_again_in_the_whole_frame(bear, packaged_segmenter):
    """zoom=2: the bear is seen in a window around it; a frame where it is gone (a blank one) loses it,
    the next window is the whole frame with the last Clue kept, and the bear is found again."""
    import cv2

    from rtvos.evaluation.metrics import iou
    from rtvos.models.crvos.net import make_clue
    from rtvos.models.shared.zoom import Window

    frame_hw = bear[0][1].shape
    seg = packaged_segmenter(backend="torch", zoom=2.0, zoom_margin=0.3)  # the bear is large: a tight window
    seg.start(*bear[0])
    win = seg.windows[1]
    assert win != Window.full(frame_hw) and win.zoom(frame_hw) > 1.0
    ph, pw = seg.proc_hw  # the first Clue: the mask as seen in the window
    inside = cv2.resize(win.crop(bear[0][1] > 0).astype(np.float32), (pw, ph), interpolation=cv2.INTER_AREA)
    _, clue = seg._inputs(bear[1][0])
    assert torch.allclose(clue, make_clue(torch.from_numpy(inside)[None, None], seg.feat16_hw))
    for frame, gt in bear[1:3]:
        r = seg.step(frame)
        assert iou(r.mask > 0, gt > 0) > 0.5
    clue = seg.prev[1]
    r = seg.step(np.full_like(bear[3][0], 128))  # the bear is gone
    assert np.count_nonzero(r.mask) < seg.cfg.min_pixels  # lost
    assert seg.windows[1] == Window.full(frame_hw) and seg.prev[1] is clue
    r = seg.step(bear[3][0])
    assert iou(r.mask > 0, bear[3][1] > 0) > 0.5
    assert seg.windows[1] != Window.full(frame_hw)  # back in a window around it


def test_zoomed_in_objects_each_in_their_own_window(bear, packaged_segmenter):
    from rtvos.models.shared.zoom import Window

    frame, gt = bear[0]
    label = (gt > 0).astype(np.uint8)
    xs = np.nonzero(label)[1]
    label[:, int(np.median(xs)):] *= 2  # the bear's left half is object 1, its right half object 2
    seg = packaged_segmenter(backend="torch", zoom=3.0, zoom_margin=0.2)
    seg.start(frame, label)
    assert seg.windows[1] != seg.windows[2] and Window.full(gt.shape) not in seg.windows.values()
    r = seg.step(bear[1][0])
    assert [o.id for o in r.objects] == [1, 2]
    for k in (1, 2):  # each found, and mostly where its half of the bear was
        ys, xs_k = np.nonzero(r.mask == k)
        assert len(ys) > 0.3 * np.count_nonzero(label == k)
        assert abs(np.median(xs_k) - np.median(np.nonzero(label == k)[1])) < 60


def test_a_decoder_with_tuned_blocks_runs_on_the_backbone_below_them(bear, tmp_path):
    """A checkpoint whose decoder owns the backbone's last blocks: the segmenter builds the backbone that
    stops below them (the INT8 engines included), and refuses a backbone with the wrong outputs."""
    from rtvos.models.checkpoint import save_checkpoint
    from rtvos.models.crvos.net import CRVOSDecoder
    from rtvos.models.shared.backbone import PYRAMID_TAPS, Backbone

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "tuned.pt", CRVOSDecoder(clue_prior=True, tuned_blocks=3), {"model": "crvos"})
    seg = create_segmenter("crvos", checkpoint=str(tmp_path / "tuned.pt"), backend="onnxruntime", zoom=1.0)
    assert seg.backbone.taps == (2, 4, 7)
    seg.start(*bear[0])
    r = seg.step(bear[1][0])
    assert r.mask.shape == bear[1][1].shape and [o.id for o in r.objects] == [1]
    with pytest.raises(ValueError, match="needs backbone taps"):
        create_segmenter("crvos", checkpoint=str(tmp_path / "tuned.pt"), backbone=Backbone(taps=PYRAMID_TAPS))


def test_first_frame_fine_tuning_adapts_a_copy_of_the_decoder_and_leaves_no_engine_behind(
        bear, packaged_segmenter, tmp_path, monkeypatch):
    from rtvos.evaluation.metrics import iou

    monkeypatch.setenv("RTVOS_CACHE", str(tmp_path))
    seg = packaged_segmenter(backend="onnxruntime", finetune_steps=20, finetune_samples=8, progress=False)
    h, w = bear[0][1].shape
    seg.warm_up(h, w)  # the backbone's and the packaged decoder's engines: cached for every later start
    cached = sorted((tmp_path / "engines").iterdir())
    packaged = {k: v.clone() for k, v in seg.decoder.state_dict().items()}
    seg.start(*bear[0])
    report = seg.finetune_report
    assert report["steps"] == 20 and report["samples"] == 9  # the window and 8 augmented copies
    assert report["loss_last"] < report["loss_first"]
    assert all(torch.equal(v, seg.decoder.state_dict()[k]) for k, v in packaged.items())  # a copy was tuned
    assert seg.decoder_engines is not seg.packaged_engines
    assert sorted((tmp_path / "engines").iterdir()) == cached  # the stream's own engine is not kept
    ious = [iou(seg.step(frame).mask > 0, gt > 0) for frame, gt in bear[1:]]
    assert np.mean(ious) > 0.7, ious
    seg.start(*bear[0])  # a restart tunes a fresh copy of the packaged decoder, not the tuned one again
    assert seg.finetune_report["loss_first"] == pytest.approx(report["loss_first"], rel=1e-4)
