"""FRTM's refinement network R (rtvos/models/frtm/net.py)."""

import pytest
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


def test_tuned_blocks_go_into_a_copy_of_the_backbone_that_target_model_and_refiner_both_read():
    """R may own fine-tuned copies of the backbone's last stride-16 blocks; they cannot run inside R (the
    target model D needs their output first), so the segmenter's backbone carries them. At the start
    they are ImageNet's blocks (the features do not change); once trained, the stride-16 features are
    the tuned blocks' on the frozen features below, and the backbone handed in stays as it was."""
    from rtvos.models.frtm.segmenter import FRTMSegmenter
    from rtvos.models.shared.backbone import PYRAMID_TAPS, Backbone, backbone_taps, with_tuned_blocks

    r = RefinementNetwork(tuned_blocks=3)
    assert r.config["tuned_blocks"] == 3 and "tuned_blocks" not in RefinementNetwork().config
    assert backbone_taps(3) == (2, 4, 7) and backbone_taps(0) == PYRAMID_TAPS  # what training caches
    backbone = Backbone()
    image = torch.rand(1, 3, 128, 192, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        plain = backbone(image)
        start = with_tuned_blocks(backbone, r.tuned)(image)
        assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(start, plain))
        g = torch.Generator().manual_seed(2)
        for p in r.tuned.parameters():  # as if trained
            p.add_(0.1 * p.std() * torch.randn(p.shape, generator=g))
        seg = FRTMSegmenter(refiner=r)
        tuned = seg.backbone(image)
        below = Backbone(taps=backbone_taps(3))(image)[2]
        assert torch.equal(tuned[0], plain[0]) and torch.equal(tuned[1], plain[1])
        assert torch.allclose(tuned[2], r.tuned(below), atol=1e-5)
        assert (tuned[2] - plain[2]).abs().max() > 1e-2
        assert torch.equal(backbone(image)[2], plain[2])
    assert not any(p.requires_grad for p in seg.backbone.parameters())


def test_refiner_names_its_backbone_and_the_segmenter_runs_on_it():
    """An R trained on Lite2's features records it (Lite0's stay unnamed, as every checkpoint before
    them); its segmenter runs on that backbone and on no other. `online` (no R) takes either."""
    from rtvos.models.frtm.segmenter import FRTMSegmenter, OnlineSegmenter
    from rtvos.models.shared.backbone import LITE0, LITE2

    lite2 = RefinementNetwork(tuned_blocks=2, backbone="lite2")
    assert lite2.config["backbone"] == "lite2" and lite2.config["channels"] == [24, 48, 120]
    assert "backbone" not in RefinementNetwork().config and RefinementNetwork().variant == LITE0
    seg = FRTMSegmenter(refiner=lite2)
    assert seg.backbone.variant == LITE2 and seg.backbone.taps == LITE2.pyramid_taps
    assert FRTMSegmenter(refiner=lite2, backbone="lite2").backbone.variant == LITE2
    with pytest.raises(ValueError, match="trained on EfficientNet-Lite2 features and runs on no other backbone"):
        FRTMSegmenter(refiner=lite2, backbone="lite0")
    online = OnlineSegmenter(backbone="lite2")
    assert online.backbone.taps == (LITE2.stride16_tap,) and online.backbone.channels == (120,)
    assert OnlineSegmenter().backbone.variant == LITE0
    with pytest.raises(ValueError, match="backbone must be one of lite0, lite2, got 'lite9'"):
        RefinementNetwork(backbone="lite9")
