"""What every training run shares besides the loop (loop.py): the data split, the options, the run log,
provenance, and the learning-rate schedule over a wall-time or step budget."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from rtvos.evaluation.splits import SplitError, split
from rtvos.models.checkpoint import file_sha256

REPO = Path(__file__).resolve().parents[2]


def default_davis_root() -> Path:
    """$RTVOS_DAVIS_ROOT, else <repo>/../shared/data/davis2016-train."""
    env = os.environ.get("RTVOS_DAVIS_ROOT")
    return Path(env) if env else REPO.parent / "shared" / "data" / "davis2016-train"


def split_sequences(root: Path, prog: str, name: str = "dev") -> tuple[list[str], list[str]]:
    """(train, held-out) sequence names of a DAVIS-layout root for the split `name`
    (rtvos.evaluation.splits); a clear exit when there is no data or no such split."""
    from rtvos.evaluation.davis import DavisDataset  # noqa: PLC0415

    if not (Path(root) / "JPEGImages").is_dir():
        raise SystemExit(f"{prog}: no DAVIS data at {root} (give --davis-root or set RTVOS_DAVIS_ROOT)")
    try:
        return split(DavisDataset(root).sequence_names(), name)
    except SplitError as exc:
        raise SystemExit(f"{prog}: --split: {exc}") from None


def provenance(sources: list[Path]) -> dict:
    """Git-free reproducibility info: versions, machine, and hashes of the sources that define the run."""
    import onnxruntime  # noqa: PLC0415

    return {
        "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
        "opencv": cv2.__version__, "onnxruntime": onnxruntime.__version__, "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads(),
        "source_sha256": {str(Path(p).resolve().relative_to(REPO)): file_sha256(p) for p in sources},
    }


class RunLog:
    """Appends one JSON object per line to <out>/log.jsonl."""

    def __init__(self, path: Path):
        self.path = path

    def write(self, **record) -> None:
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S")} | record
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


def budget_progress(args, step: int, elapsed: float) -> float:
    """How much of the budget (--minutes and/or --steps, whichever runs out first) is spent: 0..1."""
    progress = 0.0
    if args.minutes:
        progress = max(progress, elapsed / (args.minutes * 60))
    if args.steps:
        progress = max(progress, step / args.steps)
    return min(1.0, progress)


def cosine(progress: float) -> float:
    """Cosine decay from 1 to 10 % as `progress` goes from 0 to 1."""
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, progress))))


def lr_factor(args, step: int, elapsed: float) -> float:
    """Cosine decay to 10 % over the budget (--minutes and/or --steps), or 1 with --schedule constant."""
    if getattr(args, "schedule", "cosine") == "constant":
        return 1.0
    return cosine(budget_progress(args, step, elapsed))


def settings(args: argparse.Namespace) -> dict:
    """The run's settings as JSON values (paths as strings; anything else a CLI adds, e.g. `func`, dropped)."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
            if isinstance(v, (str, int, float, bool, Path, type(None)))}


def add_run_arguments(p: argparse.ArgumentParser, model: str, *, lr: float, ckpt_every: int, log_every: int,
                      eval_every: float) -> argparse.ArgumentParser:
    """The options every trainer takes: data, run folder, budget, schedule, checkpoints, dev checks,
    engine, seed."""
    p.add_argument("--davis-root", type=Path, default=None, help="DAVIS-layout root (default: $RTVOS_DAVIS_ROOT or ../shared/data/davis2016-train)")
    p.add_argument("--out", type=Path, default=None, help=f"run folder: log.jsonl, last.pt, best.pt, best.json (default runs/{model}; --smoke: a temp dir)")
    p.add_argument("--max-frames", type=int, default=None, help="use only the first N frames of each sequence")
    p.add_argument("--split", default="dev", help="sequences held out: dev (the 7-sequence dev split), fold:I/K "
                   "(cross-validation fold I of K), or all (none: train on every sequence)")
    p.add_argument("--lr", type=float, default=lr, help="Adam learning rate (default %(default)g)")
    p.add_argument("--schedule", choices=("cosine", "constant"), default="cosine", help="lr over the budget (cosine: to 10%%)")
    p.add_argument("--minutes", type=float, default=None, help="wall-time budget of the training loop, dev checks included (total over resumes)")
    p.add_argument("--steps", type=int, default=None, help="step budget (total over resumes)")
    p.add_argument("--ckpt-every", type=int, default=ckpt_every, help="write last.pt every N steps")
    p.add_argument("--log-every", type=int, default=log_every, help="log the mean loss every N steps")
    p.add_argument("--eval-every", type=float, default=eval_every, help="dev check every N minutes (<= 0: only at the end)")
    p.add_argument("--no-dev", action="store_true", help="no dev check (best = last)")
    p.add_argument("--resume", nargs="?", const="", default=None, help="resume from last.pt (or the path given)")
    p.add_argument("--backend", default="auto", help="backbone engine (features are always fp32)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--device", default="cpu", help="where the network trains: cpu, or cuda (a trainer that "
                   "supports it; the feature cache is still made on the CPU)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and the sampling (default 0)")
    p.add_argument("--smoke", action="store_true", help="a run of seconds, for CI: 2 sequences x 8 frames, 3 steps, a temp dir")
    return p


def command_line(model: str, argv: list[str] | None) -> str:
    """The command a run records: `rtvos train <model> <arguments>`."""
    import shlex  # noqa: PLC0415
    import sys  # noqa: PLC0415

    return shlex.join(["rtvos", "train", model] + (list(argv) if argv is not None else sys.argv[1:]))
