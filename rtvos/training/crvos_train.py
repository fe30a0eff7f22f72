"""Train the CRVOS decoder on DAVIS (the EfficientNet-Lite0 backbone is frozen).

    python -m rtvos.training.crvos_train --davis-root ../shared/data/davis2016-train --minutes 60
    python -m rtvos.training.crvos_train --smoke          # tiny end-to-end run (< 1 min), for CI

1. **Feature cache.**  The backbone never changes, so its features (f4, f8, f16, fp16) and the soft
   masks are computed once for every train frame under V fixed augmentation variants per sequence
   (variant 0 = identity; the others one random affine per (sequence, variant) -- horizontal flip,
   rotation +-30 deg, shear +-30 deg, scale 0.75-1.25, as in the paper -- applied to every frame of
   the sequence, so motion stays coherent).  Stored as .npy memmaps under --cache-dir and reused by
   later runs with the same settings; the OS page cache keeps them in RAM.
2. **Recurrent clips.**  A batch of clips of --clip-len frames (random sequence, variant, start, and
   frame step 1..--max-step to simulate faster motion).  Frame 0's ground truth is the first Clue;
   after that the model's own detached foreground probability is.  With some probability a Clue is
   perturbed (shifted, dilated or eroded) so the model learns to correct drift.  Cross-entropy (NLL of
   the softmax) on frames 1.. at the processing resolution; Adam; cosine decay of the learning rate
   over the run's budget (--minutes or --steps).
3. **Bookkeeping.**  JSONL log (<out>/log.jsonl) of the loss and of periodic dev-split J&F from
   `rtvos.evaluation.runner.evaluate`; <out>/last.pt (decoder + optimizer + sampler state, for
   --resume) every --ckpt-every steps; <out>/best.pt (decoder state dict only) + <out>/best.json (the
   exact command, split, settings, steps, dev scores, versions, source hashes) for the best dev J&F.

The dev sequences are never trained on.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from rtvos.evaluation.davis import DavisDataset
from rtvos.segmenters.backbone import Backbone, preprocess
from rtvos.segmenters.backbone import processing_size
from rtvos.training.common import (RunLog, add_run_arguments, command_line, default_davis_root, file_sha256,
                                   lr_factor, provenance, save_atomic, settings, small_state_dict, split_sequences)
from rtvos.segmenters.crvos import FEATURE_CHANNELS, TAPS, CRVOSDecoder, CRVOSSegmenter, load_decoder, make_clue

FILL_RGB = (124, 116, 104)  # ImageNet mean colour for pixels an affine warp brings in from outside
CACHE_VERSION = 1
HERE = Path(__file__).resolve()
SOURCES = [HERE, HERE.parents[1] / "segmenters" / "crvos.py", HERE.parents[1] / "segmenters" / "backbone.py"]


# ------------------------------------------------------------------------------------ augmentation
def variant_affine(size_hw: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A 2x3 affine about the image centre: flip (p=0.5), rotation +-30 deg, shear +-30 deg, scale 0.75-1.25."""
    h, w = size_hw
    angle = math.radians(rng.uniform(-30, 30))
    shear = math.tan(math.radians(rng.uniform(-30, 30)))
    scale = rng.uniform(0.75, 1.25)
    flip = -1.0 if rng.random() < 0.5 else 1.0
    c, s = math.cos(angle), math.sin(angle)
    linear = scale * np.array([[c, -s], [s, c]]) @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([flip, 1.0])
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    return np.hstack([linear, (centre - linear @ centre)[:, None]]).astype(np.float64)


def warp(image: np.ndarray, mask: np.ndarray, m: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Apply the affine `m` (None = identity) to an RGB image and its float mask (same size)."""
    if m is None:
        return image, mask
    h, w = mask.shape
    image = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=FILL_RGB)
    mask = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return image, mask


# ----------------------------------------------------------------------------------- feature cache
@dataclass
class FeatureCache:
    """Backbone features and soft masks of every (sequence, variant, frame), frames of a block adjacent.

    f4/f8/f16: (N, C, h, w) float16; masks: (N, H, W) uint8 soft foreground (0..255); area: (N,)
    foreground pixels at the processing size; blocks: (sequence, variant, first row, length)."""

    f4: np.ndarray
    f8: np.ndarray
    f16: np.ndarray
    masks: np.ndarray
    area: np.ndarray
    blocks: list[tuple[str, int, int, int]]

    @property
    def bytes_per_frame(self) -> int:
        return sum(a[0].nbytes for a in (self.f4, self.f8, self.f16, self.masks))

    @property
    def nbytes(self) -> int:
        return self.bytes_per_frame * len(self.masks)


def _cache_key(root: Path, sequences: list[str], size_hw, variants: int, seed: int, max_frames: int | None) -> dict:
    return {"version": CACHE_VERSION, "root": str(Path(root).resolve()), "sequences": list(sequences),
            "size_hw": list(size_hw), "variants": variants, "seed": seed, "max_frames": max_frames,
            "taps": list(TAPS)}


CACHE_ARRAYS = ("f4", "f8", "f16", "masks", "area")


def _load_cache(folder: Path) -> FeatureCache | None:
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in CACHE_ARRAYS}
    return FeatureCache(**arrays, blocks=[tuple(b) for b in meta["blocks"]])


class _CacheWriter:
    """Fills a new cache folder row by row (backbone features + soft mask of one image each)."""

    def __init__(self, folder: Path, n: int, size_hw: tuple[int, int], backend: str):
        from rtvos.engines import load_engine

        h, w = size_hw
        self.folder, self.size_hw = folder, size_hw
        folder.mkdir(parents=True, exist_ok=True)
        shapes = {"f4": (n, FEATURE_CHANNELS[0], h // 4, w // 4), "f8": (n, FEATURE_CHANNELS[1], h // 8, w // 8),
                  "f16": (n, FEATURE_CHANNELS[2], h // 16, w // 16), "masks": (n, h, w), "area": (n,)}
        dtypes = {"f4": np.float16, "f8": np.float16, "f16": np.float16, "masks": np.uint8, "area": np.float32}
        self.arrays = {k: np.lib.format.open_memmap(folder / f"{k}.npy", mode="w+", dtype=dtypes[k], shape=shapes[k])
                       for k in CACHE_ARRAYS}
        # fp32 graph: the cache holds the features training sees, not an INT8 approximation of them
        self.engine = load_engine(Backbone(taps=TAPS), (1, 3, h, w), backend)

    def write(self, row: int, image: np.ndarray, mask: np.ndarray) -> None:
        f4, f8, f16 = self.engine(preprocess(image, self.size_hw))
        a = self.arrays
        a["f4"][row], a["f8"][row], a["f16"][row] = (t[0].numpy().astype(np.float16) for t in (f4, f8, f16))
        a["masks"][row] = np.clip(np.rint(mask * 255), 0, 255).astype(np.uint8)
        a["area"][row] = float(mask.sum())

    def finish(self, key: dict, blocks: list) -> FeatureCache:
        for a in self.arrays.values():
            a.flush()
        meta_path = self.folder / "meta.json"
        tmp = meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, "blocks": blocks}, indent=1))
        os.replace(tmp, meta_path)  # the cache counts as complete only once meta.json exists
        return _load_cache(self.folder)


def _folder(cache_dir: Path, name: str, key: dict) -> Path:
    """<cache_dir>/<name>-<digest of key>: a cache folder, new whenever the key changes."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{name}-{digest}"


def build_cache(root: Path, sequences: list[str], size_hw: tuple[int, int], variants: int, seed: int,
                cache_dir: Path, backend: str = "auto", max_frames: int | None = None,
                progress: bool = True) -> FeatureCache:
    """Load the cache from `cache_dir` when its key matches, else compute it (tqdm bar) and store it."""
    key = _cache_key(root, sequences, size_hw, variants, seed, max_frames)
    folder = _folder(cache_dir, f"crvos-{size_hw[0]}x{size_hw[1]}-v{variants}", key)
    cached = _load_cache(folder)
    if cached is not None:
        return cached
    dataset = DavisDataset(root)
    seqs = [dataset.sequence(s) for s in sequences]
    lengths = [len(s) if max_frames is None else min(len(s), max_frames) for s in seqs]
    n = sum(lengths) * variants
    h, w = size_hw
    writer = _CacheWriter(folder, n, size_hw, backend)
    blocks, row = [], 0
    with tqdm(total=n, desc="caching features", unit="frame", disable=not progress) as bar:
        for si, (seq, length) in enumerate(zip(seqs, lengths)):
            rng = np.random.default_rng([seed, si])
            affines = [None] + [variant_affine(size_hw, rng) for _ in range(variants - 1)]
            starts = [row + v * length for v in range(variants)]
            blocks += [(seq.name, v, starts[v], length) for v in range(variants)]
            for i in range(length):
                image = cv2.resize(seq.load_frame(i), (w, h), interpolation=cv2.INTER_AREA)
                fg = (seq.load_mask(i) > 0).astype(np.float32)  # DAVIS 2016: one object
                fg = cv2.resize(fg, (w, h), interpolation=cv2.INTER_AREA)
                for v, m in enumerate(affines):
                    writer.write(starts[v] + i, *warp(image, fg, m))
                    bar.update(1)
            row += length * variants
    return writer.finish(key, blocks)


def build_lucid_cache(root: Path, sequences: list[str], size_hw: tuple[int, int], clips: int, clip_len: int,
                      seed: int, cache_dir: Path, backend: str = "auto", progress: bool = True) -> FeatureCache:
    """Features of `clips` synthetic clips (`rtvos.training.lucid`) of `clip_len` frames, made from the
    train sequences only; cached like `build_cache`."""
    from rtvos.training.lucid import lucid_clip

    key = {"version": CACHE_VERSION, "kind": "lucid-v1", "root": str(Path(root).resolve()), "sequences": list(sequences),
           "size_hw": list(size_hw), "clips": clips, "clip_len": clip_len, "seed": seed, "taps": list(TAPS)}
    folder = _folder(cache_dir, f"lucid-{size_hw[0]}x{size_hw[1]}", key)
    cached = _load_cache(folder)
    if cached is not None:
        return cached
    dataset = DavisDataset(root)
    seqs = [dataset.sequence(s) for s in sequences]
    h, w = size_hw
    rng = np.random.default_rng([seed, 7])
    writer = _CacheWriter(folder, clips * clip_len, size_hw, backend)

    def frame(seq, i):
        image = cv2.resize(seq.load_frame(i), (w, h), interpolation=cv2.INTER_AREA)
        mask = cv2.resize((seq.load_mask(i) > 0).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        return image, mask

    blocks = []
    with tqdm(total=clips * clip_len, desc="caching lucid clips", unit="frame", disable=not progress) as bar:
        for c in range(clips):
            while True:
                a = int(rng.integers(len(seqs)))
                image, mask = frame(seqs[a], int(rng.integers(len(seqs[a]))))
                if mask.mean() >= 0.01:
                    break
            b = int(rng.choice([i for i in range(len(seqs)) if i != a] or [a]))
            background, _ = frame(seqs[b], int(rng.integers(len(seqs[b]))))
            images, masks = lucid_clip(image, mask, background, clip_len, rng)
            for i, (im, mk) in enumerate(zip(images, masks)):
                writer.write(c * clip_len + i, im, mk)
                bar.update(1)
            blocks.append((f"lucid:{seqs[a].name}@{seqs[b].name}", c, c * clip_len, clip_len))
    return writer.finish(key, blocks)


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


def perturb_masks(prob: torch.Tensor, p: float, rng: np.random.Generator, max_shift: float = 0.08,
                  max_kernel: int = 15) -> torch.Tensor:
    """With probability `p` per sample: shift (up to `max_shift` of the size) and dilate or erode
    (square kernel up to `max_kernel`) a Bx1xHxW soft mask -- a drifting Clue to learn to correct."""
    if p <= 0:
        return prob
    out = prob.clone()
    h, w = prob.shape[-2:]
    for i in range(prob.shape[0]):
        if rng.random() >= p:
            continue
        m = out[i:i + 1]
        dy, dx = (int(rng.integers(-int(max_shift * s), int(max_shift * s) + 1)) for s in (h, w))
        m = torch.roll(m, shifts=(dy, dx), dims=(2, 3))
        if dy > 0:
            m[..., :dy, :] = 0
        elif dy < 0:
            m[..., dy:, :] = 0
        if dx > 0:
            m[..., :, :dx] = 0
        elif dx < 0:
            m[..., :, dx:] = 0
        k = int(rng.integers(1, max_kernel // 2 + 1)) * 2 + 1
        if rng.random() < 0.5:
            m = F.max_pool2d(m, k, stride=1, padding=k // 2)
        else:
            m = -F.max_pool2d(-m, k, stride=1, padding=k // 2)
        out[i:i + 1] = m
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


# --------------------------------------------------------------------------------------- dev eval
def dev_eval(decoder: CRVOSDecoder, backbone: Backbone, root: Path, sequences: list[str], out_dir: Path,
             height: int, max_frames: int | None) -> dict:
    """J&F of a copy of `decoder` on the dev sequences (backbone via ONNX Runtime, decoder eager)."""
    from rtvos.evaluation.runner import evaluate

    frozen = copy.deepcopy(decoder).eval()  # the torch engine switches its module to eval/channels_last
    summary = evaluate(lambda: CRVOSSegmenter(backbone=backbone, decoder=frozen, height=height, decoder_backend="torch",
                                              precision="fp32"),
                       root, out_dir, sequences=list(sequences), progress=False, max_frames=max_frames)
    return {k: summary[k] for k in ("J", "F", "JF", "fps", "frames")} | {
        "per_sequence": {s: round((v["J"] + v["F"]) / 2, 4) for s, v in summary["sequences"].items()}}


# ------------------------------------------------------------------------------------ bookkeeping
# ------------------------------------------------------------------------------------------- main
def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--cache-dir", type=Path, default=None, help="feature cache folder, reused across runs (default runs/cache; --smoke: <out>/cache)")
    p.add_argument("--height", type=int, default=256, help="processing height (multiple of 32); width from the aspect ratio")
    p.add_argument("--variants", type=int, default=6, help="augmentation variants per sequence (0 = identity)")
    p.add_argument("--clip-len", type=int, default=8)
    p.add_argument("--max-step", type=int, default=3, help="frame step drawn from 1..N per clip")
    p.add_argument("--batch", type=int, default=4, help="clips per step")
    p.add_argument("--perturb-first", type=float, default=0.5, help="probability of perturbing a clip's first Clue")
    p.add_argument("--perturb-later", type=float, default=0.1, help="probability of perturbing each later Clue")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast for the decoder forward (CPU)")
    p.add_argument("--lucid-clips", type=int, default=0, help="synthetic 'lucid dreaming' clips to add (0 = none; see rtvos/training/lucid.py)")
    p.add_argument("--lucid-len", type=int, default=12, help="frames per synthetic clip (>= --clip-len)")
    p.add_argument("--lucid-p", type=float, default=0.3, help="share of steps whose batch comes from the synthetic clips")
    p.add_argument("--init", type=Path, default=None, help="start from these decoder weights (e.g. rtvos/checkpoints/crvos.pt)")
    p.add_argument("--eval-every", type=float, default=8.0, help="dev eval every N minutes (<= 0: only at the end)")
    p.add_argument("--dev-max-frames", type=int, default=None, help="dev eval on the first N frames of each sequence")
    p.add_argument("--no-dev", action="store_true", help="no dev eval (best = last)")
    return add_run_arguments(p, "crvos", lr=1e-4, ckpt_every=50, log_every=10,
                             smoke="tiny run for CI: 2 sequences x 8 frames, V=1, 3 steps, temp dir")


def _apply_smoke(args) -> None:
    args.max_frames, args.variants, args.steps, args.minutes = 8, 1, 3, None
    args.batch, args.no_dev, args.backend, args.ckpt_every, args.log_every = 2, True, "torch", 2, 1
    args.lucid_clips, args.lucid_len = 2, args.clip_len
    args.out = args.out or Path(tempfile.mkdtemp(prefix="crvos-smoke-"))
    args.cache_dir = args.cache_dir or args.out / "cache"
    args.resume = None


def main(argv: list[str] | None = None) -> int:
    """`python -m rtvos.training.crvos_train [options]`."""
    parser = argparse.ArgumentParser(prog="rtvos train crvos", description=__doc__.split("\n\n")[0])
    args = add_arguments(parser).parse_args(argv)
    command = command_line("rtvos.training.crvos_train", argv)
    return run(args, command)


def run(args: argparse.Namespace, command: str | None = None) -> int:
    """Train with parsed arguments (`add_arguments`'s); the entry point for a CLI sub-command.
    `command` is recorded in the log and the sidecar (default: this process's command line)."""
    command = command or shlex.join(sys.argv)
    if args.smoke:
        _apply_smoke(args)
    args.out = args.out or Path("runs/crvos")
    args.cache_dir = args.cache_dir or Path("runs/cache")
    if args.minutes is None and args.steps is None:
        raise SystemExit("rtvos train crvos: give a budget: --minutes and/or --steps")
    if args.height % 32:
        raise SystemExit(f"rtvos train crvos: --height must be a multiple of 32, got {args.height}")
    torch.set_num_threads(args.threads)
    root = args.davis_root or default_davis_root()
    train_seqs, dev_seqs = split_sequences(root, "rtvos train crvos")
    if args.smoke:
        train_seqs = train_seqs[:2]
    first = DavisDataset(root).sequence(train_seqs[0]).load_frame(0)
    size_hw = processing_size(*first.shape[:2], args.height)
    args.out.mkdir(parents=True, exist_ok=True)
    log = RunLog(args.out / "log.jsonl")

    t0 = time.monotonic()
    cache = build_cache(root, train_seqs, size_hw, args.variants, args.seed, args.cache_dir, args.backend, args.max_frames)
    cache_info = {"frames": len(cache.masks), "bytes_per_frame": cache.bytes_per_frame, "bytes": cache.nbytes,
                  "variants": args.variants, "size_hw": list(size_hw), "seconds": round(time.monotonic() - t0, 1)}
    print(f"cache: {cache_info['frames']} frames x {cache.bytes_per_frame / 1e3:.0f} kB = {cache.nbytes / 1e9:.2f} GB",
          file=sys.stderr)

    lucid = None
    if args.lucid_clips > 0:
        if args.lucid_len < args.clip_len:
            raise SystemExit(f"rtvos train crvos: --lucid-len ({args.lucid_len}) must be >= --clip-len ({args.clip_len})")
        lucid = build_lucid_cache(root, train_seqs, size_hw, args.lucid_clips, args.lucid_len, args.seed,
                                  args.cache_dir, args.backend)
        cache_info["lucid"] = {"clips": args.lucid_clips, "frames": len(lucid.masks), "p": args.lucid_p}

    torch.manual_seed(args.seed)
    decoder = CRVOSDecoder()
    if args.init is not None:
        decoder.load_state_dict(load_decoder(args.init).state_dict())
    optimizer = torch.optim.Adam(decoder.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    step, elapsed, best = 0, 0.0, {"JF": -1.0}
    if args.resume is not None:
        path = Path(args.resume) if args.resume else args.out / "last.pt"
        state = torch.load(path, map_location="cpu", weights_only=False)
        decoder.load_state_dict(state["decoder"])
        optimizer.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        step, elapsed, best = state["step"], state["elapsed"], state["best"]
        print(f"resumed from {path} at step {step} ({elapsed / 60:.1f} min)", file=sys.stderr)
    log.write(type="start", command=command, step=step, train=train_seqs, dev=dev_seqs, cache=cache_info,
              settings=settings(args))
    backbone = None if args.no_dev else Backbone(taps=TAPS)

    def save_last() -> None:
        save_atomic({"decoder": decoder.state_dict(), "optimizer": optimizer.state_dict(), "rng": rng.bit_generator.state,
                     "step": step, "elapsed": elapsed, "best": best}, args.out / "last.pt")

    def write_best(scores: dict | None) -> None:
        save_atomic(small_state_dict(decoder), args.out / "best.pt")
        sidecar = {
            "model": "crvos", "command": command, "step": step, "train_minutes": round(elapsed / 60, 2),
            "dev": scores, "data": {"davis_root": str(root), "train_sequences": train_seqs, "dev_sequences": dev_seqs},
            "settings": settings(args),
            "processing_hw": list(size_hw), "cache": cache_info,
            "decoder_parameters": sum(p.numel() for p in decoder.parameters()),
            "checkpoint_sha256": file_sha256(args.out / "best.pt"), "provenance": provenance(SOURCES),
        }
        (args.out / "best.json").write_text(json.dumps(sidecar, indent=1))

    def evaluate_now() -> None:
        nonlocal best
        te = time.monotonic()
        scores = dev_eval(decoder, backbone, root, dev_seqs, args.out / "dev-eval", args.height, args.dev_max_frames)
        log.write(type="dev", step=step, elapsed_s=round(elapsed, 1), eval_s=round(time.monotonic() - te, 1), **scores)
        print(f"\nstep {step}: dev J&F {100 * scores['JF']:.1f} (J {100 * scores['J']:.1f}, F {100 * scores['F']:.1f})",
              file=sys.stderr)
        if scores["JF"] > best["JF"]:
            best = {"JF": scores["JF"], "step": step, "scores": scores}
            write_best(scores)

    def done() -> bool:
        return bool((args.steps is not None and step >= args.steps) or
                    (args.minutes is not None and elapsed >= args.minutes * 60))

    decoder.train()
    last_eval, losses, ema = elapsed, [], None
    bar = tqdm(total=args.steps, initial=step, desc="training crvos", unit="step")
    while not done():
        ts = time.monotonic()
        lr = args.lr * lr_factor(args, step, elapsed)
        for g in optimizer.param_groups:
            g["lr"] = lr
        source = lucid if lucid is not None and rng.random() < args.lucid_p else cache
        rows = sample_clips(source, args.batch, args.clip_len, args.max_step, rng)
        optimizer.zero_grad(set_to_none=True)
        loss = clip_loss(decoder, load_clips(source, rows), rng, args.perturb_first, args.perturb_later, args.bf16)
        optimizer.step()
        step += 1
        elapsed += time.monotonic() - ts
        losses.append(loss)
        ema = loss if ema is None else 0.95 * ema + 0.05 * loss
        bar.update(1)
        bar.set_postfix(loss=f"{ema:.4f}", lr=f"{lr:.1e}", min=f"{elapsed / 60:.1f}", refresh=False)
        if step % args.log_every == 0:
            log.write(type="train", step=step, loss=float(np.mean(losses)), lr=lr, elapsed_s=round(elapsed, 1))
            losses = []
        if step % args.ckpt_every == 0:
            save_last()
        if not args.no_dev and args.eval_every > 0 and elapsed - last_eval >= args.eval_every * 60 and not done():
            te = time.monotonic()
            evaluate_now()
            elapsed += time.monotonic() - te  # the budget is wall time: dev evals count
            last_eval = elapsed
            decoder.train()
    bar.close()
    if losses:
        log.write(type="train", step=step, loss=float(np.mean(losses)), lr=lr, elapsed_s=round(elapsed, 1))
    save_last()
    if args.no_dev:
        write_best(None)
    elif best.get("step") != step:
        evaluate_now()
    log.write(type="end", step=step, elapsed_s=round(elapsed, 1), best=best)
    summary = f"best dev J&F {100 * best['JF']:.1f} at step {best.get('step')}" if not args.no_dev else "no dev eval"
    print(f"done: {step} steps in {elapsed / 60:.1f} min; {summary}; best checkpoint {args.out / 'best.pt'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
