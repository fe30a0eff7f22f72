"""FRTM's weighted sample memory: bounded, newest samples weigh most, the lightest is evicted.

Each new sample gets weight gamma_i = gamma_{i-1} / (1 - eta) (so weights grow geometrically with time,
i.e. older samples decay by (1 - eta) per new sample), then all weights are normalised to sum to one.
At most `capacity` samples are kept: when full, the sample with the smallest weight is replaced.
Memory use is constant however long the stream runs.
"""

from __future__ import annotations

import torch


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
        self.features[:k] = features
        self.labels[:k] = labels
        self.weights.zero_()
        self.weights[:k] = weights.double() / weights.double().sum()
        self.size = k
        self._last_raw = float(self.weights[:k].max())

    def add(self, feature: torch.Tensor, label: torch.Tensor) -> int:
        """Insert one sample (C,h,w), (1,h,w); returns the slot it took."""
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
        self.weights[slot] = raw
        total = float(self.weights[: self.size].sum())
        self.weights[: self.size] /= total
        self._last_raw = raw / total
        return slot

    def active(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = self.size
        return self.features[:n], self.labels[:n], self.weights[:n].to(self.features.dtype)
