"""Capture stage: reads a source and pushes frames to inference, never blocking on a slow consumer.

A frame that cannot be handed over at once (inference busy, queue full) is dropped here and counted;
frames that carry a target are always delivered (waiting if needed), since the model needs them.
After a target frame, capture also waits (instead of dropping) until inference takes frames again:
a model's start can take seconds (PLM fine-tunes on the first frame), and a stream should not spend
them dropping every frame.  The source's pacer re-anchors afterwards, so nothing bursts.
"""

from __future__ import annotations

import logging
import time

import cv2
import numpy as np
import zmq

from rtvos import messages
from rtvos.config import RunConfig
from rtvos.pipeline.links import Links, Reporter, setup_stage_process
from rtvos.sources import SourceError, open_source
from rtvos.transport import make_socket

log = logging.getLogger("rtvos.capture")

TARGET_SEND_TIMEOUT_MS = 30_000
HOLD_QUEUE_FRAMES = 8  # more than capture's send queue + inference's receive queue (2 + 2) can hold


def load_target_mask(path: str) -> np.ndarray:
    """A PNG label mask: 0 background, k = object k. A 0/255 mask (DAVIS style) becomes object 1."""
    mask = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise SourceError(f"cannot read target mask {path!r}: expected a single-channel PNG")
    values = np.unique(mask)
    if len(values) == 2 and values[1] == 255:
        mask = (mask > 0).astype(np.uint8)
    return mask


def send_eos(sock: zmq.Socket, parts: list, stop, reporter: Reporter, grace_s: float = 5.0) -> bool:
    deadline = None
    while True:
        reporter.heartbeat(waiting="end of stream")
        if sock.poll(100, zmq.POLLOUT):
            sock.send_multipart(parts)
            return True
        if stop:
            deadline = deadline or time.monotonic() + grace_s
            if time.monotonic() > deadline:
                log.error("end of stream not delivered: inference is not taking frames")
                return False


def run_capture(cfg: RunConfig, links: Links) -> None:
    stop = setup_stage_process("capture")
    ctx = zmq.Context()
    reporter = Reporter(ctx, links.stats, "capture")
    out = make_socket(ctx, zmq.PUSH, hwm=2)
    out.connect(links.frames)
    sc = cfg.source
    captured = dropped = 0
    holding, held_sends = False, 0  # after a target frame: wait for inference to take frames again
    source = None
    error = None
    try:
        source = open_source(sc.spec, fps=sc.fps or None, frames=sc.frames, width=sc.width,
                             height=sc.height, seed=sc.seed, loop=sc.loop, profile=sc.profile,
                             calibration=sc.calibration)
        target_mask = load_target_mask(sc.target_mask) if sc.target_mask else None
        boxes = {1: tuple(sc.target_box)} if sc.target_box else None
        reporter.send("ready", source=sc.spec)
        with source:
            for frame in source.frames():
                if stop:
                    break
                target = frame.target
                frame_boxes = None
                if captured == 0 and (target_mask is not None or boxes):
                    target, frame_boxes = target_mask, boxes
                    if target is not None and target.shape != (frame.height, frame.width):
                        raise SourceError(
                            f"target mask is {target.shape[1]}x{target.shape[0]} but frames are "
                            f"{frame.width}x{frame.height}")
                parts = messages.encode_frame(
                    frame.image, frame.seq, frame.t_capture_ns, camera_id=cfg.publish.camera_id,
                    target=target, boxes=frame_boxes, gt_mask=frame.gt_mask, name=frame.name,
                    stamps={"capture_out": time.monotonic_ns()})
                captured += 1
                if target is not None or frame_boxes:
                    if not out.poll(TARGET_SEND_TIMEOUT_MS, zmq.POLLOUT):
                        raise SourceError("inference did not take the target frame within 30 s")
                    out.send_multipart(parts, copy=False)
                    holding, held_sends = True, 0
                elif holding:
                    waited = False
                    while not stop and not out.poll(200, zmq.POLLOUT):
                        waited = True
                        reporter.heartbeat(captured=captured, dropped=dropped, waiting="model start")
                    out.send_multipart(parts, copy=False)
                    # Inference is taking frames again once a send had to wait and then went through, or
                    # once more frames went through than the queues between the stages can hold.
                    held_sends += 1
                    holding = not waited and held_sends < HOLD_QUEUE_FRAMES
                else:
                    try:
                        out.send_multipart(parts, flags=zmq.NOBLOCK, copy=False)
                    except zmq.Again:
                        dropped += 1
                reporter.heartbeat(captured=captured, dropped=dropped,
                                   skipped=getattr(source, "skipped", 0))
    except (SourceError, messages.MessageError, OSError) as exc:
        error = str(exc)
        log.error("source failed: %s", exc)
        reporter.send("error", message=f"source failed: {exc}")
    finally:
        counters = {"frames_captured": captured, "dropped_capture": dropped,
                    "source_skipped": int(getattr(source, "skipped", 0)), "error": error}
        # The end-of-stream marker must arrive: it carries the counters. Inference may be busy for a
        # long time (a first-frame fit on a loaded machine), so wait as long as it takes -- unless
        # asked to stop, then 5 s more at most (a dead infer stage must not hang the shutdown).
        send_eos(out, messages.encode_eos(**counters), stop, reporter)
        reporter.send("final", **counters)
        time.sleep(0.05)
        out.close(linger=2000)
        reporter.close()
        ctx.term()
