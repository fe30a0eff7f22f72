"""What to follow: a target (a label mask, or boxes per object id), checked against the frame it names
objects in, and turned into the label mask every model starts from.

A box becomes a mask, by default, by GrabCut started from LSE's pre-trained network inside the box
(`box_init="lse+grabcut"`, rtvos.models.lse.box): the network says what the object is, GrabCut's colour
models where its outline runs. Its first masks measured best on held-out sequences: J 75.3, against 67.4
for GrabCut from the box alone (`"grabcut"`) and 64.8 for the network alone (`"lse"`)
(benchmarks/box_first_mask.py, 3 folds over 30 sequences; benchmarks/RESULTS.md, twelfth session)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from rtvos.models.spec import load_by_path

MAX_OBJECT_ID = 255  # label masks are uint8: 0 is background


class TargetError(ValueError):
    """The target given to a segmenter is unusable (wrong size, empty, ...). The message says why."""


# How a box becomes a mask: a name and the function that does it, by import path (loaded when first
# used, so torch loads only for LSE). "lse:PATH" / "lse+grabcut:PATH" use LSE's network at PATH.
DEFAULT_BOX_INIT = "lse+grabcut"  # the best first masks, measured (benchmarks/RESULTS.md, twelfth session)
BOX_INITS = {"lse": "rtvos.models.lse.box:box_to_mask", "grabcut": "rtvos.models.shared.box_init:box_to_mask",
             "lse+grabcut": "rtvos.models.lse.box:grabcut_from_network"}
WITH_NETWORK = ("lse", "lse+grabcut")  # the box inits that take an LSE checkpoint (NAME:PATH)


def check_box_init(box_init: str) -> str:
    """`box_init` if it names a way in BOX_INITS (with :PATH for one in WITH_NETWORK), else a TargetError."""
    name, colon, path = box_init.partition(":") if isinstance(box_init, str) else ("", "", "")
    if name not in BOX_INITS or (colon and (name not in WITH_NETWORK or not path)):
        raise TargetError(f"box_init must be one of {', '.join(BOX_INITS)} (or {':PATH, '.join(WITH_NETWORK)}:PATH), "
                          f"got {box_init!r}")
    return box_init


@dataclass
class Target:
    """What to follow: a label mask, or boxes per object id (x0, y0, x1, y1 in pixels, exclusive end)
    and how a box becomes a mask (`box_init`: one of BOX_INITS)."""

    mask: np.ndarray | None = None
    boxes: dict[int, tuple[float, float, float, float]] = field(default_factory=dict)
    box_init: str = DEFAULT_BOX_INIT

    def __post_init__(self):
        check_box_init(self.box_init)

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> "Target":
        return cls(mask=mask)

    @classmethod
    def from_boxes(cls, boxes: dict[int, tuple[float, float, float, float]], box_init: str = DEFAULT_BOX_INIT) -> "Target":
        return cls(boxes=dict(boxes), box_init=box_init)


def boxes_of(label: np.ndarray) -> dict[int, tuple[float, float, float, float]]:
    """Each object's box (x0, y0, x1, y1, exclusive) in a label mask: a mask start turned into a box start."""
    out = {}
    for k in label_ids(label):
        rows, cols = np.flatnonzero((label == k).any(axis=1)), np.flatnonzero((label == k).any(axis=0))
        out[k] = (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))
    return out


def box_mask(frame_rgb: np.ndarray, box: tuple[float, float, float, float], box_init: str = DEFAULT_BOX_INIT) -> np.ndarray:
    """The boolean mask of the object in `box`: GrabCut, LSE's box-to-mask step, or GrabCut started from
    LSE's network (the packaged network, or the one at PATH for "lse:PATH" / "lse+grabcut:PATH")."""
    name, _, checkpoint = check_box_init(box_init).partition(":")
    to_mask = load_by_path(BOX_INITS[name])
    return to_mask(frame_rgb, box, checkpoint) if checkpoint else to_mask(frame_rgb, box)


def read_target_mask(path: str) -> np.ndarray:
    """A PNG label mask: 0 background, k = object k. A 0/255 mask (DAVIS style) becomes object 1."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise TargetError(f"cannot read target mask {path!r}: expected a single-channel PNG")
    values = np.unique(mask)
    if len(values) == 2 and values[1] == 255:
        mask = (mask > 0).astype(np.uint8)
    return mask


def label_ids(label: np.ndarray) -> list[int]:
    """The object ids present in a label mask, ascending."""
    return [int(k) for k in np.unique(label) if k]


def check_object_id(object_id: int) -> int:
    if not 1 <= int(object_id) <= MAX_OBJECT_ID:
        raise TargetError(f"object id {object_id} out of range 1..{MAX_OBJECT_ID}")
    return int(object_id)


def as_target(target: Target | np.ndarray, height: int, width: int) -> Target:
    """Validate a target against the frame size; raise TargetError with a useful message."""
    if isinstance(target, np.ndarray):
        target = Target.from_mask(target)
    if target.mask is not None:
        m = target.mask
        if m.ndim == 3 and m.shape[2] == 1:
            m = m[..., 0]
        if m.ndim != 2:
            raise TargetError(f"target mask must be HxW, got shape {m.shape}")
        if m.shape != (height, width):
            raise TargetError(
                f"target mask is {m.shape[1]}x{m.shape[0]} but the frame is {width}x{height}; "
                "give a mask of the frame's size"
            )
        m = m.astype(np.uint8, copy=False)
        if not m.any():
            raise TargetError("target mask is empty: mark at least one object pixel (value 1..255)")
        return Target(mask=m)
    if not target.boxes:
        raise TargetError("empty target: give a mask or at least one box")
    for k, (x0, y0, x1, y1) in target.boxes.items():
        check_object_id(k)
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise TargetError(f"box for object {k} is degenerate: {(x0, y0, x1, y1)}")
        if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
            raise TargetError(f"box for object {k} lies outside the {width}x{height} frame")
    return target


BoxToMask = Callable[[np.ndarray, tuple[float, float, float, float], str], np.ndarray]


def target_to_mask(frame_rgb: np.ndarray, target: Target | np.ndarray, to_mask: BoxToMask = box_mask) -> np.ndarray:
    """The label mask of a target on `frame_rgb` (checked with `as_target`): the mask itself, or the boxes
    turned into masks by `to_mask(frame, box, box_init)` (a segmenter may bring its own)."""
    h, w = frame_rgb.shape[:2]
    target = as_target(target, h, w)
    if target.mask is not None:
        return target.mask.astype(np.uint8, copy=True)
    label = np.zeros((h, w), np.uint8)
    for k, box in sorted(target.boxes.items()):
        label[to_mask(frame_rgb, box, target.box_init) & (label == 0)] = k
    return label


def as_object(target: Target | np.ndarray, object_id: int) -> Target:
    """A target naming one object as object `object_id`: its box, or its mask (nonzero = the object)."""
    check_object_id(object_id)
    if isinstance(target, np.ndarray):
        target = Target.from_mask(target)
    if target.mask is not None:
        return Target.from_mask((np.asarray(target.mask) > 0).astype(np.uint8) * np.uint8(object_id))
    if not target.boxes:
        raise TargetError("empty target: give a mask or a box")
    return Target.from_boxes({object_id: next(iter(target.boxes.values()))}, target.box_init)


def merged_label(frame: np.ndarray, object_id: int, target: Target | np.ndarray, current: np.ndarray,
                 to_mask: BoxToMask = box_mask) -> np.ndarray:
    """`current` with object `object_id` replaced by `target` (a mask of that object, or a box)."""
    h, w = frame.shape[:2]
    check_object_id(object_id)
    if current.shape != (h, w):
        raise TargetError(f"current label mask is {current.shape}, the frame is {(h, w)}")
    new = target_to_mask(frame, target, to_mask) > 0
    label = current.copy()
    label[label == object_id] = 0
    label[new] = object_id
    return label
