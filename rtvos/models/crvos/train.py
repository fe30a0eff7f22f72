"""`rtvos train crvos`: the CRVOS decoder on DAVIS (the EfficientNet-Lite0 backbone is frozen but for the
blocks a decoder owns with --tune-blocks), in the shared training loop (rtvos.training.loop).

    rtvos train crvos --split all --no-dev --steps 800 --lr 1e-3 --clue-prior --tune-blocks 3 --tune-lr 0.3
                                         # the packaged decoder came from this (crvos.json; TRAIN_COMMAND)
    rtvos train crvos --smoke            # a run of seconds, for CI

1. **Feature cache** (rtvos.training.feature_cache): backbone features and soft masks of every train
   frame under --variants fixed augmentation variants, computed once and reused by later runs.  With
   --tune-blocks N the cache holds the features below the backbone's last N stride-16 blocks, which
   the decoder owns and fine-tunes at --tune-lr of its learning rate.
2. **Recurrent clips.**  A batch of clips of --clip-len frames (random sequence, variant, start, and
   frame step 1..--max-step to simulate faster motion).  Frame 0's ground truth is the first Clue;
   after that the model's own detached foreground probability is.  With some probability a Clue is
   perturbed (shifted, dilated or eroded) so the model learns to correct drift.  With --mosaic-p, a
   clip is two clips side by side and only one's object is the target (`mosaic_clips`): the other,
   as salient, is background, told apart only by the Clue.  Cross-entropy (NLL of the softmax) on
   frames 1.. at the processing resolution; Adam; cosine decay of the learning rate over the run's
   budget.  --lucid-clips and --ecssd-clips add synthetic clips (rtvos.training.lucid,
   rtvos.training.ecssd), a --synthetic-p share of the steps.
3. **Dev check**: J&F of `crvos` on the dev split every --eval-every minutes; the best is kept.

The dev sequences are never trained on.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rtvos.models.crvos.net import CRVOSDecoder, make_clue, perturb_masks
from rtvos.models.crvos.segmenter import CRVOSSegmenter, load_decoder
from rtvos.models.shared.backbone import Backbone
from rtvos.training import loop
from rtvos.training.feature_cache import (
    FeatureCache,
    add_cache_arguments,
    cache_from_arguments,
    synthetic_from_arguments,
)
from rtvos.training.synthetic import pick_source
from rtvos.training.tuned_blocks import add_tuning_arguments, frozen_taps, tuned_param_groups

HERE = Path(__file__).resolve()


# ------------------------------------------------------------------------------------------ clips
def sample_clips(cache: FeatureCache, batch: int, clip_len: int, max_step: int, rng: np.random.Generator,
                 min_area: float = 20.0) -> np.ndarray:
    """(batch, clip_len) cache rows: random block (sequence and variant), frame step 1..max_step, start;
    clips whose first frame shows less than `min_area` foreground pixels are redrawn."""
    rows = []
    while len(rows) < batch:
        _, _, first, length = cache.blocks[rng.integers(len(cache.blocks))]
        top_step = max(1, min(max_step, (length - 1) // max(1, clip_len - 1)))
        step = int(rng.integers(1, top_step + 1))
        span = (clip_len - 1) * step
        if span >= length:
            continue
        start = first + int(rng.integers(0, length - span))
        if cache.area[start] < min_area:
            continue
        rows.append(start + step * np.arange(clip_len))
    return np.stack(rows)


def load_clips(cache: FeatureCache, rows: np.ndarray) -> tuple[torch.Tensor, ...]:
    """Tensors (T, B, ...) for f4, f8, f16 (float32) and the soft masks (float 0..1, T x B x 1 x H x W)."""
    flat = rows.T.reshape(-1)
    t, b = rows.shape[1], rows.shape[0]

    def take(a: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(a[flat])).float()
        return x.view(t, b, *x.shape[1:])

    masks = take(cache.masks).div_(255.0).unsqueeze(2)
    return take(cache.f4), take(cache.f8), take(cache.f16), masks


def object_columns(masks: torch.Tensor, px: int) -> tuple[int, int] | None:
    """First and last stride-16 column (`px` mask columns each) where a clip's masks (T x 1 x H x W)
    show the object in any frame; None if they never do."""
    cols = np.flatnonzero((masks >= 0.5).any(dim=0).any(dim=0).any(dim=0).numpy())
    return (int(cols[0]) // px, int(cols[-1]) // px) if len(cols) else None


def mosaic_clips(clips: tuple[torch.Tensor, ...], others: tuple[torch.Tensor, ...], p: float,
                 rng: np.random.Generator, margin: int = 1) -> tuple[torch.Tensor, ...]:
    """With probability `p` per clip: the clip cut at a column, its object's side kept and the other side
    filled from `others`' clip (same frames), rotated sideways so that clip's object is there too
    (columns leaving one edge come back at the other) -- and is background (the masks are zeroed on
    that side). A decoder that segments whatever stands out is wrong on these clips; one that follows
    the Clue is right. Without them, DAVIS's one salient object per frame teaches the decoder to ignore
    the Clue (measured: its output hardly changes when the Clue is emptied or moved).

    Cuts and moves are whole stride-16 columns, so every level is cut at the same place and the moved
    features stay on the backbone's grid. The cut keeps `margin` columns clear of the object's extent
    over the whole clip, within the middle 4/6 of the width; a clip whose object leaves no such room is
    kept whole. Tensors as `load_clips` gives them."""
    if p <= 0:
        return clips
    out = tuple(x.clone() for x in clips)
    w16 = clips[2].shape[-1]
    px = clips[3].shape[-1] // w16  # mask columns per stride-16 column
    lo, hi = w16 // 6, w16 - w16 // 6
    for i in range(clips[3].shape[1]):
        if rng.random() >= p:
            continue
        extent = object_columns(clips[3][:, i], px)
        if extent is None:
            continue
        options = [(c, True) for c in range(max(lo, extent[1] + 1 + margin), hi + 1)]  # cut right of the object
        options += [(c, False) for c in range(lo, min(hi, extent[0] - margin) + 1)]   # cut left of it
        if not options:
            continue
        cut, left = options[int(rng.integers(len(options)))]
        other = object_columns(others[3][:, i], px)
        shift = 0
        if other is not None:  # the other object's centre to the middle of its side
            shift = round(((cut + w16) / 2 if left else cut / 2) - (other[0] + other[1] + 1) / 2)
        for k, (x, y) in enumerate(zip(out, others)):
            scale = x.shape[-1] // w16
            y = torch.zeros_like(y[:, i]) if k == 3 else torch.roll(y[:, i], shift * scale, dims=-1)
            c = cut * scale
            if left:
                x[:, i, ..., c:] = y[..., c:]
            else:
                x[:, i, ..., :c] = y[..., :c]
    return out


def clip_loss(decoder: CRVOSDecoder, clips: tuple[torch.Tensor, ...], rng: np.random.Generator,
              perturb_first: float, perturb_later: float, bf16: bool = False) -> float:
    """Run a batch of clips recurrently and back-propagate the cross-entropy of frames 1..T-1 (each
    frame's graph is separate -- the Clue is detached -- so backward runs per frame).  Returns the mean loss."""
    f4, f8, f16, masks = clips
    steps = masks.shape[0] - 1
    feat16_hw = tuple(f16.shape[-2:])
    prev = perturb_masks(masks[0], perturb_first, rng)
    total = 0.0
    for t in range(1, steps + 1):
        clue = make_clue(prev, feat16_hw)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = decoder(f4[t], f8[t], f16[t], clue)
        logits = logits.float()
        target = (masks[t, :, 0] >= 0.5).long()
        loss = F.cross_entropy(logits, target) / steps
        loss.backward()
        total += float(loss.detach()) * steps
        prev = perturb_masks(torch.softmax(logits.detach(), dim=1)[:, 1:2], perturb_later, rng)
    return total / steps


def dev_eval(decoder: CRVOSDecoder, backbone: Backbone, root: Path, sequences: list[str], out_dir: Path,
             height: int, max_frames: int | None) -> dict:
    """J&F of a copy of `decoder` on the dev sequences (backbone via ONNX Runtime, decoder eager), without
    first-frame fine-tuning (seconds a sequence; the check compares what training learned)."""
    from rtvos.evaluation.runner import evaluate

    frozen = copy.deepcopy(decoder).eval()  # the torch engine switches its module to eval/channels_last
    summary = evaluate(lambda: CRVOSSegmenter(backbone=backbone, decoder=frozen, height=height, decoder_backend="torch",
                                              precision="fp32", finetune_steps=0),
                       root, out_dir, sequences=list(sequences), progress=False, max_frames=max_frames)
    return {k: summary[k] for k in ("J", "F", "JF", "fps", "frames")} | {
        "per_sequence": {s: round((v["J"] + v["F"]) / 2, 4) for s, v in summary["sequences"].items()}}


class CRVOSTrainer(loop.Trainer):
    model = "crvos"
    best_metric = "JF"
    lr, ckpt_every, log_every, eval_every = 1e-4, 50, 10, 8.0
    sources = (HERE, HERE.with_name("net.py"), HERE.with_name("segmenter.py"),
               HERE.parents[1] / "shared" / "backbone.py")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        add_cache_arguments(p)
        p.add_argument("--clip-len", type=int, default=8, help="frames per training clip, run recurrently (default 8)")
        p.add_argument("--max-step", type=int, default=3, help="frame step drawn from 1..N per clip")
        p.add_argument("--batch", type=int, default=4, help="clips per step")
        p.add_argument("--perturb-first", type=float, default=0.5, help="probability of perturbing a clip's first Clue")
        p.add_argument("--perturb-later", type=float, default=0.1, help="probability of perturbing each later Clue")
        p.add_argument("--clue-prior", action="store_true",
                       help="a decoder whose logits add the Clue's log-odds, learned scale (net.py)")
        add_tuning_arguments(p)
        p.add_argument("--mosaic-p", type=float, default=0.0,
                       help="share of clips made of two side by side, one's object the target (default 0)")
        p.add_argument("--bf16", action="store_true", help="bf16 autocast for the decoder forward (CPU)")
        p.add_argument("--init", type=Path, default=None, help="start from these decoder weights (e.g. rtvos/models/crvos/crvos.pt)")
        p.add_argument("--dev-max-frames", type=int, default=None, help="dev check on the first N frames of each sequence")

    def smoke(self, args: argparse.Namespace) -> None:
        args.variants, args.batch, args.no_dev = 1, 2, True
        args.lucid_clips, args.synthetic_len = 2, args.clip_len
        args.cache_dir = args.cache_dir or args.out / "cache"

    def prepare(self, args: argparse.Namespace, root: Path, train: list[str], dev: list[str]) -> dict:
        if (args.lucid_clips > 0 or args.ecssd_clips > 0) and args.synthetic_len < args.clip_len:
            raise SystemExit(f"rtvos train crvos: --synthetic-len ({args.synthetic_len}) must be >= --clip-len "
                             f"({args.clip_len})")
        self.args, self.root, self.dev = args, root, dev
        taps = frozen_taps(args, "rtvos train crvos")  # the features the decoder takes
        self.cache, size_hw = cache_from_arguments(args, root, train, "rtvos train crvos", taps)
        info = {"processing_hw": list(size_hw), "cache": {"frames": len(self.cache.masks), "bytes": self.cache.nbytes,
                                                           "variants": args.variants}}
        self.synthetic = synthetic_from_arguments(args, root, train, size_hw, taps)
        if self.synthetic is not None:
            info["synthetic"] = {"lucid": args.lucid_clips, "ecssd": args.ecssd_clips,
                                 "frames": len(self.synthetic.masks), "p": args.synthetic_p}
        self.backbone = Backbone(taps=taps) if dev else None
        return info

    def build(self, args: argparse.Namespace) -> CRVOSDecoder:
        self.decoder = CRVOSDecoder(clue_prior=args.clue_prior, tuned_blocks=args.tune_blocks)
        if args.init is not None:  # a decoder without the Clue prior or tuned blocks may start one with them
            init = load_decoder(args.init)
            if init.tuned is not None and init.config["tuned_blocks"] != args.tune_blocks:
                raise SystemExit(f"rtvos train crvos: --init {args.init} fine-tuned {init.config['tuned_blocks']} "
                                 f"backbone blocks, not --tune-blocks {args.tune_blocks}")
            missing, unexpected = self.decoder.load_state_dict(init.state_dict(), strict=False)
            if unexpected or {m for m in missing if m != "prior_scale" and not m.startswith("tuned.")}:
                raise SystemExit(f"rtvos train crvos: --init {args.init} does not fit this decoder "
                                 f"(missing {missing}, unexpected {unexpected}); --clue-prior and --tune-blocks "
                                 f"must match")
        return self.decoder

    def param_groups(self, network: CRVOSDecoder) -> list[dict]:
        return tuned_param_groups(network, self.args.tune_lr)

    def step(self, rng: np.random.Generator) -> float:
        a = self.args
        source = pick_source(self.cache, self.synthetic, a.synthetic_p, rng)
        clips = load_clips(source, sample_clips(source, a.batch, a.clip_len, a.max_step, rng))
        if a.mosaic_p > 0:
            others = load_clips(source, sample_clips(source, a.batch, a.clip_len, a.max_step, rng))
            clips = mosaic_clips(clips, others, a.mosaic_p, rng)
        return clip_loss(self.decoder, clips, rng, a.perturb_first, a.perturb_later, a.bf16)

    def evaluate(self) -> dict | None:
        if not self.dev:
            return None
        return dev_eval(self.decoder, self.backbone, self.root, self.dev, self.args.out / "dev-eval", self.args.height,
                        self.args.dev_max_frames)


def main(argv: list[str] | None = None) -> int:
    return loop.main(CRVOSTrainer(), argv, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    raise SystemExit(main())
