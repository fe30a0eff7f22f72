"""ECSSD, 1,000 photographs with pixel-accurate object masks (`../shared/data/ecssd`, its README), as
short synthetic training clips: far more object appearances than the 30 DAVIS sequences hold.

A clip (`ecssd_clip`): the object cut out of one photograph moves, turns, scales and bends (elastic)
over a background -- another photograph, or its own with the object painted out -- and, in some clips,
a look-alike copy of it moves behind it and is not in the masks (rtvos.training.lucid.lucid_clip does
the motion). Images are centre-cropped to the processing aspect ratio first.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from rtvos.training.lucid import lucid_clip

DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "shared" / "data" / "ecssd"
ELASTIC = 0.05          # bending, as a fraction of the object's size
DISTRACTOR_P = 0.5      # share of clips with a look-alike
OWN_BACKGROUND_P = 0.5  # share of clips over the object's own photograph, object painted out
MIN_AREA = 0.02         # objects smaller than this share of the (cropped) image are passed over


def default_root() -> Path:
    return Path(os.environ.get("RTVOS_ECSSD_ROOT", DEFAULT_ROOT))


class EcssdDataset:
    """images/NNNN.jpg with masks/NNNN.png (255 = object)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        images = self.root / "images"
        if not images.is_dir():
            raise FileNotFoundError(f"no ECSSD images in {images} (see ../shared/data/ecssd/README.md; "
                                    "RTVOS_ECSSD_ROOT names another place)")
        self.names = sorted(p.stem for p in images.glob("*.jpg") if (self.root / "masks" / f"{p.stem}.png").is_file())
        if not self.names:
            raise FileNotFoundError(f"no image/mask pairs in {self.root}")

    def __len__(self) -> int:
        return len(self.names)

    def read(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Image i (RGB) and its boolean mask, as stored."""
        name = self.names[i]
        image = cv2.cvtColor(cv2.imread(str(self.root / "images" / f"{name}.jpg"), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        return image, cv2.imread(str(self.root / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE) > 127

    def load(self, i: int, size_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Image i (RGB) and its boolean mask, centre-cropped to the aspect of `size_hw` and resized to it."""
        image, mask = self.read(i)
        h, w = mask.shape
        th, tw = size_hw
        if w * th > tw * h:  # too wide: crop columns
            cw = int(round(h * tw / th))
            x0 = (w - cw) // 2
            image, mask = image[:, x0:x0 + cw], mask[:, x0:x0 + cw]
        else:
            ch = int(round(w * th / tw))
            y0 = (h - ch) // 2
            image, mask = image[y0:y0 + ch], mask[y0:y0 + ch]
        image = cv2.resize(image, (tw, th), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.uint8), (tw, th), interpolation=cv2.INTER_NEAREST) > 0
        return image, mask


def paint_out(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image with the masked object inpainted (a background without it)."""
    hole = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8))
    return cv2.inpaint(image, hole, 5, cv2.INPAINT_TELEA)


def ecssd_clip(dataset: EcssdDataset, size_hw: tuple[int, int], length: int,
               rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    """One synthetic clip: frames, soft masks (see lucid_clip) and a name saying what it was made of."""
    while True:
        i = int(rng.integers(len(dataset)))
        image, mask = dataset.load(i, size_hw)
        if mask.mean() >= MIN_AREA:
            break
    if rng.random() < OWN_BACKGROUND_P:
        background, where = paint_out(image, mask), "own"
    else:
        j = int(rng.integers(len(dataset)))
        background, where = dataset.load(j, size_hw)[0], dataset.names[j]
    distractor = bool(rng.random() < DISTRACTOR_P)
    frames, masks = lucid_clip(image, mask, background, length, rng, distractor=distractor, elastic=ELASTIC)
    return frames, masks, f"ecssd:{dataset.names[i]}@{where}" + ("+lookalike" if distractor else "")
