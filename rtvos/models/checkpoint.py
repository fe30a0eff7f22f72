"""One self-describing checkpoint format for every trained network:

    {"format": 1, "config": {...}, "state": {name: tensor}, "provenance": {...}}

`config` is the network's constructor arguments (every trainable network has a `config` dict), so a file
rebuilds its own network; `provenance` is how it was made (command, data split, settings, scores,
versions, source hashes).  `save_checkpoint` also writes the provenance next to the weights as
`<name>.json` (with the file's sha256), readable without torch.

Files of the formats before this one (a bare state dict, {"decoder": ...}, {"refiner": ...}, or
{"config", "state"} without provenance) are still read: `read_checkpoint` takes their provenance from
the `.json` beside them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

FORMAT = 1
FP16_ABOVE_BYTES = 5 << 20  # weights larger than this are stored in fp16 (loaded back as fp32)
LEGACY_STATE_KEYS = ("decoder", "refiner")


class CheckpointError(ValueError):
    pass


@dataclass
class Checkpoint:
    config: dict
    state: dict[str, torch.Tensor]
    provenance: dict = field(default_factory=dict)

    def build(self, network_class, strict: bool = True) -> torch.nn.Module:
        """The network, in eval mode, with fp32 weights (whatever precision the file stored)."""
        config = {k: tuple(v) if isinstance(v, list) else v for k, v in self.config.items()}
        network = network_class(**config)
        network.load_state_dict({k: v.float() for k, v in self.state.items()}, strict=strict)
        return network.eval()


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sidecar_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def compact_state(network: torch.nn.Module, limit_bytes: int = FP16_ABOVE_BYTES) -> dict[str, torch.Tensor]:
    """The network's state dict on the CPU; fp16 when fp32 would exceed `limit_bytes`."""
    state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
    if sum(v.numel() * v.element_size() for v in state.values()) > limit_bytes:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    return state


def write_atomic(obj, path: Path) -> None:
    """torch.save to a temporary file, then rename: a crash never leaves half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_checkpoint(path: str | Path, network: torch.nn.Module, provenance: dict,
                    state: dict[str, torch.Tensor] | None = None) -> Path:
    """Write `network` (its `config`, its compact state or `state`) with `provenance` to `path`, and the
    provenance with the file's sha256 to the `.json` beside it."""
    path = Path(path)
    provenance = json.loads(json.dumps(provenance))  # plain JSON values only: the file loads with weights_only
    write_atomic({"format": FORMAT, "config": dict(network.config),
                  "state": state if state is not None else compact_state(network), "provenance": provenance}, path)
    sidecar = {**provenance, "config": dict(network.config), "checkpoint_sha256": file_sha256(path)}
    sidecar_path(path).write_text(json.dumps(sidecar, indent=1))
    return path


def read_checkpoint(path: str | Path) -> Checkpoint:
    """A checkpoint file, of this format or an older one (see the module doc). Old files that do not
    record the network's configuration were all made with its defaults: their `config` is empty."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for files that are not checkpoints
        raise CheckpointError(f"{path} is not a readable checkpoint: {exc}") from None
    if not isinstance(blob, dict):
        raise CheckpointError(f"{path} is not an rtvos checkpoint (a {type(blob).__name__})")
    if "state" in blob and "config" in blob:
        provenance = blob.get("provenance")
        if provenance is None:
            provenance = _legacy_provenance(path)
        return Checkpoint(config=dict(blob["config"]), state=dict(blob["state"]), provenance=dict(provenance))
    wrapped = [k for k in LEGACY_STATE_KEYS if k in blob]
    state = blob[wrapped[0]] if wrapped else blob
    if not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} is not an rtvos checkpoint: no weights found in it")
    return Checkpoint(config={}, state=dict(state), provenance=_legacy_provenance(path))


def _legacy_provenance(path: Path) -> dict:
    sidecar = sidecar_path(path)
    return json.loads(sidecar.read_text()) if sidecar.is_file() else {}


def load_network(path: str | Path, network_class, what: str, train_command: str):
    """`network_class` with the weights of the checkpoint at `path`; a missing file is an error that
    says how to make one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} weights at {path}: train them with `{train_command}` "
                                "(see README, 'Training') or pass --option checkpoint=PATH")
    return read_checkpoint(path).build(network_class)
