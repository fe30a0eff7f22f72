"""Merging per-object probabilities into one label mask (rtvos/models/shared/aggregate.py)."""

from __future__ import annotations

import numpy as np
import pytest

from rtvos.models.shared.aggregate import merge_probabilities


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
