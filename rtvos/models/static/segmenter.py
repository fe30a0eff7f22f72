"""The trivial baseline: the first mask, repeated. Evaluation reports it next to every model."""

from __future__ import annotations

import numpy as np

from rtvos.models.protocol import Segmenter


class StaticSegmenter(Segmenter):
    name = "static"

    def _start(self, frame: np.ndarray, label: np.ndarray) -> None:
        self._mask = label.copy()

    def _step(self, frame: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
        return self._mask.copy(), {k: 1.0 for k in self.ids}
