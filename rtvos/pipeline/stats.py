"""Latency and throughput bookkeeping: percentiles, budget violations, FPS, the status line."""

from __future__ import annotations

import collections
import time

import numpy as np

from rtvos.messages import LATENCY_BUCKETS_MS, LiveStats

STAGES = ("capture", "queue", "infer", "publish", "end_to_end")
SERIES_STAGES = ("end_to_end", "infer")  # kept per frame, with the time, for `rtvos stats plot`
SERIES_KEEP = 100_000                    # frames of series kept (the latest; about an hour at 30 fps)


def percentiles(values) -> dict[str, float]:
    if len(values) == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None, "count": 0}
    a = np.asarray(values, dtype=np.float64)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3), "p99": round(float(p99), 3),
            "max": round(float(a.max()), 3), "mean": round(float(a.mean()), 3), "count": int(a.size)}


def stage_latencies_ms(t_capture_ns: int, stamps: dict) -> dict[str, float]:
    """Per-stage latencies from the timestamps a mask message collected on its way.

    capture:    frame captured -> sent by the capture stage
    queue:      sent by capture -> taken by infer (transport + waiting while infer was busy)
    infer:      taken by infer -> result ready (the model)
    publish:    result ready -> published (transport to the publisher + encoding + send)
    end_to_end: frame captured -> published
    """
    def d(a, b):
        return (b - a) / 1e6 if a is not None and b is not None else None

    out = {
        "capture": d(t_capture_ns, stamps.get("capture_out")),
        "queue": d(stamps.get("capture_out"), stamps.get("infer_in")),
        "infer": d(stamps.get("infer_in"), stamps.get("infer_out")),
        "publish": d(stamps.get("infer_out"), stamps.get("publish_out")),
        "end_to_end": d(t_capture_ns, stamps.get("publish_out")),
    }
    return {k: v for k, v in out.items() if v is not None}


class LatencyMonitor:
    """Collects per-stage latencies (bounded memory), counts budget violations, measures FPS.

    Start-up is kept apart: frames captured before the first mask was published (the target frame,
    and whatever waited while the model started on it) do not count in the latency percentiles or the
    budget violations, which describe the steady state; `startup` has the time to the first mask
    (capture to published), the model's start on the target frame (its infer time), and how many
    frames were start-up."""

    def __init__(self, budgets_ms: dict[str, float], keep: int = 200_000, window: int = 120):
        self.budgets_ms = dict(budgets_ms)
        self.samples = {s: collections.deque(maxlen=keep) for s in STAGES}
        self.recent = {s: collections.deque(maxlen=window) for s in STAGES}
        self.violations = {s: 0 for s in self.budgets_ms}
        self.count = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.first_mask_ns: int | None = None  # when the first mask was published
        self.startup: dict[str, float] = {"frames": 0}
        self._recent_times = collections.deque(maxlen=window)
        self.histograms = {s: {"counts": [0] * (len(LATENCY_BUCKETS_MS) + 1), "sum_ms": 0.0} for s in STAGES}
        self.series = {k: collections.deque(maxlen=SERIES_KEEP) for k in ("t_s", *SERIES_STAGES)}

    def add(self, t_capture_ns: int, stamps: dict, now_ns: int | None = None) -> dict[str, float]:
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        lat = stage_latencies_ms(t_capture_ns, stamps)
        if self.first_mask_ns is None:
            self.first_mask_ns = stamps.get("publish_out", now_ns)
            self.startup.update({"time_to_first_mask_ms": lat.get("end_to_end"), "start_ms": lat.get("infer")})
            self.startup = {k: round(v, 3) for k, v in self.startup.items() if v is not None}
        if t_capture_ns < self.first_mask_ns:
            self.startup["frames"] += 1
        else:
            for stage, ms in lat.items():
                self.samples[stage].append(ms)
                self.recent[stage].append(ms)
                hist = self.histograms[stage]
                hist["counts"][int(np.searchsorted(LATENCY_BUCKETS_MS, ms))] += 1  # edge[i-1] < ms <= edge[i]
                hist["sum_ms"] += ms
                budget = self.budgets_ms.get(stage)
                if budget is not None and ms > budget:
                    self.violations[stage] += 1
        if all(s in lat for s in SERIES_STAGES):  # start-up included: the plot shows it
            self.series["t_s"].append((now_ns - (self.first_ns or now_ns)) / 1e9)
            for s in SERIES_STAGES:
                self.series[s].append(lat[s])
        self.count += 1
        self.first_ns = now_ns if self.first_ns is None else self.first_ns
        self.last_ns = now_ns
        self._recent_times.append(now_ns)
        return lat

    def fps(self) -> float:
        if self.count < 2 or self.last_ns == self.first_ns:
            return 0.0
        return (self.count - 1) / ((self.last_ns - self.first_ns) / 1e9)

    def recent_fps(self) -> float:
        t = self._recent_times
        if len(t) < 2 or t[-1] == t[0]:
            return 0.0
        return (len(t) - 1) / ((t[-1] - t[0]) / 1e9)

    def summary(self, recent: bool = False) -> dict:
        src = self.recent if recent else self.samples
        return {
            "frames": self.count,
            "fps": round(self.recent_fps() if recent else self.fps(), 3),
            "latency_ms": {s: percentiles(list(v)) for s, v in src.items()},
            "budget_violations": dict(self.violations),
            "budgets_ms": dict(self.budgets_ms),
            "startup": dict(self.startup),
            "histograms": {s: {"counts": list(h["counts"]), "sum_ms": round(h["sum_ms"], 3)}
                           for s, h in self.histograms.items() if sum(h["counts"])},
        }

    def latency_series(self) -> dict[str, list[float]]:
        """Per published frame: seconds since the first mask (`t_s`) and the end-to-end and infer
        latencies (ms), start-up included; the latest SERIES_KEEP frames."""
        return {k: [round(v, 3) for v in values] for k, values in self.series.items()}


def status_line(model: str, captured: int, published: int, dropped: int, live: LiveStats,
                restarts: int = 0) -> str:
    """One line for the terminal, e.g.

    online | 17.8 fps | e2e p50 52 p95 71 ms | infer p50 44 ms | cap 120 pub 108 drop 12 | over budget 3
    """

    def ms(stage, q):
        v = live.latency_ms.get(stage, {}).get(q)
        return "-" if v is None else f"{v:.0f}"

    over = sum(live.budget_violations.values())
    line = (f"{model} | {live.fps:5.1f} fps | e2e p50 {ms('end_to_end', 'p50')} "
            f"p95 {ms('end_to_end', 'p95')} ms | infer p50 {ms('infer', 'p50')} ms | "
            f"cap {captured} pub {published} drop {dropped} | over budget {over}")
    if restarts:
        line += f" | restarts {restarts}"
    return line
