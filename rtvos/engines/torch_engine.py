"""Eager PyTorch: the reference every other backend is compared with."""

from __future__ import annotations

import torch

from rtvos.engines.base import Engine


class TorchEngine(Engine):
    backend = "torch"

    def __init__(self, module: torch.nn.Module):
        self.module = module.eval().to(memory_format=torch.channels_last)

    @torch.inference_mode()
    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.module(*(_channels_last(x) for x in inputs))
        out = out if isinstance(out, tuple) else (out,)
        return tuple(t.contiguous() for t in out)


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x.contiguous()
