"""Cross-validated accuracy against speed, one point per model (its packaged setting): one picture.

    .venv/bin/python benchmarks/backends.py --backends onnxruntime --sizes 854x480 --frames 100 \
        --json benchmarks/results/speed_854x480.json --models \
        crvos@finetune_lr=3e-4,frtm@snap=0.5@finetune_steps=100@finetune_seconds=120@finetune_lr=3e-4,frtm@snap=0.5@finetune_steps=0,frtm-fast@zoom=2@finetune_steps=100@finetune_seconds=120@finetune_lr=3e-4,frtm-fast@zoom=2@finetune_steps=0,online@snap=0.5,plm@snap=3@finetune_steps=600@finetune_seconds=120,plm@snap=3,lse@finetune_augment=32@finetune_batch=8@finetune_seconds=30@finetune_steps=400
    .venv/bin/python benchmarks/accuracy_speed.py

Reads the cross-validation summaries in benchmarks/results/crossval.json (`benchmarks/crossval.py`;
mask starts, box starts for `lse`; each point is named by its cross-validation, e.g. `frtm-ecssd300` is
R trained with 300 ECSSD clips) and a one-run speed table (`benchmarks/backends.py`), joins them on
model and options, prints the joined table and draws J&F (± the spread of the fold means) against
frames per second to benchmarks/results/accuracy_speed.png, with the speed targets of the accuracy
issue as dashed lines and the start of a model that fine-tunes on the first frame next to its name.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import setting_name

RESULTS = Path(__file__).resolve().parent / "results"
SPEED_TARGETS = {"frtm-fast": 25.0, "crvos": 40.0}  # fps at 854x480, the accuracy issue's bar
SLOW_START_S = 2.0  # a start at least this long (seconds) is written next to the model's point
POINTS = ("crvos-800-s15-ft100-lr3e-4", "frtm-lite0-2700-ft100-lr3e-4", "frtm-fast-lite0-2700-ft100-lr3e-4",
          "online-zoom2-despeck-snap0.5", "plm-lite2-seed1-snap3-ft600", "lse-gpu-5600-c3500-aug32-ft400-b8")  # the packaged settings (mask starts; lse from boxes)


def load(crossval_json: Path, speed_json: Path, points: list[str]) -> list[dict]:
    speeds = {}
    for r in json.loads(speed_json.read_text())["rows"]:
        if r["backend"] == "onnxruntime":
            speeds[setting_name(r["model"], r["options"])] = r
    rows, kept = [], json.loads(crossval_json.read_text())
    for name in points:
        cv = kept.get(name)
        if cv is None:
            continue
        key = setting_name(cv["model"], dict(o.split("=", 1) for o in cv["options"]))
        speed = speeds.get(key)
        if speed is None:
            continue
        suffix = " (from a box)" if "--init box" in (cv.get("eval_args") or "") else ""
        start_s = speed["start_ms"] / 1000
        if start_s >= SLOW_START_S:  # a start users wait for (first-frame fine-tuning) is named on the plot
            suffix += f", {start_s:.0f} s start"
        rows.append({"setting": key, "cv": name, "model": cv["model"], "label": cv["model"] + suffix, "JF": 100 * cv["JF"],
                     "spread": 100 * cv["JF_fold_std"], "fps": speed["fps"], "p50_ms": speed["latency_ms"]["p50"],
                     "start_s": start_s})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crossval", type=Path, default=RESULTS / "crossval.json")
    ap.add_argument("--speed", type=Path, default=RESULTS / "speed_854x480.json")
    ap.add_argument("--out", type=Path, default=RESULTS / "accuracy_speed.png")
    ap.add_argument("--points", default=",".join(POINTS), help="the cross-validations (names in --crossval) drawn")
    args = ap.parse_args()
    rows = load(args.crossval, args.speed, args.points.split(","))
    if not rows:
        raise SystemExit(f"no setting has both a cross-validation in {args.crossval} and a speed row in {args.speed}")
    rows.sort(key=lambda r: -r["JF"])
    print(f"{'setting':24s} {'J&F':>6s} {'+-':>5s} {'fps':>6s} {'p50 ms':>7s} {'start s':>8s}  cross-validation")
    for r in rows:
        print(f"{r['setting']:24s} {r['JF']:6.1f} {r['spread']:5.1f} {r['fps']:6.1f} {r['p50_ms']:7.1f} {r['start_s']:8.1f}  {r['cv']}")

    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    models = sorted({r["model"] for r in rows})
    for r in rows:
        colour = f"C{models.index(r['model'])}"
        ax.errorbar(r["fps"], r["JF"], yerr=r["spread"], fmt="o", color=colour, capsize=3)
        crowded = any(0 < o["fps"] - r["fps"] < 4 and abs(o["JF"] - r["JF"]) < 4 for o in rows)  # a point just right
        ax.annotate(r["label"], (r["fps"], r["JF"]), textcoords="offset points", xytext=(-6, 4) if crowded else (6, 4),
                    ha="right" if crowded else "left", fontsize=8)
    for model, fps in SPEED_TARGETS.items():
        ax.axvline(fps, color="0.75", linestyle="--", linewidth=1)
        ax.annotate(f"{model} target", (fps, ax.get_ylim()[0]), textcoords="offset points", xytext=(3, 3),
                    fontsize=7, color="0.5", rotation=90)
    ax.set_xlabel("frames per second (854x480 in, step only, 2 CPU cores, ONNX Runtime INT8)")
    ax.set_ylabel("J&F, 3-fold cross-validation over 30 DAVIS sequences (%)")
    ax.set_title("rtvos models: accuracy on unseen video against speed (bars: spread of the folds)", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
