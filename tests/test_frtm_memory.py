"""FRTM's weighted sample memory (rtvos/models/frtm/memory.py)."""

import numpy as np
import pytest
import torch

from rtvos.models.frtm.memory import SampleMemory


def test_memory_weights_follow_the_eta_rule_and_evict_the_lightest():
    mem = SampleMemory(capacity=4, eta=0.1)
    f = torch.zeros(2, 1, 1, 1)
    mem.initialize(f, f.clone(), torch.tensor([2.0, 1.0]))
    assert mem.weights[:2].tolist() == pytest.approx([2 / 3, 1 / 3])
    # Each new sample: gamma_i = gamma_{i-1} / (1 - eta), then normalise.
    newest = 2 / 3
    for i in range(2):
        mem.add(torch.full((1, 1, 1), float(i + 1)), torch.zeros(1, 1, 1))
        raw = newest / 0.9
        assert float(mem.weights[mem.size - 1]) == pytest.approx(raw / (1 + raw), rel=1e-9)
        newest = raw / (1 + raw)
    assert mem.size == 4
    assert float(mem.weights[:4].sum()) == pytest.approx(1.0)
    lightest = int(torch.argmin(mem.weights[:4]))
    slot = mem.add(torch.full((1, 1, 1), 9.0), torch.zeros(1, 1, 1))
    assert slot == lightest and mem.size == 4
    assert float(mem.features[slot].item()) == 9.0
    # Constant memory on an endless stream.
    for _ in range(500):
        mem.add(torch.zeros(1, 1, 1), torch.zeros(1, 1, 1))
    assert mem.size == 4 and np.isfinite(mem.weights.numpy()).all()
    assert float(mem.weights.sum()) == pytest.approx(1.0)


def test_hard_negatives_are_the_background_scored_as_target_and_kept_with_their_sample():
    from rtvos.models.frtm.memory import hard_negative_emphasis

    label = torch.tensor([[[1.0, 1.0, 0.0, 0.0]]])
    scores = torch.tensor([[[0.9, 0.2, 0.8, 0.1]]])  # pixel 2: background the target model took for target
    e = hard_negative_emphasis(scores, label, threshold=0.5, gain=3.0)
    assert e.tolist() == [[[1.0, 1.0, 4.0, 1.0]]]  # the target itself (pixel 0) and easy background stay at 1
    mem = SampleMemory(capacity=3)
    mem.initialize(torch.zeros(1, 2, 1, 4), label[None], torch.ones(1))
    slot = mem.add(torch.ones(2, 1, 4), label, e)
    assert mem.active()[3][slot].tolist() == e.tolist() and mem.active()[3][0].tolist() == [[[1.0] * 4]]
