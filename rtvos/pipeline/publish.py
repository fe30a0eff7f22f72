"""Publish stage: puts masks on the public topic and measures latency, FPS and budget violations.

Public PUB socket, multipart `[topic, header, buffer]`:
    b"mask"   header (see rtvos.messages.encode_mask) + mask buffer (mono8 or png)
    b"stats"  header with the live statistics, about once a second
"""

from __future__ import annotations

import logging
import time

import numpy as np
import zmq

from rtvos import messages
from rtvos.config import RunConfig
from rtvos.pipeline.links import Links, Reporter, setup_stage_process
from rtvos.pipeline.stats import LatencyMonitor
from rtvos.thermal.road_error import road_confusion
from rtvos.transport import check_endpoint, make_socket

log = logging.getLogger("rtvos.publish")


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Foreground IoU (any nonzero label), 1 when both are empty."""
    p, g = pred > 0, gt > 0
    union = np.count_nonzero(p | g)
    return 1.0 if union == 0 else np.count_nonzero(p & g) / union


class GroundTruthMetrics:
    """Live accuracy when the source has ground truth, from running sums (constant memory).

    live_iou:         mean per-frame foreground IoU
    road_error_rate:  PLM eq. 3 over all frames, (FP + FN) / pixels x 100 (summed counts)
    """

    NAMES = ("live_iou", "road_error_rate")

    def __init__(self, names: list[str]):
        unknown = set(names) - set(self.NAMES)
        if unknown:
            raise ValueError(f"unknown ground-truth metric(s) {sorted(unknown)}; known: {', '.join(self.NAMES)}")
        self.names = list(names)
        self.frames = 0
        self.iou_sum = 0.0
        self.fp = self.fn = self.pixels = 0

    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        self.frames += 1
        if "live_iou" in self.names:
            self.iou_sum += mask_iou(pred, gt)
        if "road_error_rate" in self.names:
            fp, fn, total = road_confusion(pred, gt)
            self.fp, self.fn, self.pixels = self.fp + fp, self.fn + fn, self.pixels + total

    def summary(self) -> dict:
        if not self.frames:
            return {}
        out = {"gt_frames": self.frames}
        if "live_iou" in self.names:
            out["live_iou"] = round(self.iou_sum / self.frames, 4)
        if "road_error_rate" in self.names:
            out["road_error_rate"] = round(100.0 * (self.fp + self.fn) / max(1, self.pixels), 3)
        return out


class Publisher:
    def __init__(self, cfg: RunConfig, pub: zmq.Socket):
        self.cfg = cfg
        self.pub = pub
        self.monitor = LatencyMonitor(cfg.budgets.as_dict())
        self.published = 0
        self.rejected = 0
        self.gaps = 0
        self.last_seq = None
        self.ground_truth = GroundTruthMetrics(cfg.monitor.metrics)

    def handle(self, parts: list) -> None:
        t_in = time.monotonic_ns()
        header = messages.unpack_header(parts[0])
        if header["kind"] != "mask":
            raise messages.MessageError(f"publisher expects masks, got {header['kind']!r}")
        names = header.pop("extras", [])
        if not isinstance(names, list) or len(parts) != 2 + len(names):
            raise messages.MessageError(f"mask message has {len(parts)} parts, header announces {2 + len(names)}")
        extras = dict(zip(names, parts[2:]))
        msg = messages.decode_mask(parts[:2], header)
        h, w = msg.mask.shape
        if "gt" in extras:
            self.ground_truth.add(msg.mask, messages.buffer_as_array(extras["gt"], (h, w), "gt"))
        if "image" in extras and self.cfg.publish.images:
            image = messages.buffer_as_array(extras["image"], (h, w, 3), "image")
            frame = messages.encode_frame(image, msg.seq, header["t_capture_ns"],
                                          camera_id=header.get("camera_id", "cam0"), name=header.get("name"))
            self.pub.send_multipart([messages.TOPIC_IMAGE, *frame], copy=False)
        if self.last_seq is not None and msg.seq > self.last_seq + 1:
            self.gaps += msg.seq - self.last_seq - 1
        self.last_seq = msg.seq
        stamps = dict(header.get("stamps", {}))
        stamps["publish_in"] = t_in
        stamps["publish_out"] = time.monotonic_ns()
        out = messages.encode_mask(
            msg.mask, msg.seq, header["t_capture_ns"], camera_id=header.get("camera_id", "cam0"),
            model=header.get("model", "?"), objects=msg.objects, stamps=stamps,
            encoding=self.cfg.publish.encoding, name=header.get("name"))
        self.pub.send_multipart([messages.TOPIC_MASK, *out], copy=False)
        self.monitor.add(header["t_capture_ns"], stamps)
        self.published += 1

    def summary(self, recent: bool = False) -> dict:
        s = self.monitor.summary(recent=recent)
        s.update(published=self.published, rejected=self.rejected, seq_gaps=self.gaps)
        s.update(self.ground_truth.summary())
        return s


def run_publish(cfg: RunConfig, links: Links) -> None:
    stop = setup_stage_process("publish")
    ctx = zmq.Context()
    reporter = Reporter(ctx, links.stats, "publish")
    inp = make_socket(ctx, zmq.PULL, hwm=64)
    inp.bind(links.results)
    pub = make_socket(ctx, zmq.PUB, hwm=100, linger_ms=1000)
    try:
        pub.bind(check_endpoint(links.publish, links.allow_remote))
    except (zmq.ZMQError, ValueError) as exc:
        reporter.send("error", message=f"cannot bind the mask topic at {links.publish}: {exc}", fatal=True)
        log.error("cannot bind %s: %s", links.publish, exc)
        time.sleep(0.2)
        raise SystemExit(3)
    publisher = Publisher(cfg, pub)
    reporter.send("ready", endpoint=links.publish)
    eos = None
    last_stats = time.monotonic()
    try:
        while not stop and eos is None:
            if inp.poll(100):
                parts = inp.recv_multipart(copy=False)
                try:
                    header = messages.unpack_header(parts[0].buffer)
                    if header["kind"] == "eos":
                        eos = header
                        break
                    publisher.handle([p.buffer for p in parts])
                except messages.MessageError as exc:
                    publisher.rejected += 1
                    log.warning("rejected a malformed message: %s", exc)
            now = time.monotonic()
            if now - last_stats >= 1.0:
                last_stats = now
                live = publisher.summary(recent=True)
                pub.send_multipart([messages.TOPIC_STATS, messages.encode_stats(live)])
                reporter.send("heartbeat", live=live, published=publisher.published)
        final = publisher.summary()
        pub.send_multipart([messages.TOPIC_STATS, messages.encode_stats({**final, "final": True})])
        upstream = {k: v for k, v in (eos or {}).items() if k not in ("v", "kind")}
        reporter.send("final", summary=final, upstream=upstream, stopped=eos is None)
    finally:
        time.sleep(0.05)
        inp.close()
        pub.close()
        reporter.close()
        ctx.term()
