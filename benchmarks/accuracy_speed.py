"""Accuracy against speed for every model, fp32 and INT8 engines: one picture.

    .venv/bin/python benchmarks/accuracy_speed.py

Reads the dev-split evaluations in benchmarks/results/dev/<model>-<precision>.json (written by
`rtvos eval --model M --option precision=P --json ...`) and the one-run speed table
benchmarks/results/backends_int8_all.json (`benchmarks/backends.py`), prints the joined table and
draws J&F against frames per second to benchmarks/results/accuracy_speed.png (an arrow per model
from its fp32 to its INT8 engines).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load(dev_dir: Path, speed_json: Path) -> list[dict]:
    speed = json.loads(speed_json.read_text())["rows"]
    rows = []
    for r in speed:
        if r["backend"] != "onnxruntime":
            continue
        dev = dev_dir / f"{r['model']}-{r['precision']}.json"
        if not dev.is_file():
            continue
        d = json.loads(dev.read_text())
        rows.append({"model": r["model"], "precision": r["precision"], "fps": r["fps"], "JF": 100 * d["JF"],
                     "J": 100 * d["J"], "F": 100 * d["F"]})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dev-dir", type=Path, default=RESULTS / "dev")
    ap.add_argument("--speed", type=Path, default=RESULTS / "backends_int8_all.json")
    ap.add_argument("--out", type=Path, default=RESULTS / "accuracy_speed.png")
    args = ap.parse_args()
    rows = load(args.dev_dir, args.speed)
    if not rows:
        raise SystemExit(f"no model has both a dev evaluation in {args.dev_dir} and a speed row in {args.speed}")
    print(f"{'model':10s} {'precision':9s} {'J&F':>6s} {'J':>6s} {'F':>6s} {'fps':>6s}")
    for r in sorted(rows, key=lambda r: (r["model"], r["precision"])):
        print(f"{r['model']:10s} {r['precision']:9s} {r['JF']:6.1f} {r['J']:6.1f} {r['F']:6.1f} {r['fps']:6.1f}")

    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for model in sorted({r["model"] for r in rows}):
        pts = {r["precision"]: r for r in rows if r["model"] == model}
        for prec, marker in (("fp32", "o"), ("int8", "s")):
            if prec in pts:
                p = pts[prec]
                ax.scatter(p["fps"], p["JF"], marker=marker, s=50,
                           facecolors="none" if prec == "fp32" else "C0", edgecolors="C0")
        if "fp32" in pts and "int8" in pts:
            a, b = pts["fp32"], pts["int8"]
            ax.annotate("", xy=(b["fps"], b["JF"]), xytext=(a["fps"], a["JF"]),
                        arrowprops={"arrowstyle": "->", "color": "0.5"})
        top = pts.get("int8") or pts["fp32"]
        ax.annotate(model, (top["fps"], top["JF"]), textcoords="offset points", xytext=(6, 4))
    ax.axvline(25, color="0.8", linestyle="--", linewidth=1)
    ax.set_xlabel("frames per second (854x480, step only, 2 CPU cores, ONNX Runtime)")
    ax.set_ylabel("J&F on the dev split (%)")
    ax.set_title("rtvos models: fp32 (hollow) -> INT8 engines (filled)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
