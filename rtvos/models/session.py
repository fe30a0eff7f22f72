"""One stream's objects over one segmenter, as Cutie's `ObjectManager` sits beside its `InferenceCore`.

The segmenter knows how to follow the objects it was started on; the session knows what the stream is
following right now: whether anything is (a reset stops until the next target), the label mask last
returned (object changes start from it), and how each change a user can make while the stream runs --
a new target, an object added, one removed, a reset -- maps onto the segmenter.  The pipeline's infer
stage, `rtvos eval` and `rtvos bench` all drive their segmenter through one of these.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import numpy as np

from rtvos.models.protocol import Result, Segmenter
from rtvos.models.target import Target, TargetError, as_object

log = logging.getLogger(__name__)


class StreamSession:
    def __init__(self, segmenter: Segmenter):
        self.segmenter = segmenter
        self.active = False                     # following something
        self.current: np.ndarray | None = None  # the label mask last returned

    @property
    def objects(self) -> list[int]:
        """The object ids followed now (none after a reset)."""
        return list(self.segmenter.ids) if self.following else []

    @property
    def following(self) -> bool:
        return self.active and self.segmenter.started

    def _keep(self, result: Result) -> Result:
        self.active, self.current = True, result.mask
        return result

    def start(self, frame: np.ndarray, target: Target | np.ndarray) -> Result:
        """Follow `target`'s objects (and only those) from `frame` on."""
        return self._keep(self.segmenter.start(frame, target))

    def step(self, frame: np.ndarray) -> Result:
        """The next frame's result; an empty one when nothing is followed (see `following`)."""
        if not self.following:
            return Result.empty(*frame.shape[:2])
        return self._keep(self.segmenter.step(frame))

    def scan(self, frame: np.ndarray) -> Result:
        """A step of the first pass over a recording (Segmenter.scan: the model keeps what it adapts on)."""
        if not self.following:
            return Result.empty(*frame.shape[:2])
        return self._keep(self.segmenter.scan(frame))

    def first_pass(self, frames: Iterable[np.ndarray]) -> float:
        """The first of two passes over a recording, the session started on its first frame: scan the
        following `frames`, then let the model adapt (Segmenter.scan / adapt); start again on the first
        frame for the second pass. A frame the model fails on is left out of what it learns (the second
        pass meets it again and says so). Returns the seconds spent in the model (reading frames apart)."""
        self.segmenter.check_two_pass()
        seconds = 0.0
        for frame in frames:
            t0 = time.perf_counter()
            try:
                self.scan(frame)
            except Exception as exc:  # noqa: BLE001 (see above)
                log.info("first pass: the model failed on a frame, left out of what it learns: %s", exc)
            seconds += time.perf_counter() - t0
        t0 = time.perf_counter()
        self.segmenter.adapt()
        return seconds + time.perf_counter() - t0

    def add(self, frame: np.ndarray, object_id: int, target: Target | np.ndarray) -> Result:
        """Follow one more object from `frame` on (after a reset, or before any target, it is all there is)."""
        if self.following:
            return self._keep(self.segmenter.add_object(frame, object_id, target, self.current))
        return self._keep(self.segmenter.start(frame, as_object(target, object_id)))

    def remove(self, frame: np.ndarray, object_id: int) -> Result:
        if not self.following:
            raise TargetError("nothing is being followed")
        return self._keep(self.segmenter.remove_object(frame, object_id, self.current))

    def reset(self, frame: np.ndarray) -> Result:
        """Follow nothing until the next target."""
        self.active, self.current = False, None
        return Result.empty(*frame.shape[:2])
