"""What every engine provides, and where compiled artefacts are cached."""

from __future__ import annotations

import abc
import hashlib
import os
from pathlib import Path

import torch


class EngineError(RuntimeError):
    pass


def cache_dir() -> Path:
    """$RTVOS_CACHE, else $XDG_CACHE_HOME/rtvos, else ~/.cache/rtvos."""
    root = os.environ.get("RTVOS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "rtvos")
    path = Path(root) / "engines"
    path.mkdir(parents=True, exist_ok=True)
    return path


def module_checksum(module: torch.nn.Module) -> str:
    """sha256 over the module's class name, its `export_signature` (configuration that changes the
    graph but not the weights, e.g. which backbone taps are returned), and its parameter/buffer
    names, shapes and values."""
    h = hashlib.sha256(type(module).__qualname__.encode())
    h.update(str(getattr(module, "export_signature", "")).encode())
    for name, t in list(module.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def input_shapes(input_shape) -> tuple[tuple[int, ...], ...]:
    """Normalise an engine's input shape: one shape (ints) -> ((ints),); a sequence of shapes -> a tuple
    of int tuples.  A module with one input and a module with several share one code path this way."""
    shape = tuple(input_shape)
    if shape and all(isinstance(d, (tuple, list, torch.Size)) for d in shape):
        return tuple(tuple(int(d) for d in s) for s in shape)
    return (tuple(int(d) for d in shape),)


class Engine(abc.ABC):
    backend: str = "?"

    @abc.abstractmethod
    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Run on one tensor per module input (in order); returns the outputs as a tuple."""
