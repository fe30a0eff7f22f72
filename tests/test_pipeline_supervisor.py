"""The supervisor's books (rtvos/pipeline/supervisor.py): the final statistics, the exit code, and the
counters of a stage that died and was restarted."""

import pytest

from rtvos import messages
from rtvos.pipeline.supervisor import StageState, exit_code, final_statistics


def test_every_captured_frame_is_published_dropped_failed_or_lost():
    capture = messages.CaptureCounters(captured=100, dropped=7, skipped=2)
    infer = messages.InferCounters(inferred=83, dropped=5, failed=3, rejected=1)
    publish = messages.PublishCounters(published=80, rejected=2, seq_gaps=12)
    live = messages.LiveStats(fps=24.5, latency_ms={"end_to_end": {"p50": 30.0}}, metrics={"live_iou": 0.8})
    s = final_statistics(capture, infer, publish, live)
    assert (s["frames_captured"], s["frames_published"], s["frames_failed"]) == (100, 80, 3)
    assert (s["frames_dropped"], s["frames_dropped_at_capture"], s["frames_dropped_at_infer"]) == (12, 7, 5)
    assert s["frames_lost"] == 100 - 80 - 12 - 3 == 5
    assert s["messages_rejected"] == 3 and s["source_skipped"] == 2 and s["seq_gaps_seen"] == 12
    assert s["fps"] == 24.5 and s["latency_ms"]["end_to_end"]["p50"] == 30.0 and s["live_iou"] == 0.8


def test_nothing_lost_when_the_books_balance():
    s = final_statistics(messages.CaptureCounters(captured=10, dropped=2), messages.InferCounters(dropped=1, failed=1),
                         messages.PublishCounters(published=6), messages.LiveStats())
    assert s["frames_lost"] == 0


@pytest.mark.parametrize("started, lost, error, code", [
    (True, 0, "", 0), (True, 3, "", 1), (True, 0, "source failed: no camera at index 97", 1), (False, 0, "", 3),
])
def test_exit_code(started, lost, error, code):
    assert exit_code(started, lost, error) == code


def test_a_restarted_stage_keeps_its_predecessors_counts():
    st = StageState("publish")
    st.record(messages.StageReport("publish", "heartbeat", counters=messages.PublishCounters(published=40, rejected=1)))
    st.carry_over()  # it died; the new instance starts from zero
    st.record(messages.StageReport("publish", "final", counters=messages.PublishCounters(published=25)))
    assert st.total == messages.PublishCounters(published=65, rejected=1)
    assert StageState("capture").total == messages.CaptureCounters()
