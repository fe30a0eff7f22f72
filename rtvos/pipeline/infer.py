"""Inference stage: latest frame wins.

Each turn it drains every frame waiting on its input, keeps the newest (and any frame that carries a
new target), counts the rest as dropped, runs the segmenter, and pushes the mask to the publisher.
The stage never knows which model runs: it asks the registry (rtvos.models) for one by name, and
drives it through a `StreamSession`, which also carries out the target changes that arrive on the
control socket.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import zmq

from rtvos import messages
from rtvos.models import create_segmenter
from rtvos.models.protocol import Result
from rtvos.models.session import StreamSession
from rtvos.models.target import Target, TargetError
from rtvos.pipeline.runtime import Stage, StartupError
from rtvos.transport import recv_all_nowait

log = logging.getLogger("rtvos.infer")


class InferLoop:
    """The stage's logic, free of process plumbing (so it can be driven directly in tests)."""

    def __init__(self, segmenter, model_name: str, forward_image: bool = False):
        self.session = StreamSession(segmenter)
        self.model_name = model_name
        self.forward_image = forward_image  # pass the frame on, for the public image topic
        self.counts = messages.InferCounters()
        self.pending: messages.ControlRequest | None = None  # applied to the next frame
        self.reply: messages.ControlReply | None = None      # the outcome of `pending`, for the control socket

    def apply_control(self, req: messages.ControlRequest, image: np.ndarray, seq: int) -> Result | None:
        """Carry out a target change on frame `seq`; sets `self.reply` (with that seq, so a client can
        tell which published mask first reflects it). Returns the frame's result, or None when the
        change failed (the frame is then segmented as usual)."""
        try:
            if req.op == "reset":
                result = self.session.reset(image)
            elif req.op == "set_target":
                result = self.session.start(image, Target(mask=req.mask, boxes=req.boxes or {}))
            elif req.op == "add_object":
                target = Target(mask=(req.mask > 0).astype(np.uint8)) if req.mask is not None \
                    else Target.from_boxes({req.object_id: req.box})
                result = self.session.add(image, req.object_id, target)
            else:  # remove_object
                result = self.session.remove(image, req.object_id)
        except (TargetError, ValueError) as exc:
            self.counts.control_failed += 1
            self.reply = messages.ControlReply(False, op=req.op, seq=seq, error=f"{req.op}: {exc}")
            return None
        self.counts.control_ok += 1
        self.reply = messages.ControlReply(True, op=req.op, seq=seq, objects=[o.id for o in result.objects])
        return result

    def stats_reply(self) -> messages.ControlReply:
        return messages.ControlReply(True, op="stats", model=self.model_name, objects=self.session.objects,
                                     active=self.session.following, counters=self.counts)

    def select(self, batch: list[messages.FrameMessage]) -> list[messages.FrameMessage]:
        """Frames to process from one drained batch (oldest first); the others count as dropped.

        The newest frame that carries a target is kept (the model must start on it), and the newest
        frame after it, if any.
        """
        if not batch:
            return []
        keep = []
        start_idx = max((i for i, m in enumerate(batch) if m.has_target), default=None)
        if start_idx is not None:
            keep.append(batch[start_idx])
            rest = batch[start_idx + 1:]
        else:
            rest = batch
        if rest:
            keep.append(rest[-1])
        self.counts.dropped += len(batch) - len(keep)
        return keep

    def process(self, msg: messages.FrameMessage, t_in_ns: int) -> list | None:
        """Segment one frame: the parts for the publisher ([header, mask, *extras]: the ground truth when
        the source has it, the image when forwarded), or None if the frame failed (counted)."""
        request = None
        if self.pending is not None and not msg.has_target:  # a frame's own target goes first
            request, self.pending = self.pending, None
        try:
            result = self.apply_control(request, msg.image, msg.seq) if request is not None else None
            if result is None and msg.has_target:
                target = Target(mask=msg.target, boxes=msg.boxes) if msg.target is not None \
                    else Target.from_boxes(msg.boxes)
                result = self.session.start(msg.image, target)
            elif result is None:
                if not self.session.following:
                    self.counts.no_target += 1
                result = self.session.step(msg.image)
        except TargetError as exc:
            self.counts.failed += 1
            log.error("frame %d: bad target: %s", msg.seq, exc)
            return None
        except Exception as exc:  # a model error on one frame must not kill the stream
            self.counts.failed += 1
            log.exception("frame %d: segmentation failed: %s", msg.seq, exc)
            return None
        self.counts.inferred += 1
        stamps = dict(msg.header.get("stamps", {}))
        stamps["infer_in"] = t_in_ns
        stamps["infer_out"] = time.monotonic_ns()
        objects = [{"id": o.id, "score": round(o.score, 4), "bbox": list(o.bbox) if o.bbox else None,
                    "area": o.area} for o in result.objects]
        extras = {"gt": msg.gt_mask, "image": msg.image if self.forward_image else None}
        extras = {k: v for k, v in extras.items() if v is not None}
        parts = messages.encode_mask(
            result.mask, msg.seq, msg.header["t_capture_ns"], camera_id=msg.header.get("camera_id", "cam0"),
            model=self.model_name, objects=objects, stamps=stamps, encoding="mono8",
            name=msg.header.get("name"), extra={"extras": list(extras)})
        return parts + list(extras.values())


class ControlSocket:
    """The REP socket where target changes arrive. One request at a time: a change is handed to the
    loop, applied to the next frame, and answered with its outcome; `stats` is answered at once;
    malformed requests get an error reply. Nothing here can stop the stream."""

    APPLY_TIMEOUT_S = 5.0

    def __init__(self, sock: zmq.Socket):
        self.sock = sock
        self.waiting_since: float | None = None

    def _send(self, reply: messages.ControlReply) -> None:
        self.sock.send(messages.encode_reply(reply))

    def serve(self, loop: InferLoop, readable: bool) -> None:
        if self.waiting_since is not None:
            if loop.reply is not None:
                self._send(loop.reply)
                loop.reply, self.waiting_since = None, None
            elif time.monotonic() - self.waiting_since > self.APPLY_TIMEOUT_S:
                loop.pending, self.waiting_since = None, None
                self._send(messages.ControlReply(False, error="no frame arrived to apply the change to"))
            return
        if not readable:
            return
        parts = self.sock.recv_multipart()
        try:
            req = messages.decode_control(parts)
        except messages.MessageError as exc:
            loop.counts.rejected += 1
            self._send(messages.ControlReply(False, error=str(exc)))
            return
        if req.op == "stats":
            self._send(loop.stats_reply())
            return
        loop.pending, self.waiting_since = req, time.monotonic()


class Infer(Stage):
    name = "infer"

    def open(self) -> None:
        model = self.cfg.model
        try:
            segmenter = create_segmenter(model.name, threads=model.threads, **model.options)
        except Exception as exc:  # a model that cannot load, an unknown option, ...
            raise StartupError(f"cannot create model {model.name!r}: {exc}") from None
        self.loop = InferLoop(segmenter, model.name, forward_image=self.cfg.publish.images)
        self.inp = self.rt.socket(zmq.PULL, bind=self.links.frames, what="the frame link", hwm=2)
        self.out = self.rt.socket(zmq.PUSH, connect=self.links.results, hwm=64, linger_ms=5000)
        self.poller = zmq.Poller()
        self.poller.register(self.inp, zmq.POLLIN)
        self.control = None
        if self.links.control:
            sock = self.rt.socket(zmq.REP, bind=self.links.control, what="the control socket",
                                  hint=' (set [endpoints] control, or control = "none")')
            self.control = ControlSocket(sock)
            self.poller.register(sock, zmq.POLLIN)
        self.ended = False

    def counters(self) -> messages.InferCounters:
        return self.loop.counts

    def turn(self) -> bool:
        events = dict(self.poller.poll(100))
        if self.control:
            self.control.serve(self.loop, self.control.sock in events)
        if self.inp not in events:
            return True
        t_in = time.monotonic_ns()
        batch = []
        for parts in recv_all_nowait(self.inp):
            try:
                header = messages.unpack_header(parts[0].buffer)
                if header["kind"] == "eos":
                    self.ended = True
                    continue
                batch.append(messages.decode_frame([p.buffer for p in parts], header))
            except messages.MessageError as exc:
                self.loop.counts.rejected += 1
                log.warning("rejected a malformed message: %s", exc)
        for msg in self.loop.select(batch):
            parts = self.loop.process(msg, t_in)
            if parts is not None:
                self.out.send_multipart(parts, copy=False)
        if self.control:
            self.control.serve(self.loop, False)
        return not self.ended

    def finish(self) -> None:
        self.out.send_multipart(messages.encode_eos())
