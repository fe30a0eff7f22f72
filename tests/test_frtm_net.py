"""FRTM's refinement network R (rtvos/models/frtm/net.py)."""

import torch

from rtvos.engines import load_engine
from rtvos.models.frtm.net import RefinementNetwork


def _inputs(b=1, h=256, w=448, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, 24, h // 4, w // 4, generator=g), torch.randn(b, 40, h // 8, w // 8, generator=g),
            torch.randn(b, 112, h // 16, w // 16, generator=g), torch.randn(b, 1, h // 16, w // 16, generator=g))


def test_refiner_gives_a_logit_per_pixel_at_processing_resolution():
    r = RefinementNetwork().eval()
    with torch.no_grad():
        out = r(*_inputs(2))
    assert out.shape == (2, 1, 256, 448)


def test_refiner_onnx_matches_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("RTVOS_CACHE", str(tmp_path))
    r = RefinementNetwork().eval()
    xs = _inputs(1, 128, 192)
    shapes = tuple(tuple(x.shape) for x in xs)
    ref = load_engine(r, shapes, "torch")(*xs)[0]
    out = load_engine(r, shapes, "onnxruntime")(*xs)[0]
    assert (ref - out).abs().max() < 1e-4
