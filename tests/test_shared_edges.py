"""Snapping a blurry probability map to the frame's edges (rtvos/models/shared/edges.py)."""

import cv2
import numpy as np
import pytest

from rtvos.models.shared.edges import check_snap, guided_filter, linear_models, snap_in_window, snap_to_edges
from rtvos.models.shared.zoom import Window


def blurry_step(width: int = 96, edge: int = 48, centre: int = 48, ramp: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A frame dark left of column `edge`, bright right of it, and a probability rising linearly over
    `ramp` columns around column `centre` (what an up-sampled coarse score map looks like)."""
    frame = np.zeros((64, width, 3), np.uint8)
    frame[:, edge:] = (200, 180, 160)
    cols = np.clip((np.arange(width) - (centre - ramp / 2)) / ramp, 0, 1).astype(np.float32)
    return frame, np.repeat(cols[None], 64, axis=0)


def crossing(row: np.ndarray) -> int:
    """The first column at or above 0.5."""
    return int(np.flatnonzero(row >= 0.5)[0])


def test_a_blurry_edge_jumps_where_the_frame_has_its_edge_and_a_misplaced_one_moves_towards_it():
    frame, prob = blurry_step()
    out = guided_filter(frame, prob, radius=6, eps=1e-3)[32]
    steps = np.diff(out)
    assert np.argmax(steps) == 47 and steps.max() > 5 * np.diff(prob[32]).max()  # a jump at the frame's edge
    for centre in (44, 52):  # the map's outline 4 px off the frame's: the filtered one is nearer
        frame, prob = blurry_step(centre=centre)
        out = guided_filter(frame, prob, radius=6, eps=1e-3)[32]
        assert abs(crossing(out) - 48) < abs(crossing(prob[32]) - 48)


def test_the_fast_filter_on_shrunk_images_is_close_to_the_full_one():
    frame, prob = blurry_step(width=128, edge=64, ramp=32)
    full, fast = guided_filter(frame, prob, 8, 1e-3), guided_filter(frame, prob, 8, 1e-3, subsample=4)
    assert np.abs(full - fast).mean() < 0.03
    assert ((full > 0.5) == (fast > 0.5)).mean() > 0.97


def test_only_the_region_changes_and_the_result_stays_a_probability():
    frame, prob = blurry_step()
    noisy = np.clip(prob + np.random.default_rng(0).normal(0, 0.3, prob.shape), 0, 1).astype(np.float32)
    before = noisy.copy()
    out = snap_to_edges(frame, noisy, (20.5, -10, 80, 40), radius=4, eps=1e-3)
    assert out is noisy                                     # in place
    assert np.array_equal(out[40:], before[40:]) and np.array_equal(out[:, :20], before[:, :20])
    assert np.array_equal(out[:, 80:], before[:, 80:])
    assert not np.array_equal(out[:40, 20:80], before[:40, 20:80])
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_a_map_made_in_a_window_snaps_in_that_window_with_radii_in_the_windows_cells():
    frame, prob = blurry_step()  # 64x96
    win = Window(y0=0, x0=32, h=32, w=48)  # processed at height 64: magnified twice
    before = prob.copy()
    out = snap_in_window(frame, prob.copy(), win, stride=4, proc_h=64, cells=2, eps=1e-3)
    # a stride-4 cell of the window is 2 frame pixels: 2 cells are a radius of 4, fitted at full size
    assert np.array_equal(out, snap_to_edges(frame, before.copy(), (32, 0, 80, 32), radius=4, eps=1e-3))
    assert np.array_equal(out[32:], before[32:]) and np.array_equal(out[:, :32], before[:, :32])
    assert np.diff(out[16, 32:80]).max() > 2 * np.diff(before[16]).max()  # sharper at the frame's edge
    assert np.array_equal(snap_in_window(frame, before.copy(), win, 4, 64, cells=0, eps=1e-3), before)  # 0: off


def test_radius_zero_or_a_region_outside_the_frame_leaves_the_map_alone():
    frame, prob = blurry_step()
    before = prob.copy()
    snap_to_edges(frame, prob, (0, 0, 96, 64), radius=0, eps=1e-3)
    snap_to_edges(frame, prob, (200, 200, 300, 300), radius=4, eps=1e-3)
    assert np.array_equal(prob, before)


def test_filtering_only_around_where_the_map_has_support_gives_what_filtering_the_region_gives():
    rng = np.random.default_rng(1)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (200, 240, 3), dtype=np.uint8), (0, 0), 3)
    cv2.circle(frame, (150, 110), 30, (250, 40, 40), -1)
    disc = np.zeros((200, 240), np.float32)
    cv2.circle(disc, (154, 108), 30, 1.0, -1)
    prob = cv2.GaussianBlur(disc, (0, 0), 6)
    prob[prob < 1e-3] = 0.0
    for region in ((0, 0, 240, 200), (30, 20, 240, 190)):  # the whole frame, and a region away from its corner
        x0, y0, x1, y1 = region
        expected = prob.copy()
        expected[y0:y1, x0:x1] = np.clip(guided_filter(np.ascontiguousarray(frame[y0:y1, x0:x1]),
                                                       np.ascontiguousarray(prob[y0:y1, x0:x1]), 6, 1e-3), 0, 1)
        around = snap_to_edges(frame, prob.copy(), region, 6, 1e-3)
        assert np.abs(around - expected).max() < 0.02, region


def test_the_linear_models_solve_each_windows_regularised_least_squares():
    """a = (cov(I) + eps 1)^-1 cov(I, p) and b = mean(p) - a . mean(I) per window, then averaged: checked
    against numpy's solver on a random colour image."""
    rng = np.random.default_rng(2)
    guide = rng.random((40, 50, 3), dtype=np.float32)
    src = rng.random((40, 50), dtype=np.float32)
    radius, eps = 3, 1e-3
    k = (2 * radius + 1, 2 * radius + 1)

    def mean(x):
        return cv2.boxFilter(x.astype(np.float64), -1, k, borderType=cv2.BORDER_REFLECT)

    mean_i, mean_p = mean(guide), mean(src)
    cov = np.stack([np.stack([mean(guide[..., i] * guide[..., j]) - mean_i[..., i] * mean_i[..., j]
                              for j in range(3)], -1) for i in range(3)], -2) + eps * np.eye(3)
    cov_ip = mean(guide * src[..., None]) - mean_i * mean_p[..., None]
    a = np.linalg.solve(cov, cov_ip[..., None])[..., 0]
    b = mean_p - (a * mean_i).sum(-1)
    got_a, got_b = linear_models(guide, src, radius, eps)
    assert np.allclose(got_a, mean(a), atol=1e-3) and np.allclose(got_b, mean(b), atol=1e-3)


def test_a_radius_below_zero_or_no_regularisation_is_refused():
    check_snap(0, 1e-3)
    for snap, eps in ((-1, 1e-3), (3, 0.0), (3, float("nan"))):
        with pytest.raises(ValueError, match="snap"):
            check_snap(snap, eps)
