"""Snapping a coarse probability map to the frame's edges with a guided filter (He, Sun, Tang, "Guided
Image Filtering", ECCV 2010): the output is locally a linear function of the frame's colours, so a map
that a stride-4 network made blurry across an object's outline becomes sharp where the frame has an
edge there. The fast variant (He, Sun, arXiv 1505.00996) fits the local linear models on both images
shrunk and applies them to the full-size frame: a few milliseconds for a crop of a 854x480 frame."""

from __future__ import annotations

import cv2
import numpy as np

from rtvos.models.shared.crops import Box
from rtvos.models.shared.zoom import Window

SUPPORT = 0.01  # snap_to_edges filters where the map exceeds this, and two radii around it
SUM_CHANNELS = np.ones((1, 3), np.float32)  # cv2.transform: a 3-channel image to the sum of its channels


def _mean(x: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def linear_models(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """The guided filter's per-pixel linear models q = a . I + b, averaged over each window: a (HxWx3) and
    b (HxW), for `src` (HxW float32) under `guide` (HxWx3 float32 colours in [0, 1]), windows of
    (2 radius + 1)^2 pixels, `eps` the regularisation (larger: smoother, less edge-following)."""
    colours = cv2.split(guide)  # contiguous planes: per-pixel arithmetic on them is several times faster
    mean_i = [_mean(c, radius) for c in colours]
    mean_p = _mean(src, radius)
    cov_ip = [_mean(c * src, radius) - m * mean_p for c, m in zip(colours, mean_i)]
    # each window's colour covariance plus eps I (symmetric 3x3), inverted by its adjugate
    v = {(i, j): _mean(colours[i] * colours[j], radius) - mean_i[i] * mean_i[j] + (eps if i == j else 0.0)
         for i in range(3) for j in range(i, 3)}
    rr, rg, rb, gg, gb, bb = v[0, 0], v[0, 1], v[0, 2], v[1, 1], v[1, 2], v[2, 2]
    adj = {(0, 0): gg * bb - gb * gb, (0, 1): gb * rb - rg * bb, (0, 2): rg * gb - gg * rb,
           (1, 1): rr * bb - rb * rb, (1, 2): rb * rg - rr * gb, (2, 2): rr * gg - rg * rg}
    det = rr * adj[0, 0] + rg * adj[0, 1] + rb * adj[0, 2]
    a = [sum(adj[min(i, j), max(i, j)] * cov_ip[j] for j in range(3)) / det for i in range(3)]
    b = mean_p - (a[0] * mean_i[0] + a[1] * mean_i[1] + a[2] * mean_i[2])
    return _mean(cv2.merge(a), radius), _mean(b, radius)


def guided_filter(image: np.ndarray, src: np.ndarray, radius: int, eps: float, subsample: int = 1) -> np.ndarray:
    """`src` (HxW float32) guided-filtered by `image` (HxWx3 uint8): windows of (2 radius + 1)^2 pixels,
    `eps` the regularisation for colours in [0, 1]; with `subsample` s > 1 the linear models are fitted
    on both shrunk s times (the fast guided filter)."""
    h, w = src.shape
    if subsample > 1:
        size = (max(1, round(w / subsample)), max(1, round(h / subsample)))
        small, src = cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.resize(src, size, interpolation=cv2.INTER_AREA)
        radius = max(1, round(radius / subsample))
    else:
        small = image
    a, b = linear_models(small.astype(np.float32) / 255.0, src, radius, eps)
    if subsample > 1:
        a, b = cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR), cv2.resize(b, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.transform(cv2.multiply(a, image, scale=1 / 255.0, dtype=cv2.CV_32F), SUM_CHANNELS) + b


def snap_to_edges(frame_rgb: np.ndarray, prob: np.ndarray, region: Box, radius: int, eps: float,
                  subsample: int = 1) -> np.ndarray:
    """`prob` (HxW float32 in [0, 1]) guided-filtered by the frame's colours inside `region` (x0, y0, x1,
    y1, clipped to the frame), clipped to [0, 1], in place; unchanged outside the region. Returns it.

    Only the part of the region within two radii of where `prob` exceeds SUPPORT is filtered: further
    out every window sees a map of ~0, which the filter leaves ~0."""
    h, w = prob.shape
    x0, y0 = max(0, int(region[0])), max(0, int(region[1]))
    x1, y1 = min(w, int(np.ceil(region[2]))), min(h, int(np.ceil(region[3])))
    if radius <= 0 or x1 - x0 < 2 or y1 - y0 < 2:
        return prob
    bx, by, bw, bh = cv2.boundingRect((prob[y0:y1, x0:x1] > SUPPORT).view(np.uint8))
    if bw == 0:
        return prob
    reach = 2 * radius
    x0, y0, x1, y1 = max(x0, x0 + bx - reach), max(y0, y0 + by - reach), min(x1, x0 + bx + bw + reach), min(y1, y0 + by + bh + reach)
    image = np.ascontiguousarray(frame_rgb[y0:y1, x0:x1])
    filtered = guided_filter(image, np.ascontiguousarray(prob[y0:y1, x0:x1], np.float32), radius, eps, subsample)
    prob[y0:y1, x0:x1] = np.clip(filtered, 0.0, 1.0)
    return prob


def check_snap(snap: float, eps: float) -> None:
    """ValueError unless `snap` (a radius, 0: off) is >= 0 and `eps` > 0 (at 0 a window of one colour
    has no linear model: 0 / 0)."""
    if not snap >= 0:
        raise ValueError(f"snap must be >= 0 (0: off), got {snap!r}")
    if not eps > 0:
        raise ValueError(f"snap_eps must be > 0, got {eps!r}")


def snap_in_cells(frame_rgb: np.ndarray, prob: np.ndarray, region: Box, cell: float, cells: float,
                  eps: float) -> np.ndarray:
    """snap_to_edges for a map up-sampled from cells of `cell` frame pixels: windows `cells` cells in
    radius (0: off), the linear models fitted at about two pixels a cell."""
    if cells <= 0:
        return prob
    return snap_to_edges(frame_rgb, prob, region, max(1, round(cells * cell)), eps, subsample=max(1, int(cell // 2)))


def snap_in_window(frame_rgb: np.ndarray, prob: np.ndarray, win: Window, stride: int, proc_h: int, cells: float,
                   eps: float) -> np.ndarray:
    """snap_in_cells for a frame-sized map that a network made in window `win` (processed at height
    `proc_h`) from cells of `stride` processing pixels."""
    return snap_in_cells(frame_rgb, prob, (win.x0, win.y0, win.x0 + win.w, win.y0 + win.h),
                         stride * win.h / proc_h, cells, eps)
