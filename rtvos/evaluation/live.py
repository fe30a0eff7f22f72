"""Ground-truth metrics measured live, while a stream runs (when its source has ground truth: the
synthetic cameras, DAVIS folders, thermal recordings with road masks).  They plug in by name: the
launch file's `[monitor] metrics` lists them, and the publish stage only calls `add` and `value`.

Each keeps running sums (constant memory however long the stream runs).  Adding one is a class here
and a line in `LIVE_METRICS`.
"""

from __future__ import annotations

import abc

import numpy as np

from rtvos.evaluation.metrics import iou
from rtvos.evaluation.road_error import road_confusion


class LiveMetric(abc.ABC):
    name: str

    @abc.abstractmethod
    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """One frame's predicted label mask against its ground truth (any nonzero label = object)."""

    @abc.abstractmethod
    def value(self) -> float:
        """The metric over the frames added so far."""


class MeanIoU(LiveMetric):
    """Mean per-frame foreground IoU (1 for a frame where both masks are empty)."""

    name = "live_iou"

    def __init__(self):
        self.total, self.frames = 0.0, 0

    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        self.total += iou(pred, gt)
        self.frames += 1

    def value(self) -> float:
        return round(self.total / max(1, self.frames), 4)


class RoadErrorRate(LiveMetric):
    """PLM's eq. 3 over every pixel of every frame: (FP + FN) / pixels x 100 (lower is better)."""

    name = "road_error_rate"

    def __init__(self):
        self.errors = self.pixels = 0

    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        fp, fn, total = road_confusion(pred, gt)
        self.errors += fp + fn
        self.pixels += total

    def value(self) -> float:
        return round(100.0 * self.errors / max(1, self.pixels), 3)


LIVE_METRICS: dict[str, type[LiveMetric]] = {m.name: m for m in (MeanIoU, RoadErrorRate)}


def create_live_metrics(names: list[str]) -> list[LiveMetric]:
    """The metrics named (ValueError, listing the known ones, for an unknown name)."""
    unknown = sorted(set(names) - set(LIVE_METRICS))
    if unknown:
        raise ValueError(f"unknown ground-truth metric(s) {unknown}; known: {', '.join(LIVE_METRICS)}")
    return [LIVE_METRICS[name]() for name in names]


class LiveMetrics:
    """The metrics a run measures, over the frames that came with ground truth."""

    def __init__(self, names: list[str]):
        self.metrics = create_live_metrics(names)
        self.frames = 0

    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        self.frames += 1
        for metric in self.metrics:
            metric.add(pred, gt)

    def summary(self) -> dict[str, float]:
        """{"gt_frames": n, name: value, ...}; empty before the first frame with ground truth."""
        if not self.frames:
            return {}
        return {"gt_frames": self.frames} | {m.name: m.value() for m in self.metrics}
