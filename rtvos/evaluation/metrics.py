"""DAVIS region (J) and boundary (F) measures, as the official DAVIS evaluation code defines them.

This re-implements, without scikit-image, the definitions of `davis2017-evaluation`
(`davis2017/metrics.py`: `db_eval_iou`, `db_eval_boundary` / `f_measure`, `_seg2bmap`;
`davis2017/utils.py`: `db_statistics`), which are also those of the DAVIS 2016 python code:

* J: |M ∩ G| / |M ∪ G|, and 1 when the union is empty.  Optional void pixels are left out of both.
* F: one-pixel boundary maps of both masks (`seg2bmap`), each dilated (cv2.dilate) by a disk of radius
  ``ceil(bound_th * ||(H, W)||)`` (8 px at 854x480); precision = predicted boundary pixels that fall in
  the dilated true boundary / all predicted boundary pixels, recall likewise the other way round;
  F = 2PR / (P + R), 0 when P + R = 0.  Empty boundaries: prediction empty, truth not -> P=1, R=0 (F=0);
  truth empty, prediction not -> P=0, R=1 (F=0); both empty -> P=R=1 (F=1).
* per-sequence statistics: mean, recall (share of frames with value > 0.5) and decay (mean of the first
  of four bins minus mean of the last).

Masks are HxW arrays; any nonzero value is the object.
"""

from __future__ import annotations

import math
import warnings

import cv2
import numpy as np

BOUND_TH = 0.008


def disk(radius: float) -> np.ndarray:
    """`skimage.morphology.disk(radius)`: uint8 array over the grid -r..r with 1 where x² + y² <= r²."""
    grid = np.arange(-radius, radius + 1)
    x, y = np.meshgrid(grid, grid)
    return ((x**2 + y**2) <= radius**2).astype(np.uint8)


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary map of a mask (the official `_seg2bmap`, native size only).

    A pixel is on the boundary when it differs from its east, south or south-east neighbour (the
    boundary sits half a pixel towards the origin).  On the last row only the east neighbour counts, on
    the last column only the south one, and the bottom-right pixel is never a boundary pixel.  So a mask
    covering the whole image has an empty boundary.
    """
    seg = np.asarray(seg).astype(bool)
    if seg.ndim != 2:
        raise ValueError(f"seg2bmap needs an HxW mask, got shape {seg.shape}")
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]

    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = 0
    return b


def _check_pair(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None) -> tuple[np.ndarray, ...]:
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    if pred.ndim != 2:
        raise ValueError(f"masks must be HxW, got shape {pred.shape}")
    if void is None:
        void = np.zeros(gt.shape, dtype=bool)
    else:
        void = np.asarray(void).astype(bool)
        if void.shape != gt.shape:
            raise ValueError(f"void mask {void.shape} and ground truth {gt.shape} differ in shape")
    return pred.astype(bool), gt.astype(bool), void


def iou(pred: np.ndarray, gt: np.ndarray, void: np.ndarray | None = None) -> float:
    """Region similarity J (official `db_eval_iou`): 1 when both masks are empty."""
    pred, gt, void = _check_pair(pred, gt, void)
    keep = ~void
    inters = np.sum(pred & gt & keep)
    union = np.sum((pred | gt) & keep)
    if np.isclose(union, 0):
        return 1.0
    return float(inters / union)


def boundary_precision_recall(
    pred: np.ndarray, gt: np.ndarray, bound_th: float = BOUND_TH, void: np.ndarray | None = None
) -> tuple[float, float]:
    """Boundary precision and recall of the official `f_measure`, special cases included.

    bound_th < 1 is a fraction of the image diagonal; bound_th >= 1 a radius in pixels.
    """
    pred, gt, void = _check_pair(pred, gt, void)
    bound_pix = bound_th if bound_th >= 1 else math.ceil(bound_th * np.linalg.norm(pred.shape))

    fg_boundary = seg2bmap(pred & ~void)
    gt_boundary = seg2bmap(gt & ~void)
    kernel = disk(bound_pix)
    fg_dil = cv2.dilate(fg_boundary.astype(np.uint8), kernel)
    gt_dil = cv2.dilate(gt_boundary.astype(np.uint8), kernel)

    n_fg = int(np.sum(fg_boundary))
    n_gt = int(np.sum(gt_boundary))
    if n_fg == 0 and n_gt > 0:
        return 1.0, 0.0
    if n_fg > 0 and n_gt == 0:
        return 0.0, 1.0
    if n_fg == 0 and n_gt == 0:
        return 1.0, 1.0
    precision = np.sum(fg_boundary & (gt_dil > 0)) / float(n_fg)
    recall = np.sum(gt_boundary & (fg_dil > 0)) / float(n_gt)
    return float(precision), float(recall)


def boundary_f(
    pred: np.ndarray, gt: np.ndarray, bound_th: float = BOUND_TH, void: np.ndarray | None = None
) -> float:
    """Boundary accuracy F (official `db_eval_boundary` on one frame)."""
    precision, recall = boundary_precision_recall(pred, gt, bound_th, void)
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def seq_stats(values) -> dict[str, float]:
    """Mean, recall and decay of per-frame values (official `db_statistics`).

    recall = share of values > 0.5; decay = mean(first bin) - mean(last bin) with four bins
    ``v[ids[i]:ids[i+1]+1]``, ``ids = round(linspace(1, n, 5) + 1e-10) - 1`` (bins overlap at their
    ends).  The official code casts ids to uint8, which only matters past 256 frames; here they are
    plain integers.  NaNs are skipped by the mean and decay (nanmean) and count as
    misses for recall, as in the official code.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("seq_stats needs at least one value")
    ids = (np.round(np.linspace(1, len(v), 5) + 1e-10) - 1).astype(np.int64)
    bins = [v[ids[i] : ids[i + 1] + 1] for i in range(4)]
    with warnings.catch_warnings():  # all-NaN input gives NaN, as in the official code
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mean = float(np.nanmean(v))
        recall = float(np.nanmean(v > 0.5))  # a NaN frame counts as not recalled, as there
        decay = float(np.nanmean(bins[0]) - np.nanmean(bins[3]))
    return {"mean": mean, "recall": recall, "decay": decay}
