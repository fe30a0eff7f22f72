"""Prometheus metrics and the health endpoint (rtvos/pipeline/exporter.py, `rtvos run --metrics`)."""

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request

from helpers import FAST_MODEL, RTVOS
from prometheus_client.parser import text_string_to_metric_families

from rtvos import messages
from rtvos.pipeline.exporter import Exporter, RunView, health_status


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def samples(text: str) -> dict:
    """{(name, frozenset(labels)): value} of a /metrics page, parsed by prometheus-client's own parser."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_health_is_ready_only_with_a_mask_of_a_target_out_and_every_stage_up():
    up = {"capture": True, "infer": True, "publish": True}
    assert health_status(0, up, stopping=False) == "starting"
    assert health_status(1, up, stopping=False) == "ready"
    assert health_status(1, {**up, "infer": False}, stopping=False) == "degraded"
    assert health_status(1, up, stopping=True) == "stopping"


def test_the_exporter_serves_counters_histograms_and_ground_truth_metrics(free_port):
    counts = [0] * (len(messages.LATENCY_BUCKETS_MS) + 1)
    counts[messages.LATENCY_BUCKETS_MS.index(50.0)] = 3  # three frames of 25..50 ms
    counts[-1] = 1                                        # one over the last edge
    view = RunView(model="online", source="synthetic", camera_id="cam0",
                   counters={"capture": messages.CaptureCounters(captured=10, dropped=2),
                             "infer": messages.InferCounters(inferred=8, control_ok=1),
                             "publish": messages.PublishCounters(published=8, following=7)},
                   restarts={"infer": 1}, up={"capture": True, "infer": True, "publish": True},
                   live=messages.LiveStats(fps=12.5, budget_violations={"infer": 4}, metrics={"live_iou": 0.8},
                                           startup={"start_ms": 900.0},
                                           histograms={"end_to_end": {"counts": counts, "sum_ms": 6000.0}}),
                   status="ready")
    exporter = Exporter("127.0.0.1", free_port, lambda: view)
    try:
        code, body = get(f"{exporter.address}/metrics")
        assert code == 200
        got = samples(body.decode())
        label = lambda **kw: frozenset(kw.items())  # noqa: E731
        assert got[("rtvos_frames_total", label(stage="capture", outcome="captured"))] == 10
        assert got[("rtvos_frames_total", label(stage="capture", outcome="dropped"))] == 2
        assert got[("rtvos_frames_total", label(stage="publish", outcome="following"))] == 7
        assert got[("rtvos_restarts_total", label(stage="infer"))] == 1
        assert got[("rtvos_control_changes_total", label(result="applied"))] == 1
        assert got[("rtvos_budget_violations_total", label(stage="infer"))] == 4
        assert got[("rtvos_latency_seconds_bucket", label(stage="end_to_end", le="0.025"))] == 0
        assert got[("rtvos_latency_seconds_bucket", label(stage="end_to_end", le="0.05"))] == 3
        assert got[("rtvos_latency_seconds_bucket", label(stage="end_to_end", le="+Inf"))] == 4
        assert got[("rtvos_latency_seconds_sum", label(stage="end_to_end"))] == 6.0
        assert got[("rtvos_live_iou", label())] == 0.8 and got[("rtvos_model_start_seconds", label())] == 0.9
        assert got[("rtvos_ready", label())] == 1 and got[("rtvos_fps", label())] == 12.5
        code, body = get(f"{exporter.address}/health")
        assert code == 200 and json.loads(body)["masks_of_a_target"] == 7
        view.status = "starting"
        assert get(f"{exporter.address}/health")[0] == 503
        assert get(f"{exporter.address}/nothing")[0] == 404
    finally:
        exporter.close()


def test_a_run_serves_rising_counters_and_turns_healthy_after_its_first_mask(free_port, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        topic_port = s.getsockname()[1]
    base = f"http://127.0.0.1:{free_port}"
    run = subprocess.Popen(RTVOS + ["run", "--source", "synthetic:320x240", "--frames", "150", "--fps", "15",
                                    "--bind", f"tcp://127.0.0.1:{topic_port}", "--metrics", str(free_port),
                                    *FAST_MODEL],
                           stderr=subprocess.PIPE, text=True)
    try:
        health, published = [], []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and run.poll() is None:
            try:
                code, body = get(f"{base}/health")
            except OSError:  # not listening yet
                time.sleep(0.2)
                continue
            health.append(code)
            if code == 200:
                got = samples(get(f"{base}/metrics")[1].decode())
                published.append(got[("rtvos_frames_total", frozenset({"stage": "publish",
                                                                        "outcome": "published"}.items()))])
                if len(published) == 3:
                    break
            time.sleep(0.5)
        assert health and health[0] == 503, "not ready before the first mask"
        assert 200 in health, f"never ready: {health}"
        assert len(published) == 3 and published[0] < published[-1], published
    finally:
        run.terminate()
        _, err = run.communicate(timeout=60)
    assert f"metrics on {base}/metrics" in err
