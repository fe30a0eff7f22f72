"""The Thermal-Road error rate (rtvos/evaluation/road_error.py)."""

from __future__ import annotations

import numpy as np
import pytest

from rtvos.evaluation.road_error import road_error_rate


def test_road_error_rate_known_values():
    gt = np.zeros((10, 10), np.uint8)
    gt[5:] = 1
    assert road_error_rate(gt, gt) == 0.0
    assert road_error_rate(1 - gt, gt) == 100.0
    pred = gt.copy()
    pred[4, :] = 1        # 10 false positives
    pred[9, :3] = 0       # 3 false negatives
    assert road_error_rate(pred, gt) == pytest.approx(13.0)
    assert road_error_rate(pred * 255, gt * 7) == pytest.approx(13.0)  # any nonzero is road
    with pytest.raises(ValueError, match="shape"):
        road_error_rate(gt, gt[:5])
