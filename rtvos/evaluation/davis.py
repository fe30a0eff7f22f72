"""Reading a DAVIS-layout dataset and writing results in the DAVIS results layout.

Dataset layout (DAVIS 2016 and 2017 alike)::

    <root>/JPEGImages/480p/<seq>/00000.jpg ...
    <root>/Annotations/480p/<seq>/00000.png ...
    <root>/ImageSets/480p/*.txt          optional (DAVIS 2016: one frame per line;
                                          DAVIS 2017 keeps ImageSets/2017/*.txt, one sequence per line)

Label masks returned by `DavisSequence.load_mask` and `read_label_png` (HxW uint8, 0 = background,
k = object k):

* palette PNGs (DAVIS 2017 multi-object annotations): the palette indices, i.e. the object ids, are
  kept as they are (255, if present, is DAVIS's "void" label);
* 8-bit grayscale PNGs holding only 0 and 255 (DAVIS 2016 single-object annotations, and the results
  that `write_result` writes for one object): 255 becomes object 1;
* any other 8-bit grayscale PNG: its values are taken as object ids.

Results layout: ``<out>/<seq>/<frame>.png``, 8-bit grayscale.  A mask with no label above 1 (one
object) is written as 0/255, like the DAVIS 2016 annotations; a mask with several objects is written
with its object ids as pixel values.  Nonzero means object either way, so any DAVIS evaluator (and
`read_label_png`) reads them back.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

RESOLUTION = "480p"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class DavisLayoutError(FileNotFoundError):
    """A path does not look like a DAVIS dataset (or sequence); the message says what was expected."""


def _png_palette(data: bytes) -> np.ndarray | None:
    """The PLTE entries (Nx3 RGB) of a palette PNG, or None when the PNG is not palette-indexed."""
    if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    if data[25] != 3:  # IHDR colour type 3 = indexed colour
        return None
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"PLTE":
            entries = np.frombuffer(data[pos + 8 : pos + 8 + length], dtype=np.uint8)
            return entries.reshape(-1, 3)
        if kind == b"IDAT":  # PLTE must come before the image data
            break
        pos += 12 + length
    raise ValueError("palette PNG without a PLTE chunk")


def _palette_indices(rgb: np.ndarray, palette: np.ndarray, path: Path) -> np.ndarray:
    """Map decoded palette colours back to their indices (the first index of each colour)."""
    packed = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    pal = (palette[:, 0].astype(np.uint32) << 16) | (palette[:, 1].astype(np.uint32) << 8) | palette[:, 2]
    colours, inverse = np.unique(packed, return_inverse=True)
    index_of = np.empty(len(colours), dtype=np.uint8)
    for n, colour in enumerate(colours):
        hits = np.flatnonzero(pal == colour)
        if len(hits) == 0:
            raise ValueError(f"{path}: a pixel colour is not in the PNG's palette")
        index_of[n] = hits[0]
    return index_of[inverse.reshape(-1)].reshape(packed.shape)


def read_label_png(path: str | Path) -> np.ndarray:
    """Read an annotation or result PNG as an HxW uint8 label mask (see the module docstring)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"mask not found: {path}") from None
    buf = np.frombuffer(data, dtype=np.uint8)
    palette = _png_palette(data)
    if palette is not None:
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"cannot decode {path} as a PNG")
        return _palette_indices(bgr[..., ::-1], palette, path)

    mask = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise ValueError(f"cannot decode {path} as an image")
    if mask.dtype != np.uint8:
        raise ValueError(f"{path}: expected an 8-bit mask, got {mask.dtype}")
    if mask.ndim == 3:
        colour = mask[..., :3]
        if not (np.array_equal(colour[..., 0], colour[..., 1]) and np.array_equal(colour[..., 0], colour[..., 2])):
            raise ValueError(
                f"{path} is a colour PNG without a palette; write label masks as 8-bit grayscale "
                "(0 = background, k = object k) or as palette PNGs"
            )
        mask = colour[..., 0]
    if mask.max(initial=0) == 255 and not np.any((mask != 0) & (mask != 255)):
        return (mask > 0).astype(np.uint8)
    return np.ascontiguousarray(mask)


def result_path(out_dir: str | Path, seq: str, frame_name: str) -> Path:
    """Where `write_result` puts a frame's mask: ``<out>/<seq>/<frame>.png``."""
    return Path(out_dir) / seq / f"{frame_name}.png"


def write_result(out_dir: str | Path, seq: str, frame_name: str, mask: np.ndarray) -> Path:
    """Write one result mask in the DAVIS results layout; returns the file's path.

    `mask` is an HxW label mask (nonzero = object).  One object (no label above 1) is written as 0/255
    like the DAVIS 2016 annotations; several objects keep their ids as pixel values.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"result mask must be HxW, got shape {mask.shape}")
    if mask.dtype == bool:
        mask = mask.astype(np.uint8)
    if mask.min(initial=0) < 0 or mask.max(initial=0) > 255:
        raise ValueError("result mask labels must lie in 0..255")
    mask = mask.astype(np.uint8)
    if mask.max(initial=0) <= 1:
        mask = mask * np.uint8(255)
    path = result_path(out_dir, seq, frame_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), mask):
        raise OSError(f"could not write {path}")
    return path


@dataclass(frozen=True)
class DavisSequence:
    """One sequence; frames and masks are read from disk only when asked for."""

    root: Path
    name: str
    frame_names: tuple[str, ...]
    resolution: str = RESOLUTION

    def __len__(self) -> int:
        return len(self.frame_names)

    def image_path(self, i: int) -> Path:
        return self.root / "JPEGImages" / self.resolution / self.name / f"{self.frame_names[i]}.jpg"

    def annotation_path(self, i: int) -> Path:
        return self.root / "Annotations" / self.resolution / self.name / f"{self.frame_names[i]}.png"

    def load_frame(self, i: int) -> np.ndarray:
        """Frame i as HxWx3 uint8 RGB."""
        path = self.image_path(i)
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read frame {path}")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def load_mask(self, i: int) -> np.ndarray:
        """Annotation of frame i as an HxW uint8 label mask (single-object 0/255 -> object 1)."""
        path = self.annotation_path(i)
        if not path.is_file():
            raise FileNotFoundError(f"no annotation for frame {self.frame_names[i]} of {self.name}: {path}")
        return read_label_png(path)


class DavisDataset:
    """A DAVIS-layout root: validates the layout and lists and opens its sequences."""

    def __init__(self, root: str | Path, resolution: str = RESOLUTION):
        self.root = Path(root)
        self.resolution = resolution
        for part in ("JPEGImages", "Annotations"):
            expected = self.root / part / resolution
            if not expected.is_dir():
                raise DavisLayoutError(
                    f"{self.root} does not look like a DAVIS dataset: expected the folder {expected} "
                    f"(layout: <root>/JPEGImages/{resolution}/<seq>/*.jpg and "
                    f"<root>/Annotations/{resolution}/<seq>/*.png)"
                )

    def _image_sets(self) -> list[Path]:
        for sub in (self.resolution, "2017"):
            files = sorted((self.root / "ImageSets" / sub).glob("*.txt"))
            if files:
                return files
        return []

    def sequence_names(self) -> list[str]:
        """Sequences in ImageSets order when ImageSets/<res>/*.txt (or ImageSets/2017) exist, else the
        sorted folder names; only sequences whose frame folder exists are listed."""
        image_dir = self.root / "JPEGImages" / self.resolution
        names: list[str] = []
        for txt in self._image_sets():
            for line in txt.read_text().splitlines():
                line = line.strip()
                if not line:
                    continue
                first = line.split()[0]
                if "/" in first:  # DAVIS 2016: "/JPEGImages/480p/<seq>/<n>.jpg /Annotations/..."
                    parts = Path(first).parts
                    name = parts[-2] if len(parts) >= 2 else first
                else:  # DAVIS 2017: one sequence name per line
                    name = first
                if name not in names and (image_dir / name).is_dir():
                    names.append(name)
        if not names:
            names = sorted(p.name for p in image_dir.iterdir() if p.is_dir())
        return names

    def sequence(self, name: str) -> DavisSequence:
        """Open a sequence; its frames are the JPEGs of ``JPEGImages/<res>/<name>`` in name order."""
        folder = self.root / "JPEGImages" / self.resolution / name
        if not folder.is_dir():
            raise DavisLayoutError(f"no sequence {name!r} in {self.root}: expected the folder {folder}")
        frames = tuple(sorted(p.stem for p in folder.glob("*.jpg")))
        if not frames:
            raise DavisLayoutError(f"sequence {name!r} has no frames: expected {folder}/*.jpg")
        return DavisSequence(root=self.root, name=name, frame_names=frames, resolution=self.resolution)
