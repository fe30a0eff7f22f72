"""`rtvos run --metrics [HOST:]PORT`: the run's counters and latencies for Prometheus, and a health
endpoint for orchestrators, served by the supervisor from what the stages report to it.

    GET /metrics   Prometheus text format (prometheus-client):
        rtvos_frames_total{stage, outcome}       frames per stage and what became of them (captured,
                                                 dropped, skipped; inferred, dropped, failed, no_target;
                                                 published, following; recorded), over restarts
        rtvos_latency_seconds{stage}             histogram per stage and end to end (steady state)
        rtvos_budget_violations_total{stage}     frames over their stage's latency budget
        rtvos_restarts_total{stage}              stage processes restarted after dying
        rtvos_messages_rejected_total{stage}     malformed messages refused
        rtvos_control_changes_total{result}      target changes applied, refused, busy
        rtvos_fps                                masks published per second (recent)
        rtvos_model_start_seconds                the model's start on its first target
        rtvos_time_to_first_mask_seconds         first frame captured -> its mask published
        rtvos_live_iou, ...                      ground-truth metrics, when the source has ground truth
        rtvos_stage_up{stage}                    1 while the stage's process runs
        rtvos_ready                              1 while /health says ready
        rtvos_info{model, source, camera_id}     always 1
    GET /health    200 {"status": "ready", ...} once the first mask of a target is out and while every
                   stage runs; 503 with status "starting" (or "stopping", "degraded") before and after.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from rtvos import messages

# counter fields that count frames (rtvos_frames_total's outcome label); the rest have families of their own
FRAME_OUTCOMES = {"capture": ("captured", "dropped", "skipped"),
                  "infer": ("inferred", "dropped", "failed", "no_target"),
                  "publish": ("published", "following"),
                  "record": ("recorded",)}
CONTROL_RESULTS = {"control_ok": "applied", "control_failed": "refused", "control_busy": "busy"}


@dataclass
class RunView:
    """What the exporter reads about the run (the supervisor fills it in; `snapshot` is called per scrape)."""

    model: str
    source: str
    camera_id: str
    counters: dict[str, messages.Counters] = field(default_factory=dict)  # per stage, over restarts
    restarts: dict[str, int] = field(default_factory=dict)
    up: dict[str, bool] = field(default_factory=dict)
    live: messages.LiveStats = field(default_factory=messages.LiveStats)
    status: str = "starting"  # starting | ready | degraded | stopping

    @property
    def ready(self) -> bool:
        return self.status == "ready"


def health_status(following: int, up: dict[str, bool], stopping: bool) -> str:
    """ready once a mask of a target is out while every stage runs; degraded when a stage is down after that."""
    if stopping:
        return "stopping"
    if following == 0:
        return "starting"
    return "ready" if all(up.values()) else "degraded"


def metric_name(text: str) -> str:
    return "rtvos_" + re.sub(r"[^a-zA-Z0-9_]", "_", text)


class RunCollector:
    """A prometheus-client collector over `snapshot()` (a fresh RunView per scrape)."""

    def __init__(self, snapshot: Callable[[], RunView]):
        self.snapshot = snapshot

    def collect(self):
        view = self.snapshot()
        frames = CounterMetricFamily("rtvos_frames", "Frames per stage and what became of them",
                                     labels=["stage", "outcome"])
        rejected = CounterMetricFamily("rtvos_messages_rejected", "Malformed messages refused", labels=["stage"])
        control = CounterMetricFamily("rtvos_control_changes", "Target changes by result", labels=["result"])
        for stage, counters in view.counters.items():
            values = counters.as_dict()
            for outcome in FRAME_OUTCOMES.get(stage, ()):
                frames.add_metric([stage, outcome], values[outcome])
            if "rejected" in values:
                rejected.add_metric([stage], values["rejected"])
            for key, result in CONTROL_RESULTS.items():
                if key in values:
                    control.add_metric([result], values[key])
        yield from (frames, rejected, control)

        restarts = CounterMetricFamily("rtvos_restarts", "Stage processes restarted after dying", labels=["stage"])
        up = GaugeMetricFamily("rtvos_stage_up", "1 while the stage's process runs", labels=["stage"])
        for stage in view.counters:
            restarts.add_metric([stage], view.restarts.get(stage, 0))
            up.add_metric([stage], float(view.up.get(stage, False)))
        yield from (restarts, up)

        live = view.live
        latency = HistogramMetricFamily("rtvos_latency_seconds", "Latency per stage and end to end (steady state)",
                                        labels=["stage"])
        edges = [f"{ms / 1000:g}" for ms in messages.LATENCY_BUCKETS_MS] + ["+Inf"]
        for stage, hist in live.histograms.items():
            cumulative, running = [], 0
            for edge, count in zip(edges, hist["counts"]):
                running += count
                cumulative.append((edge, running))
            latency.add_metric([stage], cumulative, hist["sum_ms"] / 1000)
        yield latency
        violations = CounterMetricFamily("rtvos_budget_violations", "Frames over their stage's latency budget",
                                         labels=["stage"])
        for stage, n in live.budget_violations.items():
            violations.add_metric([stage], n)
        yield violations
        yield GaugeMetricFamily("rtvos_fps", "Masks published per second (recent)", value=live.fps)
        startup = {"start_ms": ("rtvos_model_start_seconds", "The model's start on its first target"),
                   "time_to_first_mask_ms": ("rtvos_time_to_first_mask_seconds",
                                             "First frame captured to its mask published")}
        for key, (name, doc) in startup.items():
            if live.startup.get(key) is not None:
                yield GaugeMetricFamily(name, doc, value=live.startup[key] / 1000)
        for key, value in live.metrics.items():
            yield GaugeMetricFamily(metric_name(key), f"Ground-truth metric {key} over the run", value=value)
        yield GaugeMetricFamily("rtvos_ready", "1 while /health says ready", value=float(view.ready))
        info = GaugeMetricFamily("rtvos_info", "The run", labels=["model", "source", "camera_id"])
        info.add_metric([view.model, view.source, view.camera_id], 1.0)
        yield info


class Exporter:
    """Serves /metrics and /health on (host, port) from a thread, until `close`."""

    def __init__(self, host: str, port: int, snapshot: Callable[[], RunView]):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(RunCollector(snapshot))
        registry = self.registry

        class Handler(BaseHTTPRequestHandler):
            timeout = 30  # an idle connection is closed, not kept by a thread forever

            def do_GET(self):  # noqa: N802 (http.server's name)
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
                elif path in ("/health", "/healthz", "/ready"):
                    view = snapshot()
                    body = {"status": view.status, "ready": view.ready, "model": view.model,
                            "masks_of_a_target": view.counters["publish"].following if "publish" in view.counters
                            else 0, "stages_up": view.up}
                    self._send(200 if view.ready else 503, "application/json", json.dumps(body).encode())
                else:
                    self._send(404, "text/plain", b"rtvos: /metrics (Prometheus) or /health\n")

            def _send(self, code: int, kind: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # scrapes are not news
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.address = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="rtvos-metrics", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
