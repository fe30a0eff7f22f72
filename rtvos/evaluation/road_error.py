"""The Thermal-Road error rate (Yoon et al.; PLM paper eq. 3):

    error rate = (N_FP + N_FN) / (N_P + N_N) x 100

N_FP: pixels predicted drivable that are not, N_FN: drivable pixels missed, N_P + N_N: all pixels with a
ground truth (drivable + non-drivable).  Masks are binary: any nonzero value means "road".
Lower is better; 0 = perfect, 100 = the complement of the truth.  Over a stream, the counts are summed
(rtvos.evaluation.live.RoadErrorRate), so every pixel weighs the same.
"""

from __future__ import annotations

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
