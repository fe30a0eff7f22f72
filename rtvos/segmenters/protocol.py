"""One protocol for every model, so the pipeline, eval and benchmarks never special-case a model.

    seg.start(frame, target)   # target: HxW uint8 label mask (0 = background, k = object k) or boxes
    seg.step(frame) -> Result  # label mask at full frame resolution, per-object scores

Frames are HxWx3 uint8 RGB arrays.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np


class TargetError(ValueError):
    """The target given to a segmenter is unusable (wrong size, empty, ...). The message says why."""


@dataclass
class Target:
    """What to follow: a label mask, or boxes per object id (x0, y0, x1, y1 in pixels, exclusive end)."""

    mask: np.ndarray | None = None
    boxes: dict[int, tuple[float, float, float, float]] = field(default_factory=dict)

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> "Target":
        return cls(mask=mask)

    @classmethod
    def from_boxes(cls, boxes: dict[int, tuple[float, float, float, float]]) -> "Target":
        return cls(boxes=dict(boxes))

    def object_ids(self) -> list[int]:
        if self.mask is not None:
            return [int(k) for k in np.unique(self.mask) if k != 0]
        return sorted(int(k) for k in self.boxes)


@dataclass
class ObjectInfo:
    id: int
    score: float
    bbox: tuple[int, int, int, int] | None  # x0, y0, x1, y1 (exclusive), None when absent
    area: int


@dataclass
class Result:
    """Label mask (HxW uint8, 0 = background, k = object k) at full frame resolution."""

    mask: np.ndarray
    objects: list[ObjectInfo]

    @classmethod
    def from_label_mask(cls, mask: np.ndarray, scores: dict[int, float], ids: list[int]) -> "Result":
        objects = []
        for k in ids:
            m = mask == k
            rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
            bbox = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1) if len(rows) else None
            objects.append(ObjectInfo(id=int(k), score=float(scores.get(k, 0.0)), bbox=bbox,
                                      area=int(np.count_nonzero(m))))
        return cls(mask=mask, objects=objects)


class Segmenter(abc.ABC):
    """A model that follows named objects through a stream of frames."""

    name: str = "segmenter"

    @abc.abstractmethod
    def start(self, frame: np.ndarray, target: Target | np.ndarray) -> Result:
        """(Re)initialise on `frame` with `target`; returns the target as a Result."""

    @abc.abstractmethod
    def step(self, frame: np.ndarray) -> Result:
        """Segment the next frame."""

    @property
    def started(self) -> bool:
        return getattr(self, "_started", False)

    def begin(self, frame: np.ndarray, target: "Target | np.ndarray") -> tuple[np.ndarray, list[int]]:
        """What every start() does first: check `target` against the frame (TargetError says what is
        wrong), turn boxes into masks, remember the frame size. Returns (label mask, object ids)."""
        from rtvos.segmenters.boxinit import target_to_mask  # noqa: PLC0415 (boxinit imports this module)

        h, w = frame.shape[:2]
        label = target_to_mask(frame, as_target(target, h, w))
        ids = [int(k) for k in np.unique(label) if k]
        if not ids:
            raise TargetError("the target has no object pixels")
        self.frame_hw = (h, w)
        return label, ids

    def check_frame(self, frame: np.ndarray) -> None:
        """What every step() checks first: started, and the frame size the stream started with."""
        if not self.started:
            raise RuntimeError("step() before start(): give the segmenter a target first")
        h, w = self.frame_hw
        if frame.shape[:2] != (h, w):
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]}, the stream started at {w}x{h}: "
                             "restart with a new target")

    # Objects can come and go while the stream runs. `current` is the label mask last returned for this
    # stream (the caller has it). The defaults restart on `frame` with `current` plus/minus the object;
    # models with per-object state (the target-model family) override them to touch only that object.
    def add_object(self, frame: np.ndarray, object_id: int, target: Target | np.ndarray,
                   current: np.ndarray) -> Result:
        """Start following object `object_id` (1..255) from `frame`; the others go on."""
        label = merged_label(frame, object_id, target, current)
        return self.start(frame, label)

    def remove_object(self, frame: np.ndarray, object_id: int, current: np.ndarray) -> Result:
        """Stop following `object_id`; the others go on. Removing the last object is an error (reset instead)."""
        label = current.copy()
        if object_id not in getattr(self, "ids", []) and not (label == object_id).any():
            raise TargetError(f"no object {object_id} is being followed")
        label[label == object_id] = 0
        if not label.any():
            raise TargetError(f"object {object_id} is the last one: send a reset (or a new target) instead")
        return self.start(frame, label)


def config_from_options(config_class, options: dict, model: str):
    """A model's options dataclass from keyword options; unknown names are an error that lists the known ones."""
    from rtvos.config import build_dataclass  # noqa: PLC0415

    return build_dataclass(config_class, options, f"model {model!r}", noun="option", error=ValueError)


def merged_label(frame: np.ndarray, object_id: int, target: "Target | np.ndarray", current: np.ndarray) -> np.ndarray:
    """`current` with object `object_id` replaced by `target` (a mask of that object, or a box)."""
    from rtvos.segmenters.boxinit import target_to_mask  # noqa: PLC0415 (boxinit imports this module)

    h, w = frame.shape[:2]
    if not 1 <= int(object_id) <= 255:
        raise TargetError(f"object id {object_id} out of range 1..255")
    if current.shape != (h, w):
        raise TargetError(f"current label mask is {current.shape}, the frame is {(h, w)}")
    new = target_to_mask(frame, as_target(target, h, w)) > 0
    label = current.copy()
    label[label == object_id] = 0
    label[new] = object_id
    return label


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
        if not (1 <= int(k) <= 255):
            raise TargetError(f"object id {k} out of range 1..255")
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise TargetError(f"box for object {k} is degenerate: {(x0, y0, x1, y1)}")
        if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
            raise TargetError(f"box for object {k} lies outside the {width}x{height} frame")
    return target
