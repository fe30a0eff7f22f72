"""The frame source interface: every camera, file or generator yields `Frame`s."""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np


class SourceError(RuntimeError):
    """A source cannot be opened or has failed for good (e.g. the camera disappeared)."""


@dataclass
class Frame:
    """One captured image.

    image:      HxWx3 uint8, RGB order (sources convert from OpenCV's BGR).
    seq:        0, 1, 2, ... in capture order, per source (the frame's index in the stream).
    t_capture_ns: time.monotonic_ns() when the frame was captured (one clock for all processes).
    target:     optional HxW uint8 label mask naming the objects to follow (0 = background, k = object k);
                set on the first frame by sources that carry an initial annotation.
    gt_mask:    optional HxW uint8 label mask with the ground truth for this frame (synthetic, DAVIS).
    name:       optional frame name (e.g. DAVIS "00012") for writing results.
    stamp_ns:   wall-clock time of capture (ns since the epoch) when the source knows it (a recording);
                otherwise the capture stage stamps the frame with the wall clock when it was captured.
    """

    image: np.ndarray
    seq: int
    t_capture_ns: int
    target: np.ndarray | None = None
    gt_mask: np.ndarray | None = None
    name: str | None = None
    meta: dict = field(default_factory=dict)
    stamp_ns: int | None = None

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


class Source(abc.ABC):
    """A stream of frames.

    `frames()` yields Frames until the source is exhausted (files) or closed (live); `frames(start)`
    resumes the stream at frame `start` (a restarted capture stage), the frames before it passed over
    unpaced (a live camera just numbers its frames from `start`).  Pacing: when `fps` is set, frames are
    released at that rate in real time (a live camera paces itself); `fps=None` means as fast as possible.  Sources are context managers; `close()` releases devices and files.
    `skipped` counts the frames a source passed over because they could not be read (the stream goes on).
    `frame_count` is how many frames a recording holds, when it says (progress bars); None for cameras,
    generators and recordings that do not say.
    """

    name: str = "source"
    fps: float | None = None
    skipped: int = 0
    frame_count: int | None = None

    @abc.abstractmethod
    def frames(self, start: int = 0) -> Iterator[Frame]:
        ...

    def close(self) -> None:  # pragma: no cover - default no-op
        pass

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Pacer:
    """Releases ticks at a fixed rate against the monotonic clock (no drift accumulation)."""

    def __init__(self, fps: float | None):
        self.period_ns = int(1e9 / fps) if fps else 0
        self._next = None

    def wait(self) -> None:
        if not self.period_ns:
            return
        now = time.monotonic_ns()
        if self._next is None:
            self._next = now
        delay = self._next - now
        if delay > 0:
            time.sleep(delay / 1e9)
        else:
            # Behind schedule by more than a period: re-anchor instead of bursting to catch up.
            if -delay > self.period_ns:
                self._next = now
        self._next += self.period_ns
