"""Snapping a blurry probability map to the frame's edges (rtvos/models/shared/edges.py)."""

import cv2
import numpy as np

from rtvos.models.shared.edges import guided_filter, snap_to_edges


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
    assert not np.array_equal(out[:40, 20:80], before[:40, 20:80])
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_radius_zero_or_a_region_outside_the_frame_leaves_the_map_alone():
    frame, prob = blurry_step()
    before = prob.copy()
    snap_to_edges(frame, prob, (0, 0, 96, 64), radius=0, eps=1e-3)
    snap_to_edges(frame, prob, (200, 200, 300, 300), radius=4, eps=1e-3)
    assert np.array_equal(prob, before)


def test_filtering_only_around_where_the_map_has_support_gives_what_filtering_everything_gives():
    rng = np.random.default_rng(1)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (200, 240, 3), dtype=np.uint8), (0, 0), 3)
    cv2.circle(frame, (120, 100), 30, (250, 40, 40), -1)
    disc = np.zeros((200, 240), np.float32)
    cv2.circle(disc, (124, 98), 30, 1.0, -1)
    prob = cv2.GaussianBlur(disc, (0, 0), 6)
    prob[prob < 1e-3] = 0.0
    everywhere = np.clip(guided_filter(frame, prob, 6, 1e-3), 0, 1)
    around = snap_to_edges(frame, prob.copy(), (0, 0, 240, 200), 6, 1e-3)
    assert np.abs(around - everywhere).max() < 0.02
