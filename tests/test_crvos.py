"""CRVOS: decoder shapes, the Clue, soft aggregation, multi-input engines / ONNX parity, the segmenter on
real DAVIS frames (with whatever checkpoint is packaged), and the --smoke training run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rtvos.segmenters.aggregate import merge_probabilities
from rtvos.segmenters.backbone import processing_size
from rtvos.segmenters.crvos import CRVOSDecoder, coord_channels, default_checkpoint, load_decoder, make_clue

H, W = 256, 448  # 854x480 DAVIS frames at the default height


def _random_inputs(batch: int = 1, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    f4 = torch.randn(batch, 24, H // 4, W // 4, generator=g)
    f8 = torch.randn(batch, 40, H // 8, W // 8, generator=g)
    f16 = torch.randn(batch, 112, H // 16, W // 16, generator=g)
    clue = make_clue(torch.rand(batch, 1, H, W, generator=g), (H // 16, W // 16))
    return f4, f8, f16, clue


def test_processing_size_of_davis_frames():
    assert processing_size(480, 854, 256) == (256, 448)
    assert processing_size(480, 854, 288) == (288, 512)


def test_decoder_gives_full_resolution_logits():
    decoder = CRVOSDecoder().eval()
    with torch.no_grad():
        out = decoder(*_random_inputs(batch=2))
    assert out.shape == (2, 2, H, W)
    assert 600_000 < sum(p.numel() for p in decoder.parameters()) < 700_000  # 648,888


def test_clue_channels():
    h, w = H // 16, W // 16
    prev = torch.zeros(1, 1, H, W)
    prev[:, :, :16, :32] = 1.0    # exactly the top-left 1x2 cells
    prev[:, :, 16:24, :16] = 0.5  # the top half of cell (1, 0), at 0.5
    clue = make_clue(prev, (h, w))
    assert clue.shape == (1, 5, h, w)
    bg, fg, y, x, r = clue[0]
    assert torch.allclose(bg + fg, torch.ones(h, w))
    assert fg[0, 0] == 1 and fg[0, 1] == 1 and fg[0, 2] == 0
    assert fg[1, 0] == pytest.approx(0.25)  # area pooling: half the cell at 0.5
    assert float(fg.sum()) == pytest.approx(float(prev.sum()) / 256)
    assert y[0, 0] == -1 and y[-1, 0] == 1 and torch.all(y[:, 0].diff() > 0) and torch.all(y[0] == y[0, 0])
    assert x[0, 0] == -1 and x[0, -1] == 1 and torch.all(x[0].diff() > 0) and torch.all(x[:, 0] == x[0, 0])
    assert float(r.min()) >= 0 and float(r.max()) == pytest.approx(1.0)
    assert r[0, 0] == pytest.approx(1.0) and float(r[h // 2 - 1: h // 2 + 1, w // 2 - 1: w // 2 + 1].max()) < 0.1
    assert torch.equal(coord_channels(h, w)[0], clue[0, 2:])
    with pytest.raises(ValueError):
        make_clue(torch.zeros(1, 2, H, W), (h, w))


def test_merge_probabilities():
    p1 = np.array([[0.9, 0.2], [0.6, 0.1]], np.float32)
    label, scores = merge_probabilities([p1], [3], 0.5)
    assert label.tolist() == [[3, 0], [3, 0]] and scores[3] == pytest.approx(0.75)
    p2 = np.array([[0.8, 0.7], [0.1, 0.1]], np.float32)
    label, scores = merge_probabilities([p1, p2], [1, 2], 0.5)
    assert label.tolist() == [[1, 2], [1, 0]]
    assert scores == pytest.approx({1: 0.75, 2: 0.7})
    with pytest.raises(ValueError):
        merge_probabilities([p1, p2], [1], 0.5)


def test_multi_input_torch_engine_and_single_input_api():
    from rtvos.engines import load_engine

    decoder = CRVOSDecoder().eval()
    inputs = _random_inputs()
    engine = load_engine(decoder, tuple(tuple(t.shape) for t in inputs), "torch")
    with torch.no_grad():
        ref = CRVOSDecoder().eval()
        ref.load_state_dict(decoder.state_dict())
        assert torch.allclose(engine(*inputs)[0], ref(*inputs), atol=1e-5)
    single = load_engine(torch.nn.Conv2d(3, 4, 1), (1, 3, 8, 8), "torch")  # unchanged one-input API
    assert single(torch.zeros(1, 3, 8, 8))[0].shape == (1, 4, 8, 8)


@pytest.fixture(scope="module")
def bear(request):
    from conftest import DAVIS_ROOT

    from rtvos.evaluation.davis import DavisDataset

    if not (DAVIS_ROOT / "JPEGImages").is_dir():
        pytest.skip(f"DAVIS data not found at {DAVIS_ROOT} (set RTVOS_DAVIS_ROOT)")
    seq = DavisDataset(DAVIS_ROOT).sequence("bear")
    return [(seq.load_frame(i), seq.load_mask(i)) for i in range(6)]


def test_onnx_export_matches_torch_on_real_features(bear, tmp_path, monkeypatch):
    from rtvos.engines import load_engine
    from rtvos.segmenters.backbone import Backbone, preprocess

    monkeypatch.setenv("RTVOS_CACHE", str(tmp_path))
    frame, mask = bear[1]
    with torch.no_grad():
        f4, f8, f16 = Backbone(taps=(2, 4, 10))(preprocess(frame, (H, W)))
    prev = torch.from_numpy((bear[0][1] > 0).astype(np.float32))[None, None]
    clue = make_clue(torch.nn.functional.interpolate(prev, size=(H, W), mode="area"), (H // 16, W // 16))
    torch.manual_seed(0)
    decoder = load_decoder() if default_checkpoint().is_file() else CRVOSDecoder().eval()
    with torch.no_grad():
        ref = decoder(f4, f8, f16, clue)
    engine = load_engine(decoder, tuple(tuple(t.shape) for t in (f4, f8, f16, clue)), "onnxruntime")
    assert engine.path.parent == tmp_path / "engines" and engine.path.is_file()
    out = engine(f4, f8, f16, clue)[0]
    diff = float((out - ref).abs().max())
    assert diff < 1e-4, diff
    from rtvos.engines import EngineError

    with pytest.raises(EngineError):
        engine(f4, f8, f16)


def test_missing_checkpoint_names_the_train_command(tmp_path):
    from rtvos.segmenters import create_segmenter

    with pytest.raises(FileNotFoundError, match="train crvos"):
        create_segmenter("crvos", checkpoint=str(tmp_path / "none.pt"))
    with pytest.raises(ValueError, match="unknown option"):
        create_segmenter("crvos", bogus=1)


@pytest.fixture(scope="module")
def packaged_segmenter():
    if not default_checkpoint().is_file():
        pytest.skip(f"no CRVOS checkpoint at {default_checkpoint()} (train one: rtvos train crvos)")
    from rtvos.segmenters import create_segmenter

    return lambda **opts: create_segmenter("crvos", **opts)


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


@pytest.mark.heavy
def test_smoke_training_writes_a_loadable_checkpoint(davis_root, tmp_path):
    from rtvos.training import crvos_train
    from rtvos.training.common import DEV_SEQUENCES

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


def test_lucid_clips_move_the_pasted_object_and_label_exactly_it():
    from rtvos.training.lucid import lucid_clip

    rng = np.random.default_rng(0)
    h, w = 128, 192
    obj_image = np.zeros((h, w, 3), np.uint8)
    obj_mask = np.zeros((h, w), bool)
    obj_mask[40:80, 60:100] = True
    obj_image[obj_mask] = (250, 20, 20)                      # a red square on black
    background = np.full((h, w, 3), (20, 200, 20), np.uint8)  # over a green field
    frames, masks = lucid_clip(obj_image, obj_mask, background, 10, rng)
    assert len(frames) == len(masks) == 10
    centres = []
    for f, m in zip(frames, masks):
        assert f.shape == (h, w, 3) and m.shape == (h, w) and 0 <= m.min() and m.max() <= 1
        inside = m > 0.9
        assert inside.any()
        red = f[..., 0].astype(int) - f[..., 1].astype(int) > 50
        assert (red == (m > 0.5)).mean() > 0.98   # the label is where the object was pasted
        ys, xs = np.nonzero(inside)
        centres.append((xs.mean(), ys.mean()))
    assert np.ptp(np.array(centres), axis=0).max() > 1.0  # it moves
