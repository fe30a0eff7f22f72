"""Known values of the DAVIS J and F measures and of the per-sequence statistics (rtvos/evaluation/metrics.py)."""

import numpy as np
import pytest

from rtvos.evaluation.metrics import boundary_f, boundary_precision_recall, disk, iou, seg2bmap, seq_stats


def rect(h, w, y0, y1, x0, x1):
    """HxW bool mask with rows y0..y1-1 and columns x0..x1-1 set."""
    m = np.zeros((h, w), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def test_disk_matches_skimage_definition():
    np.testing.assert_array_equal(
        disk(2),
        np.array(
            [
                [0, 0, 1, 0, 0],
                [0, 1, 1, 1, 0],
                [1, 1, 1, 1, 1],
                [0, 1, 1, 1, 0],
                [0, 0, 1, 0, 0],
            ],
            dtype=np.uint8,
        ),
    )
    assert disk(8).shape == (17, 17)


def test_seg2bmap_square_is_outline_shifted_towards_origin():
    # 2x2 square at rows/cols 1..2 of a 5x5 image: the boundary is the outline of rows/cols 0..2
    # (pixels differing from their east, south or south-east neighbour), the square's top-left pixel
    # (1, 1) is not on it.
    b = seg2bmap(rect(5, 5, 1, 3, 1, 3))
    expected = np.zeros((5, 5), dtype=bool)
    expected[0:3, 0:3] = True
    expected[1, 1] = False
    np.testing.assert_array_equal(b, expected)


def test_seg2bmap_last_row_and_column_rules():
    # Object = last column of a 4x4 image.  The last column only compares with its south neighbour
    # (equal inside the object) and the bottom-right pixel is forced off, so the boundary is the
    # column just left of the object (x=2, whose east neighbour differs), rows 0..3.
    b = seg2bmap(rect(4, 4, 0, 4, 3, 4))
    expected = np.zeros((4, 4), dtype=bool)
    expected[:, 2] = True
    np.testing.assert_array_equal(b, expected)
    # A mask filling the whole image has no boundary at all.
    assert not seg2bmap(np.ones((6, 7), dtype=bool)).any()


def test_identical_masks():
    m = rect(100, 100, 30, 70, 30, 70)
    assert iou(m, m) == 1.0
    assert boundary_f(m, m) == 1.0


def test_disjoint_far_apart():
    a = rect(100, 100, 5, 25, 5, 25)
    b = rect(100, 100, 70, 90, 70, 90)
    assert iou(a, b) == 0.0
    assert boundary_precision_recall(a, b) == (0.0, 0.0)
    assert boundary_f(a, b) == 0.0


def test_both_empty():
    z = np.zeros((50, 60), dtype=np.uint8)
    assert iou(z, z) == 1.0
    assert boundary_f(z, z) == 1.0


def test_empty_prediction_nonempty_truth():
    gt = rect(50, 60, 10, 30, 10, 30)
    pred = np.zeros_like(gt)
    assert iou(pred, gt) == 0.0
    assert boundary_precision_recall(pred, gt) == (1.0, 0.0)
    assert boundary_f(pred, gt) == 0.0
    # and the other way round: P=0, R=1
    assert boundary_precision_recall(gt, pred) == (0.0, 1.0)
    assert boundary_f(gt, pred) == 0.0


def test_full_frame_prediction_has_empty_boundary():
    # A full-frame mask has no boundary (last row/column rule) -> P=1, R=0 against a square.
    gt = rect(50, 60, 10, 30, 10, 30)
    full = np.ones_like(gt)
    assert boundary_f(full, gt) == 0.0
    assert boundary_f(full, full) == 1.0


def test_iou_overlapping_rectangles():
    # A: rows 10..29, cols 10..39 -> 20 x 30 = 600 px
    # B: rows 20..39, cols 20..49 -> 20 x 30 = 600 px
    # A ∩ B: rows 20..29, cols 20..39 -> 10 x 20 = 200 px; A ∪ B = 600 + 600 - 200 = 1000 px
    a = rect(60, 60, 10, 30, 10, 40)
    b = rect(60, 60, 20, 40, 20, 50)
    assert iou(a, b) == pytest.approx(0.2)
    assert iou(a.astype(np.uint8) * 255, b) == pytest.approx(0.2)  # nonzero = object


def test_iou_void_pixels_left_out():
    a = rect(20, 20, 0, 10, 0, 10)  # 100 px
    b = rect(20, 20, 0, 10, 0, 5)  # 50 px, inside a
    void = rect(20, 20, 0, 10, 5, 10)  # the 50 px of a that b misses
    assert iou(b, a) == pytest.approx(0.5)
    assert iou(b, a, void) == 1.0


def test_boundary_f_shifted_square_hand_computed():
    # 100x100 image: bound_pix = ceil(0.008 * sqrt(100² + 100²)) = ceil(1.131) = 2, so each boundary
    # is dilated by disk(2): offsets with dx² + dy² <= 4, i.e. |dx| + |dy| <= 1, (±1, ±1), (±2, 0), (0, ±2).
    #
    # Truth G: 40x40 square, rows 30..69, cols 30..69.  seg2bmap marks pixels that differ from their
    # east, south or south-east neighbour:
    #   outside: column x=29 for y=30..69 (east neighbour inside), row y=29 for x=30..69 (south
    #            neighbour inside), and (29, 29) (south-east neighbour inside)       -> 40 + 40 + 1 = 81
    #   inside:  the right column x=69 and the bottom row y=69 (neighbour outside)   -> 40 + 40 - 1 = 79
    # i.e. the outline of the 41x41 box rows 29..69 x cols 29..69: 4*41 - 4 = 160 pixels.
    #
    # Prediction P: the same square shifted right by 5 px (> radius 2): cols 35..74, so its boundary is
    # the outline of rows 29..69 x cols 34..74, 160 pixels.
    #
    # Precision (P's boundary pixels within distance-disk 2 of G's boundary):
    #   top row y=29, x=34..74 (41 px): on G's top row for x<=69, x=70 (dx=1 from (29,69)) and
    #       x=71 (dx=2) still hit; x=72..74 miss                                     -> 38 matched
    #   bottom row y=69: the same                                                   -> 38 matched
    #   left column x=34, y=30..68 (39 px): G's columns are 5 px away (x=29) or 35 px (x=69); only
    #       y=30, 31 (dy=1, 2 from G's top row) and y=67, 68 (from G's bottom row) hit -> 4 matched
    #   right column x=74, y=30..68: G's nearest pixels are 5 px away               -> 0 matched
    #   precision = (38 + 38 + 4) / 160 = 80 / 160 = 0.5
    # Recall is the mirror image (G's top/bottom rows match for x=32..69: 38 each; G's right column
    # x=69 matches only at y=30, 31, 67, 68 via P's rows; G's left column x=29 is 5 px from everything)
    #   recall = 80 / 160 = 0.5
    # F = 2 * 0.5 * 0.5 / (0.5 + 0.5) = 0.5
    gt = rect(100, 100, 30, 70, 30, 70)
    pred = rect(100, 100, 30, 70, 35, 75)
    assert seg2bmap(gt).sum() == 160
    assert seg2bmap(pred).sum() == 160
    precision, recall = boundary_precision_recall(pred, gt)
    assert precision == pytest.approx(80 / 160)
    assert recall == pytest.approx(80 / 160)
    assert boundary_f(pred, gt) == pytest.approx(0.5)
    # J for the same pair: overlap cols 35..69 = 40 x 35 = 1400, union = 1600 + 1600 - 1400 = 1800
    assert iou(pred, gt) == pytest.approx(1400 / 1800)


def test_boundary_f_shift_within_tolerance_is_perfect():
    # Shifted by 2 px (= the radius): every boundary pixel of either outline is within 2 px of the
    # other (vertical sides 2 apart, horizontal sides overlap and overhang by 2), so F = 1 while
    # J = (40*38) / (40*42) = 1520 / 1680 < 1.
    gt = rect(100, 100, 30, 70, 30, 70)
    pred = rect(100, 100, 30, 70, 32, 72)
    assert boundary_f(pred, gt) == 1.0
    assert iou(pred, gt) == pytest.approx(1520 / 1680)
    # one more pixel of shift and the far sides no longer match
    assert boundary_f(rect(100, 100, 30, 70, 33, 73), gt) < 1.0


def test_bound_pix_at_davis_resolution():
    # 854x480: ceil(0.008 * 979.6) = 8 -> shifts of 8 px keep F = 1, 9 px do not.
    gt = rect(480, 854, 100, 300, 200, 500)
    assert boundary_f(rect(480, 854, 100, 300, 208, 508), gt) == 1.0
    assert boundary_f(rect(480, 854, 100, 300, 209, 509), gt) < 1.0


def test_seq_stats_hand_made_series():
    v = [1.0, 0.8, 0.6, 0.6, 0.5, 0.2, 0.0, 0.1]
    # ids = round(linspace(1, 8, 5) + 1e-10) - 1 = round([1, 2.75, 4.5, 6.25, 8]) - 1 = [0, 2, 4, 5, 7]
    # (the 1e-10 makes 4.5 round up to 5); bins v[0:3], v[2:5], v[4:6], v[5:8]
    # decay = mean(1.0, 0.8, 0.6) - mean(0.2, 0.0, 0.1) = 0.8 - 0.1 = 0.7
    # recall = #(v > 0.5) / 8 = 4 / 8 (0.5 itself is not > 0.5); mean = 3.8 / 8
    s = seq_stats(v)
    assert s["mean"] == pytest.approx(0.475)
    assert s["recall"] == pytest.approx(0.5)
    assert s["decay"] == pytest.approx(0.7)


def test_seq_stats_short_series():
    # n = 2: ids = round([1, 1.25, 1.5, 1.75, 2] + 1e-10) - 1 = [0, 0, 1, 1, 1]; bins v[0:1] ... v[1:2]
    s = seq_stats([0.9, 0.3])
    assert s["decay"] == pytest.approx(0.6)
    assert s["recall"] == pytest.approx(0.5)
    s = seq_stats([0.7])
    assert s == {"mean": pytest.approx(0.7), "recall": 1.0, "decay": 0.0}
    with pytest.raises(ValueError):
        seq_stats([])
