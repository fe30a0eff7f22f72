"""`rtvos train plm`: pre-train PLM's matching network (compressors, FC layers, decoding convs) on DAVIS
pairs; the EfficientNet-Lite extractor (--backbone, default lite0) stays frozen, but for the blocks
--tune-blocks hands to the network. Runs in the shared training loop (rtvos.training.loop).

    rtvos train plm --split all --no-dev --steps 7500 --backbone lite2 --seed 1   # the packaged network (plm.json)
    rtvos train plm --smoke              # a run of seconds, for CI

- Data: every frame and mask of the train sequences (DAVIS 2016 train minus the held-out split), held
  in memory.  A step draws --refs reference frames (random sequence and frame, object of at least 400
  px) and, for each, --targets target frames of the same sequence at least --min-gap frames away (the
  paper avoids successive frames).  Query and search crops: samples.py (25 % query margin, background
  removed; search margins 10/30/50 %, >= 50 % overlap, flips, rotations +-10 deg).
- --lucid-clips / --ecssd-clips: a --synthetic-p share of the steps draw their pairs from synthetic
  clips (rtvos.training.synthetic; the same clips the other trainers see, kept as frames).
- --tune-blocks N: the network owns the extractor's last N blocks below the stride-16 tap, which learn
  at --tune-lr of its rate (`TrainingExtractor`); the segmenter runs its extractor with them.
- --backbone lite2: the network matches EfficientNet-Lite2's features (it records the variant; the
  segmenter's extractor runs Lite2).
- A stuck run stops: when no output of STUCK_STEPS steps in a row reached 0.5 (the network segments
  nothing; seen once, Lite2 at --seed 0: loss flat at ~0.19), the run ends with an error that says so,
  not with a checkpoint that scores ~0 J&F.
- Loss: binary cross-entropy on the 48x48 map (the paper uses L2 on raw outputs; BCE on logits is the
  usual choice for a probability map).  Adam with cosine decay over the budget.
- Dev check: a fixed set of dev-split pairs (same sampler, fixed seed), scored by loss and mean IoU of
  the thresholded map every --eval-every minutes; the best is kept.  The full protocol (first-frame
  fine-tuning, nine candidates, J&F) is `rtvos eval --model plm` on the dev split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from rtvos.evaluation.davis import DavisDataset
from rtvos.models.plm.net import CROP, MAP, Extractor, PLMNet, plm_taps
from rtvos.models.plm.samples import query_crop, search_sample
from rtvos.models.shared.backbone import LITE0, LiteVariant, backbone_variant, pretrained_blocks, processing_size
from rtvos.training import loop
from rtvos.training.ecssd import EcssdDataset
from rtvos.training.feature_cache import DEFAULT_HEIGHT
from rtvos.training.synthetic import (
    SYNTHETIC_SOURCES,
    add_synthetic_arguments,
    pick_source,
    requested_clips,
    synthetic_clips,
)
from rtvos.training.tuned_blocks import add_backbone_argument, add_tuning_arguments, frozen_taps, tuned_param_groups

HERE = Path(__file__).resolve()
MIN_AREA = 400
DEV_SEED = 12345
STUCK_STEPS = 500  # steps in a row with no output above 0.5 that end a run as stuck (every batch holds objects)


class Frames:
    """Frames (RGB uint8) and object masks (bool, any object) of some clips, in memory: DAVIS sequences
    (`from_davis`) or synthetic clips (`from_synthetic`)."""

    def __init__(self, images: list[list[np.ndarray]], masks: list[list[np.ndarray]]):
        self.images, self.masks = images, masks
        self.area = [np.array([m.sum() for m in ms]) for ms in self.masks]

    @classmethod
    def from_davis(cls, root: Path, names: list[str], max_frames: int | None = None, desc: str = "loading") -> Frames:
        images, masks = [], []
        ds = DavisDataset(root)
        for name in tqdm(names, desc=desc, unit="seq", file=sys.stderr):
            seq = ds.sequence(name)
            n = len(seq) if max_frames is None else min(len(seq), max_frames)
            images.append([seq.load_frame(i) for i in range(n)])
            masks.append([seq.load_mask(i) > 0 for i in range(n)])
        return cls(images, masks)

    @classmethod
    def from_synthetic(cls, clips, count: int) -> Frames:
        """The `count` clips `clips` yields (rtvos.training.synthetic.synthetic_clips), masks at 0.5."""
        images, masks = [], []
        for frames, soft, _ in tqdm(clips, total=count, desc="making synthetic clips", unit="clip", file=sys.stderr):
            images.append(frames)
            masks.append([m > 0.5 for m in soft])
        return cls(images, masks)

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


class TrainingExtractor:
    """The extractor features of a batch of crops in pre-training. Without tuned blocks: PLM's frozen
    extractor (an engine; no gradients). With the network's `tuned` blocks (passed in every call): the
    frozen engine stops below them, they run with gradients, and the frozen ImageNet blocks above them
    follow up to the stride-32 tap (the gradients pass through those to the tuned blocks)."""

    def __init__(self, backend: str, below: int | None = None, variant: LiteVariant = LITE0):
        """`below`: the block of `variant` the frozen engine stops at (None, or its stride-16 tap: no
        tuned blocks, PLM's own taps)."""
        taps, top = plm_taps(variant), variant.stride16_tap
        if below is None or below == top:
            self.lower, self.upper = Extractor(backend, variant=variant), None
        else:
            self.lower = Extractor(backend, taps=(*taps[:3], below), variant=variant)
            self.upper = pretrained_blocks(top + 1, taps[-1], variant=variant).requires_grad_(False).eval()

    def __call__(self, crops: np.ndarray, tuned: torch.nn.Module | None) -> tuple[torch.Tensor, ...]:
        features = self.lower(crops)
        if self.upper is None:
            return features
        *low, below = features
        f16 = tuned(below)
        return (*low, f16, self.upper(f16))


def dev_scores(net: PLMNet, dev: list, targets: int, extract: TrainingExtractor) -> dict:
    """Loss and mean IoU (threshold 0.5) on the fixed dev pairs (query crops, search crops, labels)."""
    net.eval()
    losses, ious = [], []
    with torch.no_grad():
        for q, s, y in dev:
            logits = pair_logits(net, extract(q, net.tuned), extract(s, net.tuned), targets)
            losses.append(float(F.binary_cross_entropy_with_logits(logits, y)))
            pred, gt = logits > 0, y > 0.5
            inter = (pred & gt).flatten(1).sum(1).float()
            union = (pred | gt).flatten(1).sum(1).float()
            ious.append(torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union)))
    return {"loss": float(np.mean(losses)), "iou": float(torch.cat(ious).mean())}


class PLMTrainer(loop.Trainer):
    model = "plm"
    best_metric = "iou"
    lr, ckpt_every, log_every, eval_every = 1e-3, 100, 20, 5.0
    sources = (HERE, HERE.with_name("net.py"), HERE.with_name("samples.py"), HERE.with_name("geometry.py"),
               HERE.parents[1] / "shared" / "backbone.py", *SYNTHETIC_SOURCES)

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--refs", type=int, default=8, help="reference frames (queries) per step")
        p.add_argument("--targets", type=int, default=6, help="search crops per reference (the paper: six target frames)")
        p.add_argument("--min-gap", type=int, default=5, help="target frames at least this far from the reference")
        p.add_argument("--full-frame-p", type=float, default=0.1, help="share of pairs in full-frame mode (query/search = whole frame)")
        p.add_argument("--hidden", type=int, default=256, help="FC width")
        p.add_argument("--dc-layers", type=int, default=6, help="decoding conv layers")
        p.add_argument("--no-skip", action="store_true", help="the paper's decoder input only (no search-stream skip)")
        p.add_argument("--dev-pairs", type=int, default=40, help="dev references (x --targets pairs) in the dev check")
        add_synthetic_arguments(p)
        add_tuning_arguments(p)
        add_backbone_argument(p)

    def smoke(self, args: argparse.Namespace) -> None:
        args.refs, args.targets, args.min_gap, args.dev_pairs = 2, 2, 1, 2

    def prepare(self, args: argparse.Namespace, root: Path, train: list[str], dev: list[str]) -> dict:
        self.args = args
        self.steps_done, self.last_foreground = 0, 0  # this process's steps; the last that segmented something
        variant = backbone_variant(args.backbone)
        below = frozen_taps(args, "rtvos train plm", variant)[-1]  # checks --tune-blocks before anything is loaded
        self.train_frames = Frames.from_davis(root, train, args.max_frames, "loading train")
        self.synthetic = None
        info = {}
        lucid, ecssd = requested_clips(args)
        if lucid or ecssd:
            photos = EcssdDataset(args.ecssd_root) if ecssd else None
            # at the other trainers' default processing size: the same clips they see (their crops are a
            # little softer than the 480p DAVIS frames')
            size_hw = processing_size(*self.train_frames.images[0][0].shape[:2], DEFAULT_HEIGHT)
            clips = synthetic_clips(root, train, size_hw, lucid, ecssd, args.synthetic_len, args.seed, photos)
            self.synthetic = Frames.from_synthetic(clips, lucid + ecssd)
            info["synthetic"] = {"lucid": lucid, "ecssd": ecssd, "clip_len": args.synthetic_len,
                                 "size_hw": list(size_hw), "p": args.synthetic_p}
        # built here, before the loop seeds torch: building a backbone draws on torch's random state
        self.extract = TrainingExtractor(args.backend, below, variant)
        self.dev = []
        if dev:
            dev_frames = Frames.from_davis(root, dev, args.max_frames, "loading dev")
            dev_rng = np.random.default_rng(DEV_SEED)
            for _ in range(args.dev_pairs):
                q, s, y = dev_frames.sample(dev_rng, 1, args.targets, args.min_gap, args.full_frame_p)
                self.dev.append((q, s, torch.from_numpy(y)[:, None]))
        return info | {"dev_pairs": len(self.dev) * args.targets}

    def build(self, args: argparse.Namespace) -> PLMNet:
        self.net = PLMNet(hidden=args.hidden, dc_layers=args.dc_layers, skip=not args.no_skip,
                          tuned_blocks=args.tune_blocks, backbone=args.backbone)
        return self.net

    def param_groups(self, network: PLMNet) -> list[dict]:
        return tuned_param_groups(network, self.args.tune_lr)

    def step(self, rng: np.random.Generator) -> float:
        a = self.args
        frames = pick_source(self.train_frames, self.synthetic, a.synthetic_p, rng)
        q, s, y = frames.sample(rng, a.refs, a.targets, a.min_gap, a.full_frame_p)
        tuned = self.net.tuned
        logits = pair_logits(self.net, self.extract(q, tuned), self.extract(s, tuned), a.targets)
        loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(y)[:, None])
        loss.backward()
        self.steps_done += 1
        value = float(loss.detach())
        if not np.isfinite(value):
            raise SystemExit(f"rtvos train plm: the training loss is {value} at step {self.steps_done} of this run; "
                             f"start again with a lower --lr (here {a.lr})")
        if bool((logits.detach() > 0).any()):
            self.last_foreground = self.steps_done
        elif self.steps_done - self.last_foreground >= STUCK_STEPS:
            raise SystemExit(f"rtvos train plm: stuck: no output reached 0.5 in the last {STUCK_STEPS} steps "
                             f"(loss {value:.3f}), so the network segments nothing; start again with another "
                             f"--seed (seed {a.seed} here; a best.pt already in {a.out} is from a dev check before)")
        return value

    def evaluate(self) -> dict | None:
        return dev_scores(self.net, self.dev, self.args.targets, self.extract) if self.dev else None


def main(argv: list[str] | None = None) -> int:
    return loop.main(PLMTrainer(), argv, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    raise SystemExit(main())
