"""PLM's matching network (rtvos/models/plm/net.py)."""

import torch

from rtvos.models.plm.net import MAP, PLMNet


def test_network_shapes():
    net = PLMNet(hidden=32).eval()
    feats = [torch.randn(3, c, s, s) for c, s in zip((16, 24, 40, 112, 320), (48, 24, 12, 6, 3))]
    flat, skip = net.compress(feats)
    assert flat.shape == (3, net.flat_size) and skip.shape == (3, 3, MAP, MAP)
    assert net(flat, flat, skip).shape == (3, 1, MAP, MAP)
