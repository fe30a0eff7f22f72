"""The one training loop every trainer runs: budget (minutes and/or steps, total over resumes), resume,
the learning-rate schedule, a progress bar, a JSONL log, `last.pt` every few steps, dev checks, and the
best network written as a self-describing checkpoint with its provenance (rtvos.models.checkpoint).

A model's trainer (rtvos/models/<name>/train.py) is a `Trainer`: it supplies its own options, data, the
network, one step's loss, and its dev check; everything else is here.

    rtvos train crvos --minutes 60     # = python -m rtvos.models.crvos.train --minutes 60
"""

from __future__ import annotations

import abc
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from rtvos.models.checkpoint import save_checkpoint, write_atomic
from rtvos.training.common import (
    RunLog,
    add_run_arguments,
    budget_progress,
    command_line,
    default_davis_root,
    lr_factor,
    provenance,
    settings,
    split_sequences,
)

SMOKE_FRAMES = 8  # --smoke: frames per sequence
SMOKE_STEPS = 3


class Trainer(abc.ABC):
    """What a model's trainer supplies. Class attributes: `model` (as `rtvos train` names it),
    `best_metric` (the dev score to maximise), the defaults of the shared options (`lr`, `ckpt_every`,
    `log_every`, `eval_every` in minutes, <= 0: only at the end), and `sources` (files whose hashes
    the provenance records)."""

    model: str
    best_metric: str = "JF"
    lr: float = 1e-3
    ckpt_every: int = 50
    log_every: int = 10
    eval_every: float = 0.0
    sources: tuple[Path, ...] = ()
    devices: tuple[str, ...] = ("cpu",)  # where its step() can run (--device); a trainer that adds "cuda"
    device: torch.device = torch.device("cpu")  # moves its batches to `device` (the loop moves the network)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The trainer's own options."""

    def smoke(self, args: argparse.Namespace) -> None:
        """--smoke: shrink the trainer's own settings for a run of seconds (the shared ones are shrunk
        by the loop: 2 sequences x 8 frames, 3 steps, torch backend, a temporary folder)."""

    @abc.abstractmethod
    def prepare(self, args: argparse.Namespace, root: Path, train: list[str], dev: list[str]) -> dict:
        """Load the data; returns what the run log and provenance should record about it."""

    @abc.abstractmethod
    def build(self, args: argparse.Namespace) -> torch.nn.Module:
        """The network to train (with a `config` dict), after the loop seeded torch."""

    @abc.abstractmethod
    def step(self, rng: np.random.Generator) -> float:
        """One step's forward and backward passes (gradients accumulate; the loop steps the optimizer).
        Returns the loss."""

    def param_groups(self, network: torch.nn.Module) -> list[dict]:
        """The optimizer's parameter groups; a group's "lr_scale" (default 1) multiplies its learning rate."""
        return [{"params": list(network.parameters())}]

    def evaluate(self) -> dict | None:
        """Scores on the dev data (holding `best_metric`), or None when there is no dev check."""
        return None

    progress: float = 0.0  # the share of the budget spent, set by the loop before every step

    def lr_factor(self, args: argparse.Namespace, step: int, elapsed: float) -> float:
        """The factor on --lr now: the schedule over the whole budget (a trainer with stages may give
        each stage its own)."""
        return lr_factor(args, step, elapsed)


def build_parser(trainer: Trainer, description: str = "") -> argparse.ArgumentParser:
    """`rtvos train <model>`'s options: the trainer's own, then the loop's."""
    parser = argparse.ArgumentParser(prog=f"rtvos train {trainer.model}", description=description)
    trainer.add_arguments(parser)
    add_run_arguments(parser, trainer.model, lr=trainer.lr, ckpt_every=trainer.ckpt_every, log_every=trainer.log_every,
                      eval_every=trainer.eval_every)
    return parser


def main(trainer: Trainer, argv: list[str] | None = None, description: str = "") -> int:
    """`rtvos train <model> [options]`."""
    args = build_parser(trainer, description).parse_args(argv)
    return run(trainer, args, command_line(trainer.model, argv))


def _apply_smoke(trainer: Trainer, args: argparse.Namespace) -> None:
    args.max_frames, args.steps, args.minutes = SMOKE_FRAMES, SMOKE_STEPS, None
    args.backend, args.ckpt_every, args.log_every, args.resume = "torch", 2, 1, None
    args.out = args.out or Path(tempfile.mkdtemp(prefix=f"{trainer.model}-smoke-"))
    trainer.smoke(args)


def training_device(name: str, supported: tuple[str, ...], prog: str) -> torch.device:
    """--device as a torch device: one the trainer supports, and a CUDA GPU only where one is visible."""
    kind = name.split(":")[0]
    if kind not in supported:
        raise SystemExit(f"{prog}: --device {name}: this trainer runs on {' or '.join(supported)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"{prog}: --device {name}: no CUDA GPU is visible (torch {torch.__version__}); "
                         "train with --device cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise SystemExit(f"{prog}: --device {name}: {exc}") from None
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise SystemExit(f"{prog}: --device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), "
                         "numbered from 0")
    return device


def run(trainer: Trainer, args: argparse.Namespace, command: str) -> int:
    prog = f"rtvos train {trainer.model}"
    if args.smoke:
        _apply_smoke(trainer, args)
    args.out = args.out or Path("runs") / trainer.model
    if args.minutes is None and args.steps is None:
        raise SystemExit(f"{prog}: give a budget: --minutes and/or --steps")
    torch.set_num_threads(args.threads)
    trainer.device = training_device(args.device, trainer.devices, prog)
    root = args.davis_root or default_davis_root()
    train_seqs, dev_seqs = split_sequences(root, prog, args.split)
    if args.smoke:
        train_seqs, dev_seqs = train_seqs[:2], dev_seqs[:1]
    if args.no_dev:
        dev_seqs = []
    args.out.mkdir(parents=True, exist_ok=True)
    log = RunLog(args.out / "log.jsonl")
    data = trainer.prepare(args, root, train_seqs, dev_seqs)

    torch.manual_seed(args.seed)
    network = trainer.build(args).to(trainer.device)
    groups = trainer.param_groups(network)
    scales = [g.get("lr_scale", 1.0) for g in groups]  # this run's, also after a resume
    optimizer = torch.optim.Adam(groups, lr=args.lr)
    rng = np.random.default_rng(args.seed)
    metric = trainer.best_metric
    step, elapsed, best = 0, 0.0, {}  # best: {metric: score, "step": step} once a dev check ran
    if args.resume is not None:
        path = Path(args.resume) if args.resume else args.out / "last.pt"
        state = torch.load(path, map_location="cpu", weights_only=False)
        if "network" not in state:
            raise SystemExit(f"{prog}: {path} was written by an older trainer; start a new run (no --resume)")
        network.load_state_dict(state["network"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        step, elapsed, best = state["step"], state["elapsed"], state["best"]
        print(f"resumed from {path} at step {step} ({elapsed / 60:.1f} min)", file=sys.stderr)
    run_settings = settings(args)
    parameters = sum(p.numel() for p in network.parameters())
    log.write(type="start", command=command, step=step, train=train_seqs, dev=dev_seqs, settings=run_settings,
              data=data, parameters=parameters, network=network.config)

    def save_last() -> None:
        write_atomic({"network": network.state_dict(), "optimizer": optimizer.state_dict(),
                      "rng": rng.bit_generator.state, "step": step, "elapsed": elapsed, "best": best},
                     args.out / "last.pt")

    def write_best(scores: dict | None) -> None:
        save_checkpoint(args.out / "best.pt", network, {
            "model": trainer.model, "command": command, "step": step, "train_minutes": round(elapsed / 60, 2),
            "dev": scores, "data": {"davis_root": str(root), "train_sequences": train_seqs, "dev_sequences": dev_seqs,
                                    **data},
            "settings": run_settings, "parameters": parameters, "provenance": provenance(list(trainer.sources))})

    def check_dev() -> bool:
        """Score on the dev data, keep the best; False when there is no dev check."""
        nonlocal best
        t_eval = time.monotonic()
        scores = trainer.evaluate()
        network.train()
        if scores is None:
            return False
        log.write(type="dev", step=step, elapsed_s=round(elapsed, 1), eval_s=round(time.monotonic() - t_eval, 1),
                  **scores)
        shown = ", ".join(f"{k} {v:.4f}" for k, v in scores.items() if isinstance(v, float))
        print(f"\nstep {step}: dev {shown}", file=sys.stderr)
        if metric not in best or scores[metric] > best[metric]:
            best = {metric: scores[metric], "step": step}
            write_best(scores)
        return True

    def done() -> bool:
        return bool((args.steps is not None and step >= args.steps) or
                    (args.minutes is not None and elapsed >= args.minutes * 60))

    network.train()
    losses, last_eval, t_start, base = [], elapsed, time.monotonic(), elapsed
    with tqdm(total=args.steps, initial=step, desc=f"training {trainer.model}", unit="step", disable=args.smoke) as bar:
        while not done():
            trainer.progress = budget_progress(args, step, elapsed)
            lr = args.lr * trainer.lr_factor(args, step, elapsed)
            for group, scale in zip(optimizer.param_groups, scales):
                group["lr"] = lr * scale
            optimizer.zero_grad(set_to_none=True)
            losses.append(trainer.step(rng))
            optimizer.step()
            step += 1
            elapsed = base + time.monotonic() - t_start  # wall time: dev checks count
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", lr=f"{lr:.1e}", min=f"{elapsed / 60:.1f}", refresh=False)
            if step % args.log_every == 0:
                log.write(type="train", step=step, loss=float(np.mean(losses[-args.log_every:])), lr=lr,
                          elapsed_s=round(elapsed, 1))
            if step % args.ckpt_every == 0:
                save_last()
            if args.eval_every > 0 and elapsed - last_eval >= args.eval_every * 60 and not done():
                check_dev()
                last_eval = elapsed
    save_last()
    if best.get("step") != step and not check_dev():
        write_best(None)  # no dev check: the last network is the one to keep
    log.write(type="end", step=step, elapsed_s=round(elapsed, 1), best=best)
    summary = f"best dev {metric} {best[metric]:.4f} at step {best['step']}" if "step" in best else "no dev check"
    print(f"done: {step} steps in {elapsed / 60:.1f} min; {summary}; checkpoint {args.out / 'best.pt'}", file=sys.stderr)
    return 0
