"""Running and scoring a model with the semi-supervised DAVIS protocol (rtvos/evaluation/runner.py)."""

import os
from pathlib import Path

import numpy as np
import pytest
from helpers import H, W, disc_davis_root, make_fake_root, square_mask

from rtvos.evaluation.davis import read_label_png, write_result
from rtvos.evaluation.runner import evaluate, format_table, score_results
from rtvos.models import create_segmenter

DAVIS_ROOT = Path(
    os.environ.get("RTVOS_DAVIS_ROOT", Path(__file__).resolve().parents[1].parent / "shared/data/davis2016-train")
)


def test_score_results_first_and_last_frames_left_out(tmp_path):
    root = make_fake_root(tmp_path / "davis")
    results = tmp_path / "results"
    for i in range(4):
        name = f"{i:05d}"
        gt = square_mask(i) > 0
        empty = np.zeros((H, W), dtype=np.uint8)
        # "perfect": exact on the scored frames 1 and 2, empty on the (unscored) first and last frames
        write_result(results, "perfect", name, gt.astype(np.uint8) if i in (1, 2) else empty)
        # "empty": exact on the first and last frames only, empty on the scored ones
        write_result(results, "empty", name, gt.astype(np.uint8) if i in (0, 3) else empty)

    s = score_results(results, root, ["perfect", "empty"])
    perfect, empty = s["sequences"]["perfect"], s["sequences"]["empty"]
    assert perfect == {"J": 1.0, "F": 1.0, "J_recall": 1.0, "F_recall": 1.0, "J_decay": 0.0, "F_decay": 0.0, "frames": 2}
    assert empty == {"J": 0.0, "F": 0.0, "J_recall": 0.0, "F_recall": 0.0, "J_decay": 0.0, "F_decay": 0.0, "frames": 2}
    assert s["J"] == pytest.approx(0.5) and s["F"] == pytest.approx(0.5) and s["JF"] == pytest.approx(0.5)
    assert s["J_recall"] == pytest.approx(0.5) and s["F_recall"] == pytest.approx(0.5)
    assert s["frames"] == 4 and "fps" not in s
    assert set(s) == {"J", "F", "JF", "J_recall", "F_recall", "J_decay", "F_decay", "frames", "sequences"}

    # max_frames=3 scores frame 1 only
    s3 = score_results(results, root, ["perfect"], max_frames=3)
    assert s3["J"] == 1.0 and s3["frames"] == 1

    table = format_table(s)
    assert "perfect" in table and "Global" in table and "50.0" in table

    with pytest.raises(FileNotFoundError, match="missing result"):
        score_results(tmp_path / "nowhere", root, ["perfect"])


def test_evaluate_on_fake_root(tmp_path):
    root = make_fake_root(tmp_path / "davis", names=("moving",), n_frames=6)
    s = evaluate(lambda: create_segmenter("static"), root, tmp_path / "out", progress=False)
    assert list(s) == ["J", "F", "JF", "J_recall", "F_recall", "J_decay", "F_decay", "fps", "frames", "sequences"]
    assert s["frames"] == 4 and s["fps"] > 0
    # the square moves 2 px a frame: overlap 10 - 2i columns of 10 + 2i -> J_i = (10 - 2i) / (10 + 2i)
    expected_j = np.mean([(10 - 2 * i) / (10 + 2 * i) for i in range(1, 5)])
    assert s["J"] == pytest.approx(expected_j)
    assert s["sequences"]["moving"]["J_decay"] > 0
    np.testing.assert_array_equal(read_label_png(tmp_path / "out/moving/00005.png"), square_mask(0) > 0)


def test_two_passes_score_the_second_pass_of_a_model_that_adapts_and_refuse_one_that_does_not(tmp_path):
    from rtvos.models.lse import SPEC

    root = disc_davis_root(tmp_path / "davis", n_frames=6)
    with pytest.raises(ValueError, match="does not adapt"):
        evaluate(lambda: create_segmenter("static"), root, tmp_path / "static", progress=False, two_pass=True)
    if not SPEC.checkpoint_path.is_file():
        pytest.skip(f"no trained LSE network at {SPEC.checkpoint_path}")
    made = []

    def make():
        made.append(create_segmenter("lse", progress=False, finetune_seconds=600, adapt_steps=5))
        return made[-1]

    s = evaluate(make, root, tmp_path / "lse", progress=False, two_pass=True)
    assert len(made) == 1 and made[0].objects[1].report["adapted"]["scanned"] == 5  # one model, adapted once,
    assert s["frames"] == 4 and s["J"] > 0.6   # and the pass it made after adapting is the one scored


@pytest.mark.skipif(not (DAVIS_ROOT / "JPEGImages").is_dir(), reason=f"DAVIS data not found at {DAVIS_ROOT}")
def test_evaluate_real_bear(tmp_path):
    out = tmp_path / "results"
    s = evaluate(lambda: create_segmenter("static"), DAVIS_ROOT, out, sequences=["bear"], progress=False, max_frames=10)
    for i in range(10):
        assert (out / "bear" / f"{i:05d}.png").is_file()
    assert not (out / "bear" / "00010.png").exists()
    assert 0 < s["J"] <= 1 and 0 < s["F"] <= 1
    assert s["frames"] == 8 and s["sequences"]["bear"]["frames"] == 8
    print(format_table(s))
