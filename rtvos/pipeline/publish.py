"""Publish stage: puts masks on the public topic and measures latency, FPS, budget violations and, when
the source has ground truth, the metrics named in the launch file (rtvos.evaluation.live).

Public PUB socket, multipart `[topic, header, buffer]`:
    b"mask"   header (see rtvos.messages.encode_mask) + mask buffer (mono8 or png)
    b"image"  the frames too, when the run publishes them (`--publish-images`)
    b"stats"  header with the live statistics, about once a second (`LiveStats.topic_payload`)
"""

from __future__ import annotations

import json
import logging
import time

import zmq

from rtvos import messages
from rtvos.config import RunConfig
from rtvos.evaluation.live import LiveMetrics
from rtvos.pipeline.runtime import Stage, StartupError
from rtvos.pipeline.stats import LatencyMonitor

log = logging.getLogger("rtvos.publish")

STATS_INTERVAL_S = 1.0


class Publisher:
    """The stage's logic, free of process plumbing."""

    def __init__(self, cfg: RunConfig, pub: zmq.Socket):
        self.cfg = cfg
        self.pub = pub
        self.monitor = LatencyMonitor(cfg.budgets.as_dict())
        self.metrics = LiveMetrics(cfg.monitor.metrics)
        self.counts = messages.PublishCounters()
        self.last_seq = None

    def handle(self, parts: list, header: dict) -> None:
        t_in = time.monotonic_ns()
        msg = messages.decode_mask(parts, header)
        h, w = msg.mask.shape
        if "gt" in msg.extras:
            self.metrics.add(msg.mask, messages.buffer_as_array(msg.extras["gt"], (h, w), "gt"))
        hd = msg.header
        if "image" in msg.extras and self.cfg.publish.images:
            image = messages.buffer_as_array(msg.extras["image"], (h, w, 3), "image")
            frame = messages.encode_frame(image, msg.seq, hd["t_capture_ns"], camera_id=hd["camera_id"],
                                          name=hd["name"], stamp=hd["stamp"], frame_id=hd["frame_id"])
            self.pub.send_multipart([messages.TOPIC_IMAGE, *frame], copy=False)
        if self.last_seq is not None and msg.seq > self.last_seq + 1:
            self.counts.seq_gaps += msg.seq - self.last_seq - 1
        self.last_seq = msg.seq
        stamps = dict(hd["stamps"])
        stamps["publish_in"] = t_in
        stamps["publish_out"] = time.monotonic_ns()
        out = messages.encode_mask(
            msg.mask, msg.seq, hd["t_capture_ns"], camera_id=hd["camera_id"], model=hd["model"], objects=msg.objects,
            stamps=stamps, encoding=self.cfg.publish.encoding, following=msg.following, stamp=hd["stamp"],
            frame_id=hd["frame_id"], name=hd["name"])
        self.pub.send_multipart([messages.TOPIC_MASK, *out], copy=False)
        self.monitor.add(hd["t_capture_ns"], stamps)
        self.counts.published += 1
        self.counts.following += msg.following

    def live(self, recent: bool = False) -> messages.LiveStats:
        return messages.LiveStats(**self.monitor.summary(recent=recent), metrics=self.metrics.summary())

    def send_stats(self, final: bool = False) -> None:
        payload = self.live(recent=not final).topic_payload(self.counts, final=final)
        self.pub.send_multipart([messages.TOPIC_STATS, messages.encode_stats(payload)])


class Publish(Stage):
    name = "publish"

    def open(self) -> None:
        self.inp = self.rt.socket(zmq.PULL, bind=self.links.results, what="the result link", hwm=64)
        pub = self.rt.socket(zmq.PUB, bind=self.links.publish, what="the mask topic", hwm=100, linger_ms=1000)
        try:
            self.publisher = Publisher(self.cfg, pub)
        except ValueError as exc:  # e.g. an unknown ground-truth metric
            raise StartupError(str(exc)) from None
        self.last_stats = time.monotonic()

    def counters(self) -> messages.PublishCounters:
        return self.publisher.counts

    def live(self, final: bool = False) -> messages.LiveStats:
        return self.publisher.live(recent=not final)

    def turn(self) -> bool:
        if self.inp.poll(100):
            parts = self.inp.recv_multipart(copy=False)
            try:
                header = messages.unpack_header(parts[0].buffer, self.run.token)
                if header["kind"] == "eos":
                    return False
                self.publisher.handle([p.buffer for p in parts], header)
            except messages.MessageError as exc:
                self.publisher.counts.rejected += 1
                log.debug("rejected a malformed message: %s", exc)
        now = time.monotonic()
        if now - self.last_stats >= STATS_INTERVAL_S:
            self.last_stats = now
            self.publisher.send_stats()
        return True

    def finish(self) -> None:
        self.publisher.send_stats(final=True)
        with open(self.run.latency_series_path, "w") as f:
            json.dump(self.publisher.monitor.latency_series(), f)
