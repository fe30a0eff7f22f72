"""One protocol for every model, so the pipeline, eval and benchmarks never special-case a model.

    seg.start(frame, target)   # target: HxW uint8 label mask (0 = background, k = object k) or boxes
    seg.step(frame) -> Result  # label mask at full frame resolution, per-object scores
    seg.add_object(frame, k, target, current) / seg.remove_object(frame, k, current)

A recorded video may be segmented twice (the LSE paper's video-level adaptation): `scan` steps through
it once while the model keeps what it learns from, `adapt` retrains once, and the next `start` on the
same first frame and objects begins from what was learned (`StreamSession.first_pass` drives it, for
the models whose `two_pass` is true).

Frames are HxWx3 uint8 RGB arrays.  `Segmenter` is a template: its public methods check the input and
the model's output once, keep the state every model has (`started`, `ids`, `frame_hw`), and call the
model's own `_start` / `_step` (and optionally `_add_object` / `_remove_object`).  What a stream's
objects are across target changes is `rtvos.models.session.StreamSession`'s business.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

from rtvos.config import build_dataclass
from rtvos.models.target import (
    Target,
    TargetError,
    as_object,
    as_target,
    box_mask,
    label_ids,
    merged_label,
    target_to_mask,
)


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

    @classmethod
    def empty(cls, height: int, width: int) -> "Result":
        """Nothing followed: an all-background mask."""
        return cls(mask=np.zeros((height, width), np.uint8), objects=[])


def check_frame_format(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        shape = getattr(frame, "shape", None)
        raise ValueError(f"a frame must be an HxWx3 uint8 RGB array, got {type(frame).__name__} {shape} "
                         f"{getattr(frame, 'dtype', '')}".rstrip())


class Segmenter(abc.ABC):
    """A model that follows named objects through a stream of frames.

    A model declares `name` and its options dataclass `config_class` (`--option key=value` fills it;
    unknown keys are errors), and fills in:
      _start(frame, label)        fit / reset the per-stream state on the first frame
      _step(frame) -> (label mask, {id: score})
      _add_object / _remove_object (optional): the default restarts on the frame with the new label mask;
        models with per-object state override them to touch only that object.
      _warm_up (optional): what building everything for a frame size takes (default: a start and a step).
      _observe / _adapt (optional): the two-pass adaptation of a recorded video (default: nothing to learn).
    """

    name: str = "segmenter"
    config_class: type | None = None
    two_pass: bool = False  # learns from a first pass over a recorded video (`_observe` / `_adapt`)

    def __init__(self, name: str | None = None, **options):
        if name is not None:
            self.name = name
        if self.config_class is None:
            if options:
                raise ValueError(f"model {self.name!r} takes no options, got {sorted(options)}")
            self.cfg = None
        else:
            self.cfg = build_dataclass(self.config_class, options, f"model {self.name!r}", noun="option",
                                       error=ValueError)
        self.started = False
        self.ids: list[int] = []
        self.frame_hw: tuple[int, int] | None = None
        self.start_boxes: dict[int, tuple[float, float, float, float]] = {}  # the boxes the last start or
        # add named, by object id, when it named boxes (a model that starts from boxes itself reads them)

    # ---------------------------------------------------------------------------- what models fill in
    @abc.abstractmethod
    def _start(self, frame: np.ndarray, label: np.ndarray) -> None:
        """(Re)initialise on `frame`, whose objects `label` marks; `self.ids` (ascending, non-empty)
        and `self.frame_hw` are set already."""

    @abc.abstractmethod
    def _step(self, frame: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
        """The label mask (HxW uint8, only ids in `self.ids`) and a score per object."""

    def _add_object(self, frame: np.ndarray, object_id: int, label: np.ndarray) -> list[int]:
        """Follow `object_id` too; `label` is the current mask with the new object drawn in. Returns the
        ids followed afterwards. Default: restart on `frame` with `label`."""
        return self._restart(frame, label)

    def _remove_object(self, frame: np.ndarray, object_id: int, label: np.ndarray) -> list[int]:
        """Stop following `object_id`; `label` is the current mask without it. Returns the ids followed
        afterwards. Default: restart on `frame` with `label`."""
        return self._restart(frame, label)

    def _restart(self, frame: np.ndarray, label: np.ndarray) -> list[int]:
        ids = label_ids(label)
        if not ids:
            raise TargetError("no object has pixels left in the last mask: send a new target instead")
        self.ids = ids
        self._start(frame, label)
        return ids

    def _box_to_mask(self, frame: np.ndarray, box: tuple[float, float, float, float], box_init: str) -> np.ndarray:
        """A box in a target as a mask (default: `box_init`'s way, rtvos.models.target.box_mask); a model
        that turns boxes into masks itself (LSE) overrides it."""
        return box_mask(frame, box, box_init)

    def _observe(self, frame: np.ndarray, label: np.ndarray) -> None:
        """A first pass's frame and the label mask the model gave it: keep what `_adapt` learns from."""

    def _adapt(self) -> None:
        """Retrain once on what `_observe` kept, so that the next start on the same objects begins from
        it (only models whose `two_pass` is true are asked)."""
        raise NotImplementedError

    def _warm_up(self, frame: np.ndarray, label: np.ndarray) -> None:
        """Build what frames of this size need (engines, caches). Default: start on `frame` and step once."""
        self._start(frame, label)
        self._check_label(self._step(frame)[0])

    # ---------------------------------------------------------------------------------- the protocol
    def warm_up(self, height: int, width: int) -> None:
        """Build (or load from the cache) everything the model needs for frames of this size -- exported
        and quantised engines above all -- so that the first real frame does not pay for it. Uses a
        synthetic frame; the segmenter is left not started."""
        rng = np.random.default_rng(0)
        frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        label = np.zeros((height, width), np.uint8)
        label[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = 1
        self.started, self.frame_hw, self.ids = False, (height, width), [1]
        try:
            self._warm_up(frame, label)
        finally:
            self.started, self.frame_hw, self.ids = False, None, []

    def start(self, frame: np.ndarray, target: Target | np.ndarray) -> Result:
        """(Re)initialise on `frame` with `target`; returns the target as a Result. A target that
        cannot be used raises TargetError (saying why) and leaves the segmenter as it was."""
        check_frame_format(frame)
        target = as_target(target, *frame.shape[:2])
        label = target_to_mask(frame, target, self._box_to_mask)
        ids = label_ids(label)
        if not ids:
            raise TargetError("the target has no object pixels")
        self.started, self.frame_hw, self.ids = False, frame.shape[:2], ids
        self.start_boxes = dict(target.boxes)
        self._start(frame, label)
        self.started = True
        return Result.from_label_mask(label, {k: 1.0 for k in ids}, ids)

    def step(self, frame: np.ndarray) -> Result:
        """Segment the next frame of the stream."""
        self.check_frame(frame)
        label, scores = self._step(frame)
        self._check_label(label)
        return Result.from_label_mask(label, scores, self.ids)

    def scan(self, frame: np.ndarray) -> Result:
        """A step of the first pass over a recorded video: the model also keeps what `adapt` learns from."""
        result = self.step(frame)
        self._observe(frame, result.mask)
        return result

    def adapt(self) -> None:
        """After a first pass of `scan`s: retrain once on it; the next `start` on the same first frame and
        objects begins from what was learned (run the recording again from its first frame)."""
        self.check_two_pass()
        if not self.started:
            raise RuntimeError("adapt() before start(): scan a recording first")
        self._adapt()

    def check_two_pass(self) -> None:
        """ValueError, saying so, unless this model adapts to a recording (`two_pass`)."""
        if not self.two_pass:
            raise ValueError(f"model {self.name!r} does not adapt to a recording: run it in one pass")

    def add_object(self, frame: np.ndarray, object_id: int, target: Target | np.ndarray,
                   current: np.ndarray) -> Result:
        """Start following object `object_id` (1..255) from `frame` (or follow it anew, if followed
        already); the others go on. `current` is the label mask last returned for this stream."""
        if not self.started:  # the one object there is: a start (a box stays a box, for models that use it)
            return self.start(frame, as_object(target, object_id))
        self.check_frame(frame)
        label = merged_label(frame, object_id, target, current, self._box_to_mask)
        if not (label == object_id).any():
            raise TargetError(f"object {object_id}'s target is empty")
        target = as_target(target, *frame.shape[:2])
        self.start_boxes = {int(object_id): next(iter(target.boxes.values()))} if target.boxes else {}
        self.ids = self._add_object(frame, int(object_id), label)
        return Result.from_label_mask(label, {k: 1.0 for k in self.ids}, self.ids)

    def remove_object(self, frame: np.ndarray, object_id: int, current: np.ndarray) -> Result:
        """Stop following `object_id`; the others go on. Removing the last object is an error (reset
        instead)."""
        if not self.started or object_id not in self.ids:
            raise TargetError(f"no object {object_id} is being followed (following {self.ids})")
        if len(self.ids) == 1:
            raise TargetError(f"object {object_id} is the last one: send a reset (or a new target) instead")
        self.check_frame(frame)
        label = current.copy()
        label[label == object_id] = 0
        self.ids = self._remove_object(frame, int(object_id), label)
        return Result.from_label_mask(label, {k: 1.0 for k in self.ids}, self.ids)

    # ---------------------------------------------------------------------------------------- checks
    def check_frame(self, frame: np.ndarray) -> None:
        """Started, an RGB frame, and the frame size the stream started with."""
        if not self.started:
            raise RuntimeError("step() before start(): give the segmenter a target first")
        check_frame_format(frame)
        h, w = self.frame_hw
        if frame.shape[:2] != (h, w):
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]}, the stream started at {w}x{h}: "
                             "restart with a new target")

    def _check_label(self, label: np.ndarray) -> None:
        if not isinstance(label, np.ndarray) or label.dtype != np.uint8 or label.shape != self.frame_hw:
            raise RuntimeError(f"model {self.name!r} returned a {getattr(label, 'shape', None)} "
                               f"{getattr(label, 'dtype', '')} mask for a {self.frame_hw} frame")
        stray = set(label_ids(label)) - set(self.ids)
        if stray:
            raise RuntimeError(f"model {self.name!r} labelled objects {sorted(stray)} it does not follow ({self.ids})")
