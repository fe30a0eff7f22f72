"""FRTM: the refinement network, the presets, training, and several objects on real frames."""

import numpy as np
import pytest
import torch

from rtvos.engines import load_engine
from rtvos.evaluation.davis import DavisDataset
from rtvos.evaluation.metrics import iou
from rtvos.segmenters import create_segmenter
from rtvos.segmenters.frtm import CHECKPOINT, FAST_PRESET, FRTMFastSegmenter, FRTMSegmenter
from rtvos.segmenters.refiner import Refiner

needs_checkpoint = pytest.mark.skipif(not CHECKPOINT.is_file(), reason=f"no trained refiner at {CHECKPOINT}")


def _inputs(b=1, h=256, w=448, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, 24, h // 4, w // 4, generator=g), torch.randn(b, 40, h // 8, w // 8, generator=g),
            torch.randn(b, 112, h // 16, w // 16, generator=g), torch.randn(b, 1, h // 16, w // 16, generator=g))


def test_refiner_gives_a_logit_per_pixel_at_processing_resolution():
    r = Refiner().eval()
    with torch.no_grad():
        out = r(*_inputs(2))
    assert out.shape == (2, 1, 256, 448)


def test_refiner_onnx_matches_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("RTVOS_CACHE", str(tmp_path))
    r = Refiner().eval()
    xs = _inputs(1, 128, 192)
    shapes = tuple(tuple(x.shape) for x in xs)
    ref = load_engine(r, shapes, "torch")(*xs)[0]
    out = load_engine(r, shapes, "onnxruntime")(*xs)[0]
    assert (ref - out).abs().max() < 1e-4


def test_fast_preset_follows_the_paper_and_options_override_it():
    r = Refiner()
    fast = FRTMFastSegmenter(refiner=r)
    assert (fast.cfg.channels, fast.cfg.update_every, fast.cfg.gn_steps, fast.cfg.update_cg) == (32, 16, 4, 5)
    assert FRTMFastSegmenter(refiner=r, height=192).cfg.height == 192
    accurate = FRTMSegmenter(refiner=r)
    assert (accurate.cfg.channels, accurate.cfg.update_every, accurate.cfg.gn_steps) == (96, 8, 5)
    assert set(FAST_PRESET) <= {f for f in accurate.cfg.__dataclass_fields__}


def test_missing_checkpoint_names_the_train_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="rtvos train frtm"):
        FRTMSegmenter(checkpoint=str(tmp_path / "nope.pt"))


@pytest.mark.heavy
def test_smoke_training_writes_a_checkpoint_the_segmenter_loads(tmp_path, davis_root):
    from rtvos.training.frtm_train import main

    out = tmp_path / "run"
    assert main(["--smoke", "--davis-root", str(davis_root), "--out", str(out)]) == 0
    seg = FRTMSegmenter(checkpoint=str(out / "best.pt"), augmentations=1, height=128)
    frame = np.zeros((96, 128, 3), np.uint8)
    frame[20:60, 30:80] = 200
    mask = np.zeros((96, 128), np.uint8)
    mask[20:60, 30:80] = 1
    seg.start(frame, mask)
    assert seg.step(frame).mask.shape == (96, 128)


@needs_checkpoint
def test_two_objects_on_real_frames(davis_root):
    """car-turn with the car as object 1 and a patch of road sign/background as object 2."""
    seq = DavisDataset(davis_root).sequence("car-turn")
    frames = [(seq.load_frame(i), seq.load_mask(i)) for i in range(0, 24, 3)]
    target = frames[0][1].astype(np.uint8)
    target[20:120, 20:160] = np.where(target[20:120, 20:160] == 0, 2, target[20:120, 20:160])
    seg = create_segmenter("frtm")
    seg.start(frames[0][0], target)
    ious = []
    for frame, gt in frames[1:]:
        r = seg.step(frame)
        assert sorted(o.id for o in r.objects) == [1, 2]
        assert (r.mask == 2).any()
        ious.append(iou(r.mask == 1, gt > 0))
    assert np.mean(ious) > 0.6, ious


@needs_checkpoint
def test_frtm_beats_the_target_model_alone_on_a_real_slice(davis_root):
    seq = DavisDataset(davis_root).sequence("car-turn")
    frames = [(seq.load_frame(i), seq.load_mask(i)) for i in range(0, 48, 4)]
    res = {}
    for name in ("online", "frtm"):
        seg = create_segmenter(name)
        seg.start(*frames[0])
        res[name] = np.mean([iou(seg.step(f).mask > 0, g > 0) for f, g in frames[1:]])
    assert res["frtm"] > res["online"], res
