"""Masks drawn over frames (rtvos/view/overlay.py)."""

import cv2
import numpy as np

from rtvos.view.overlay import FONT, colour, overlay


def test_overlay_tints_objects_and_keeps_the_background():
    img = np.full((80, 90, 3), 100, np.uint8)
    mask = np.zeros((80, 90), np.uint8)
    mask[40:60, 10:50] = 1
    out = overlay(img, mask, [{"id": 1, "score": 0.9, "bbox": [10, 40, 50, 60], "area": 800}], [])
    assert out.shape == (80, 90, 3)
    b, g, r = (int(c) for c in out[50, 30])
    assert colour(1)[0] > colour(1)[1] and r > 100 > g  # tinted towards object 1's colour (red; out is BGR)
    np.testing.assert_array_equal(out[75, 80], [100, 100, 100])  # background untouched


def test_text_is_drawn_once_inside_its_panel():
    """OpenCV 5 draws heavier strokes wider: the old black-outline-then-white text came out doubled,
    its outline running past the text. Every changed pixel now lies in the panel sized for one string."""
    img = np.full((60, 400, 3), 120, np.uint8)
    text = "online  29.8 fps  latency 41 ms"
    out = overlay(img, np.zeros((60, 400), np.uint8), [], [text])
    (w, h), base = cv2.getTextSize(text, FONT, 0.55, 1)
    changed = np.argwhere((out != 120).any(axis=2))
    (y0, x0), (y1, x1) = changed.min(axis=0), changed.max(axis=0)
    assert x0 >= 10 - 3 and x1 <= 10 + w + 3 and y0 >= 22 - h - 3 and y1 <= 22 + base + 1
    panel = out[y0:y1 + 1, x0:x1 + 1]
    assert (panel.max(axis=2) > 200).sum() > 50  # light text on it ...
    assert (panel.max(axis=2) < 20).mean() > 0.5  # ... a dark panel under it
