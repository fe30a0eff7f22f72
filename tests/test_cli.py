"""The command line as users and the acceptance checks call it."""

import json
import subprocess
import sys

import numpy as np
import pytest

from rtvos import messages
from rtvos.pipeline.infer import InferLoop
from rtvos.segmenters import create_segmenter

RTVOS = [sys.executable, "-m", "rtvos"]


@pytest.mark.heavy
def test_eval_writes_results_layout_and_summary(tmp_path, davis_root):
    out, ej = tmp_path / "res", tmp_path / "E.json"
    res = {}
    for model in ("online", "static"):
        p = subprocess.run(RTVOS + ["eval", "--model", model, "--davis-root", str(davis_root), "--out", str(out / model),
                                    "--json", str(ej), "--sequences", "car-turn,soccerball", "--max-frames", "16",
                                    "--quiet"], capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, p.stderr
        e = json.loads(ej.read_text())
        assert set(e) >= {"J", "F", "JF", "fps", "sequences"}
        assert set(e["sequences"]) == {"car-turn", "soccerball"}
        assert all(0 <= e[k] <= 1 for k in ("J", "F", "JF"))
        assert e["JF"] == pytest.approx((e["J"] + e["F"]) / 2)
        pngs = sorted((out / model / "soccerball").glob("*.png"))
        assert len(pngs) == 16 and pngs[0].name == "00000.png"
        assert "Global" in p.stdout
        res[model] = e["JF"]
    assert res["online"] > res["static"] + 0.2, res


def test_unknown_model_and_bad_flags_say_what_to_do(tmp_path):
    p = subprocess.run(RTVOS + ["run", "--model", "nope", "--frames", "1"], capture_output=True, text=True)
    assert p.returncode == 2 and "available" in p.stderr and "online" in p.stderr
    p = subprocess.run(RTVOS + ["run", "--bind", "tcp://0.0.0.0:5555", "--frames", "1"], capture_output=True, text=True)
    assert p.returncode == 2 and "allow_remote" in p.stderr
    p = subprocess.run(RTVOS + ["run", "--launch", str(tmp_path / "missing.toml")], capture_output=True, text=True)
    assert p.returncode == 2 and "not found" in p.stderr


def test_sub_times_out_with_a_clear_message(tmp_path, free_port):
    p = subprocess.run(RTVOS + ["sub", "--connect", f"tcp://127.0.0.1:{free_port}", "--count", "1", "--timeout", "1",
                                "--json", str(tmp_path / "R.json")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "timed out" in p.stderr and "rtvos run" in p.stderr
    assert json.loads((tmp_path / "R.json").read_text())["received"] == 0


def test_missing_camera_fails_cleanly(tmp_path, free_port):
    p = subprocess.run(RTVOS + ["run", "--source", "camera:97", "--bind", f"tcp://127.0.0.1:{free_port}",
                                "--stats-json", str(tmp_path / "S.json"), "--option", "height=128"],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode != 0
    assert "no camera at index 97" in p.stderr
    s = json.loads((tmp_path / "S.json").read_text())
    assert s["frames_captured"] == 0 and any("camera" in e for e in s["errors"])


def _frame_msg(seq, target=None):
    img = np.full((32, 48, 3), seq % 255, np.uint8)
    parts = messages.encode_frame(img, seq, 1000 + seq, target=target)
    return messages.decode_frame([bytes(memoryview(p)) for p in parts])


def test_latest_frame_wins_and_target_frames_are_never_dropped():
    loop = InferLoop(create_segmenter("static"), "static")
    batch = [_frame_msg(i) for i in range(5)]
    assert [m.seq for m in loop.select(batch)] == [4]
    assert loop.counters["dropped_infer"] == 4
    target = np.zeros((32, 48), np.uint8)
    target[5:10, 5:10] = 1
    batch = [_frame_msg(5), _frame_msg(6, target), _frame_msg(7), _frame_msg(8)]
    kept = loop.select(batch)
    assert [m.seq for m in kept] == [6, 8] and kept[0].has_target
    assert loop.counters["dropped_infer"] == 4 + 2


def test_infer_loop_counts_bad_targets_and_frames_before_a_target():
    loop = InferLoop(create_segmenter("static"), "static")
    parts = loop.process(_frame_msg(0), 0)  # no target yet: an empty mask, counted
    assert loop.counters["no_target"] == 1 and len(parts) == 2
    assert not messages.decode_mask(parts).mask.any()
    assert loop.process(_frame_msg(1, np.zeros((32, 48), np.uint8)), 0) is None  # empty target
    assert loop.counters["failed"] == 1


def test_add_after_reset_follows_only_the_new_object():
    loop = InferLoop(create_segmenter("online", height=64, augmentations=0), "online")
    target = np.zeros((32, 48), np.uint8)
    target[5:15, 5:15] = 1
    loop.process(_frame_msg(0, target), 0)
    loop.pending = messages.ControlRequest(op="reset")
    loop.process(_frame_msg(1), 0)
    assert loop.reply["ok"] and loop.reply["objects"] == []
    new = np.zeros((32, 48), np.uint8)
    new[20:30, 30:40] = 1
    loop.pending = messages.ControlRequest(op="add_object", object_id=4, mask=new)
    loop.process(_frame_msg(2), 0)
    assert loop.reply["ok"] and loop.reply["objects"] == [4]  # object 1 is gone for good
