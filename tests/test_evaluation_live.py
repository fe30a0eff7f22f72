"""Ground-truth metrics measured while a stream runs (rtvos/evaluation/live.py), plugged in by name."""

import numpy as np
import pytest

from rtvos.evaluation.live import LIVE_METRICS, LiveMetrics, create_live_metrics


def test_known_names_and_a_clear_error_for_others():
    assert set(LIVE_METRICS) == {"live_iou", "road_error_rate"}
    with pytest.raises(ValueError, match="road_eror.*known: live_iou, road_error_rate"):
        create_live_metrics(["road_eror"])


def test_metrics_over_frames_with_ground_truth():
    metrics = LiveMetrics(["live_iou", "road_error_rate"])
    assert metrics.summary() == {}  # no ground truth seen yet
    gt = np.zeros((10, 10), np.uint8)
    gt[5:] = 1
    metrics.add(gt * 3, gt)                  # any label counts as the object: perfect
    pred = gt.copy()
    pred[4, :] = 1                           # 10 false positives on a 10x10 frame
    metrics.add(pred, gt)
    big_gt = np.ones((10, 30), np.uint8)
    metrics.add(np.zeros_like(big_gt), big_gt)  # 300 false negatives
    s = metrics.summary()
    assert s["gt_frames"] == 3
    assert s["live_iou"] == pytest.approx(round((1 + 50 / 60 + 0) / 3, 4))
    assert s["road_error_rate"] == pytest.approx(round(100 * 310 / 500, 3))  # summed counts: every pixel weighs the same
