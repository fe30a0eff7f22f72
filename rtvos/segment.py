"""`rtvos segment INPUT --out DIR`: a recording segmented completely -- every frame, none dropped (the
pipeline drops frames to stay live; a recording has time) -- with a progress bar.

INPUT is any file source: a video, an image folder (a DAVIS sequence brings its first annotation), an
MCAP recording (its first mask and its stamps), a thermal recording. The first frame's target is the
recording's own, or `--target-mask` / `--box`. Writes, for a recording named NAME:

    DIR/NAME/<frame>.png   a label mask per frame in the DAVIS results layout (frame 0: the target),
                           scored as it is by `rtvos eval --score DIR`
    --mcap F.mcap          the masks, detections and frames as ROS 2 messages (as `rtvos run --record`)
    --overlay V.mp4|.avi   the video with the masks drawn on it

A frame the source cannot read is skipped and counted; a frame the model fails on is counted and its
mask left out; either makes the exit code 1, with the counts said.

`--two-pass` (models that adapt to a recording, rtvos.models.protocol): the recording is read twice, a
first pass the model adapts to, then the pass whose masks are written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from rtvos.evaluation.davis import write_result
from rtvos.models.protocol import Segmenter
from rtvos.models.session import StreamSession
from rtvos.models.target import Target, as_target
from rtvos.sources import Source
from rtvos.view.overlay import overlay

DEFAULT_RATE = 30.0  # frames/s a recording is stamped at when it has no stamps and does not say its rate
VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG"}


class SegmentError(ValueError):
    """The job cannot run as asked (no target, an output it cannot write); the message says why."""


@dataclass
class SegmentReport:
    name: str
    frames: int = 0          # frames read
    masks: int = 0           # masks written (frames read minus those the model failed on)
    failed: list[str] = field(default_factory=list)  # frames the model failed on, and why
    skipped: int = 0         # frames the source could not read
    seconds: float = 0.0     # time spent in the model's steps (its starts on the first frame apart; with two
    #                          passes the first pass's steps and the adaptation too)

    @property
    def fps(self) -> float:
        return (self.masks - 1) / self.seconds if self.seconds > 0 and self.masks > 1 else 0.0


class OverlayVideo:
    """The overlaid frames as a video file; the codec follows the suffix (VIDEO_CODECS)."""

    def __init__(self, path: str | Path, fps: float):
        self.path, self.fps = Path(path), fps
        if self.path.suffix.lower() not in VIDEO_CODECS:
            raise SegmentError(f"--overlay {self.path}: name a {' or '.join(VIDEO_CODECS)} file")
        self.writer = None

    def write(self, picture_bgr: np.ndarray) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = picture_bgr.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*VIDEO_CODECS[self.path.suffix.lower()])
            self.writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (w, h))
            if not self.writer.isOpened():
                raise SegmentError(f"--overlay {self.path}: OpenCV cannot write this file")
        self.writer.write(picture_bgr)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()


def _objects(result) -> list[dict]:
    return [{"id": o.id, "score": round(o.score, 4), "bbox": list(o.bbox) if o.bbox else None, "area": o.area}
            for o in result.objects]


def first_pass(source: Source, session: StreamSession, target: Target | np.ndarray | None, name: str,
               progress: bool = True) -> float:
    """The first of two passes over `source` (StreamSession.first_pass), with a progress bar; returns the
    seconds spent in the model. Nothing happens for a recording without a readable frame."""
    try:
        session.segmenter.check_two_pass()
    except ValueError as exc:
        raise SegmentError(str(exc)) from exc
    frames = source.frames()
    try:
        with tqdm(total=source.frame_count, unit="frame", desc=f"{name} (first pass)", disable=not progress) as bar:
            frame = next(frames, None)
            if frame is None:
                return 0.0
            _start(session, frame, target, name)
            bar.update(1)

            def images():
                for f in frames:
                    yield f.image
                    bar.update(1)

            return session.first_pass(images())
    finally:
        frames.close()


def _start(session: StreamSession, frame, target: Target | np.ndarray | None, name: str):
    """Start on the recording's first frame: `target`, else the recording's own; SegmentError if neither
    is there or the model cannot start."""
    first = target if target is not None else frame.target
    if first is None:
        raise SegmentError(f"{name} has no first-frame target: give --target-mask M.png or --box x0,y0,x1,y1")
    try:
        return session.start(frame.image, as_target(first, frame.height, frame.width))
    except Exception as exc:
        raise SegmentError(f"the model could not start on the first frame: {exc}") from exc


def segment_recording(source: Source, segmenter: Segmenter, out_dir: str | Path, *, name: str | None = None,
                      target: Target | np.ndarray | None = None, mcap: str | Path | None = None,
                      overlay_video: str | Path | None = None, camera_id: str = "cam0", frame_id: str | None = None,
                      progress: bool = True, two_pass: bool = False) -> SegmentReport:
    """Run `segmenter` on every frame of `source`; see the module docstring. `target` (else the source's
    first-frame target) names the objects on the first frame; `two_pass`: a first pass to adapt on."""
    name = name or source.name
    rate = getattr(source, "native_fps", None) or DEFAULT_RATE
    report = SegmentReport(name=name)
    session = StreamSession(segmenter)
    skipped_before = 0
    if two_pass:
        report.seconds = first_pass(source, session, target, name, progress)
        skipped_before = source.skipped
    recorder = video = None
    if mcap:
        from rtvos.ros.mcap_file import McapRecorder  # noqa: PLC0415 (the MCAP libraries load only when needed)

        recorder = McapRecorder(mcap)
    if overlay_video:
        video = OverlayVideo(overlay_video, rate)
    t_start = time.time_ns()
    frames = source.frames()
    try:
        with tqdm(total=source.frame_count, unit="frame", desc=name, disable=not progress) as bar:
            for frame in frames:
                report.frames += 1
                frame_name = frame.name or f"{frame.seq:05d}"
                t0 = time.perf_counter()
                try:
                    if report.frames == 1:
                        result = _start(session, frame, target, name)
                    else:
                        result = session.step(frame.image)
                        report.seconds += time.perf_counter() - t0
                except SegmentError:
                    raise
                except Exception as exc:  # the model failed on this frame: counted, the job goes on
                    report.failed.append(f"{frame_name}: {type(exc).__name__}: {exc}")
                    bar.update(1)
                    continue
                write_result(out_dir, name, frame_name, result.mask)
                report.masks += 1
                objects = _objects(result)
                if recorder is not None:
                    stamp = frame.stamp_ns or t_start + round(frame.seq * 1e9 / rate)
                    recorder.mask({"camera_id": camera_id, "stamp": stamp, "frame_id": frame_id or camera_id,
                                   "objects": objects}, result.mask, frame.image)
                if video is not None:
                    video.write(overlay(frame.image, result.mask, objects, [f"{name} {frame_name}"]))
                bar.update(1)
                bar.set_postfix(objects=len(objects), failed=len(report.failed))
    finally:
        frames.close()
        report.skipped = source.skipped - skipped_before
        if recorder is not None:
            recorder.close()
        if video is not None:
            video.close()
    return report
