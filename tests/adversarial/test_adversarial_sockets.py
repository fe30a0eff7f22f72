"""Every socket of a live run fuzzed (benchmarks/reliability.py's scenarios, at the size the issue asks
for): 10,000 bad messages at the control socket -- the two-frame request that used to crash the infer
stage and PNG bombs among them, with a flood of valid target changes -- and at each internal link.
The run goes on: no restart, no frame lost, the books balance, every bad message counted. And eight
clients looping target changes leave the stream its rate and `stats` its answer."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from reliability import LiveRun, flood_control, fuzz_control, fuzz_link  # noqa: E402

MESSAGES = 10_000


def test_fuzzing_every_socket_costs_no_frame_and_no_restart():
    run = LiveRun()
    try:
        run.first_mask()
        pids = run.stages()
        control = fuzz_control(run.control(), MESSAGES)
        for endpoint in run.links.values():
            fuzz_link(endpoint, MESSAGES)
        run.first_mask(timeout=30)  # still publishing
        flood = flood_control(run, clients=8, seconds=4)
        assert run.stages() == pids  # nothing died, nothing restarted
    finally:
        code, stats, err = run.stop()
    assert control["replies"] == control["sent"]  # every request answered, the bad ones with an error
    assert code == 0, err
    assert stats["restarts"] == {"publish": 0, "infer": 0, "capture": 0}
    assert stats["frames_lost"] == 0 and stats["books_balance"]
    assert stats["messages_rejected"] >= 2 * MESSAGES * 0.8  # frames and results links, less what was "busy"
    assert stats["reports_rejected"] >= MESSAGES
    assert stats["control"]["busy"] > 0 and stats["control"]["applied"] < control["sent"] / 20
    assert stats["errors"] == []
    assert flood["fps_during"] >= 0.6 * flood["fps_before"], flood  # measured 18.2 of 20.1 (benchmarks/RESULTS.md)
    assert flood["stats_ms_max"] < 1000, flood
