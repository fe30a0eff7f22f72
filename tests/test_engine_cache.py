"""One engine per input shape, built on first use (rtvos/engines/engine_cache.py)."""

import torch

from rtvos.engines import EngineCache


def test_one_engine_per_shape_reused_afterwards():
    conv = torch.nn.Conv2d(3, 2, 1)
    engines = EngineCache(conv, "torch")
    a = engines(torch.zeros(1, 3, 8, 8))
    first = engines.engine(torch.zeros(1, 3, 8, 8))
    engines(torch.ones(2, 3, 8, 8))
    assert len(engines.engines) == 2 and engines.engine(torch.zeros(1, 3, 8, 8)) is first
    assert a[0].shape == (1, 2, 8, 8)
    two = EngineCache(torch.nn.Bilinear(4, 5, 3), "torch")  # several inputs: keyed by all their shapes
    assert two(torch.zeros(2, 4), torch.zeros(2, 5))[0].shape == (2, 3)
    assert list(two.engines) == [((2, 4), (2, 5))]
