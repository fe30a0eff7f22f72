"""Inference stage: latest frame wins.

Each turn it drains every frame waiting on its input, keeps the newest (and any frame that carries a
new target), counts the rest as dropped, runs the segmenter, and pushes the mask to the publisher.
The stage never knows which model runs: it asks the registry (rtvos.models) for one by name, builds
its engines for the source's frame size before it reports ready, and drives it through a
`StreamSession`, which also carries out the target changes that arrive on the control socket.

The current target is kept in the run's private directory (`TargetKeeper`): an infer stage restarted
after a crash resumes following it on its first frame.
"""

from __future__ import annotations

import logging
import os
import time

import cv2
import numpy as np
import zmq

from rtvos import curve, messages
from rtvos.models import create_segmenter
from rtvos.models.protocol import Result
from rtvos.models.session import StreamSession
from rtvos.models.target import DEFAULT_BOX_INIT, Target, TargetError
from rtvos.pipeline.runtime import Stage, StartupError
from rtvos.transport import EndpointError, is_local, recv_all_nowait

log = logging.getLogger("rtvos.infer")

KEEP_TARGET_EVERY_S = 0.5   # how stale a kept target may be when the stage is restarted


class TargetKeeper:
    """The stream's current target (its last mask with objects, as a label PNG), kept where a restarted
    infer stage finds it. Written on every target change and every KEEP_TARGET_EVERY_S while following;
    removed when nothing is followed."""

    def __init__(self, path: str | None):
        self.path, self.last = path, 0.0

    def keep(self, mask: np.ndarray, following: bool, changed: bool) -> None:
        if self.path is None:
            return
        if not following:
            if changed and os.path.exists(self.path):
                os.remove(self.path)
            return
        now = time.monotonic()
        if (changed or now - self.last >= KEEP_TARGET_EVERY_S) and mask.any():
            tmp = f"{self.path}.tmp.png"
            cv2.imwrite(tmp, mask)
            os.replace(tmp, self.path)
            self.last = now

    def load(self) -> np.ndarray | None:
        if self.path is None or not os.path.exists(self.path):
            return None
        mask = cv2.imread(self.path, cv2.IMREAD_UNCHANGED)
        return mask if mask is not None and mask.ndim == 2 and mask.any() else None


class InferLoop:
    """The stage's logic, free of process plumbing (so it can be driven directly in tests)."""

    def __init__(self, segmenter, model_name: str, forward_image: bool = False, keeper: TargetKeeper | None = None,
                 every_frame: bool = False, box_init: str = DEFAULT_BOX_INIT):
        self.session = StreamSession(segmenter)
        self.box_init = box_init            # how a box in a target becomes a mask (rtvos.models.target)
        self.every_frame = every_frame      # process every frame that comes (no latest-frame-wins)
        self.model_name = model_name
        self.forward_image = forward_image  # pass the frame on, for the public image topic
        self.keeper = keeper or TargetKeeper(None)
        self.resume = self.keeper.load()    # a target kept by a predecessor that crashed
        self.counts = messages.InferCounters()
        self.pending: messages.ControlRequest | None = None  # applied to the next frame
        self.reply: messages.ControlReply | None = None      # the outcome of `pending`, for the control socket
        self.change_seconds = 0.0                            # what applying it took
        self.frame_hw: tuple[int, int] | None = None         # of the last frame

    def apply_control(self, req: messages.ControlRequest, image: np.ndarray, seq: int) -> Result | None:
        """Carry out a target change on frame `seq`; sets `self.reply` (with that seq, so a client can
        tell which published mask first reflects it). Returns the frame's result, or None when the
        change failed (the frame is then segmented as usual)."""
        t0 = time.monotonic()
        try:
            if req.op == "reset":
                result = self.session.reset(image)
            elif req.op == "set_target":
                result = self.session.start(image, Target(mask=req.mask, boxes=req.boxes or {}, box_init=self.box_init))
            elif req.op == "add_object":
                target = Target(mask=(req.mask > 0).astype(np.uint8)) if req.mask is not None \
                    else Target.from_boxes({req.object_id: req.box}, self.box_init)
                result = self.session.add(image, req.object_id, target)
            else:  # remove_object
                result = self.session.remove(image, req.object_id)
        except Exception as exc:  # a bad target, or the model failing on it: the requester is told why
            if not isinstance(exc, (TargetError, ValueError)):
                log.exception("control: %s failed on frame %d: %s", req.op, seq, exc)
            self.counts.control_failed += 1
            self.reply = messages.ControlReply(False, op=req.op, seq=seq, error=f"{req.op}: {exc}")
            return None
        finally:
            self.change_seconds = time.monotonic() - t0
        self.counts.control_ok += 1
        self.reply = messages.ControlReply(True, op=req.op, seq=seq, objects=[o.id for o in result.objects])
        log.info("control: %s applied to frame %d in %.0f ms; following %s", req.op, seq,
                 1000 * self.change_seconds, self.session.objects or "nothing")
        return result

    def stats_reply(self) -> messages.ControlReply:
        return messages.ControlReply(True, op="stats", model=self.model_name, objects=self.session.objects,
                                     active=self.session.following, counters=self.counts)

    def select(self, batch: list[messages.FrameMessage]) -> list[messages.FrameMessage]:
        """Frames to process from one drained batch (oldest first); the others count as dropped.

        The newest frame that carries a target is kept (the model must start on it), and the newest
        frame after it, if any.
        """
        if not batch or self.every_frame:
            return batch
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

    def _segment(self, msg: messages.FrameMessage) -> tuple[Result, bool]:
        """The frame's result, and whether the target changed on it."""
        request = None
        if self.pending is not None and not msg.has_target:  # a frame's own target goes first
            request, self.pending = self.pending, None
        result = self.apply_control(request, msg.image, msg.seq) if request is not None else None
        if result is not None:
            return result, True
        if msg.has_target:
            target = Target(mask=msg.target, boxes=msg.boxes) if msg.target is not None \
                else Target.from_boxes(msg.boxes, self.box_init)
            self.resume = None
            return self.session.start(msg.image, target), True
        if self.resume is not None and not self.session.following:
            resume, self.resume = self.resume, None
            if resume.shape == msg.image.shape[:2]:
                self.counts.resumed += 1
                log.info("following the target kept from before the restart (objects %s)",
                         [int(k) for k in np.unique(resume) if k])
                return self.session.start(msg.image, resume), True
        if not self.session.following:
            self.counts.no_target += 1
        return self.session.step(msg.image), False

    def process(self, msg: messages.FrameMessage, t_in_ns: int, token: str | None = None) -> list | None:
        """Segment one frame: the parts for the publisher ([header, mask, *extras]: the ground truth when
        the source has it, the image when forwarded), or None if the frame failed (counted)."""
        self.frame_hw = msg.image.shape[:2]
        try:
            result, changed = self._segment(msg)
        except TargetError as exc:
            self.counts.failed += 1
            log.error("frame %d: bad target: %s", msg.seq, exc)
            return None
        except Exception as exc:  # a model error on one frame must not kill the stream
            self.counts.failed += 1
            log.exception("frame %d: segmentation failed: %s", msg.seq, exc)
            return None
        self.counts.inferred += 1
        self.keeper.keep(result.mask, self.session.following, changed)
        stamps = dict(msg.header["stamps"])
        stamps["infer_in"] = t_in_ns
        stamps["infer_out"] = time.monotonic_ns()
        objects = [{"id": o.id, "score": round(o.score, 4), "bbox": list(o.bbox) if o.bbox else None,
                    "area": o.area} for o in result.objects]
        extras = {"gt": msg.gt_mask, "image": msg.image if self.forward_image else None}
        extras = {k: v for k, v in extras.items() if v is not None}
        parts = messages.encode_mask(
            result.mask, msg.seq, msg.header["t_capture_ns"], camera_id=msg.header["camera_id"],
            model=self.model_name, objects=objects, stamps=stamps, encoding="mono8",
            following=self.session.following, stamp=msg.header["stamp"], frame_id=msg.header["frame_id"],
            name=msg.header["name"], extras=list(extras), token=token)
        return parts + list(extras.values())


class ChangeBudget:
    """The model time target changes may take: it refills at DUTY of the wall time, up to BURST_S. A
    change is let through while the budget is not negative and its cost (its model time) is taken
    from it afterwards. A few changes in a row go through at once; a client that keeps pushing gets
    at most DUTY of the model's time, however many clients and however expensive the change, and the
    stream keeps the rest."""

    DUTY = 0.1
    BURST_S = 1.0

    def __init__(self):
        self.level, self.t = self.BURST_S, time.monotonic()

    def _refill(self, now: float) -> None:
        self.level, self.t = min(self.BURST_S, self.level + (now - self.t) * self.DUTY), now

    def wait_s(self, now: float) -> float:
        """0 when a change may go through now, else how long until one may."""
        self._refill(now)
        return 0.0 if self.level >= 0 else -self.level / self.DUTY

    def spend(self, seconds: float, now: float) -> None:
        self._refill(now)
        self.level -= seconds


class ControlSocket:
    """The ROUTER socket where target changes arrive, from any number of clients. `stats` and malformed
    requests are answered at once; a change is applied to the next frame and answered with its outcome.
    One change at a time, within the `ChangeBudget`: changes beyond it are answered "busy" with when to
    retry (ControlClient retries by itself). Nothing here can stop the stream."""

    APPLY_TIMEOUT_S = 5.0
    MAX_REQUESTS_PER_TURN = 64

    def __init__(self, sock: zmq.Socket):
        self.sock = sock
        self.waiting: bytes | None = None      # the client whose change is being applied
        self.waiting_since = 0.0
        self.budget = ChangeBudget()

    def _send(self, client: bytes, reply: messages.ControlReply) -> None:
        try:
            self.sock.send_multipart([client, b"", messages.encode_reply(reply)], flags=zmq.NOBLOCK)
        except zmq.ZMQError:
            pass  # the client is gone (or its queue is full): nothing to answer

    def serve(self, loop: InferLoop, readable: bool) -> None:
        now = time.monotonic()
        if self.waiting is not None:
            if loop.reply is not None:
                self._send(self.waiting, loop.reply)
                self.budget.spend(loop.change_seconds, now)
                loop.reply, self.waiting = None, None
            elif now - self.waiting_since > self.APPLY_TIMEOUT_S:
                loop.pending = None
                self._send(self.waiting, messages.ControlReply(False, error="no frame arrived to apply the change to"))
                self.waiting = None
        for _ in range(self.MAX_REQUESTS_PER_TURN if readable else 0):
            try:
                frames = self.sock.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                break
            client = frames[0]
            body = frames[2:] if len(frames) > 1 and frames[1] == b"" else frames[1:]  # REQ or DEALER
            self._handle(loop, client, body, now)

    def _handle(self, loop: InferLoop, client: bytes, body: list, now: float) -> None:
        try:
            header = messages.unpack_header(body[0]) if body else {}
        except messages.MessageError:
            header = {}
        wait = self.budget.wait_s(now)
        if header.get("op") in messages.CHANGE_OPS and (self.waiting is not None or wait > 0):
            loop.counts.control_busy += 1  # turned away before its mask is even decoded
            self._send(client, messages.ControlReply(False, op=header["op"], error="busy: target changes are "
                                                     "taking too much of the model's time; retry later",
                                                     retry_after_ms=int(1000 * max(wait, 0.05))))
            return
        h, w = loop.frame_hw or (0, 0)
        try:
            req = messages.decode_control(body, h * w or messages.MAX_CONTROL_PIXELS)
        except messages.MessageError as exc:
            loop.counts.rejected += 1
            self._send(client, messages.ControlReply(False, error=str(exc)))
            return
        if req.op == "stats":
            self._send(client, loop.stats_reply())
            return
        loop.pending, self.waiting, self.waiting_since = req, client, now


class Infer(Stage):
    name = "infer"

    def open(self) -> None:
        model = self.cfg.model
        try:
            segmenter = create_segmenter(model.name, threads=model.threads, **model.options)
            if self.run.frame_hw:
                h, w = self.run.frame_hw
                self.busy(f"building the model's engines for {w}x{h}")
                t0 = time.monotonic()
                segmenter.warm_up(h, w)
                self.busy(f"engines ready for {w}x{h} in {time.monotonic() - t0:.1f} s")
        except Exception as exc:  # a model that cannot load or run here, an unknown option, ...
            raise StartupError(f"model {model.name!r} cannot start: {exc}") from None
        self.loop = InferLoop(segmenter, model.name, forward_image=self.cfg.publish.images,
                              keeper=TargetKeeper(self.run.target_path), every_frame=self.cfg.source.every_frame,
                              box_init=self.cfg.source.box_init)
        self.inp = self.rt.socket(zmq.PULL, bind=self.links.frames, what="the frame link", hwm=2)
        self.out = self.rt.socket(zmq.PUSH, connect=self.links.results, hwm=64, linger_ms=5000)
        self.poller = zmq.Poller()
        self.poller.register(self.inp, zmq.POLLIN)
        self.control = ControlSocket(self._control_socket()) if self.links.control else None
        if self.control:
            self.poller.register(self.control.sock, zmq.POLLIN)
        self.ended = False

    def _control_socket(self) -> zmq.Socket:
        """Only the owner steers: the default control socket is ipc in the run's private directory;
        TCP needs loopback, or CURVE keys (rtvos keys) for any other interface."""
        endpoint, keys = self.links.control, self.links.control_keys
        sock = self.rt.socket(zmq.ROUTER)
        try:
            if keys:
                self.rt.on_close(curve.serve(sock, keys, self.rt.ctx).stop)
            elif not is_local(endpoint):
                raise StartupError(f"the control socket {endpoint} would let anyone who reaches this host change "
                                   "the targets: give it CURVE keys (`rtvos keys DIR`, then [endpoints] "
                                   "control_keys = \"DIR\"), or keep it on loopback")
            elif not endpoint.startswith("ipc://"):
                log.warning("control socket %s: any user of this machine can change the targets "
                            "(the default, ipc in the run's private directory, admits only you)", endpoint)
            sock.bind(endpoint)
        except (zmq.ZMQError, curve.CurveKeyError, EndpointError) as exc:
            raise StartupError(f"cannot bind the control socket at {endpoint}: {exc} "
                               "(set [endpoints] control, or control = \"none\")") from None
        return sock

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
                header = messages.unpack_header(parts[0].buffer, self.run.token)
                if header["kind"] == "eos":
                    self.ended = True
                    continue
                batch.append(messages.decode_frame([p.buffer for p in parts], header))
            except messages.MessageError as exc:
                self.loop.counts.rejected += 1
                log.debug("rejected a malformed message: %s", exc)
        for msg in self.loop.select(batch):
            if msg.has_target or self.loop.pending is not None:
                self.busy("starting the model on a new target")
            parts = self.loop.process(msg, t_in, self.run.token)
            self.busy("")
            if parts is not None:
                self.rt.reporter.heartbeat(self.counters())  # before the mask leaves: the supervisor's books
                self.out.send_multipart(parts, copy=False)   # never count a mask published but not inferred
        if self.control:
            self.control.serve(self.loop, False)
        return not self.ended

    def finish(self) -> None:
        self.out.send_multipart(messages.encode_eos(self.run.token))
