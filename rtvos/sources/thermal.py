"""Frames from a thermal camera recording: 16-bit images, raw sensor dumps or an 8-bit video.

`path` is one of
  - a folder of 16-bit (or 8-bit) PNG / TIFF images, read in name order with cv2.IMREAD_UNCHANGED,
    or of `.raw` / `.bin` files holding one frame each;
  - a single `.raw` / `.bin` file holding many frames back to back;
  - a single PNG / TIFF image (every page of a multi-page TIFF is a frame);
  - any other file: a video, read through OpenCV as 8-bit grey.
Raw files are uint16 little-endian, row-major, `width` x `height` (both required for raw input).

Each frame is undistorted (when a camera_info YAML `calibration` is given), then normalised to
HxWx3 uint8 RGB with a `NormalizationProfile` (rtvos.thermal.normalize).  The undistorted raw frame
stays available as `frame.meta["raw"]` (HxW uint16; 8-bit input is widened, `meta["bits"]` says 8).

Road annotations: a folder of PNG masks with the frames' stems (nonzero = road) gives `gt_mask`, and
`target` on the first frame.  It is `annotations` when given, else the first existing one of
`<name>_masks`, `<name>-masks`, `masks`, `road`, `labels`, `annotations` next to the folder or file.
For single-file recordings the stems are frame indices: 00000.png, 00001.png, ...
Masks are in the raw image geometry and are undistorted with the frames (nearest neighbour).

An unreadable frame, a truncated raw frame, a frame of the wrong size or of an unsupported dtype is
skipped, counted in `self.skipped` and logged as a warning; the stream goes on.  The frame size is
the calibration's, else width x height when given, else the first readable frame's.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from rtvos.thermal.normalize import NormalizationProfile, ProfileError, ThermalNormalizer, load_profile
from rtvos.thermal.undistort import CalibrationError, Undistorter

from .base import Frame, Pacer, Source, SourceError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".tif", ".tiff")
RAW_SUFFIXES = (".raw", ".bin")
MASK_FOLDER_NAMES = ("masks", "road", "labels", "annotations")


def find_road_masks(path: Path) -> Path | None:
    """The annotation folder next to a recording (see the module docstring), or None."""
    stem = path.name if path.is_dir() else path.stem
    for name in (f"{stem}_masks", f"{stem}-masks", *MASK_FOLDER_NAMES):
        cand = path.parent / name
        if cand.is_dir() and cand.resolve() != path.resolve() and any(cand.glob("*.png")):
            return cand
    return None


class ThermalSource(Source):
    """A thermal recording as normalised RGB Frames (see the module docstring).

    profile: a NormalizationProfile, a profile name in calibration/thermal/ or a .toml path (None =
    "default").  calibration: camera_info YAML for undistortion (None = none).  width, height: raw frame
    size.  fps: pacing (None = as fast as possible).  loop: start over at the end.  annotations: road mask
    folder (default: auto-detected).
    """

    def __init__(self, path: str | Path, *, profile: "NormalizationProfile | str | Path | None" = None,
                 calibration: str | Path | None = None, width: int | None = None, height: int | None = None,
                 fps: float | None = None, loop: bool = False, annotations: str | Path | None = None):
        self.path = Path(path)
        self.name = self.path.stem if self.path.is_file() else self.path.name
        self.fps, self.loop = fps, loop
        self.skipped = 0           # unreadable / truncated / wrong-size / wrong-dtype frames
        self.bad_annotations = 0   # mask files that exist but cannot be read
        self._cap = None
        try:
            self.profile = load_profile(profile)
            self.undistorter = Undistorter(calibration) if calibration else None
        except (ProfileError, CalibrationError) as exc:
            raise SourceError(f"thermal source: {exc}") from None
        self.size: tuple[int, int] | None = None  # (width, height)
        if self.undistorter is not None:
            self.size = self.undistorter.size
            if width and height and (width, height) != self.size:
                raise SourceError(f"thermal source: width x height {width}x{height} differs from the "
                                  f"calibration's {self.size[0]}x{self.size[1]}")
        elif width and height:
            self.size = (int(width), int(height))
        self._open()
        self.annotations = Path(annotations) if annotations is not None else find_road_masks(self.path)
        if self.annotations is not None and not self.annotations.is_dir():
            raise SourceError(f"thermal source: annotation folder {self.annotations} does not exist")

    # --- opening ------------------------------------------------------------------------------------------

    def _need_size(self, what: str) -> tuple[int, int]:
        if self.size is None:
            raise SourceError(f"thermal source: {what} needs the frame size: give width and height "
                              "(--size WxH, or a calibration file)")
        return self.size

    def _open(self) -> None:
        p = self.path
        if p.is_dir():
            self.mode = "files"
            self.files = sorted(f for f in p.iterdir()
                                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES + RAW_SUFFIXES)
            if not self.files:
                raise SourceError(f"thermal source: no {'/'.join(IMAGE_SUFFIXES + RAW_SUFFIXES)} files in {p}")
            if any(f.suffix.lower() in RAW_SUFFIXES for f in self.files):
                self._need_size(f"raw files in {p}")
        elif not p.is_file():
            raise SourceError(f"thermal source: {p} is neither a folder nor a file")
        elif p.suffix.lower() in RAW_SUFFIXES:
            self.mode = "rawstream"
            w, h = self._need_size(f"raw file {p}")
            self.frame_bytes = w * h * 2
            self.n_raw, self.raw_tail = divmod(p.stat().st_size, self.frame_bytes)
            if self.n_raw == 0:
                raise SourceError(f"thermal source: {p} ({p.stat().st_size} bytes) holds no whole "
                                  f"{w}x{h} uint16 frame ({self.frame_bytes} bytes)")
            if self.raw_tail:
                log.warning("thermal source: %s ends with %d bytes that are not a whole frame", p, self.raw_tail)
        elif p.suffix.lower() in IMAGE_SUFFIXES:
            self.mode = "files"
            self.files = [p]
        else:
            self.mode = "video"
            self._cap = cv2.VideoCapture(str(p))
            if not self._cap.isOpened():
                self._cap.release()
                self._cap = None
                raise SourceError(f"thermal source: OpenCV cannot open {p} as a video (or use .png/.tif/.raw)")

    # --- reading ------------------------------------------------------------------------------------------

    def _read_file(self, f: Path) -> Iterator[tuple[str, np.ndarray | None, str]]:
        """(name, frame or None, why) for each frame of one file."""
        if f.suffix.lower() in RAW_SUFFIXES:
            w, h = self.size  # checked in _open
            try:
                data = np.fromfile(f, dtype="<u2")
            except OSError as exc:
                yield f.stem, None, f"cannot read ({exc})"
                return
            if data.size != w * h:
                yield f.stem, None, f"{data.size * 2} bytes, not one {w}x{h} uint16 frame"
                return
            yield f.stem, data.reshape(h, w).astype(np.uint16, copy=False), ""
        elif f.suffix.lower() in (".tif", ".tiff") and self.path.is_file():  # a multi-page TIFF
            ok, pages = cv2.imreadmulti(str(f), flags=cv2.IMREAD_UNCHANGED)
            if not ok or not pages:
                yield f.stem, None, "unreadable"
                return
            for k, page in enumerate(pages):
                yield (f"{k:05d}" if len(pages) > 1 else f.stem), page, ""
        else:
            img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
            yield f.stem, img, "" if img is not None else "unreadable"

    def _read_all(self) -> Iterator[tuple[str, np.ndarray | None, str]]:
        """One pass over the recording: (name, frame or None, why it is missing)."""
        if self.mode == "files":
            for f in self.files:
                yield from self._read_file(f)
        elif self.mode == "rawstream":
            w, h = self.size
            for k in range(self.n_raw):
                data = np.fromfile(self.path, dtype="<u2", count=w * h, offset=k * self.frame_bytes)
                if data.size != w * h:  # the file shrank under us
                    yield f"{k:05d}", None, "truncated"
                    return
                yield f"{k:05d}", data.reshape(h, w).astype(np.uint16, copy=False), ""
            if self.raw_tail:
                yield f"{self.n_raw:05d}", None, f"truncated ({self.raw_tail} bytes at the end of the file)"
        else:
            if self._cap is None:
                raise SourceError(f"thermal source {self.path} is closed")
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            k = 0
            while True:
                ok, img = self._cap.read()
                if not ok or img is None:
                    return
                yield f"{k:05d}", img, ""
                k += 1

    def _check(self, img: np.ndarray) -> tuple[np.ndarray | None, str]:
        """The frame as HxW uint8/uint16, or None and the reason it is skipped."""
        if img.ndim == 3:
            if img.dtype not in (np.uint8, np.uint16) or img.shape[2] not in (3, 4):
                return None, f"unsupported image {img.dtype} {img.shape}"
            img = cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
        if img.ndim != 2 or img.dtype not in (np.uint8, np.uint16):
            return None, f"unsupported image {img.dtype} {img.shape} (need 8/16-bit grey)"
        h, w = img.shape
        if self.size is None:
            self.size = (w, h)
        elif (w, h) != self.size:
            return None, f"{w}x{h}, expected {self.size[0]}x{self.size[1]}"
        return img, ""

    def _road_mask(self, name: str) -> np.ndarray | None:
        if self.annotations is None:
            return None
        p = self.annotations / f"{name}.png"
        if not p.is_file():
            return None
        m = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if m is None:
            self.bad_annotations += 1
            log.warning("thermal source: unreadable road mask %s (%d so far)", p, self.bad_annotations)
            return None
        mask = (m.max(axis=2) if m.ndim == 3 else m) != 0
        mask = mask.astype(np.uint8)
        w, h = self.size
        if mask.shape != (h, w):
            log.warning("thermal source: road mask %s is %dx%d, frames are %dx%d; resizing (nearest)",
                        p, mask.shape[1], mask.shape[0], w, h)
            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
        if self.undistorter is not None:
            mask = self.undistorter(mask, cv2.INTER_NEAREST)
        return mask

    def frames(self, start: int = 0) -> Iterator[Frame]:
        """Yields the readable frames in order (repeatedly when `loop`), paced at `fps` when set."""
        pacer = Pacer(self.fps)
        normalizer = ThermalNormalizer(self.profile)
        seq = 0
        while True:
            produced = False
            for name, img, why in self._read_all():
                if seq < start and img is not None:  # resuming: passed over, unpaced
                    seq += 1
                    produced = True
                    continue
                pacer.wait()
                t = time.monotonic_ns()
                if img is not None:
                    img, why = self._check(img)
                if img is None:
                    self.skipped += 1
                    log.warning("thermal source: skipping frame %s of %s: %s (%d skipped so far)",
                                name, self.path, why, self.skipped)
                    continue
                bits = 8 if img.dtype == np.uint8 else 16
                if self.undistorter is not None:
                    img = self.undistorter(img)
                image = normalizer(img)
                gt = self._road_mask(name)
                yield Frame(image=image, seq=seq, t_capture_ns=t,
                            target=gt.copy() if (seq == 0 and gt is not None) else None, gt_mask=gt, name=name,
                            meta={"source": "thermal", "path": str(self.path), "bits": bits,
                                  "raw": img.astype(np.uint16, copy=False)})
                seq += 1
                produced = True
            if not self.loop or not produced:
                return

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
