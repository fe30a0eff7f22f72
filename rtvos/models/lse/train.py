"""`rtvos train lse`: LSE's network in the paper's three stages (section 5.2), in the shared training loop
(rtvos.training.loop), on zoomed-in crops of composites made from the DAVIS train sequences and the ECSSD
photographs (rtvos.models.lse.samples; the backbone is frozen, its features cached once).

    rtvos train lse --split all --no-dev --steps 5600 --device cuda --davis-samples 3500 --ecssd-samples 3500 ...
                                         # the packaged network, on a GPU (lse.json; TRAIN_COMMAND has it all)
    rtvos train lse --smoke              # a run of seconds, for CI

--device cuda trains on a GPU (the crops are still made and cached on the CPU); on a machine the data
cannot be mounted on, train from the compact copy `python -m rtvos.training.bundle` makes.

Stages, by the share of the budget spent (--stages A,B): the first A train the trunk, the appearance
embedding and the location embedding (L_ae + L_le); the next B train the centre-map embedding and the
LSE head on them, the rest frozen (L_lse); the rest train everything, the foreground branch and the
fusion included (L_ae + L_le + L_lse + L_fg), at 2/3 of the learning rate (the paper's 1e-4 after
1.5e-4). Each stage has its own cosine schedule (one over the whole budget would leave the last stage,
where the foreground branch learns, a tenth of the rate). Dev check: J&F of `lse` started from each dev
sequence's first box, at the end.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np
import torch

from rtvos.evaluation.runner import evaluate
from rtvos.models.lse.geometry import STRIDE, offset_targets
from rtvos.models.lse.losses import stage_loss
from rtvos.models.lse.net import LSENetwork
from rtvos.models.lse.samples import build_lse_cache
from rtvos.training import loop
from rtvos.training.common import cosine
from rtvos.training.feature_cache import DEFAULT_CACHE_DIR

HERE = Path(__file__).resolve()
STAGE3_LR = 2 / 3


def batch(cache, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
    """Features, instance maps at strides 4 and 8, offset targets (stride 8) and where they are defined."""
    rows = np.sort(rows)
    f4, f8, f16 = (torch.from_numpy(np.ascontiguousarray(a[rows])).float() for a in (cache.f4, cache.f8, cache.f16))
    full = cache.masks[rows]
    inst4 = np.ascontiguousarray(full[:, STRIDE // 2::STRIDE, STRIDE // 2::STRIDE])
    inst8 = np.ascontiguousarray(full[:, STRIDE::2 * STRIDE, STRIDE::2 * STRIDE])
    targets = [offset_targets(inst) for inst in inst8]
    offsets = torch.from_numpy(np.stack([t[0] for t in targets]))
    valid = torch.from_numpy(np.stack([t[1] for t in targets]))
    return f4, f8, f16, torch.from_numpy(inst4).long(), torch.from_numpy(inst8).long(), offsets, valid


class LSETrainer(loop.Trainer):
    model = "lse"
    best_metric = "JF"
    lr, ckpt_every, log_every, eval_every = 1.5e-4, 50, 10, 0.0
    devices = ("cpu", "cuda")
    sources = (HERE, HERE.with_name("net.py"), HERE.with_name("losses.py"), HERE.with_name("samples.py"),
               HERE.with_name("geometry.py"))

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--cache-dir", type=Path, default=None, help=f"feature cache folder (default {DEFAULT_CACHE_DIR})")
        p.add_argument("--davis-samples", type=int, default=2000, help="training crops made from DAVIS train frames")
        p.add_argument("--ecssd-samples", type=int, default=2000, help="training crops made from ECSSD photographs")
        p.add_argument("--ecssd-root", type=Path, default=None, help="the ECSSD folder (default: $RTVOS_ECSSD_ROOT "
                       "or ../shared/data/ecssd)")
        p.add_argument("--batch", type=int, default=8, help="crops per step")
        p.add_argument("--stages", default="0.3,0.2", help="shares of the budget for stages 1 and 2 (the rest: 3)")
        p.add_argument("--dev-max-frames", type=int, default=None, help="dev check on the first N frames of each sequence")

    def smoke(self, args: argparse.Namespace) -> None:
        args.davis_samples, args.ecssd_samples, args.batch, args.no_dev = 4, 0, 2, True
        args.cache_dir = args.cache_dir or args.out / "cache"

    def prepare(self, args: argparse.Namespace, root: Path, train: list[str], dev: list[str]) -> dict:
        self.args, self.root, self.dev = args, root, dev
        try:
            s1, s2 = (float(v) for v in args.stages.split(","))
        except ValueError:
            raise SystemExit(f"rtvos train lse: --stages takes two shares, e.g. 0.4,0.2; got {args.stages!r}") from None
        if not (0 <= s1 and 0 <= s2 and s1 + s2 < 1):
            raise SystemExit("rtvos train lse: --stages: two shares >= 0 that add up to less than 1 (the rest is "
                             "stage 3, where the foreground branch learns)")
        self.bounds = (s1, s1 + s2)
        self.cache = build_lse_cache(root, train, args.davis_samples, args.ecssd_samples, args.seed,
                                     args.cache_dir or DEFAULT_CACHE_DIR, args.backend, args.ecssd_root)
        self.generator = torch.Generator().manual_seed(args.seed)
        return {"crops": len(self.cache.masks), "davis_samples": args.davis_samples,
                "ecssd_samples": args.ecssd_samples, "stages": list(self.bounds)}

    def build(self, args: argparse.Namespace) -> LSENetwork:
        self.network = LSENetwork()
        return self.network

    @property
    def stage(self) -> int:
        return 1 if self.progress < self.bounds[0] else 2 if self.progress < self.bounds[1] else 3

    def lr_factor(self, args: argparse.Namespace, step: int, elapsed: float) -> float:
        """Each stage: cosine decay from its own rate (stage 3: STAGE3_LR) to 10 % of it."""
        rate = STAGE3_LR if self.stage == 3 else 1.0
        if args.schedule == "constant":
            return rate
        a, b = ((0.0,) + self.bounds + (1.0,))[self.stage - 1:self.stage + 1]
        return rate * cosine((self.progress - a) / (b - a) if b > a else 1.0)

    def step(self, rng: np.random.Generator) -> float:
        stage, net = self.stage, self.network
        trained = {1: LSENetwork.STAGE1, 2: LSENetwork.STAGE2}.get(stage)
        for name, module in net.named_children():
            module.requires_grad_(trained is None or name in trained)
        rows = rng.choice(len(self.cache.masks), self.args.batch, replace=False)
        f4, f8, f16, inst4, inst8, offsets, valid = (t.to(self.device, non_blocking=True)
                                                     for t in batch(self.cache, rows))
        loss = stage_loss(stage, net, net(f4, f8, f16), inst4, inst8, offsets, valid, self.generator)
        loss.backward()
        return float(loss.detach())

    def evaluate(self) -> dict | None:
        if not self.dev:
            return None
        from rtvos.models.lse.segmenter import LSESegmenter  # noqa: PLC0415
        from rtvos.models.target import Target, boxes_of  # noqa: PLC0415

        frozen = copy.deepcopy(self.network).cpu().eval()  # the segmenter runs on the CPU
        summary = evaluate(lambda: LSESegmenter(net=frozen, progress=False), self.root, self.args.out / "dev",
                           sequences=list(self.dev), progress=False, max_frames=self.args.dev_max_frames,
                           init=lambda mask: Target.from_boxes(boxes_of(mask)))
        return {k: summary[k] for k in ("J", "F", "JF", "fps", "frames")}


def main(argv: list[str] | None = None) -> int:
    return loop.main(LSETrainer(), argv, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    raise SystemExit(main())
