"""FRTM's weighted sample memory: bounded, newest samples weigh most, the lightest is evicted.

Each new sample gets weight gamma_i = gamma_{i-1} / (1 - eta) (so weights grow geometrically with time,
i.e. older samples decay by (1 - eta) per new sample), then all weights are normalised to sum to one.
At most `capacity` samples are kept: when full, the sample with the smallest weight is replaced.
Memory use is constant however long the stream runs.

Each sample also keeps an emphasis map (1 everywhere unless given): a per-pixel factor on its weight in
the target model's loss, which is how hard negatives -- background the target model scored as target --
count more (`hard_negative_emphasis`).
"""

from __future__ import annotations

import torch


def hard_negative_emphasis(scores: torch.Tensor, label: torch.Tensor, threshold: float, gain: float) -> torch.Tensor:
    """The emphasis map of a new sample: 1 + `gain` on background pixels (label < 0.5) the target model
    scored above `threshold` -- a look-alike it took for the target -- and 1 elsewhere. (1, h, w) in,
    (1, h, w) out."""
    hard = (label < 0.5) & (scores > threshold)
    return 1.0 + gain * hard.to(scores.dtype)


class SampleMemory:
    def __init__(self, capacity: int = 80, eta: float = 0.1):
        if capacity < 1:
            raise ValueError("memory capacity must be >= 1")
        if not 0.0 <= eta < 1.0:
            raise ValueError("eta must be in [0, 1)")
        self.capacity = capacity
        self.eta = eta
        self.features: torch.Tensor | None = None   # (capacity, C, h, w)
        self.labels: torch.Tensor | None = None     # (capacity, 1, h, w)
        self.emphasis: torch.Tensor | None = None   # (capacity, 1, h, w), per-pixel weight factors
        self.weights = torch.zeros(capacity, dtype=torch.float64)
        self.size = 0
        self._last_raw = 0.0  # un-normalised weight given to the newest sample

    def initialize(self, features: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> None:
        """Fill with the first-frame dataset (features (K,C,h,w), labels (K,1,h,w), weights (K,))."""
        k = features.shape[0]
        if k > self.capacity:
            raise ValueError(f"{k} initial samples exceed the memory capacity {self.capacity}")
        self.features = features.new_zeros((self.capacity, *features.shape[1:]))
        self.labels = labels.new_zeros((self.capacity, *labels.shape[1:]))
        self.emphasis = labels.new_ones((self.capacity, *labels.shape[1:]))
        self.features[:k] = features
        self.labels[:k] = labels
        self.weights.zero_()
        self.weights[:k] = weights.double() / weights.double().sum()
        self.size = k
        self._last_raw = float(self.weights[:k].max())

    def add(self, feature: torch.Tensor, label: torch.Tensor, emphasis: torch.Tensor | None = None) -> int:
        """Insert one sample (C,h,w), (1,h,w) and its emphasis map (1,h,w; None: 1); returns the slot it took."""
        if self.features is None:
            raise RuntimeError("memory used before initialize()")
        raw = self._last_raw / (1.0 - self.eta)
        if self.size < self.capacity:
            slot = self.size
            self.size += 1
        else:
            slot = int(torch.argmin(self.weights[: self.size]))
        self.features[slot] = feature
        self.labels[slot] = label
        self.emphasis[slot] = 1.0 if emphasis is None else emphasis
        self.weights[slot] = raw
        total = float(self.weights[: self.size].sum())
        self.weights[: self.size] /= total
        self._last_raw = raw / total
        return slot

    def active(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(features, labels, sample weights, emphasis maps) of the samples held."""
        n = self.size
        return self.features[:n], self.labels[:n], self.weights[:n].to(self.features.dtype), self.emphasis[:n]
