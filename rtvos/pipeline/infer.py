"""Inference stage: latest frame wins.

Each turn it drains every frame waiting on its input, keeps the newest (and any frame that carries a
new target), counts the rest as dropped, runs the segmenter, and pushes the mask to the publisher.
The stage never knows which model runs: it asks the registry for one by name.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import zmq

from rtvos import messages
from rtvos.config import RunConfig
from rtvos.pipeline.links import Links, Reporter, setup_stage_process
from rtvos.segmenters import create_segmenter
from rtvos.segmenters.protocol import Result, Target, TargetError, merged_label
from rtvos.transport import check_endpoint, make_socket, recv_all_nowait

log = logging.getLogger("rtvos.infer")


class InferLoop:
    """The stage's logic, free of process plumbing (so it can be driven directly in tests)."""

    def __init__(self, segmenter, model_name: str, forward_image: bool = False):
        self.seg = segmenter
        self.model_name = model_name
        self.forward_image = forward_image  # pass the frame on, for the public image topic
        self.counters = {"dropped_infer": 0, "failed": 0, "rejected": 0, "no_target": 0, "inferred": 0,
                         "control_ok": 0, "control_failed": 0}
        self.active = False               # following something (a reset stops until the next target)
        self.current: np.ndarray | None = None  # the last label mask (object changes start from it)
        self.pending: messages.ControlRequest | None = None  # applied to the next frame
        self.reply: dict | None = None    # the outcome of `pending`, for the control socket

    def apply_control(self, req: messages.ControlRequest, image: np.ndarray, seq: int) -> Result | None:
        """Carry out a target change on frame `seq`; sets `self.reply` (with that seq, so a client can
        tell which published mask first reflects it). Returns the frame's result, or None when the
        change failed (the frame is then segmented as usual)."""
        h, w = image.shape[:2]
        try:
            if req.op == "reset":
                self.active, self.current = False, None
                result = Result.from_label_mask(np.zeros((h, w), np.uint8), {}, [])
            elif req.op == "set_target":
                result = self.seg.start(image, Target(mask=req.mask, boxes=req.boxes or {}))
                self.active = True
            elif req.op == "add_object":
                target = Target(mask=(req.mask > 0).astype(np.uint8)) if req.mask is not None \
                    else Target.from_boxes({req.object_id: req.box})
                if self.active:
                    result = self.seg.add_object(image, req.object_id, target, self.current)
                else:  # after a reset (or before any target) the new object is all there is
                    nothing = np.zeros((h, w), np.uint8)
                    result = self.seg.start(image, merged_label(image, req.object_id, target, nothing))
                self.active = True
            else:  # remove_object
                if not self.active:
                    raise TargetError("nothing is being followed")
                result = self.seg.remove_object(image, req.object_id, self.current)
        except (TargetError, ValueError) as exc:
            self.counters["control_failed"] += 1
            self.reply = {"ok": False, "error": f"{req.op}: {exc}", "seq": seq}
            return None
        self.counters["control_ok"] += 1
        self.reply = {"ok": True, "op": req.op, "seq": seq, "objects": [o.id for o in result.objects]}
        return result

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
        self.counters["dropped_infer"] += len(batch) - len(keep)
        return keep

    def process(self, msg: messages.FrameMessage, t_in_ns: int) -> list | None:
        """Segment one frame: the parts for the publisher ([header, mask, *extras]: the ground truth when
        the source has it, the image when forwarded), or None if the frame failed (counted)."""
        h, w = msg.image.shape[:2]
        request = None
        if self.pending is not None and not msg.has_target:  # a frame's own target goes first
            request, self.pending = self.pending, None
        try:
            result = self.apply_control(request, msg.image, msg.seq) if request is not None else None
            if result is not None:
                pass
            elif msg.has_target:
                target = Target(mask=msg.target, boxes=msg.boxes) if msg.target is not None \
                    else Target.from_boxes(msg.boxes)
                result = self.seg.start(msg.image, target)
                self.active = True
            elif self.active and self.seg.started:
                result = self.seg.step(msg.image)
            else:
                self.counters["no_target"] += 1
                result = Result.from_label_mask(np.zeros((h, w), np.uint8), {}, [])
            if result.mask.shape != (h, w):
                raise RuntimeError(f"model returned a {result.mask.shape} mask for a {(h, w)} frame")
        except TargetError as exc:
            self.counters["failed"] += 1
            log.error("frame %d: bad target: %s", msg.seq, exc)
            return None
        except Exception as exc:  # a model error on one frame must not kill the stream
            self.counters["failed"] += 1
            log.exception("frame %d: segmentation failed: %s", msg.seq, exc)
            return None
        self.counters["inferred"] += 1
        self.current = result.mask
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

    def __init__(self, ctx: zmq.Context, links: Links):
        self.sock = make_socket(ctx, zmq.REP)
        self.sock.bind(check_endpoint(links.control, links.allow_remote))
        self.waiting_since: float | None = None

    def serve(self, loop: InferLoop, readable: bool) -> None:
        if self.waiting_since is not None:
            if loop.reply is not None:
                self.sock.send(messages.encode_reply(**loop.reply))
                loop.reply, self.waiting_since = None, None
            elif time.monotonic() - self.waiting_since > self.APPLY_TIMEOUT_S:
                loop.pending, self.waiting_since = None, None
                self.sock.send(messages.encode_reply(False, error="no frame arrived to apply the change to"))
            return
        if not readable:
            return
        parts = self.sock.recv_multipart()
        try:
            req = messages.decode_control(parts)
        except messages.MessageError as exc:
            loop.counters["rejected"] += 1
            self.sock.send(messages.encode_reply(False, error=str(exc)))
            return
        if req.op == "stats":
            objects = sorted(int(k) for k in np.unique(loop.current) if k) if loop.active and loop.current is not None else []
            self.sock.send(messages.encode_reply(True, op="stats", model=loop.model_name, objects=objects,
                                                 active=loop.active, counters=loop.counters))
            return
        loop.pending, self.waiting_since = req, time.monotonic()


def run_infer(cfg: RunConfig, links: Links) -> None:
    stop = setup_stage_process("infer")
    import torch

    torch.set_num_threads(cfg.model.threads or os.cpu_count() or 1)
    ctx = zmq.Context()
    reporter = Reporter(ctx, links.stats, "infer")
    try:
        seg = create_segmenter(cfg.model.name, **cfg.model.options)
    except Exception as exc:
        reporter.send("error", message=f"cannot create model {cfg.model.name!r}: {exc}", fatal=True)
        log.error("cannot create model %r: %s", cfg.model.name, exc)
        time.sleep(0.2)
        raise SystemExit(3)
    inp = make_socket(ctx, zmq.PULL, hwm=2)
    inp.bind(links.frames)
    out = make_socket(ctx, zmq.PUSH, hwm=64, linger_ms=5000)
    out.connect(links.results)
    try:
        control = ControlSocket(ctx, links) if links.control else None
    except (zmq.ZMQError, ValueError) as exc:
        reporter.send("error", message=f"cannot bind the control socket at {links.control}: {exc} "
                      "(set [endpoints] control, or control = \"none\")", fatal=True)
        time.sleep(0.2)
        raise SystemExit(3)
    loop = InferLoop(seg, cfg.model.name, forward_image=cfg.publish.images)
    poller = zmq.Poller()
    poller.register(inp, zmq.POLLIN)
    if control:
        poller.register(control.sock, zmq.POLLIN)
    reporter.send("ready", model=cfg.model.name, control=links.control)
    eos = None
    try:
        while not stop and eos is None:
            reporter.heartbeat(**loop.counters)
            events = dict(poller.poll(100))
            if control:
                control.serve(loop, control.sock in events)
            if inp not in events:
                continue
            t_in = time.monotonic_ns()
            batch = []
            for parts in recv_all_nowait(inp):
                try:
                    header = messages.unpack_header(parts[0].buffer)
                    if header["kind"] == "eos":
                        eos = header
                        continue
                    batch.append(messages.decode_frame([p.buffer for p in parts], header))
                except messages.MessageError as exc:
                    loop.counters["rejected"] += 1
                    log.warning("rejected a malformed message: %s", exc)
            for msg in loop.select(batch):
                parts = loop.process(msg, t_in)
                if parts is not None:
                    out.send_multipart(parts, copy=False)
            if control:
                control.serve(loop, False)
        counters = dict(eos or {})
        counters.pop("v", None)
        counters.pop("kind", None)
        counters.update(loop.counters)
        counters["stopped"] = eos is None
        out.send_multipart(messages.encode_eos(**counters))
        reporter.send("final", **loop.counters)
    finally:
        time.sleep(0.05)
        inp.close()
        out.close()
        if control:
            control.sock.close()
        reporter.close()
        ctx.term()
