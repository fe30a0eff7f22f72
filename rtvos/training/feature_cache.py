"""The training feature cache: the frozen backbone's stride 4 / 8 / 16 features (fp16) and soft masks of
every train frame under V fixed augmentation variants per sequence, computed once and stored as .npy
memmaps; CRVOS's and FRTM's trainers both read it (the OS page cache keeps it in RAM).

Variant 0 is the identity; the others one random affine per (sequence, variant) -- horizontal flip,
rotation +-30 deg, shear +-30 deg, scale 0.75-1.25, as in the CRVOS paper -- applied to every frame of
the sequence, so motion stays coherent.  A cache is found again by its key (data, sequences, size,
variants, seed, taps, backbone): `<cache_dir>/<name>-<digest>`, complete once its meta.json exists.
Processes that want one cache take turns building it (`cached_or_built`): the folds of a
cross-validation trained side by side build it once.
Synthetic clips -- "lucid dreaming" composites of the train sequences (lucid.py) and clips made from the
ECSSD photographs (ecssd.py) -- are cached the same way (`build_synthetic_cache`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from rtvos.engines import load_engine
from rtvos.evaluation.davis import DavisDataset
from rtvos.models.shared.backbone import (
    LITE0,
    Backbone,
    LiteVariant,
    backbone_record,
    preprocess,
    processing_size,
    tap_channels,
)
from rtvos.training.ecssd import EcssdDataset
from rtvos.training.synthetic import add_synthetic_arguments, requested_clips, synthetic_clips

FILL_RGB = (124, 116, 104)  # ImageNet mean colour for pixels an affine warp brings in from outside
CACHE_VERSION = 1


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

    def subset(self, sequences: list[str]) -> "FeatureCache":
        """The same arrays, with only these sequences' blocks (what a training split may sample from)."""
        return FeatureCache(self.f4, self.f8, self.f16, self.masks, self.area,
                            [b for b in self.blocks if b[0] in set(sequences)])

    @property
    def bytes_per_frame(self) -> int:
        return sum(a[0].nbytes for a in (self.f4, self.f8, self.f16, self.masks))

    @property
    def nbytes(self) -> int:
        return self.bytes_per_frame * len(self.masks)


def _features_key(taps: tuple[int, int, int], backbone: LiteVariant) -> dict:
    """Which features a cache holds."""
    return {"taps": list(taps)} | backbone_record(backbone)


def _cache_key(root: Path, sequences: list[str], size_hw, variants: int, seed: int, max_frames: int | None,
               taps: tuple[int, int, int], backbone: LiteVariant) -> dict:
    return {"version": CACHE_VERSION, "root": str(Path(root).resolve()), "sequences": list(sequences),
            "size_hw": list(size_hw), "variants": variants, "seed": seed, "max_frames": max_frames} | \
        _features_key(taps, backbone)


CACHE_ARRAYS = ("f4", "f8", "f16", "masks", "area")


def load_cache(folder: Path) -> FeatureCache | None:
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in CACHE_ARRAYS}
    return FeatureCache(**arrays, blocks=[tuple(b) for b in meta["blocks"]])


class CacheWriter:
    """Fills a new cache folder row by row (`backbone`'s features at `taps` -- strides 4 / 8 / 16 -- and
    the soft mask of one image each)."""

    def __init__(self, folder: Path, n: int, size_hw: tuple[int, int], backend: str, taps: tuple[int, ...],
                 backbone: LiteVariant = LITE0):
        h, w = size_hw
        self.folder, self.size_hw = folder, size_hw
        folder.mkdir(parents=True, exist_ok=True)
        c4, c8, c16 = tap_channels(taps, backbone)
        shapes = {"f4": (n, c4, h // 4, w // 4), "f8": (n, c8, h // 8, w // 8),
                  "f16": (n, c16, h // 16, w // 16), "masks": (n, h, w), "area": (n,)}
        dtypes = {"f4": np.float16, "f8": np.float16, "f16": np.float16, "masks": np.uint8, "area": np.float32}
        self.arrays = {k: np.lib.format.open_memmap(folder / f"{k}.npy", mode="w+", dtype=dtypes[k], shape=shapes[k])
                       for k in CACHE_ARRAYS}
        # fp32 graph: the cache holds the features training sees, not an INT8 approximation of them
        self.engine = load_engine(Backbone(taps=taps, variant=backbone), (1, 3, h, w), backend)

    def write(self, row: int, image: np.ndarray, mask: np.ndarray) -> None:
        """Features of `image` and its soft mask (0..1, stored as 0..255)."""
        self.write_labels(row, image, np.clip(np.rint(mask * 255), 0, 255).astype(np.uint8), float(mask.sum()))

    def write_labels(self, row: int, image: np.ndarray, labels: np.ndarray, area: float) -> None:
        """Features of `image` and a uint8 label map kept as it is (e.g. instance ids), with its `area`."""
        f4, f8, f16 = self.engine(preprocess(image, self.size_hw))
        a = self.arrays
        a["f4"][row], a["f8"][row], a["f16"][row] = (t[0].numpy().astype(np.float16) for t in (f4, f8, f16))
        a["masks"][row] = labels
        a["area"][row] = area

    def finish(self, key: dict, blocks: list) -> FeatureCache:
        for a in self.arrays.values():
            a.flush()
        meta_path = self.folder / "meta.json"
        tmp = meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, "blocks": blocks}, indent=1))
        os.replace(tmp, meta_path)  # the cache counts as complete only once meta.json exists
        return load_cache(self.folder)


def cache_folder(cache_dir: Path, name: str, key: dict) -> Path:
    """<cache_dir>/<name>-<digest of key>: a cache folder, new whenever the key changes."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{name}-{digest}"


def cached_or_built(folder: Path, build: Callable[[], FeatureCache]) -> FeatureCache:
    """The complete cache in `folder`, or `build()`'s when there is none. Processes take turns (an
    exclusive lock on <folder>/building.lock): the second one waits and then loads the first's cache,
    instead of re-opening its files for writing under it (which truncated them and killed it with SIGBUS).
    A complete cache loads without the lock (meta.json appears atomically, last), so a read-only one
    serves too. `build` must not call this for the same folder: it would wait for itself."""
    cached = load_cache(folder)
    if cached is not None:
        return cached
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "building.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another process to finish the feature cache {folder}", file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        cached = load_cache(folder)
        return cached if cached is not None else build()


def build_cache(root: Path, sequences: list[str], size_hw: tuple[int, int], variants: int, seed: int,
                cache_dir: Path, backend: str = "auto", max_frames: int | None = None,
                progress: bool = True, *, taps: tuple[int, int, int], backbone: LiteVariant = LITE0) -> FeatureCache:
    """Load the cache from `cache_dir` when its key matches, else compute it (tqdm bar) and store it."""
    key = _cache_key(root, sequences, size_hw, variants, seed, max_frames, taps, backbone)
    folder = cache_folder(cache_dir, f"crvos-{size_hw[0]}x{size_hw[1]}-v{variants}", key)

    def build() -> FeatureCache:
        dataset = DavisDataset(root)
        seqs = [dataset.sequence(s) for s in sequences]
        lengths = [len(s) if max_frames is None else min(len(s), max_frames) for s in seqs]
        n = sum(lengths) * variants
        h, w = size_hw
        writer = CacheWriter(folder, n, size_hw, backend, taps, backbone)
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

    return cached_or_built(folder, build)


def build_synthetic_cache(root: Path, sequences: list[str], size_hw: tuple[int, int], lucid: int, ecssd: int,
                          clip_len: int, seed: int, cache_dir: Path, backend: str = "auto",
                          ecssd_root: Path | None = None, progress: bool = True, *, taps: tuple[int, int, int],
                          backbone: LiteVariant = LITE0) -> FeatureCache:
    """Features of the synthetic clips `synthetic_clips` makes (`lucid` from the train sequences only,
    `ecssd` from the ECSSD photographs, `clip_len` frames each), one block per clip; cached like
    `build_cache`."""
    photos = EcssdDataset(ecssd_root) if ecssd else None
    key = {"version": CACHE_VERSION, "kind": "synthetic-v1", "root": str(Path(root).resolve()),
           "sequences": list(sequences) if lucid else [],  # ECSSD clips alone serve every split and fold
           "size_hw": list(size_hw), "lucid": lucid, "ecssd": ecssd,
           "ecssd_root": str(photos.root.resolve()) if photos else None, "clip_len": clip_len, "seed": seed} | \
        _features_key(taps, backbone)
    folder = cache_folder(cache_dir, f"synthetic-{size_hw[0]}x{size_hw[1]}", key)

    def build() -> FeatureCache:
        writer = CacheWriter(folder, (lucid + ecssd) * clip_len, size_hw, backend, taps, backbone)
        blocks = []
        clips = synthetic_clips(root, sequences, size_hw, lucid, ecssd, clip_len, seed, photos)
        with tqdm(total=(lucid + ecssd) * clip_len, desc="caching synthetic clips", unit="frame",
                  disable=not progress) as bar:
            for c, (images, masks, name) in enumerate(clips):
                for i, (im, mk) in enumerate(zip(images, masks)):
                    writer.write(c * clip_len + i, im, mk)
                    bar.update(1)
                blocks.append((name, c, c * clip_len, clip_len))
        return writer.finish(key, blocks)

    return cached_or_built(folder, build)


DEFAULT_CACHE_DIR = Path("runs/cache")
DEFAULT_HEIGHT = 256  # the processing height the cache and its synthetic clips are made at (--height)


def add_cache_arguments(p) -> None:
    """The options that pick a feature cache, and the synthetic clips next to it (a trainer that reads
    one takes them)."""
    p.add_argument("--cache-dir", type=Path, default=None, help=f"feature cache folder, shared by the trainers and reused across runs (default {DEFAULT_CACHE_DIR}; --smoke: <out>/cache)")
    p.add_argument("--height", type=int, default=DEFAULT_HEIGHT, help="processing height (multiple of 32); width from the aspect ratio")
    p.add_argument("--variants", type=int, default=6, help="augmentation variants per sequence (0 = identity; must match an existing cache to reuse it)")
    add_synthetic_arguments(p)


def cache_from_arguments(args, root: Path, sequences: list[str], prog: str, taps: tuple[int, int, int],
                         backbone: LiteVariant = LITE0) -> tuple[FeatureCache, tuple[int, int]]:
    """The feature cache `add_cache_arguments`' options name (`backbone`'s features at `taps`), limited to `sequences`,
    and the processing size of its frames. The cache itself holds every sequence of the root, so one cache (built now if it
    is not on disk) serves every split and every cross-validation fold."""
    if args.height % 32:
        raise SystemExit(f"{prog}: --height must be a multiple of 32, got {args.height}")
    dataset = DavisDataset(root)
    size_hw = processing_size(*dataset.sequence(sequences[0]).load_frame(0).shape[:2], args.height)
    everything = sorted(dataset.sequence_names()) if not args.smoke else sorted(sequences)
    cache = build_cache(root, everything, size_hw, args.variants, args.seed, args.cache_dir or DEFAULT_CACHE_DIR,
                        args.backend, args.max_frames, taps=taps, backbone=backbone)
    return cache.subset(sequences), size_hw


def synthetic_from_arguments(args, root: Path, sequences: list[str], size_hw: tuple[int, int],
                             taps: tuple[int, int, int], backbone: LiteVariant = LITE0) -> FeatureCache | None:
    """The synthetic clips `add_cache_arguments`' options ask for (lucid clips from `sequences` only), or None."""
    lucid, ecssd = requested_clips(args)
    if not lucid and not ecssd:
        return None
    return build_synthetic_cache(root, sequences, size_hw, lucid, ecssd,
                                 args.synthetic_len, args.seed, args.cache_dir or DEFAULT_CACHE_DIR, args.backend,
                                 args.ecssd_root, taps=taps, backbone=backbone)


