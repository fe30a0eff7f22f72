"""What a model package declares about itself: one `ModelSpec` per model name.

A spec names things by import path ("package.module:Class") and loads nothing until asked, so the
registry (and the pipeline that reads it) can list every model without importing torch.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path


def load_by_path(path: str):
    """The object a "package.module:name" path names (the module itself without ":name"), imported now."""
    module, _, attr = path.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


@dataclass(frozen=True)
class ModelSpec:
    """name: what `--model` accepts; description: one line for `rtvos models`;
    segmenter: "module:Class" of the Segmenter; defaults: options this name sets (a preset), which the
    user's options override; trainer: module whose `main(argv)` trains the learned part (None: nothing
    to train); checkpoint: the packaged weights, a file name in the package folder (None: none)."""

    name: str
    description: str
    package: str
    segmenter: str
    defaults: dict = field(default_factory=dict)
    trainer: str | None = None
    checkpoint: str | None = None

    @property
    def checkpoint_path(self) -> Path | None:
        if self.checkpoint is None:
            return None
        return Path(importlib.import_module(self.package).__file__).resolve().parent / self.checkpoint

    @property
    def two_pass(self) -> bool:
        """The model adapts to a recording in two passes (rtvos.models.protocol)."""
        return bool(load_by_path(self.segmenter).two_pass)

    def create(self, threads: int | None = None, **options):
        """A new segmenter. `threads`: torch's intra-op threads in this process (default: every core),
        set here because threads are the model side's business, not the pipeline's."""
        import torch  # noqa: PLC0415

        torch.set_num_threads(threads or os.cpu_count() or 1)
        return load_by_path(self.segmenter)(name=self.name, **{**self.defaults, **options})

    def train(self, argv: list[str]) -> int:
        if self.trainer is None:
            raise ValueError(f"model {self.name!r} has nothing to train")
        return load_by_path(self.trainer).main(argv)
