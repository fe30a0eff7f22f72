"""Target-centred processing: the window of the frame a model looks at for one object.

Instead of the whole frame at the processing size, a model can process a window around the object's
previous box, enlarged by a margin, at the same processing size -- the object is then seen larger
(LSE's zoom-in; small objects and far-away look-alikes are what it is for). Windows keep the frame's
aspect ratio and stay inside the frame, so the processing size (and everything learned at it) is the
same for every window, and a window that would have to be larger than the frame *is* the frame:
zooming never sees the object smaller than full-frame processing does. `max_zoom` bounds the
magnification (and the cost of a full-frame search at it).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rtvos.models.shared.crops import Box

# parts of a mask smaller than this share of its largest part are specks: they do not move its window
# (one speck at the far edge of the frame would otherwise make the window the whole frame, for good)
SPECK_SHARE = 0.05


@dataclass(frozen=True)
class Window:
    """Rows y0..y0+h and columns x0..x0+w of a frame."""

    y0: int
    x0: int
    h: int
    w: int

    @classmethod
    def full(cls, frame_hw: tuple[int, int]) -> "Window":
        return cls(0, 0, int(frame_hw[0]), int(frame_hw[1]))

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.y0:self.y0 + self.h, self.x0:self.x0 + self.w]

    def paste(self, values: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
        """`values` -- a map over this window, on its pixels or on any other grid (bilinearly resampled
        to its pixels) -- in a frame of zeros; a window that is the whole frame is the frame itself."""
        if values.shape[:2] != (self.h, self.w):
            values = cv2.resize(values, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        if (self.h, self.w) == tuple(frame_hw):
            return values
        out = np.zeros(frame_hw, values.dtype)
        out[self.y0:self.y0 + self.h, self.x0:self.x0 + self.w] = values
        return out

    def zoom(self, frame_hw: tuple[int, int]) -> float:
        return frame_hw[0] / self.h

    def to_frame(self, y: float, x: float, grid_hw: tuple[int, int]) -> tuple[float, float]:
        """A point on a grid over this window (cell centres, e.g. a score map) in frame pixels."""
        return self.y0 + (y + 0.5) * self.h / grid_hw[0], self.x0 + (x + 0.5) * self.w / grid_hw[1]


def window_at(cy: float, cx: float, h: float, frame_hw: tuple[int, int]) -> Window:
    """A window of height `h` (width from the frame's aspect ratio) centred on (cy, cx) as far as the
    frame allows."""
    fh, fw = frame_hw
    h = int(round(min(max(h, 1.0), fh)))
    w = min(fw, int(round(h * fw / fh)))
    y0 = int(round(min(max(cy - h / 2, 0), fh - h)))
    x0 = int(round(min(max(cx - w / 2, 0), fw - w)))
    return Window(y0, x0, h, w)


def window_around(box: Box, frame_hw: tuple[int, int], margin: float,
                  max_zoom: float) -> Window:
    """The window for an object whose box is `box`: the box grown by `margin` box sizes on every side,
    widened to the frame's aspect ratio, magnified at most `max_zoom` times, never beyond the frame."""
    fh, fw = frame_hw
    x0, y0, x1, y1 = box
    need = max(y1 - y0, (x1 - x0) * fh / fw) * (1 + 2 * margin)
    return window_at((y0 + y1) / 2, (x0 + x1) / 2, min(fh, max(need, fh / max_zoom)), frame_hw)


def object_box(mask: np.ndarray) -> Box | None:
    """The box of a mask's parts (8-connected) of at least SPECK_SHARE of its largest part's area; None
    when the mask is empty."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(np.ascontiguousarray(mask, dtype=np.uint8), connectivity=8)
    if n <= 1:
        return None
    parts = stats[1:]
    parts = parts[parts[:, cv2.CC_STAT_AREA] >= SPECK_SHARE * parts[:, cv2.CC_STAT_AREA].max()]
    x0, y0 = parts[:, cv2.CC_STAT_LEFT], parts[:, cv2.CC_STAT_TOP]
    x1, y1 = x0 + parts[:, cv2.CC_STAT_WIDTH], y0 + parts[:, cv2.CC_STAT_HEIGHT]
    return float(x0.min()), float(y0.min()), float(x1.max()), float(y1.max())


def window_for(mask: np.ndarray, frame_hw: tuple[int, int], zoom: float, margin: float) -> Window:
    """Where an object with this mask is looked at next: the window around it (its specks left out, see
    SPECK_SHARE) when zooming (`zoom` > 1), else -- or when the mask is empty -- the whole frame."""
    box = object_box(mask) if zoom > 1.0 else None
    if box is None:
        return Window.full(frame_hw)
    return window_around(box, frame_hw, margin, zoom)


def reframe(values: np.ndarray, source: Window, target: Window, frame_hw: tuple[int, int]) -> np.ndarray:
    """A map over window `source` (any grid size, e.g. a soft mask at the processing size) as the same
    grid over window `target`: resampled to the frame's pixels, cropped, and resampled to the grid
    again. Outside `source` it is 0. The same window gives the map back unchanged."""
    if source == target:
        return values
    gh, gw = values.shape[:2]
    frame = source.paste(values, frame_hw)
    return cv2.resize(target.crop(frame), (gw, gh), interpolation=cv2.INTER_AREA)
