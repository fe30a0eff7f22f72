"""Synthetic training clips, which to make and from what: "lucid dreaming" composites of the train
sequences' objects moved over other train frames (lucid.py) and clips made from the ECSSD photographs
(ecssd.py). The feature-cache trainers (CRVOS, FRTM) cache their features (feature_cache.py); PLM, which
crops its pairs from the images, keeps the frames themselves. Every trainer takes the same options.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from rtvos.evaluation.davis import DavisDataset
from rtvos.training.ecssd import EcssdDataset, ecssd_clip
from rtvos.training.lucid import lucid_clip

LUCID_MIN_AREA = 0.01  # lucid objects smaller than this share of the frame are passed over
HERE = Path(__file__).resolve()
SYNTHETIC_SOURCES = (HERE, HERE.with_name("lucid.py"), HERE.with_name("ecssd.py"))  # what makes the clips

Source = TypeVar("Source")


def add_synthetic_arguments(p) -> None:
    """The options that ask for synthetic clips and say how often a step draws from them."""
    p.add_argument("--lucid-clips", type=int, default=0, help="synthetic clips of train objects moved over other train frames (rtvos/training/lucid.py; 0 = none)")
    p.add_argument("--ecssd-clips", type=int, default=0, help="synthetic clips made from the ECSSD photographs (rtvos/training/ecssd.py; 0 = none)")
    p.add_argument("--ecssd-root", type=Path, default=None, help="the ECSSD folder (default: $RTVOS_ECSSD_ROOT or ../shared/data/ecssd)")
    p.add_argument("--synthetic-len", type=int, default=12, help="frames per synthetic clip")
    p.add_argument("--synthetic-p", type=float, default=0.3, help="share of steps whose batch comes from the synthetic clips")


def requested_clips(args) -> tuple[int, int]:
    """(lucid, ecssd): how many clips of each kind the options ask for (0 when none)."""
    return max(0, args.lucid_clips), max(0, args.ecssd_clips)


def synthetic_clips(root: Path, sequences: list[str], size_hw: tuple[int, int], lucid: int, ecssd: int,
                    clip_len: int, seed: int,
                    photos: EcssdDataset | None = None) -> Iterator[tuple[list[np.ndarray], list[np.ndarray], str]]:
    """`lucid` clips made from `sequences` (the train sequences only) and then `ecssd` clips made from
    `photos`, `clip_len` frames of `size_hw` each: (frames HxWx3 uint8, soft masks HxW float32, name).
    The same arguments make the same clips."""
    if ecssd and photos is None:
        raise ValueError("synthetic_clips: ECSSD clips need the photographs (an EcssdDataset)")
    h, w = size_hw
    dataset = DavisDataset(root) if lucid else None
    seqs = [dataset.sequence(s) for s in sequences] if lucid else []

    def frame(seq, i):
        image = cv2.resize(seq.load_frame(i), (w, h), interpolation=cv2.INTER_AREA)
        mask = cv2.resize((seq.load_mask(i) > 0).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        return image, mask

    rng = np.random.default_rng([seed, 7])
    for _ in range(lucid):
        while True:
            a = int(rng.integers(len(seqs)))
            image, mask = frame(seqs[a], int(rng.integers(len(seqs[a]))))
            if mask.mean() >= LUCID_MIN_AREA:
                break
        b = int(rng.choice([i for i in range(len(seqs)) if i != a] or [a]))
        background, _ = frame(seqs[b], int(rng.integers(len(seqs[b]))))
        images, masks = lucid_clip(image, mask, background, clip_len, rng)
        yield images, masks, f"lucid:{seqs[a].name}@{seqs[b].name}"
    rng = np.random.default_rng([seed, 11])
    for _ in range(ecssd):
        yield ecssd_clip(photos, size_hw, clip_len, rng)


def pick_source(videos: Source, synthetic: Source | None, p: float, rng: np.random.Generator) -> Source:
    """Where a training step's batch comes from: the synthetic clips with probability `p`, else the videos."""
    return synthetic if synthetic is not None and rng.random() < p else videos
