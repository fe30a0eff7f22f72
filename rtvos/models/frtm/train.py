"""`rtvos train frtm`: FRTM's refinement network R on DAVIS (the backbone frozen but for the blocks R
owns with --tune-blocks), the way the paper does it: inside each training step a target model D is
learned on a reference frame, and R learns to turn D's coarse scores on other frames of the same
sequence into the fine mask.  Runs in the shared training loop (rtvos.training.loop).

    rtvos train frtm --split all --no-dev --steps 2700 --ecssd-clips 300 --tune-blocks 3 --tune-lr 0.3
                                         # the packaged R came from this (refiner.json; TRAIN_COMMAND)
    rtvos train frtm --smoke             # a run of seconds, for CI

- Features: the training feature cache (rtvos.training.feature_cache), shared with CRVOS's trainer;
  dev sequences are never trained on.
- Step: for each of --batch (sequence, variant) pairs, a reference frame r and --targets frames within
  --max-gap of it; D (c drawn from {32, 96}, 2-5 GN steps, so one R serves `frtm` and `frtm-fast`) is
  fitted on (f16[r], mask[r] at stride 16) by Gauss-Newton/CG without gradients; R(f4, f8, f16, D(f16))
  is trained with binary cross-entropy against the targets' masks. Adam, cosine decay over the budget.
- --tune-blocks N: R owns the backbone's last N blocks below the stride-16 features (net.py), which
  learn at --tune-lr of its rate; the cache holds the features below them, and each step runs them
  (the targets' with gradients, which reach them through R and through D's scores).
- --lucid-clips / --ecssd-clips: a --synthetic-p share of the steps draw their pairs from synthetic clips
  (rtvos.training.lucid, rtvos.training.ecssd) instead.
- Dev check: J&F of `frtm` on the dev split, at the end (--eval-every for more).
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rtvos.evaluation.runner import evaluate
from rtvos.models.frtm.net import RefinementNetwork
from rtvos.models.frtm.segmenter import FRTMSegmenter
from rtvos.models.frtm.target_model import TargetModel
from rtvos.models.shared.backbone import backbone_variant
from rtvos.training import loop
from rtvos.training.feature_cache import add_cache_arguments, cache_from_arguments, synthetic_from_arguments
from rtvos.training.synthetic import pick_source
from rtvos.training.tuned_blocks import add_backbone_argument, add_tuning_arguments, frozen_taps, tuned_param_groups

HERE = Path(__file__).resolve()


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


def stride16(refiner: RefinementNetwork, cached: np.ndarray) -> torch.Tensor:
    """The stride-16 features D and R see: the cached ones, through R's fine-tuned blocks if it has any."""
    f16 = torch.from_numpy(np.require(cached, requirements="CW")).float()  # memmap rows are read-only
    return f16 if refiner.tuned is None else refiner.tuned(f16)


def step_loss(refiner: RefinementNetwork, cache, pairs, rng: np.random.Generator) -> float:
    f4s, f8s, f16s, scores, masks = [], [], [], [], []
    for r, ts in pairs:
        with torch.no_grad():
            f16_r = stride16(refiner, cache.f16[r:r + 1])
        m_r = torch.from_numpy(np.array(cache.masks[r:r + 1])).float().div_(255)[:, None]
        tm = fit_target_model(f16_r, m_r, rng)
        rows = np.sort(ts)
        f16_t = stride16(refiner, cache.f16[rows])
        scores.append(tm(f16_t))  # D's weights are plain tensors: gradients reach tuned blocks only
        f4s.append(torch.from_numpy(np.ascontiguousarray(cache.f4[rows])).float())
        f8s.append(torch.from_numpy(np.ascontiguousarray(cache.f8[rows])).float())
        f16s.append(f16_t)
        masks.append(torch.from_numpy(np.ascontiguousarray(cache.masks[rows])).float().div_(255)[:, None])
    logits = refiner(torch.cat(f4s), torch.cat(f8s), torch.cat(f16s), torch.cat(scores))
    loss = F.binary_cross_entropy_with_logits(logits, (torch.cat(masks) >= 0.5).float())
    loss.backward()
    return float(loss.detach())


def dev_eval(refiner: RefinementNetwork, root: Path, sequences: list[str], out_dir: Path, max_frames: int | None) -> dict:
    """J&F of `frtm` (its default settings) with a copy of `refiner` on the dev sequences, without first-frame
    fine-tuning of R (seconds a sequence; the check compares what training learned)."""
    frozen = copy.deepcopy(refiner).eval()
    summary = evaluate(lambda: FRTMSegmenter(refiner=frozen, finetune_steps=0), root, out_dir,
                       sequences=list(sequences), progress=False, max_frames=max_frames)
    return {k: summary[k] for k in ("J", "F", "JF", "fps", "frames")}


class FRTMTrainer(loop.Trainer):
    model = "frtm"
    best_metric = "JF"
    lr, ckpt_every, log_every, eval_every = 1e-3, 50, 10, 0.0
    sources = (HERE, HERE.with_name("net.py"), HERE.with_name("target_model.py"), HERE.with_name("optimizer.py"),
               HERE.parents[1] / "shared" / "backbone.py")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_cache_arguments(p)
        p.add_argument("--batch", type=int, default=4, help="(reference, targets) pairs per step")
        p.add_argument("--targets", type=int, default=3, help="target frames per reference")
        p.add_argument("--max-gap", type=int, default=40, help="targets at most this many frames from the reference")
        p.add_argument("--dev-max-frames", type=int, default=None, help="dev check on the first N frames of each sequence")
        add_tuning_arguments(p)
        add_backbone_argument(p)

    def smoke(self, args: argparse.Namespace) -> None:
        args.variants, args.batch, args.targets, args.no_dev = 1, 2, 2, True
        args.cache_dir = args.cache_dir or args.out / "cache"

    def prepare(self, args: argparse.Namespace, root: Path, train: list[str], dev: list[str]) -> dict:
        self.args, self.root, self.dev = args, root, dev
        backbone = backbone_variant(args.backbone)
        taps = frozen_taps(args, "rtvos train frtm", backbone)
        self.cache, size_hw = cache_from_arguments(args, root, train, "rtvos train frtm", taps, backbone)
        self.synthetic = synthetic_from_arguments(args, root, train, size_hw, taps, backbone)
        info = {"processing_hw": list(size_hw), "cache": {"frames": len(self.cache.masks), "variants": args.variants}}
        if self.synthetic is not None:
            info["synthetic"] = {"lucid": args.lucid_clips, "ecssd": args.ecssd_clips,
                                 "frames": len(self.synthetic.masks), "p": args.synthetic_p}
        return info

    def build(self, args: argparse.Namespace) -> RefinementNetwork:
        self.refiner = RefinementNetwork(tuned_blocks=args.tune_blocks, backbone=args.backbone)
        return self.refiner

    def param_groups(self, network: RefinementNetwork) -> list[dict]:
        return tuned_param_groups(network, self.args.tune_lr)

    def step(self, rng: np.random.Generator) -> float:
        a = self.args
        source = pick_source(self.cache, self.synthetic, a.synthetic_p, rng)
        return step_loss(self.refiner, source, sample_pairs(source, a.batch, a.targets, a.max_gap, rng), rng)

    def evaluate(self) -> dict | None:
        if not self.dev:
            return None
        return dev_eval(self.refiner, self.root, self.dev, self.args.out / "dev", self.args.dev_max_frames)


def main(argv: list[str] | None = None) -> int:
    return loop.main(FRTMTrainer(), argv, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    raise SystemExit(main())
