"""Record stage (only when the run records or serves Foxglove): subscribes to the run's public topic
like any subscriber and hands every mask (with its frame, when published) and the statistics to the
bridge's sinks -- an MCAP file of ROS 2 messages, the Foxglove live server (rtvos.ros). Off the
publish path, so recording costs the stream nothing; it ends with the final statistics."""

from __future__ import annotations

import time
from pathlib import Path

from rtvos import messages
from rtvos.client import MaskSubscriber, SubscriberTimeout
from rtvos.pipeline.runtime import Stage, StartupError

SUBSCRIBE_SETTLE_S = 0.3  # the subscription reaches the publisher before the stage says it is ready


class Record(Stage):
    name = "record"

    def open(self) -> None:
        from rtvos.ros.bridge import Bridge  # noqa: PLC0415

        cfg = self.cfg.record
        if cfg.mcap and self.run.restarts:  # a restarted recorder writes a file of its own
            path = Path(cfg.mcap)
            cfg.mcap = str(path.with_name(f"{path.stem}.{self.run.restarts}{path.suffix}"))
        try:
            self.bridge = Bridge.open(cfg, self.cfg.source.calibration, self.cfg.endpoints.allow_remote)
        except Exception as exc:  # a path that cannot be written, a port taken, keys missing...
            raise StartupError(f"cannot record ({cfg.mcap or ''} {cfg.foxglove or ''}): {exc}") from None
        self.sub = MaskSubscriber(self.links.publish, stats=True, images=self.cfg.publish.images, ctx=self.rt.ctx)
        self.counts = messages.RecordCounters()
        self.last_seq, self.seen_stats = None, None
        time.sleep(SUBSCRIBE_SETTLE_S)
        self.busy(" and ".join(f"{what} {where}" for what, where in (("recording to", cfg.mcap),
                                                                         ("Foxglove on", cfg.foxglove)) if where))

    def counters(self) -> messages.RecordCounters:
        self.counts.rejected = self.sub.rejected
        return self.counts

    def turn(self) -> bool:
        try:
            msg = self.sub.recv(timeout=0.1)
        except SubscriberTimeout:
            msg = None
        if msg is not None:
            self.bridge.mask(msg)
            self.counts.recorded += 1
            if self.last_seq is not None and msg.seq > self.last_seq + 1:
                self.counts.gaps += msg.seq - self.last_seq - 1
            self.last_seq = msg.seq
        stats = self.sub.last_stats
        if stats is not None and stats is not self.seen_stats:
            self.seen_stats = stats
            self.bridge.stats({k: v for k, v in stats.items() if k not in ("v", "kind")})
            if stats.get("final"):
                return False
        return True

    def finish(self) -> None:
        self.bridge.close()
        self.sub.close()
