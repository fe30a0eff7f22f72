"""The command line as users and the acceptance checks call it."""

import argparse
import json
import subprocess

import numpy as np
import pytest
from helpers import RTVOS


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
    assert p.returncode == 2  # found before anything started
    assert "no camera at index 97" in p.stderr and "model" not in p.stderr


@pytest.mark.parametrize("args, reason", [
    (["--fps", "-1"], "--fps must be >= 0"),
    (["--frames", "-3"], "--frames must be >= 0"),
    (["--box", "900,900,950,950"], "outside"),
    (["--box", "10,10,11,11"], "degenerate"),
])
def test_bad_runs_fail_before_any_model_loads(args, reason, free_port):
    p = subprocess.run(RTVOS + ["run", "--source", "synthetic:320x240", "--bind", f"tcp://127.0.0.1:{free_port}",
                                *args], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and reason in p.stderr, p.stderr


def test_bad_target_masks_fail_before_any_model_loads(tmp_path, free_port):
    import cv2

    cv2.imwrite(str(tmp_path / "empty.png"), np.zeros((240, 320), np.uint8))
    cv2.imwrite(str(tmp_path / "small.png"), np.full((10, 10), 255, np.uint8))
    for name, reason in (("empty.png", "empty"), ("small.png", "10x10"), ("missing.png", "cannot read")):
        p = subprocess.run(RTVOS + ["run", "--source", "synthetic:320x240", "--bind", f"tcp://127.0.0.1:{free_port}",
                                    "--target-mask", str(tmp_path / name)], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 2 and reason in p.stderr, (name, p.stderr)


def test_models_and_trainers_come_from_the_registry():
    p = subprocess.run(RTVOS + ["models"], capture_output=True, text=True, check=True)
    names = [line.split()[0] for line in p.stdout.splitlines()]
    assert set(names) == {"static", "online", "crvos", "frtm", "frtm-fast", "plm", "plm-p", "lse"}
    assert "rtvos train crvos" in p.stdout
    p = subprocess.run(RTVOS + ["train", "static"], capture_output=True, text=True)
    assert p.returncode == 2 and "crvos" in p.stderr and "plm" in p.stderr


def test_eval_scores_a_results_folder_written_before(tmp_path):
    from helpers import make_fake_root, square_mask

    from rtvos.evaluation.davis import write_result

    root = make_fake_root(tmp_path / "davis", names=("moving",), n_frames=4)
    for i in range(4):
        write_result(tmp_path / "res", "moving", f"{i:05d}", (square_mask(i) > 0).astype(np.uint8))
    p = subprocess.run(RTVOS + ["eval", "--davis-root", str(root), "--score", str(tmp_path / "res"), "--json",
                                str(tmp_path / "E.json"), "--quiet"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    e = json.loads((tmp_path / "E.json").read_text())
    assert e["J"] == 1.0 and e["F"] == 1.0 and e["frames"] == 2 and "Global" in p.stdout
    p = subprocess.run(RTVOS + ["eval", "--davis-root", str(root)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--out" in p.stderr
    p = subprocess.run(RTVOS + ["eval", "--davis-root", str(root), "--out", str(tmp_path / "o"), "--model", "frtm",
                                "--two-pass"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "does not adapt" in p.stderr and "lse" in p.stderr  # before any model loads
    p = subprocess.run(RTVOS + ["eval", "--davis-root", str(root), "--score", str(tmp_path / "res"), "--two-pass"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--score runs none" in p.stderr


def test_eval_scores_the_dev_split_of_the_training_data_by_default_and_everything_elsewhere(tmp_path):
    from helpers import make_fake_root, square_mask

    from rtvos.evaluation.davis import write_result

    train = make_fake_root(tmp_path / "train", names=("bear", "moving"), n_frames=4)  # bear: a dev sequence
    other = make_fake_root(tmp_path / "val", names=("moving", "still"), n_frames=4)
    for name in ("bear", "moving", "still"):
        for i in range(4):
            write_result(tmp_path / "res", name, f"{i:05d}", (square_mask(i) > 0).astype(np.uint8))
    for root, scored, said in ((train, {"bear"}, True), (other, {"moving", "still"}, False)):
        p = subprocess.run(RTVOS + ["eval", "--davis-root", str(root), "--score", str(tmp_path / "res"), "--json",
                                    str(tmp_path / "E.json"), "--quiet"], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        assert set(json.loads((tmp_path / "E.json").read_text())["sequences"]) == scored
        assert ("scoring the dev split" in p.stderr) == said


def _options_without_help(parser: argparse.ArgumentParser, where: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += _options_without_help(sub, f"{where} {name}")
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_option_of_every_command_says_what_it_does():
    import importlib
    import inspect

    from rtvos.cli import build_parser
    from rtvos.models import get_spec, trainable
    from rtvos.training import loop

    missing = _options_without_help(build_parser(), "rtvos")
    for model in trainable():
        module = importlib.import_module(get_spec(model).trainer)
        for _, klass in inspect.getmembers(module, inspect.isclass):
            if issubclass(klass, loop.Trainer) and not inspect.isabstract(klass) and klass.__module__ == module.__name__:
                missing += _options_without_help(loop.build_parser(klass()), f"rtvos train {model}")
    assert missing == []


def test_run_help_lists_every_source_kind():
    from rtvos.cli import build_parser
    from rtvos.sources import SPEC_FORMS

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = sub.choices["run"].format_help()
    for form in ("synthetic", "folder:", "video:", "camera:", "thermal:", "synthetic-thermal", "mcap:"):
        assert form in text and form in SPEC_FORMS
