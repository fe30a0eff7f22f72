"""LSE's training samples: zoomed-in crops of composite images with several instances, look-alikes
among them, and the backbone features of those crops, cached once.

The embeddings need several objects per image, and look-alikes at different places are what they are
for (the paper pre-trains on PASCAL VOC's instances). Here: an object (a DAVIS train frame's, or an
ECSSD photograph's) in its own image is instance 1, the target; 1-3 more objects are pasted in --
with probability LOOKALIKE_P a copy of the target itself (flipped, rescaled, recoloured), the others cut
from other images -- each occluding what it covers. The crop is the target's box, jittered as a
previous frame's box would be, grown by a random margin (rtvos.models.lse.geometry.crop_box).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from rtvos.evaluation.davis import DavisDataset
from rtvos.models.lse.geometry import CROP, crop_box
from rtvos.models.shared.backbone import PYRAMID_TAPS
from rtvos.models.shared.crops import crop, mask_box
from rtvos.training.feature_cache import CACHE_VERSION, CacheWriter, FeatureCache, cache_folder, cached_or_built

LOOKALIKE_P = 0.5     # share of composites with a copy of the target pasted in
MIN_VISIBLE = 0.5     # the target keeps at least this share of its pixels after the pastes
MARGINS = (0.2, 0.9)  # the crop's margin, drawn uniformly (the tracker's is geometry.MARGIN)
BOX_JITTER = 0.1      # the crop's box centre moves by up to this share of the box size, its size by +-20 %
MAX_SIDE = 480        # the object pool's images: the longer side at most this (DAVIS's 854x480 -> 480x270)


def fit(image: np.ndarray, mask: np.ndarray, max_side: int = MAX_SIDE) -> tuple[np.ndarray, np.ndarray]:
    """Image and boolean mask with the longer side at most `max_side` (INTER_AREA; the mask nearest)."""
    h, w = mask.shape
    s = min(1.0, max_side / max(h, w))
    if s < 1.0:
        image = cv2.resize(image, (int(w * s), int(h * s)), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.uint8), (int(w * s), int(h * s)), interpolation=cv2.INTER_NEAREST) > 0
    return image, mask


def cutout(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The object's bounding-box patch of the image and its mask."""
    x0, y0, x1, y1 = (int(v) for v in mask_box(mask))
    return image[y0:y1, x0:x1], mask[y0:y1, x0:x1]


def paste(image: np.ndarray, instances: np.ndarray, patch: np.ndarray, patch_mask: np.ndarray, k: int,
          size: float, rng: np.random.Generator) -> None:
    """Paste `patch` (its mask's pixels) as instance k, its longer side `size` px, at a random place,
    flipped half the time, colour-jittered (in place)."""
    h, w = instances.shape
    scale = size / max(patch_mask.shape)
    ph, pw = max(2, int(patch_mask.shape[0] * scale)), max(2, int(patch_mask.shape[1] * scale))
    if ph >= h or pw >= w:
        return
    p = cv2.resize(patch, (pw, ph), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    m = cv2.resize(patch_mask.astype(np.uint8), (pw, ph), interpolation=cv2.INTER_NEAREST) > 0
    if rng.random() < 0.5:
        p, m = p[:, ::-1], m[:, ::-1]
    p = np.clip(p * rng.uniform(0.8, 1.2, size=3), 0, 255).astype(np.uint8)
    y, x = int(rng.integers(0, h - ph)), int(rng.integers(0, w - pw))
    region = (slice(y, y + ph), slice(x, x + pw))
    image[region][m] = p[m]
    instances[region][m] = k


def composite(image: np.ndarray, mask: np.ndarray, others: list[tuple[np.ndarray, np.ndarray]],
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """`image` with its object (instance 1) and `others` (cut-outs) pasted in as instances 2, 3, ...;
    None when the pastes hid too much of the target."""
    image, instances = image.copy(), mask.astype(np.uint8)
    tx0, ty0, tx1, ty1 = mask_box(mask)
    target_size = max(tx1 - tx0, ty1 - ty0)
    for k, (patch, patch_mask) in enumerate(others, start=2):
        paste(image, instances, patch, patch_mask, k, target_size * rng.uniform(0.6, 1.3), rng)
    if (instances == 1).sum() < MIN_VISIBLE * mask.sum():
        return None
    return image, instances


def training_crop(image: np.ndarray, instances: np.ndarray, rng: np.random.Generator,
                  size: int = CROP) -> tuple[np.ndarray, np.ndarray]:
    """The zoomed-in crop around instance 1: `size` x `size` image and instance map."""
    x0, y0, x1, y1 = mask_box(instances == 1)
    bw, bh = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2 + rng.normal(0, BOX_JITTER) * bw, (y0 + y1) / 2 + rng.normal(0, BOX_JITTER) * bh
    s = float(np.exp(rng.uniform(-0.2, 0.2)))
    box = crop_box((cx - s * bw / 2, cy - s * bh / 2, cx + s * bw / 2, cy + s * bh / 2), rng.uniform(*MARGINS))
    flip = bool(rng.random() < 0.5)
    return (crop(image, box, size, flip=flip),
            crop(instances, box, size, flip=flip, interpolation=cv2.INTER_NEAREST, fill=0))


class ObjectPool:
    """Objects with their images: DAVIS train frames (one object each) and ECSSD photographs."""

    def __init__(self, root: Path, sequences: list[str], ecssd: bool, ecssd_root: Path | None = None,
                 max_side: int = MAX_SIDE):
        self.davis = DavisDataset(root)
        self.sequences = [self.davis.sequence(s) for s in sequences]
        self.photos = None
        if ecssd:
            from rtvos.training.ecssd import EcssdDataset  # noqa: PLC0415

            self.photos = EcssdDataset(ecssd_root)
        self.max_side = max_side

    def draw(self, rng: np.random.Generator, source: str) -> tuple[np.ndarray, np.ndarray, str]:
        """An image, its object's mask (at least 0.5 % of the image) and a name; `source`: davis | ecssd."""
        while True:
            if source == "ecssd":
                i = int(rng.integers(len(self.photos)))
                image, mask = self.photos.read(i)
                name = f"ecssd:{self.photos.names[i]}"
            else:
                seq = self.sequences[int(rng.integers(len(self.sequences)))]
                i = int(rng.integers(len(seq)))
                image, mask = seq.load_frame(i), seq.load_mask(i) > 0
                name = f"{seq.name}:{seq.frame_names[i]}"
            if mask.mean() >= 0.005:
                return (*fit(image, mask, self.max_side), name)


def make_sample(pool: ObjectPool, source: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """One training crop (image, instance map) and what it was made of."""
    while True:
        image, mask, name = pool.draw(rng, source)
        others = []
        if rng.random() < LOOKALIKE_P:
            others.append(cutout(image, mask))
        for _ in range(int(rng.integers(1, 3))):
            other, other_mask, _ = pool.draw(rng, "ecssd" if pool.photos is not None and rng.random() < 0.5
                                             else "davis")
            others.append(cutout(other, other_mask))
        made = composite(image, mask, others, rng)
        if made is not None:
            return (*training_crop(*made, rng), f"{name}+{len(others)}")


def build_lse_cache(root: Path, sequences: list[str], davis_samples: int, ecssd_samples: int, seed: int,
                    cache_dir: Path, backend: str = "auto", ecssd_root: Path | None = None,
                    progress: bool = True) -> FeatureCache:
    """Features of `davis_samples` + `ecssd_samples` crops (instance maps in `masks`), cached by their key."""
    key = {"version": CACHE_VERSION, "kind": "lse-v1", "root": str(Path(root).resolve()), "sequences": list(sequences),
           "davis": davis_samples, "ecssd": ecssd_samples, "crop": CROP, "seed": seed, "taps": list(PYRAMID_TAPS)}
    folder = cache_folder(cache_dir, f"lse-{CROP}", key)

    def build() -> FeatureCache:
        pool = ObjectPool(root, sequences, ecssd=ecssd_samples > 0, ecssd_root=ecssd_root)
        rng = np.random.default_rng([seed, 13])
        sources = ["davis"] * davis_samples + ["ecssd"] * ecssd_samples
        writer = CacheWriter(folder, len(sources), (CROP, CROP), backend, PYRAMID_TAPS)
        blocks = []
        for row, source in enumerate(tqdm(sources, desc="caching LSE crops", unit="crop", disable=not progress)):
            image, instances, name = make_sample(pool, source, rng)
            writer.write_labels(row, image, instances, float((instances == 1).sum()))
            blocks.append((name, 0, row, 1))
        return writer.finish(key, blocks)

    return cached_or_built(folder, build)
