"""Train FRTM's refinement network R on DAVIS (backbone frozen), the way the paper does: inside each
training step a target model D is learned on a reference frame, and R learns to turn D's coarse
scores on other frames of the same sequence into the fine mask.

    python -m rtvos.training.frtm_train --minutes 40          # rtvos train frtm --minutes 40
    python -m rtvos.training.frtm_train --smoke               # tiny end-to-end run (< 1 min), for CI

- Features: the same cache as CRVOS training (f4/f8/f16 of every train frame under V augmentation
  variants, see crvos_train.build_cache); dev sequences are never trained on.
- Step: for each of --batch (sequence, variant) pairs, a reference frame r and --targets frames within
  --max-gap of it; D (c drawn from {32, 96}, 2-5 GN steps, so one R serves `frtm` and `frtm-fast`) is
  fitted on (f16[r], mask[r] at stride 16) by Gauss-Newton/CG without gradients; R(f4, f8, f16, D(f16))
  is trained with binary cross-entropy against the targets' masks. Adam, cosine decay over the budget.
- Bookkeeping as in crvos_train: log.jsonl, last.pt (resume), best.pt + best.json (command, split,
  settings, dev J&F of `frtm` on the dev split).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from rtvos.evaluation.davis import DavisDataset
from rtvos.segmenters.backbone import processing_size
from rtvos.segmenters import refiner as refiner_module
from rtvos.segmenters.refiner import Refiner
from rtvos.segmenters.target_model import TargetModel
from rtvos.training.common import (RunLog, add_run_arguments, command_line, default_davis_root, lr_factor, provenance,
                                   save_atomic, settings, small_state_dict, split_sequences)
from rtvos.training.crvos_train import build_cache


def sample_pairs(cache, batch: int, targets: int, max_gap: int, rng: np.random.Generator,
                 min_area: float = 50.0) -> list[tuple[int, np.ndarray]]:
    """(reference row, target rows) per pair; references with a near-empty mask are redrawn."""
    pairs = []
    while len(pairs) < batch:
        _, _, first, length = cache.blocks[rng.integers(len(cache.blocks))]
        r = int(rng.integers(length))
        if cache.area[first + r] < min_area:
            continue
        lo, hi = max(0, r - max_gap), min(length - 1, r + max_gap)
        t = rng.integers(lo, hi + 1, size=targets)
        pairs.append((first + r, first + t))
    return pairs


def fit_target_model(f16: torch.Tensor, mask: torch.Tensor, rng: np.random.Generator) -> TargetModel:
    """D learned on one reference frame (f16: 1xCxhxw, mask: 1x1xHxW soft) with randomised capacity."""
    y = F.adaptive_avg_pool2d(mask, f16.shape[-2:])
    gen = torch.Generator().manual_seed(int(rng.integers(1 << 31)))
    tm = TargetModel(f16.shape[1], channels=int(rng.choice([32, 96])), generator=gen)
    tm.fit(f16, y, torch.ones(1), gn_steps=int(rng.integers(2, 6)), cg_first=5, cg_iterations=int(rng.choice([5, 10])))
    return tm


def step_loss(refiner: Refiner, cache, pairs, rng: np.random.Generator) -> float:
    f4s, f8s, f16s, scores, masks = [], [], [], [], []
    for r, ts in pairs:
        f16_r = torch.from_numpy(np.array(cache.f16[r:r + 1])).float()
        m_r = torch.from_numpy(np.array(cache.masks[r:r + 1])).float().div_(255)[:, None]
        tm = fit_target_model(f16_r, m_r, rng)
        rows = np.sort(ts)
        f16_t = torch.from_numpy(np.ascontiguousarray(cache.f16[rows])).float()
        with torch.no_grad():
            scores.append(tm(f16_t))
        f4s.append(torch.from_numpy(np.ascontiguousarray(cache.f4[rows])).float())
        f8s.append(torch.from_numpy(np.ascontiguousarray(cache.f8[rows])).float())
        f16s.append(f16_t)
        masks.append(torch.from_numpy(np.ascontiguousarray(cache.masks[rows])).float().div_(255)[:, None])
    logits = refiner(torch.cat(f4s), torch.cat(f8s), torch.cat(f16s), torch.cat(scores))
    loss = F.binary_cross_entropy_with_logits(logits, (torch.cat(masks) >= 0.5).float())
    loss.backward()
    return float(loss.detach())


def dev_eval(refiner: Refiner, root: Path, sequences: list[str], out_dir: Path, max_frames: int | None) -> dict:
    """J&F of `frtm` (its default settings) with a copy of `refiner` on the dev sequences."""
    from rtvos.evaluation.runner import evaluate
    from rtvos.segmenters.frtm import FRTMSegmenter

    frozen = copy.deepcopy(refiner).eval()
    summary = evaluate(lambda: FRTMSegmenter(refiner=frozen), root, out_dir,
                       sequences=list(sequences), progress=False, max_frames=max_frames)
    return {k: summary[k] for k in ("J", "F", "JF", "fps", "frames")}


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--cache-dir", type=Path, default=None, help="feature cache folder shared with CRVOS training (default runs/cache)")
    p.add_argument("--height", type=int, default=256, help="processing height of the cache (multiple of 32)")
    p.add_argument("--variants", type=int, default=6, help="augmentation variants per sequence (must match an existing cache to reuse it)")
    p.add_argument("--batch", type=int, default=4, help="(reference, targets) pairs per step")
    p.add_argument("--targets", type=int, default=3, help="target frames per reference")
    p.add_argument("--max-gap", type=int, default=40, help="targets at most this many frames from the reference")
    p.add_argument("--no-dev", action="store_true", help="no dev eval at the end (best = last)")
    p.add_argument("--dev-max-frames", type=int, default=None)
    return add_run_arguments(p, "frtm", lr=1e-3, ckpt_every=50, log_every=10,
                             smoke="tiny run for CI: 2 sequences x 8 frames, V=1, 3 steps, temp dir")


def main(argv: list[str] | None = None) -> int:
    args = add_arguments(argparse.ArgumentParser(prog="rtvos train frtm", description=__doc__.split("\n\n")[0])).parse_args(argv)
    command = command_line("rtvos.training.frtm_train", argv)
    if args.smoke:
        args.max_frames, args.variants, args.steps, args.minutes, args.batch, args.targets = 8, 1, 3, None, 2, 2
        args.no_dev, args.backend, args.ckpt_every, args.log_every, args.resume = True, "torch", 2, 1, None
        args.out = args.out or Path(tempfile.mkdtemp(prefix="frtm-smoke-"))
        args.cache_dir = args.cache_dir or args.out / "cache"
    args.out = args.out or Path("runs/frtm")
    args.cache_dir = args.cache_dir or Path("runs/cache")
    if args.minutes is None and args.steps is None:
        raise SystemExit("rtvos train frtm: give a budget: --minutes and/or --steps")
    torch.set_num_threads(args.threads)
    root = args.davis_root or default_davis_root()
    train_seqs, dev_seqs = split_sequences(root, "rtvos train frtm")
    train_seqs = train_seqs[: 2 if args.smoke else None]
    size_hw = processing_size(*DavisDataset(root).sequence(train_seqs[0]).load_frame(0).shape[:2], args.height)
    args.out.mkdir(parents=True, exist_ok=True)
    log = RunLog(args.out / "log.jsonl")
    cache = build_cache(root, train_seqs, size_hw, args.variants, args.seed, args.cache_dir, args.backend, args.max_frames)

    torch.manual_seed(args.seed)
    refiner = Refiner()
    optimizer = torch.optim.Adam(refiner.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    step, elapsed = 0, 0.0
    if args.resume is not None:
        state = torch.load(Path(args.resume) if args.resume else args.out / "last.pt", map_location="cpu", weights_only=False)
        refiner.load_state_dict(state["refiner"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        step, elapsed = state["step"], state["elapsed"]
    run_settings = settings(args)
    log.write(type="start", command=command, step=step, train=train_seqs, dev=dev_seqs, settings=run_settings,
              params=sum(p.numel() for p in refiner.parameters()))

    def save_last() -> None:
        save_atomic({"refiner": refiner.state_dict(), "optimizer": optimizer.state_dict(), "rng": rng.bit_generator.state,
                     "step": step, "elapsed": elapsed}, args.out / "last.pt")

    def done() -> bool:
        return (args.steps is not None and step >= args.steps) or (args.minutes is not None and elapsed >= args.minutes * 60)

    t_resume, base, losses = time.monotonic(), elapsed, []
    total = args.steps if args.steps is not None else None
    with tqdm(total=total, initial=step, desc="training R", unit="step", disable=args.smoke) as bar:
        while not done():
            for g in optimizer.param_groups:
                g["lr"] = args.lr * lr_factor(args, step, elapsed)
            optimizer.zero_grad(set_to_none=True)
            losses.append(step_loss(refiner, cache, sample_pairs(cache, args.batch, args.targets, args.max_gap, rng), rng))
            optimizer.step()
            step += 1
            elapsed = base + time.monotonic() - t_resume
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", min=f"{elapsed / 60:.1f}", refresh=False)
            if step % args.log_every == 0:
                log.write(type="train", step=step, loss=float(np.mean(losses[-args.log_every:])), minutes=round(elapsed / 60, 2))
            if step % args.ckpt_every == 0:
                save_last()
    save_last()
    scores = None
    if not args.no_dev:
        scores = dev_eval(refiner, root, dev_seqs, args.out / "dev", args.dev_max_frames)
        log.write(type="dev", step=step, **scores)
        print(f"dev J&F {scores['JF'] * 100:.1f} (J {scores['J'] * 100:.1f}, F {scores['F'] * 100:.1f})", file=sys.stderr)
    save_atomic({"refiner": small_state_dict(refiner)}, args.out / "best.pt")
    (args.out / "best.json").write_text(json.dumps({
        "command": command, "step": step, "minutes": round(elapsed / 60, 2), "train_sequences": train_seqs,
        "dev_sequences": dev_seqs, "dev": scores, "settings": run_settings,
        "provenance": provenance([Path(__file__), Path(refiner_module.__file__)])}, indent=2))
    print(f"wrote {args.out / 'best.pt'} after {step} steps", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
