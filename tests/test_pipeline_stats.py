"""Latency and throughput bookkeeping (rtvos/pipeline/stats.py)."""

import pytest

from rtvos.messages import LATENCY_BUCKETS_MS, LiveStats
from rtvos.pipeline.stats import LatencyMonitor, percentiles, stage_latencies_ms, status_line

MS = 1_000_000


def test_percentiles_of_nothing_and_of_something():
    assert percentiles([])["p50"] is None and percentiles([])["count"] == 0
    p = percentiles(list(range(1, 101)))
    assert p["p50"] == pytest.approx(50.5) and p["max"] == 100 and p["count"] == 100


def test_stage_latencies_from_the_stamps_a_mask_collected():
    stamps = {"capture_out": 2 * MS, "infer_in": 5 * MS, "infer_out": 25 * MS, "publish_out": 27 * MS}
    assert stage_latencies_ms(0, stamps) == {"capture": 2, "queue": 3, "infer": 20, "publish": 2, "end_to_end": 27}
    assert stage_latencies_ms(0, {"capture_out": MS}) == {"capture": 1}


def test_budget_violations_and_fps_over_the_steady_state():
    mon = LatencyMonitor({"infer": 10.0, "end_to_end": 100.0})
    # The target frame: the model starts on it (300 ms); two frames captured meanwhile are start-up too.
    mon.add(0, {"infer_in": 0, "infer_out": 300 * MS, "publish_out": 310 * MS}, now_ns=310 * MS)
    for t in (100, 200):
        mon.add(t * MS, {"infer_in": 300 * MS, "infer_out": 320 * MS, "publish_out": 330 * MS}, now_ns=330 * MS)
    for i in range(5):  # steady state: captured after the first mask came out
        t = (400 + 100 * i) * MS
        mon.add(t, {"infer_in": t, "infer_out": t + (5 + 5 * i) * MS, "publish_out": t + 50 * MS}, now_ns=t + 50 * MS)
    s = mon.summary()
    assert s["budget_violations"] == {"infer": 3, "end_to_end": 0}  # 15, 20, 25 ms > 10 ms; start-up not counted
    assert s["latency_ms"]["infer"]["count"] == 5 and s["latency_ms"]["end_to_end"]["max"] == 50
    assert s["startup"] == {"frames": 3, "time_to_first_mask_ms": 310, "start_ms": 300}
    assert s["frames"] == 8
    # histograms: the same steady-state samples, per bucket (edges in LATENCY_BUCKETS_MS: ... 10, 25, ...)
    infer = s["histograms"]["infer"]
    edges = list(LATENCY_BUCKETS_MS)
    assert sum(infer["counts"]) == 5 and infer["sum_ms"] == pytest.approx(5 + 10 + 15 + 20 + 25)
    assert infer["counts"][edges.index(5.0)] == 1 and infer["counts"][edges.index(10.0)] == 1  # 5 <= 5, 10 <= 10
    assert infer["counts"][edges.index(25.0)] == 3                                            # 15, 20, 25
    # the series: every frame, start-up included, seconds from the first mask
    series = mon.latency_series()
    assert len(series["t_s"]) == 8 and series["t_s"][0] == 0 and series["end_to_end"][0] == 310
    assert series["infer"][-1] == 25 and series["t_s"][-1] == pytest.approx(0.54)


def test_status_line():
    live = LiveStats(fps=17.8, latency_ms={"end_to_end": {"p50": 52.0, "p95": 71.0}, "infer": {"p50": 44.0}},
                     budget_violations={"infer": 2, "end_to_end": 1})
    line = status_line("online", 120, 108, 12, live, restarts=1)
    assert line == ("online |  17.8 fps | e2e p50 52 p95 71 ms | infer p50 44 ms | cap 120 pub 108 drop 12 | "
                    "over budget 3 | restarts 1")
    assert "e2e p50 - p95 -" in status_line("online", 0, 0, 0, LiveStats())
