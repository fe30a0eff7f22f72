"""Capture stage: reads a source and pushes frames to inference, never blocking on a slow consumer.

A frame that cannot be handed over at once (inference busy, queue full) is dropped here and counted;
frames that carry a target are always delivered (waiting if needed), since the model needs them.
With `every_frame` (a recording to process completely) every frame waits for inference instead.
After a target frame, capture also waits (instead of dropping) until inference takes frames again:
a model's start can take seconds (PLM fine-tunes on the first frame), and a stream should not spend
them dropping every frame.  The source's pacer re-anchors afterwards, so nothing bursts.
"""

from __future__ import annotations

import time

import zmq

from rtvos import messages
from rtvos.models.target import TargetError, read_target_mask
from rtvos.pipeline.runtime import Stage, StreamError
from rtvos.sources import SourceError, open_source

TARGET_SEND_TIMEOUT_MS = 30_000
HOLD_QUEUE_FRAMES = 8  # more than capture's send queue + inference's receive queue (2 + 2) can hold
EOS_GRACE_S = 5.0


class Capture(Stage):
    name = "capture"

    def open(self) -> None:
        self.out = self.rt.socket(zmq.PUSH, connect=self.links.frames, hwm=2, linger_ms=2000)
        self.counts = messages.CaptureCounters()
        self.holding, self.held_sends = False, 0  # after a target frame: wait for inference to take frames again
        self.source = None
        sc = self.cfg.source
        try:
            self.source = open_source(sc.spec, fps=sc.fps or None, frames=sc.frames, width=sc.width,
                                      height=sc.height, seed=sc.seed, loop=sc.loop, profile=sc.profile,
                                      calibration=sc.calibration)
            resuming = self.run.first_seq > 0  # a restarted capture: the model follows the target it has
            self.target_mask = read_target_mask(sc.target_mask) if sc.target_mask and not resuming else None
            self.frames = self.source.frames(self.run.first_seq)
        except (SourceError, TargetError, OSError) as exc:
            raise StreamError(f"source failed: {exc}") from None
        self.boxes = {1: tuple(sc.target_box)} if sc.target_box and not resuming else None

    def counters(self) -> messages.CaptureCounters:
        self.counts.skipped = self.source.skipped if self.source is not None else 0
        return self.counts

    def turn(self) -> bool:
        try:
            frame = next(self.frames, None)
            if frame is None:
                return False
            self._send(frame)
        except (SourceError, messages.MessageError, OSError) as exc:
            raise StreamError(f"source failed: {exc}") from None
        return True

    def _send(self, frame) -> None:
        target, boxes = frame.target, None
        if self.counts.captured == 0 and (self.target_mask is not None or self.boxes):  # the first frame
            target, boxes = self.target_mask, self.boxes
            if target is not None and target.shape != (frame.height, frame.width):
                raise SourceError(f"target mask is {target.shape[1]}x{target.shape[0]} but frames are "
                                  f"{frame.width}x{frame.height}")
        now = time.monotonic_ns()
        stamp = frame.stamp_ns or time.time_ns() - (now - frame.t_capture_ns)  # wall clock of capture
        parts = messages.encode_frame(
            frame.image, frame.seq, frame.t_capture_ns, camera_id=self.cfg.publish.camera_id, target=target,
            boxes=boxes, gt_mask=frame.gt_mask, name=frame.name, stamps={"capture_out": now}, stamp=stamp,
            frame_id=self.cfg.publish.frame_id, token=self.run.token)
        self.counts.captured += 1
        self.rt.reporter.heartbeat(self.counters())  # every frame, before it leaves: a restarted capture
        #                                              resumes the stream at exactly the next one
        if target is not None or boxes:
            if not self.out.poll(TARGET_SEND_TIMEOUT_MS, zmq.POLLOUT):
                raise SourceError(f"inference did not take the target frame within {TARGET_SEND_TIMEOUT_MS / 1000:.0f} s")
            self.out.send_multipart(parts, copy=False)
            self.holding, self.held_sends = True, 0
        elif self.holding or self.cfg.source.every_frame:
            waited = False
            while not self.rt.stop and not self.out.poll(200, zmq.POLLOUT):
                waited = True
                self.heartbeat()
            self.out.send_multipart(parts, copy=False)
            # Inference is taking frames again once a send had to wait and then went through, or once
            # more frames went through than the queues between the stages can hold.
            self.held_sends += 1
            self.holding = self.holding and not waited and self.held_sends < HOLD_QUEUE_FRAMES
        else:
            try:
                self.out.send_multipart(parts, flags=zmq.NOBLOCK, copy=False)
            except zmq.Again:
                self.counts.dropped += 1

    def finish(self) -> None:
        """The end-of-stream marker must arrive: the stages after this one end on it. Inference may be
        busy for a long time (a first-frame fit on a loaded machine), so wait as long as it takes --
        unless asked to stop, then EOS_GRACE_S more at most (a dead infer stage must not hang the
        shutdown)."""
        if self.source is not None:
            self.source.close()
        deadline = None
        while True:
            self.heartbeat()
            if self.out.poll(100, zmq.POLLOUT):
                self.out.send_multipart(messages.encode_eos(self.run.token))
                return
            if self.rt.stop:
                deadline = deadline or time.monotonic() + EOS_GRACE_S
                if time.monotonic() > deadline:
                    self.rt.log.error("end of stream not delivered: inference is not taking frames")
                    return
