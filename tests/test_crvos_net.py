"""CRVOS's network (rtvos/models/crvos/net.py): decoder shapes, the Clue, multi-input engines and ONNX parity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rtvos.models.crvos import SPEC
from rtvos.models.crvos.net import CRVOSDecoder, coord_channels, make_clue
from rtvos.models.crvos.segmenter import load_decoder

H, W = 256, 448  # 854x480 DAVIS frames at the default height


def _random_inputs(batch: int = 1, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    f4 = torch.randn(batch, 24, H // 4, W // 4, generator=g)
    f8 = torch.randn(batch, 40, H // 8, W // 8, generator=g)
    f16 = torch.randn(batch, 112, H // 16, W // 16, generator=g)
    clue = make_clue(torch.rand(batch, 1, H, W, generator=g), (H // 16, W // 16))
    return f4, f8, f16, clue


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
def bear(davis_frames):
    return davis_frames("bear", range(6))


def test_onnx_export_matches_torch_on_real_features(bear, tmp_path, monkeypatch):
    from rtvos.engines import load_engine
    from rtvos.models.shared.backbone import Backbone, preprocess

    monkeypatch.setenv("RTVOS_CACHE", str(tmp_path))
    frame, mask = bear[1]
    torch.manual_seed(0)
    decoder = load_decoder() if SPEC.checkpoint_path.is_file() else CRVOSDecoder().eval()
    with torch.no_grad():  # the features below any backbone blocks the decoder fine-tuned
        f4, f8, f16 = Backbone(taps=decoder.backbone_taps)(preprocess(frame, (H, W)))
    prev = torch.from_numpy((bear[0][1] > 0).astype(np.float32))[None, None]
    clue = make_clue(torch.nn.functional.interpolate(prev, size=(H, W), mode="area"), (H // 16, W // 16))
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


def test_clue_prior_adds_the_clues_log_odds_to_the_logits():
    """A decoder with `clue_prior`: the same logits as without it plus scale x the Clue's (clamped)
    log-odds, half to each class; recorded in its config so a checkpoint rebuilds it."""
    from rtvos.models.crvos.net import PRIOR_CLAMP, PRIOR_INIT

    plain = CRVOSDecoder().eval()
    prior = CRVOSDecoder(clue_prior=True).eval()
    assert prior.config["clue_prior"] is True and "clue_prior" not in plain.config
    prior.load_state_dict(plain.state_dict() | {"prior_scale": prior.prior_scale.detach()}, strict=True)
    f4, f8, f16, _ = _random_inputs()
    prev = torch.zeros(1, 1, H, W)
    prev[..., 64:192, 128:320] = 1.0  # an object in the middle
    clue = make_clue(prev, (H // 16, W // 16))
    with torch.no_grad():
        a, b = plain(f4, f8, f16, clue), prior(f4, f8, f16, clue)
    gap = (b[:, 1] - b[:, 0]) - (a[:, 1] - a[:, 0])  # what the prior adds to the foreground's log-odds
    assert gap[0, 128, 224] == pytest.approx(PRIOR_INIT * PRIOR_CLAMP, rel=1e-4)     # inside: for
    assert gap[0, 8, 8] == pytest.approx(-PRIOR_INIT * PRIOR_CLAMP, rel=1e-4)        # far outside: against
    assert torch.isfinite(b).all()


def test_tuned_blocks_start_as_the_imagenet_blocks_they_replace():
    """A decoder that fine-tunes the backbone's last stride-16 blocks takes the features below them: at
    the start its masks are the plain decoder's on the full backbone's features; its blocks train
    while their BatchNorm statistics stay ImageNet's."""
    from rtvos.models.shared.backbone import PYRAMID_TAPS, Backbone

    tuned = CRVOSDecoder(tuned_blocks=3)
    plain = CRVOSDecoder().eval()
    assert tuned.backbone_taps == (2, 4, 7) and plain.backbone_taps == PYRAMID_TAPS
    assert tuned.config["tuned_blocks"] == 3 and "tuned_blocks" not in plain.config
    tuned.load_state_dict(plain.state_dict() | {k: v for k, v in tuned.state_dict().items() if k.startswith("tuned.")})
    image = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(1))
    clue = make_clue(torch.rand(1, 1, H, W, generator=torch.Generator().manual_seed(2)), (H // 16, W // 16))
    with torch.no_grad():
        a = plain(*Backbone(taps=PYRAMID_TAPS)(image), clue)
        b = tuned.eval()(*Backbone(taps=tuned.backbone_taps)(image), clue)
    assert torch.allclose(a, b, atol=1e-4)

    tuned.train()
    stats = tuned.tuned[0]._bn0.running_mean.clone()
    tuned(*Backbone(taps=tuned.backbone_taps)(image), clue).sum().backward()
    assert torch.equal(tuned.tuned[0]._bn0.running_mean, stats)
    assert tuned.tuned[0]._expand_conv.weight.grad is not None
    with pytest.raises(ValueError, match="tuned_blocks must be 0..5"):
        CRVOSDecoder(tuned_blocks=6)
