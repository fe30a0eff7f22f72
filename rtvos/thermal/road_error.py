"""The Thermal-Road error rate (Yoon et al.; PLM paper eq. 3):

    error rate = (N_FP + N_FN) / (N_P + N_N) x 100

N_FP: pixels predicted drivable that are not, N_FN: drivable pixels missed, N_P + N_N: all pixels with a
ground truth (drivable + non-drivable).  Masks are binary: any nonzero value means "road".
Lower is better; 0 = perfect, 100 = the complement of the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def road_confusion(pred: np.ndarray, gt: np.ndarray) -> tuple[int, int, int]:
    """(false positives, false negatives, total pixels) of a predicted road mask against the truth."""
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    p, g = pred != 0, gt != 0
    fp = int(np.count_nonzero(p & ~g))
    fn = int(np.count_nonzero(g & ~p))
    return fp, fn, int(g.size)


def road_error_rate(pred: np.ndarray, gt: np.ndarray) -> float:
    """(FP + FN) / (all pixels) x 100 for one frame (0 for an empty frame)."""
    fp, fn, total = road_confusion(pred, gt)
    return 100.0 * (fp + fn) / total if total else 0.0


@dataclass
class RoadErrorAccumulator:
    """Sums FP / FN / pixel counts over frames.

    `rate` is the global error rate (summed counts, every pixel weighs the same); `mean_frame_rate` the
    mean of the per-frame rates (every frame weighs the same).  They agree when all frames have one size.
    """

    fp: int = 0
    fn: int = 0
    total: int = 0
    frame_rates: list[float] = field(default_factory=list)

    def add(self, pred: np.ndarray, gt: np.ndarray) -> float:
        """Adds one frame; returns its error rate."""
        fp, fn, total = road_confusion(pred, gt)
        self.fp += fp
        self.fn += fn
        self.total += total
        rate = 100.0 * (fp + fn) / total if total else 0.0
        self.frame_rates.append(rate)
        return rate

    @property
    def frames(self) -> int:
        return len(self.frame_rates)

    @property
    def rate(self) -> float:
        return 100.0 * (self.fp + self.fn) / self.total if self.total else 0.0

    @property
    def mean_frame_rate(self) -> float:
        return float(np.mean(self.frame_rates)) if self.frame_rates else 0.0

    def summary(self) -> dict:
        return {"frames": self.frames, "fp": self.fp, "fn": self.fn, "pixels": self.total,
                "error_rate": self.rate, "mean_frame_error_rate": self.mean_frame_rate}
