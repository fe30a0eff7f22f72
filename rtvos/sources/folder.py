"""Frames from a folder of images, e.g. one DAVIS sequence, with its annotations when there are any.

`path` is either `<root>/JPEGImages/<res>/<seq>` (annotations then come from `<root>/Annotations/<res>/<seq>`:
the last `JPEGImages` component of the path is replaced by `Annotations`) or any folder of .jpg/.jpeg/.png
images, read in name order.  An annotation is `<annotations>/<image stem>.png`.

Masks keep their nonzero values as labels, except that a mask whose only nonzero value is 255 (DAVIS 2016,
0/255) maps 255 to 1.  Colour masks (palette PNGs, which OpenCV expands to RGB) are mapped back to their
palette index through the standard DAVIS/PASCAL VOC palette.

An unreadable image is skipped, counted in `self.skipped` and logged as a warning; the stream goes on.
An unreadable annotation is counted in `self.bad_annotations` (the frame then has no `gt_mask`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from .base import Frame, Pacer, Source, SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def find_annotations(path: Path) -> Path | None:
    """The DAVIS annotation folder matching an image folder, or None when there is none."""
    parts = path.parts
    for k in range(len(parts) - 1, -1, -1):
        if parts[k] == "JPEGImages":
            ann = Path(*parts[:k], "Annotations", *parts[k + 1:])
            return ann if ann.is_dir() else None
    return None


def _voc_index(rgb: np.ndarray) -> np.ndarray:
    """Inverse of the PASCAL VOC / DAVIS palette: HxWx3 RGB colours -> HxW uint8 palette indices."""
    idx = np.zeros(rgb.shape[:2], np.int32)
    for j in range(8):  # palette index bit 3j+c is colour channel c's bit (7-j)
        for c in range(3):
            idx |= ((rgb[..., c].astype(np.int32) >> (7 - j)) & 1) << (3 * j + c)
    return np.clip(idx, 0, 255).astype(np.uint8)  # colours off the palette saturate at 255


def read_mask(path: Path) -> np.ndarray | None:
    """A label mask (HxW uint8) from a PNG, or None when it cannot be read."""
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        return None
    if raw.ndim == 3:
        if raw.shape[2] == 4:
            raw = raw[..., :3]
        rgb = raw[..., ::-1]
        if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
            mask = np.ascontiguousarray(rgb[..., 0])  # grey saved as colour
        else:
            mask = _voc_index(rgb)
    else:
        mask = raw
    mask = mask.astype(np.uint8, copy=False)
    values = np.unique(mask)
    if len(values) == 2 and values[1] == 255:  # DAVIS 2016: 0/255 -> 0/1
        mask = (mask > 0).astype(np.uint8)
    elif len(values) == 1 and values[0] == 255:
        mask = np.ones_like(mask)
    return mask


class FolderSource(Source):
    """Images of a folder (a DAVIS sequence or any image folder) as Frames, with `target` and `gt_mask`.

    path: the image folder.  fps: real-time pacing (None = as fast as possible).  loop: start over at the
    end (seq keeps counting; `target` is only on seq 0).  annotations: an explicit annotation folder
    (default: auto-detected, see the module docstring).  `len(source)` is the number of image files.
    """

    def __init__(self, path: str | Path, fps: float | None = None, loop: bool = False,
                 annotations: str | Path | None = None):
        self.path = Path(path)
        if not self.path.is_dir():
            raise SourceError(f"folder source: {self.path} is not a directory")
        self.files = sorted(p for p in self.path.iterdir()
                            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(f"folder source: no {'/'.join(IMAGE_SUFFIXES)} images in {self.path}")
        self.annotations = Path(annotations) if annotations is not None else find_annotations(self.path)
        if self.annotations is not None and not self.annotations.is_dir():
            raise SourceError(f"folder source: annotation folder {self.annotations} does not exist")
        self.name = self.path.name
        self.fps = fps
        self.loop = loop
        self.skipped = 0  # unreadable images
        self.frame_count = len(self.files)
        self.bad_annotations = 0  # annotation files that exist but cannot be read

    def __len__(self) -> int:
        return len(self.files)

    def _annotation(self, stem: str, shape: tuple[int, int]) -> np.ndarray | None:
        if self.annotations is None:
            return None
        p = self.annotations / f"{stem}.png"
        if not p.is_file():
            return None
        mask = read_mask(p)
        if mask is None:
            self.bad_annotations += 1
            log.warning("folder source: unreadable annotation %s (%d so far)", p, self.bad_annotations)
            return None
        if mask.shape != shape:
            log.warning("folder source: annotation %s is %s, image is %s; resizing (nearest)", p, mask.shape, shape)
            mask = cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
        return mask

    def frames(self, start: int = 0) -> Iterator[Frame]:
        """Yields the readable images in name order (repeatedly when `loop`), paced at `fps` when set."""
        pacer = Pacer(self.fps)
        seq = 0
        while True:
            produced = False
            for f in self.files:
                if seq < start:  # resuming: passed over, unread and unpaced
                    seq += 1
                    produced = True
                    continue
                pacer.wait()
                bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
                t = time.monotonic_ns()
                if bgr is None:
                    self.skipped += 1
                    log.warning("folder source: skipping unreadable image %s (%d skipped so far)", f, self.skipped)
                    continue
                image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                gt = self._annotation(f.stem, image.shape[:2])
                yield Frame(image=image, seq=seq, t_capture_ns=t,
                            target=gt.copy() if (seq == 0 and gt is not None) else None,
                            gt_mask=gt, name=f.stem, meta={"source": "folder", "path": str(f)})
                seq += 1
                produced = True
            if not self.loop or not produced:
                return
