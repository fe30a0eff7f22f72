"""Masks drawn over frames: each object tinted and outlined in its colour, its box labelled with id and
score, and lines of text top-left -- for `rtvos view`, the browser view, `rtvos segment --overlay` and
the Foxglove annotations' colours.

Text is drawn once, light on a dark panel: OpenCV 5's font renders heavier strokes wider, so the usual
outline trick (the same text thick in black, then thin in white) comes out doubled."""

from __future__ import annotations

import cv2
import numpy as np

PALETTE = np.array([[0, 0, 0], [255, 64, 64], [64, 200, 255], [255, 200, 0], [160, 80, 255], [0, 220, 120],
                    [255, 120, 200], [120, 255, 255]], np.uint8)  # RGB; object k has colour k (the last repeats)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def colour(object_id: int) -> tuple[int, int, int]:
    """Object `object_id`'s RGB colour."""
    return tuple(int(c) for c in PALETTE[min(object_id, len(PALETTE) - 1)])


def label(image: np.ndarray, text: str, org: tuple[int, int], fg: tuple[int, int, int], scale: float = 0.5,
          bg: tuple[int, int, int] = (0, 0, 0)) -> None:
    """`text` with its baseline's left end at `org`, on a filled `bg` panel (in place)."""
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    x, y = org
    cv2.rectangle(image, (x - 3, y - h - 3), (x + w + 3, y + base + 1), bg, cv2.FILLED)
    cv2.putText(image, text, (x, y), FONT, scale, fg, 1, cv2.LINE_AA)


def overlay(image_rgb: np.ndarray, mask: np.ndarray, objects: list[dict], lines: list[str],
            alpha: float = 0.45) -> np.ndarray:
    """BGR picture: objects tinted and outlined in their colour, boxes with id/score, `lines` top-left."""
    out = image_rgb.copy()
    colours = PALETTE[np.minimum(mask, len(PALETTE) - 1)]
    fg = mask > 0
    out[fg] = (out[fg] * (1 - alpha) + colours[fg] * alpha).astype(np.uint8)
    for k in np.unique(mask):
        if k == 0:
            continue
        contours, _ = cv2.findContours((mask == k).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, colour(int(k)), 2)
    for obj in objects:
        if obj.get("bbox"):
            x0, y0, x1, y1 = obj["bbox"]
            c = colour(obj["id"])
            cv2.rectangle(out, (x0, y0), (x1, y1), c, 1)
            label(out, f"#{obj['id']} {obj['score']:.2f}", (x0 + 3, max(16, y0 - 6)), c, scale=0.45)
    bgr = cv2.cvtColor(out, cv2.COLOR_RGB2BGR)
    for i, text in enumerate(lines):
        label(bgr, text, (10, 22 + 22 * i), (255, 255, 255), scale=0.55)
    return bgr
