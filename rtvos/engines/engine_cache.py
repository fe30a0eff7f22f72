"""A module run through the engine layer at whatever input shapes come: one engine per shape, built the
first time that shape is seen (an export + compile for onnxruntime, cached on disk besides), then reused.
Shapes change when a stream of another size starts or objects come and go (the batch)."""

from __future__ import annotations

import torch

from rtvos.engines.backends import load_engine
from rtvos.engines.base import Engine
from rtvos.engines.quantize import Calibration


class EngineCache:
    def __init__(self, module: torch.nn.Module, backend: str = "auto", int8: Calibration | None = None,
                 keep: bool = True):
        """`keep=False`: the engines are not cached on disk (see load_engine)."""
        self.module, self.backend, self.int8, self.keep = module, backend, int8, keep
        self.engines: dict[tuple[tuple[int, ...], ...], Engine] = {}

    def engine(self, *inputs: torch.Tensor) -> Engine:
        """The engine for these inputs' shapes (built now if it is the first time)."""
        shapes = tuple(tuple(x.shape) for x in inputs)
        if shapes not in self.engines:
            self.engines[shapes] = load_engine(self.module, shapes[0] if len(shapes) == 1 else shapes, self.backend,
                                               int8=self.int8, keep=self.keep)
        return self.engines[shapes]

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.engine(*inputs)(*inputs)
