"""PLM's matching network (rtvos/models/plm/net.py)."""

import pytest
import torch

from rtvos.models.plm.net import MAP, PLMNet


def test_network_shapes():
    net = PLMNet(hidden=32).eval()
    feats = [torch.randn(3, c, s, s) for c, s in zip((16, 24, 40, 112, 320), (48, 24, 12, 6, 3))]
    flat, skip = net.compress(feats)
    assert flat.shape == (3, net.flat_size) and skip.shape == (3, 3, MAP, MAP)
    assert net(flat, flat, skip).shape == (3, 1, MAP, MAP)


@pytest.mark.parametrize("backbone,below", [("lite0", 8), ("lite2", 12)])  # the stride-16 tap (10; 14) less two
def test_tuned_blocks_give_the_segmenters_extractor_the_features_pretraining_learned_on(backbone, below):
    """With --tune-blocks, pre-training runs the network's blocks between a frozen engine and the frozen
    blocks above (TrainingExtractor); the segmenter's extractor must then give the same five maps, and
    they must differ from the ImageNet extractor's from the tuned blocks up only -- on either backbone."""
    import numpy as np

    from rtvos.models.plm.net import Extractor
    from rtvos.models.plm.segmenter import PLMSegmenter
    from rtvos.models.plm.train import TrainingExtractor
    from rtvos.models.shared.backbone import backbone_variant

    variant = backbone_variant(backbone)
    net = PLMNet(hidden=32, tuned_blocks=2, backbone=backbone).eval()
    assert net.config["tuned_blocks"] == 2 and "tuned_blocks" not in PLMNet().config
    crops = np.random.default_rng(0).integers(0, 256, (4, 96, 96, 3), dtype=np.uint8)
    plain = Extractor("torch", variant=variant)(crops)
    training = TrainingExtractor("torch", below=below, variant=variant)
    with torch.no_grad():
        assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(training(crops, net.tuned), plain))  # ImageNet's at first
        g = torch.Generator().manual_seed(2)
        for p in net.tuned.parameters():  # as if pre-trained
            p.add_(0.1 * p.std() * torch.randn(p.shape, generator=g))
        learned = training(crops, net.tuned)
    segmenter = PLMSegmenter(net=net, backend="torch", progress=False)
    served = segmenter.extractor(crops)
    assert len(served) == len(learned) == 5
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(served, learned))
    assert all(torch.equal(a, b) for a, b in zip(served[:3], plain[:3]))  # below the tuned blocks: unchanged
    assert all((a - b).abs().max() > 1e-2 for a, b in zip(served[3:], plain[3:]))
    assert all(p.requires_grad for p in net.tuned.parameters())  # the network's own copy still trains


def test_pretraining_gradients_reach_the_tuned_blocks_through_the_frozen_blocks_above():
    import numpy as np

    from rtvos.models.plm.train import TrainingExtractor, pair_logits

    torch.manual_seed(0)  # PLMNet's own layers start random: whatever tests ran before must not matter
    net = PLMNet(hidden=32, tuned_blocks=1)
    extract = TrainingExtractor("torch", below=9)
    crops = np.random.default_rng(1).integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)
    pair_logits(net, extract(crops[:1], net.tuned), extract(crops, net.tuned), 2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.tuned.parameters() if p.dim() > 1)
    assert not any(p.requires_grad for p in extract.upper.parameters())


def test_tuned_blocks_need_a_backbone_that_reaches_the_stride16_tap():
    from rtvos.models.shared.backbone import Backbone, with_tuned_blocks

    with pytest.raises(ValueError, match="stride-16"):
        with_tuned_blocks(Backbone(taps=(2, 4)), PLMNet(hidden=32, tuned_blocks=1).tuned)


def test_channels_that_are_not_the_backbones_are_refused():
    with pytest.raises(ValueError, match=r"EfficientNet-Lite2 takes features of \[16, 24, 48, 120, 352\] channels"):
        PLMNet(channels=(16, 24, 40, 112, 320), backbone="lite2")


def test_a_network_trained_on_lite2_is_served_lite2s_features_at_the_same_strides(tmp_path):
    """A network pre-trained with --backbone lite2 records it; the segmenter's extractor must then run
    Lite2 at the blocks that end each of PLM's strides, the maps pre-training learned on."""
    import numpy as np

    from rtvos.models.checkpoint import save_checkpoint
    from rtvos.models.plm.net import TAP_STRIDES, plm_taps
    from rtvos.models.plm.segmenter import PLMSegmenter, load_pretrained
    from rtvos.models.plm.train import TrainingExtractor
    from rtvos.models.shared.backbone import LITE0, LITE2

    assert plm_taps(LITE0) == (0, 2, 4, 10, 15)  # the taps every packaged Lite0 network was trained on
    save_checkpoint(tmp_path / "lite2.pt", PLMNet(hidden=32, backbone="lite2"), {})
    net = load_pretrained(tmp_path / "lite2.pt")  # the variant comes back from the file
    assert net.variant == LITE2 and "backbone" not in PLMNet(hidden=32).config
    assert net.config["channels"] == [16, 24, 48, 120, 352]
    crops = np.random.default_rng(0).integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)
    learned = TrainingExtractor("torch", variant=LITE2)(crops, None)
    served = PLMSegmenter(net=net, backend="torch", progress=False).extractor(crops)
    assert [f.shape[-1] for f in served] == [96 // s for s in TAP_STRIDES]
    assert [f.shape[1] for f in served] == net.config["channels"]
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(served, learned))
    flat, skip = net.compress(served)
    assert net(flat, flat, skip).shape == (2, 1, MAP, MAP)
