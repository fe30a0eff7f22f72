"""Real multi-process runs: `rtvos run` (supervisor + capture/infer/publish processes over ZeroMQ) and
a subscriber in another process."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import zmq
from helpers import FAST_MODEL, RTVOS, interrupt, rtvos_process

from rtvos import messages
from rtvos.client import ControlClient, ControlError, MaskSubscriber, SubscriberTimeout
from rtvos.pipeline.stage import running_stages


def test_run_publishes_every_frame_or_counts_it(tmp_path, free_port):
    endpoint = f"tcp://127.0.0.1:{free_port}"
    stats_path = tmp_path / "S.json"
    sub_json = tmp_path / "R.json"
    sub = subprocess.Popen(RTVOS + ["sub", "--connect", endpoint, "--count", "20", "--json", str(sub_json),
                                    "--timeout", "120", "--quiet"])
    run = subprocess.run(RTVOS + ["run", "--source", "synthetic", "--frames", "120", "--fps", "20", "--bind", endpoint,
                                  "--stats-json", str(stats_path), *FAST_MODEL], capture_output=True, text=True,
                         timeout=180)
    assert run.returncode == 0, run.stderr
    assert sub.wait(timeout=60) == 0
    s = json.loads(stats_path.read_text())
    assert s["frames_captured"] == 120
    assert s["frames_published"] + s["frames_dropped"] + s["frames_failed"] == 120
    assert s["frames_lost"] == 0 and s["frames_failed"] == 0
    assert s["frames_published"] >= 20
    assert s["seq_gaps_seen"] == s["frames_dropped"]  # every gap downstream is a counted drop
    e2e = s["latency_ms"]["end_to_end"]
    assert 0 < e2e["p50"] <= e2e["p95"] <= e2e["p99"] <= e2e["max"]
    assert {"capture", "queue", "infer", "publish"} <= set(s["latency_ms"])
    assert s["fps"] > 0
    assert s["live_iou"] > 0.5  # the model actually follows the synthetic object
    assert "running" in run.stderr and "captured 120" in run.stderr
    r = json.loads(sub_json.read_text())
    assert r["received"] == 20 and r["out_of_order"] == 0 and not r["timed_out"]
    assert r["latency_ms"]["p50"] > 0
    # every published mask's latencies, over time, and the picture of them
    series = s["latency_series"]
    assert len(series["t_s"]) == len(series["end_to_end"]) == s["frames_published"]
    assert series["t_s"] == sorted(series["t_s"]) and max(series["end_to_end"]) >= e2e["max"]  # start-up included
    plot = subprocess.run(RTVOS + ["stats", "plot", str(stats_path)], capture_output=True, text=True, timeout=120)
    assert plot.returncode == 0, plot.stderr
    picture = cv2.imread(str(stats_path.with_suffix(".png")))
    assert picture is not None and picture.shape[1] > 600


def test_subscriber_sees_schema_and_masks(tmp_path, free_port):
    endpoint = f"tcp://127.0.0.1:{free_port}"
    with rtvos_process(["run", "--source", "synthetic:320x240", "--frames", "60", "--fps", "20", "--bind", endpoint,
                        "--encoding", "png", *FAST_MODEL], stderr=subprocess.DEVNULL) as run:
        with MaskSubscriber(endpoint, stats=True) as sub:
            msgs = [sub.recv(timeout=120) for _ in range(10)]
        assert run.wait(timeout=120) == 0
    seqs = [m.seq for m in msgs]
    assert seqs == sorted(seqs) and len(set(seqs)) == 10
    for m in msgs:
        h = m.header
        assert (h["height"], h["width"], h["encoding"], h["model"]) == (240, 320, "png", "online")
        assert m.mask.shape == (240, 320) and m.mask.dtype == np.uint8
        assert set(np.unique(m.mask)) <= {0, 1}
        assert {"capture_out", "infer_in", "infer_out", "publish_out"} <= set(h["stamps"])
        assert h["t_capture_ns"] <= h["stamps"]["infer_in"] <= h["stamps"]["publish_out"] <= m.t_receive_ns
    tracked = [m for m in msgs if m.objects and m.objects[0]["area"] > 0]
    assert tracked and all(o["id"] == 1 and len(o["bbox"]) == 4 for m in tracked for o in m.objects)


def test_sigint_stops_cleanly_with_no_orphans(tmp_path, free_port):
    endpoint = f"tcp://127.0.0.1:{free_port}"
    stats_path = tmp_path / "S.json"
    with rtvos_process(["run", "--source", "synthetic", "--fps", "30", "--bind", endpoint,
                        "--stats-json", str(stats_path), *FAST_MODEL]) as run:
        with MaskSubscriber(endpoint) as sub:
            sub.recv(timeout=120)
        assert set(running_stages(str(free_port))) == {"capture", "infer", "publish"}
        err = interrupt(run)
    assert run.returncode == 0, err
    s = json.loads(stats_path.read_text())
    assert s["frames_captured"] > 0
    assert s["frames_published"] + s["frames_dropped"] + s["frames_failed"] + s["frames_lost"] == s["frames_captured"]
    assert s["frames_lost"] == 0  # frames in flight drained before the stages stopped
    time.sleep(0.5)
    assert running_stages(str(free_port)) == {}


def test_malformed_messages_are_counted_and_the_stream_goes_on(tmp_path, free_port):
    """Garbage pushed into the live infer socket is rejected and counted; no stage dies."""
    endpoint = f"tcp://127.0.0.1:{free_port}"
    frames_port = free_port + 2 if free_port < 65000 else free_port - 2  # + 1 is the control socket
    launch = tmp_path / "l.toml"
    launch.write_text(f'[endpoints]\npublish = "{endpoint}"\nframes = "tcp://127.0.0.1:{frames_port}"\n')
    stats_path = tmp_path / "S.json"
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 1000)
    try:
        with rtvos_process(["run", "--launch", str(launch), "--source", "synthetic:320x240", "--frames", "90",
                            "--fps", "20", "--stats-json", str(stats_path), *FAST_MODEL],
                           stderr=subprocess.DEVNULL) as run:
            with MaskSubscriber(endpoint) as sub:
                sub.recv(timeout=120)
                push.connect(f"tcp://127.0.0.1:{frames_port}")
                push.send_multipart([b"\xc1 not msgpack", b"x"])
                push.send_multipart([b"\x81\xa1v\x01", b""])  # {"v": 1}: no kind
                sub.recv(timeout=30)  # still publishing
            assert run.wait(timeout=120) == 0
    finally:
        push.close()
        ctx.term()
    s = json.loads(stats_path.read_text())
    assert s["messages_rejected"] == 2
    assert s["frames_captured"] == 90 and s["frames_lost"] == 0


def test_dead_stage_is_reported_and_restarted(tmp_path, free_port):
    endpoint = f"tcp://127.0.0.1:{free_port}"
    stats_path = tmp_path / "S.json"
    with rtvos_process(["run", "--source", "synthetic:320x240", "--frames", "150", "--fps", "20",
                        "--bind", endpoint, "--stats-json", str(stats_path), *FAST_MODEL]) as run:
        with MaskSubscriber(endpoint) as sub:
            sub.recv(timeout=120)
            os.kill(running_stages(str(free_port))["publish"], signal.SIGKILL)
            deadline = time.monotonic() + 60
            while True:  # the restarted publisher binds the same endpoint; masks flow again
                try:
                    sub.recv(timeout=5)
                    break
                except SubscriberTimeout:
                    assert time.monotonic() < deadline, "no masks after the publisher was killed"
        _, err = run.communicate(timeout=120)
    assert "publish stage died" in err and "restarting" in err
    s = json.loads(stats_path.read_text())
    assert s["restarts"]["publish"] == 1
    assert s["frames_captured"] == 150
    # The dead publisher's count (last heartbeat) is carried over: at most the frames in flight and
    # those published after its last heartbeat (< 1 s at 20 fps) are unaccounted for.
    assert s["frames_published"] + s["frames_dropped"] + s["frames_lost"] == 150
    assert s["frames_lost"] <= 25
    assert any("publish stage died" in e for e in s["errors"])


def _ids_from(sub, reply):
    """The objects followed (mask header `objects`) in the mask of the frame the change was applied to."""
    while True:
        msg = sub.recv(timeout=30)
        if msg.seq >= reply["seq"]:
            return sorted(o["id"] for o in msg.objects)


def test_objects_are_added_and_removed_while_the_stream_runs(tmp_path, free_port):
    endpoint = f"tcp://127.0.0.1:{free_port}"
    stats_path = tmp_path / "S.json"
    with rtvos_process(["run", "--source", "synthetic:320x240", "--fps", "15", "--bind", endpoint,
                        "--stats-json", str(stats_path), *FAST_MODEL]) as run:
        with MaskSubscriber(endpoint) as sub:
            sub.recv(timeout=120)
            with ControlClient(topic=endpoint, timeout=30) as ctl:  # found through the run's file
                assert ctl.stats()["objects"] == [1]
                reply = ctl.add_object(2, box=(10, 10, 90, 80))  # a patch of background, followed from now on
                assert reply["objects"] == [1, 2]
                assert _ids_from(sub, reply) == [1, 2]
                reply = ctl.remove_object(1)
                assert reply["objects"] == [2] and _ids_from(sub, reply) == [2]
                with pytest.raises(ControlError, match="last one"):
                    ctl.remove_object(2)
                with pytest.raises(ControlError, match="empty"):
                    ctl.add_object(9, mask=np.zeros((240, 320), np.uint8))  # refused; the stream goes on
                ctl.sock.send_multipart([b"\xc1 garbage"])
                reply = messages.decode_reply(ctl.sock.recv())
                assert reply.ok is False and "msgpack" in reply.error
                reply = ctl.reset()
                assert reply["objects"] == [] and _ids_from(sub, reply) == []
                target = np.zeros((240, 320), np.uint8)
                target[100:150, 100:180] = 3
                reply = ctl.set_target(mask=target)
                assert reply["objects"] == [3] and _ids_from(sub, reply) == [3]
        err = interrupt(run)
    assert run.returncode == 0, err
    assert "rtvos ctl --topic" in err and "control: add_object applied" in err
    s = json.loads(stats_path.read_text())
    assert s["frames_lost"] == 0


def test_thermal_launch_reports_the_road_error_rate(tmp_path, free_port):
    """The vehicle use case end to end: 16-bit synthetic LWIR frames, normalised, PLM in full-frame
    mode (a short first-frame fine-tune), road mask topic, and the road error rate (PLM eq. 3) against
    the exact road masks in the stats."""
    stats_path = tmp_path / "S.json"
    repo = Path(__file__).resolve().parents[1]
    run = subprocess.run(RTVOS + ["run", "--launch", str(repo / "launch" / "thermal_road.toml"), "--frames", "45",
                                  "--fps", "15", "--bind", f"tcp://127.0.0.1:{free_port}", "--stats-json", str(stats_path),
                                  "--option", "finetune_steps=20"],
                         capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    s = json.loads(stats_path.read_text())
    assert s["frames_captured"] == 45 and s["frames_lost"] == 0
    assert s["gt_frames"] == s["frames_published"]
    assert 0 <= s["road_error_rate"] < 20  # the road is most of the frame; a tracked road errs on few pixels
    assert s["live_iou"] > 0.7


def test_a_model_that_cannot_start_fails_the_run_with_the_reason(tmp_path, free_port):
    stats_path = tmp_path / "S.json"
    p = subprocess.run(RTVOS + ["run", "--source", "synthetic:320x240", "--frames", "30", "--bind",
                                f"tcp://127.0.0.1:{free_port}", "--stats-json", str(stats_path), "--option",
                                "backend=tensorrt", *FAST_MODEL], capture_output=True, text=True, timeout=180)
    assert p.returncode == 3, p.stderr
    assert "cannot start" in p.stderr and "tensorrt" in p.stderr
    assert sum("cannot start" in line for line in p.stderr.splitlines()) == 1  # said once
    s = json.loads(stats_path.read_text())
    assert s["frames_published"] == 0 and any("cannot start" in e for e in s["errors"])


def test_a_stream_without_a_target_says_so(tmp_path, free_port):
    import cv2

    folder = tmp_path / "frames"  # images, no annotations
    folder.mkdir()
    for i in range(20):
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), np.full((120, 160, 3), 10 * i, np.uint8))
    endpoint = f"tcp://127.0.0.1:{free_port}"
    stats_path = tmp_path / "S.json"
    with rtvos_process(["run", "--source", f"folder:{folder}", "--fps", "10", "--bind", endpoint,
                        "--stats-json", str(stats_path), *FAST_MODEL]) as run:
        with MaskSubscriber(endpoint) as sub:
            msg = sub.recv(timeout=120)
        _, err = run.communicate(timeout=60)
    assert msg.following is False and not msg.mask.any()  # "no target", not "nothing found"
    assert run.returncode == 0 and "no target given" in err and "had no target" in err
    s = json.loads(stats_path.read_text())
    assert s["frames_without_target"] == s["frames_published"] > 0


def test_a_control_socket_off_this_host_needs_keys(tmp_path, free_port):
    launch = tmp_path / "l.toml"
    launch.write_text(f'[endpoints]\ncontrol = "tcp://0.0.0.0:{free_port + 1}"\n')
    p = subprocess.run(RTVOS + ["run", "--launch", str(launch), "--bind", f"tcp://127.0.0.1:{free_port}",
                                "--allow-remote", "--frames", "5"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "CURVE keys" in p.stderr
    launch.write_text(f'[endpoints]\nframes = "tcp://0.0.0.0:{free_port + 2}"\n')  # internal links too
    p = subprocess.run(RTVOS + ["run", "--launch", str(launch), "--bind", f"tcp://127.0.0.1:{free_port}",
                                "--frames", "5"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "refusing to bind" in p.stderr


def test_with_curve_keys_only_key_holders_steer(tmp_path, free_port):
    keys = tmp_path / "keys"
    assert subprocess.run(RTVOS + ["keys", str(keys)], capture_output=True, text=True).returncode == 0
    control = f"tcp://127.0.0.1:{free_port + 1}"
    launch = tmp_path / "l.toml"
    launch.write_text(f'[endpoints]\ncontrol = "{control}"\ncontrol_keys = "{keys}"\n')
    endpoint = f"tcp://127.0.0.1:{free_port}"
    with rtvos_process(["run", "--launch", str(launch), "--bind", endpoint, "--source", "synthetic:320x240",
                        *FAST_MODEL]) as run:
        with MaskSubscriber(endpoint) as sub:
            sub.recv(timeout=120)
        with ControlClient(control, keys=str(keys), timeout=20) as ctl:
            assert ctl.stats()["objects"] == [1]
        with pytest.raises(ControlError, match="no answer"), ControlClient(control, timeout=3) as plain:
            plain.reset()  # no keys: the handshake fails, nothing reaches the pipeline
        err = interrupt(run)
    assert run.returncode == 0, err


def _mcap_masks(path):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    with open(path, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        topics = [c.topic for c in reader.get_summary().channels.values()]
        out = {"masks": [], "detections": []}
        for schema, channel, _, msg in reader.iter_decoded_messages(topics=[t for t in topics if t != "/rtvos/stats"]):
            if channel.topic.endswith("/mask"):
                out["masks"].append((schema.name, msg))
            elif channel.topic.endswith("/detections"):
                out["detections"].append((schema.name, msg))
    return out


def test_a_run_recorded_to_mcap_and_replayed_gives_the_same_masks(tmp_path, free_port):
    """The recording has one mask per published frame, ROS 2 schemas, wall-clock stamps and the
    detections; replayed through `--source mcap:` with `static` it gives the same masks."""
    first, second = tmp_path / "run.mcap", tmp_path / "replay.mcap"
    stats_path = tmp_path / "S.json"
    t0 = time.time_ns()
    p = subprocess.run(RTVOS + ["run", "--source", "synthetic:320x240", "--frames", "40", "--fps", "20", "--model",
                                "static", "--publish-images", "--record", str(first), "--frame-id", "optical",
                                "--bind", f"tcp://127.0.0.1:{free_port}", "--stats-json", str(stats_path)],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    s = json.loads(stats_path.read_text())
    rec = _mcap_masks(first)
    assert len(rec["masks"]) == s["frames_published"] == s["recorded"]["recorded"] > 0
    schema, mask = rec["masks"][0]
    assert schema == "sensor_msgs/msg/Image" and mask.encoding == "mono8" and mask.header.frame_id == "optical"
    stamps = [m.header.stamp.sec * 10 ** 9 + m.header.stamp.nanosec for _, m in rec["masks"]]
    assert t0 < stamps[0] < time.time_ns() and stamps == sorted(stamps)  # wall clock of capture
    det_schema, det = rec["detections"][0]
    assert det_schema == "vision_msgs/msg/Detection2DArray" and det.detections[0].id == "1"
    p = subprocess.run(RTVOS + ["run", "--source", f"mcap:{first}", "--fps", "0", "--every-frame", "--model", "static",
                                "--record", str(second), "--bind", f"tcp://127.0.0.1:{free_port}"],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    again = _mcap_masks(second)["masks"]
    assert len(again) == len(rec["masks"])
    for (_, a), (_, b) in zip(rec["masks"], again):
        assert bytes(a.data) == bytes(b.data)
        assert (a.header.stamp.sec, a.header.stamp.nanosec) == (b.header.stamp.sec, b.header.stamp.nanosec)
