"""Started from a box, does a model keep up with a live camera? `rtvos run --box` on the synthetic camera.

    .venv/bin/python benchmarks/box_camera.py [--models lse,frtm-fast] [--fps 15] [--frames 300] [--rounds 2]

Each run is what a robot does: the first frame's box (here the synthetic object's box, as a detector
would hand it over) on a 640x480 camera at --fps, the model starting from it (LSE's own box step and
first-frame fine-tuning; the other models from the default box start, GrabCut started from LSE's
network, `lse+grabcut`, recorded in the JSON as `box_init`). "Keeps up" means it published
at least KEEP_FRACTION of the frames captured after its start (median over rounds); the start itself
(box to mask, fine-tuning) is reported apart. Prints a table, writes benchmarks/results/box_camera.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from common import REPO, free_port, write_results

from rtvos.models.target import DEFAULT_BOX_INIT

KEEP_FRACTION = 0.97


def first_box(width: int, height: int) -> str:
    """The synthetic camera's first-frame object box, x0,y0,x1,y1."""
    from rtvos.models.target import boxes_of
    from rtvos.sources import open_source

    with open_source(f"synthetic:{width}x{height}", frames=1) as source:
        frame = next(iter(source.frames()))
    return ",".join(f"{v:.0f}" for v in boxes_of(frame.target)[1])


def run(model: str, box: str, fps: float, frames: int, size: tuple[int, int]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "S.json"
        cmd = [sys.executable, "-m", "rtvos", "run", "--source", f"synthetic:{size[0]}x{size[1]}", "--frames",
               str(frames), "--fps", str(fps), "--model", model, "--box", box, "--bind",
               f"tcp://127.0.0.1:{free_port()}", "--stats-json", str(stats)]
        if model == "lse":
            cmd += ["--option", "progress=false"]
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL, cwd=REPO)
        s = json.loads(stats.read_text())
    steady = s["frames_captured"] - s["startup"].get("frames", 0)
    published_steady = s["frames_published"] - s["startup"].get("frames", 0)
    return {"fps": s["fps"], "captured": s["frames_captured"], "published": s["frames_published"],
            "published_fraction_steady": published_steady / max(1, steady), "live_iou": s.get("live_iou"),
            "start_ms": s["startup"].get("start_ms"), "e2e_p50_ms": s["latency_ms"]["end_to_end"]["p50"],
            "e2e_p95_ms": s["latency_ms"]["end_to_end"]["p95"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="lse,frtm-fast")
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "box_camera.json"))
    args = ap.parse_args()
    size = (640, 480)
    box = first_box(*size)
    runs: dict[str, list[dict]] = {m: [] for m in args.models.split(",")}
    for r in range(args.rounds):
        for model in runs:
            print(f"round {r + 1}/{args.rounds}: {model} from box {box} ...", file=sys.stderr)
            runs[model].append(run(model, box, args.fps, args.frames, size))
    rows = []
    for model, rs in runs.items():
        med = lambda k: float(np.median([x[k] for x in rs if x[k] is not None])) if any(x[k] is not None for x in rs) else None  # noqa: E731
        kept = med("published_fraction_steady")
        rows.append({"model": model, "published_fraction": kept, "fps": med("fps"), "live_iou": med("live_iou"),
                     "start_ms": med("start_ms"), "e2e_p50_ms": med("e2e_p50_ms"), "e2e_p95_ms": med("e2e_p95_ms"),
                     "keeps_up": kept >= KEEP_FRACTION})
    print(f"\nsynthetic {size[0]}x{size[1]} at {args.fps:g} fps from box {box}, {args.frames} frames, median of "
          f"{args.rounds} rounds, {os.cpu_count()} cores")
    print(f"{'model':10s} {'published':>10s} {'fps':>6s} {'live IoU':>9s} {'start ms':>9s} {'e2e p50':>8s} "
          f"{'e2e p95':>8s} {'keeps up':>9s}")
    for r in rows:
        iou = "-" if r["live_iou"] is None else f"{r['live_iou']:.3f}"
        print(f"{r['model']:10s} {100 * r['published_fraction']:9.1f}% {r['fps']:6.1f} {iou:>9s} "
              f"{r['start_ms'] or 0:9.0f} {r['e2e_p50_ms']:8.1f} {r['e2e_p95_ms']:8.1f} "
              f"{'yes' if r['keeps_up'] else 'no':>9s}")
    write_results(args.json, {"fps": args.fps, "frames": args.frames, "rounds": args.rounds, "box": box,
                              "box_init": DEFAULT_BOX_INIT,
                              "keep_fraction": KEEP_FRACTION, "rows": rows, "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
