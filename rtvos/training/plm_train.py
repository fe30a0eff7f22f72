"""Pre-train PLM's matching network (compressors, FC layers, decoding convs) on DAVIS pairs; the
EfficientNet-Lite0 extractor stays frozen.

    python -m rtvos.training.plm_train --minutes 35        # rtvos train plm --minutes 35
    python -m rtvos.training.plm_train --smoke             # tiny end-to-end run (< 1 min), for CI

- Data: every frame and mask of the train sequences (DAVIS 2016 train minus the dev split), held in
  memory.  A step draws --refs reference frames (random sequence and frame, object of at least 400 px)
  and, for each, --targets target frames of the same sequence at least --min-gap frames away (the paper
  avoids successive frames).  Query and search crops: `rtvos.segmenters.plm_samples` (25 % query
  margin, background removed; search margins 10/30/50 %, >= 50 % overlap, flips, rotations +-10 deg).
- Loss: binary cross-entropy on the 48x48 map (the paper uses L2 on raw outputs; BCE on logits is the
  usual choice for a probability map).  Adam with cosine decay over the budget.
- Dev monitor: a fixed set of dev-split pairs (same sampler, fixed seed), scored by loss and mean IoU of
  the thresholded map every --eval-every minutes; the best is kept.  The full protocol (first-frame
  fine-tuning, nine candidates, J&F) is `rtvos eval --model plm` on the dev split.
- Bookkeeping: log.jsonl, last.pt (--resume), best.pt ({"config", "state"}) + best.json (command,
  split, settings, dev scores, versions, source hashes).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from rtvos.evaluation.davis import DavisDataset
from rtvos.segmenters import plm_geometry, plm_net, plm_samples
from rtvos.segmenters.plm_net import CROP, MAP, Extractor, PLMNet
from rtvos.segmenters.plm_samples import query_crop, search_sample
from rtvos.training.common import (RunLog, add_run_arguments, command_line, default_davis_root, file_sha256,
                                   lr_factor, provenance, save_atomic, settings, small_state_dict, split_sequences)

SOURCES = [Path(__file__), Path(plm_net.__file__), Path(plm_samples.__file__), Path(plm_geometry.__file__)]
MIN_AREA = 400


class Frames:
    """All frames (RGB uint8) and object masks (bool, any object) of some sequences, in memory."""

    def __init__(self, root: Path, names: list[str], max_frames: int | None = None, desc: str = "loading"):
        self.images, self.masks = [], []
        ds = DavisDataset(root)
        for name in tqdm(names, desc=desc, unit="seq", file=sys.stderr):
            seq = ds.sequence(name)
            n = len(seq) if max_frames is None else min(len(seq), max_frames)
            self.images.append([seq.load_frame(i) for i in range(n)])
            self.masks.append([seq.load_mask(i) > 0 for i in range(n)])
        self.area = [np.array([m.sum() for m in ms]) for ms in self.masks]

    def sample(self, rng: np.random.Generator, refs: int, targets: int, min_gap: int, full_frame_p: float):
        """Query crops (refs x CROP x CROP x 3), search crops (refs*targets x ...), labels (refs*targets x MAP x MAP)."""
        queries, searches, labels = [], [], []
        while len(queries) < refs:
            s = int(rng.integers(len(self.images)))
            ok = np.flatnonzero(self.area[s] >= MIN_AREA)
            if not len(ok):
                continue
            r = int(rng.choice(ok))
            n = len(self.images[s])
            far = [t for t in range(n) if abs(t - r) >= min_gap] or list(range(n))
            full = bool(rng.random() < full_frame_p)
            queries.append(query_crop(self.images[s][r], self.masks[s][r], CROP, full_frame=full))
            for t in rng.choice(far, size=targets):
                x, y = search_sample(self.images[s][t], self.masks[s][t], rng, CROP, MAP, full_frame=full)
                searches.append(x)
                labels.append(y)
        return np.stack(queries), np.stack(searches), np.stack(labels)


def pair_logits(net: PLMNet, qf, sf, targets: int) -> torch.Tensor:
    qflat, _ = net.compress(qf)
    sflat, skip = net.compress(sf)
    return net(qflat.repeat_interleave(targets, dim=0), sflat, skip)


def dev_scores(net: PLMNet, dev: list, targets: int) -> dict:
    """Loss and mean IoU (threshold 0.5) on the fixed dev pairs."""
    net.eval()
    losses, ious = [], []
    with torch.no_grad():
        for qf, sf, y in dev:
            logits = pair_logits(net, qf, sf, targets)
            losses.append(float(F.binary_cross_entropy_with_logits(logits, y)))
            pred, gt = logits > 0, y > 0.5
            inter = (pred & gt).flatten(1).sum(1).float()
            union = (pred | gt).flatten(1).sum(1).float()
            ious.append(torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union)))
    net.train()
    return {"loss": float(np.mean(losses)), "iou": float(torch.cat(ious).mean())}


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--refs", type=int, default=8, help="reference frames (queries) per step")
    p.add_argument("--targets", type=int, default=6, help="search crops per reference (the paper: six target frames)")
    p.add_argument("--min-gap", type=int, default=5, help="target frames at least this far from the reference")
    p.add_argument("--full-frame-p", type=float, default=0.1, help="share of pairs in full-frame mode (query/search = whole frame)")
    p.add_argument("--hidden", type=int, default=256, help="FC width")
    p.add_argument("--dc-layers", type=int, default=6, help="decoding conv layers")
    p.add_argument("--no-skip", action="store_true", help="the paper's decoder input only (no search-stream skip)")
    p.add_argument("--eval-every", type=float, default=5.0, help="dev check every N minutes")
    p.add_argument("--dev-pairs", type=int, default=40, help="dev references (x --targets pairs) in the monitor")
    return add_run_arguments(p, "plm", lr=1e-3, ckpt_every=100, log_every=20,
                             smoke="tiny run for CI: 2 sequences x 8 frames, 3 steps, temp dir")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rtvos train plm", description=__doc__.split("\n\n")[0])
    args = add_arguments(parser).parse_args(argv)
    command = command_line("rtvos.training.plm_train", argv)
    return run(args, command)


def run(args: argparse.Namespace, command: str | None = None) -> int:
    command = command or shlex.join(sys.argv)
    if args.smoke:
        args.max_frames, args.steps, args.minutes, args.refs, args.targets = 8, 3, None, 2, 2
        args.min_gap, args.dev_pairs, args.backend, args.ckpt_every, args.log_every = 1, 2, "torch", 2, 1
        args.out = args.out or Path(tempfile.mkdtemp(prefix="plm-smoke-"))
        args.resume = None
    args.out = args.out or Path("runs/plm")
    if args.minutes is None and args.steps is None:
        raise SystemExit("rtvos train plm: give a budget: --minutes and/or --steps")
    torch.set_num_threads(args.threads)
    root = args.davis_root or default_davis_root()
    train_seqs, dev_seqs = split_sequences(root, "rtvos train plm")
    if args.smoke:
        train_seqs, dev_seqs = train_seqs[:2], dev_seqs[:1]
    args.out.mkdir(parents=True, exist_ok=True)
    log = RunLog(args.out / "log.jsonl")

    train = Frames(root, train_seqs, args.max_frames, "loading train")
    extractor = Extractor(args.backend)
    dev = []
    if dev_seqs:
        dev_frames = Frames(root, dev_seqs, args.max_frames, "loading dev")
        dev_rng = np.random.default_rng(12345)
        for _ in range(args.dev_pairs):
            q, s, y = dev_frames.sample(dev_rng, 1, args.targets, args.min_gap, args.full_frame_p)
            dev.append((extractor(q), extractor(s), torch.from_numpy(y)[:, None]))
        del dev_frames

    torch.manual_seed(args.seed)
    net = PLMNet(hidden=args.hidden, dc_layers=args.dc_layers, skip=not args.no_skip)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    step, elapsed, best = 0, 0.0, {"iou": -1.0}
    if args.resume is not None:
        state = torch.load(Path(args.resume) if args.resume else args.out / "last.pt", map_location="cpu", weights_only=False)
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        step, elapsed, best = state["step"], state["elapsed"], state["best"]
    run_settings = settings(args)
    params = sum(p.numel() for p in net.parameters())
    log.write(type="start", command=command, step=step, train=train_seqs, dev=dev_seqs, settings=run_settings,
              params=params, net=net.config)

    def save_last() -> None:
        save_atomic({"net": net.state_dict(), "optimizer": optimizer.state_dict(), "rng": rng.bit_generator.state,
                     "step": step, "elapsed": elapsed, "best": best}, args.out / "last.pt")

    def write_best(scores: dict | None) -> None:
        save_atomic({"config": net.config, "state": small_state_dict(net)}, args.out / "best.pt")
        (args.out / "best.json").write_text(json.dumps({
            "model": "plm", "command": command, "step": step, "train_minutes": round(elapsed / 60, 2),
            "dev_pairs": scores, "data": {"davis_root": str(root), "train_sequences": train_seqs, "dev_sequences": dev_seqs},
            "settings": run_settings, "net": net.config, "parameters": params,
            "checkpoint_sha256": file_sha256(args.out / "best.pt"), "provenance": provenance(SOURCES)}, indent=1))

    def check_dev() -> None:
        nonlocal best
        scores = dev_scores(net, dev, args.targets)
        log.write(type="dev", step=step, elapsed_s=round(elapsed, 1), **scores)
        print(f"\nstep {step}: dev pairs loss {scores['loss']:.4f}, IoU {scores['iou']:.3f}", file=sys.stderr)
        if scores["iou"] > best["iou"]:
            best = scores | {"step": step}
            write_best(scores)

    def done() -> bool:
        return bool((args.steps is not None and step >= args.steps) or
                    (args.minutes is not None and elapsed >= args.minutes * 60))

    net.train()
    losses, last_eval, t_start, base = [], elapsed, time.monotonic(), elapsed
    with tqdm(total=args.steps, initial=step, desc="training plm", unit="step", disable=args.smoke) as bar:
        while not done():
            lr = args.lr * lr_factor(args, step, elapsed)
            for g in optimizer.param_groups:
                g["lr"] = lr
            q, s, y = train.sample(rng, args.refs, args.targets, args.min_gap, args.full_frame_p)
            qf, sf = extractor(q), extractor(s)
            optimizer.zero_grad(set_to_none=True)
            loss = F.binary_cross_entropy_with_logits(pair_logits(net, qf, sf, args.targets), torch.from_numpy(y)[:, None])
            loss.backward()
            optimizer.step()
            step += 1
            elapsed = base + time.monotonic() - t_start
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.4f}", lr=f"{lr:.1e}", min=f"{elapsed / 60:.1f}", refresh=False)
            if step % args.log_every == 0:
                log.write(type="train", step=step, loss=float(np.mean(losses[-args.log_every:])), lr=lr,
                          elapsed_s=round(elapsed, 1))
            if step % args.ckpt_every == 0:
                save_last()
            if dev and args.eval_every > 0 and elapsed - last_eval >= args.eval_every * 60 and not done():
                check_dev()
                last_eval = elapsed
    save_last()
    if dev and best.get("step") != step:
        check_dev()
    if not dev:
        write_best(None)
    log.write(type="end", step=step, elapsed_s=round(elapsed, 1), best=best)
    print(f"done: {step} steps in {elapsed / 60:.1f} min; best dev-pair IoU {best['iou']:.3f} at step "
          f"{best.get('step')}; checkpoint {args.out / 'best.pt'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
