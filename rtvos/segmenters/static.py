"""The trivial baseline: the first mask, repeated. Evaluation reports it next to every model."""

from __future__ import annotations

import numpy as np

from rtvos.segmenters.protocol import Result, Segmenter, Target


class StaticSegmenter(Segmenter):
    name = "static"

    def start(self, frame: np.ndarray, target: Target | np.ndarray) -> Result:
        self._mask, self._ids = self.begin(frame, target)
        self._started = True
        return Result.from_label_mask(self._mask.copy(), {k: 1.0 for k in self._ids}, self._ids)

    def step(self, frame: np.ndarray) -> Result:
        if frame.shape[:2] != self._mask.shape:
            raise ValueError(f"frame size changed from {self._mask.shape} to {frame.shape[:2]}")
        return Result.from_label_mask(self._mask.copy(), {k: 1.0 for k in self._ids}, self._ids)
