"""Pipeline throughput and latency versus the bare model loop, measured in one run.

    .venv/bin/python benchmarks/pipeline_overhead.py [--frames 300] [--model online] [--rounds 2]

1. bare:      the segmenter alone in this process, on the same synthetic frames (pre-rendered), no
              transport: frames/s and per-frame latency of `step`.
2. pipeline:  `rtvos run` (capture, infer, publish as separate processes over ZeroMQ) with a 60 fps
              camera for 2x the frames (faster than any model here: the throughput) and a 30 fps camera
              (latency at a typical camera rate). (Unpaced, the synthetic camera renders 300 frames in
              under a second, before the model has even started: that measures nothing.)
Rounds alternate bare/pipeline so machine noise hits both. Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import REPO, free_port, write_results


def bare_loop(model: str, options: dict, frames: int, size: tuple[int, int]) -> dict:
    from rtvos.models import create_segmenter
    from rtvos.sources.synthetic import SyntheticSource

    src = SyntheticSource(width=size[0], height=size[1], fps=None, frames=frames)
    rendered = list(src.frames())
    seg = create_segmenter(model, **options)  # every core, as the infer stage
    seg.start(rendered[0].image, rendered[0].target)
    times = []
    t0 = time.perf_counter()
    for f in rendered[1:]:
        t = time.perf_counter()
        seg.step(f.image)
        times.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - t0
    return {"fps": len(times) / wall, "latency_ms": {"p50": float(np.percentile(times, 50)),
                                                      "p95": float(np.percentile(times, 95)),
                                                      "p99": float(np.percentile(times, 99))}}


def pipeline(model: str, options: dict, frames: int, size: tuple[int, int], fps: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "S.json"
        cmd = [sys.executable, "-m", "rtvos", "run", "--source", f"synthetic:{size[0]}x{size[1]}",
               "--frames", str(frames), "--fps", str(fps), "--model", model,
               "--bind", f"tcp://127.0.0.1:{free_port()}", "--stats-json", str(stats)]
        for k, v in options.items():
            cmd += ["--option", f"{k}={v}"]
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL, cwd=REPO)
        s = json.loads(stats.read_text())
    e2e, inf = s["latency_ms"]["end_to_end"], s["latency_ms"]["infer"]
    return {"fps": s["fps"], "captured": s["frames_captured"], "published": s["frames_published"],
            "dropped": s["frames_dropped"], "lost": s["frames_lost"],
            "latency_ms": {"p50": e2e["p50"], "p95": e2e["p95"], "p99": e2e["p99"], "max": e2e["max"]},
            "infer_ms": {"p50": inf["p50"], "p95": inf["p95"]}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="online")
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "pipeline_overhead.json"))
    args = ap.parse_args()
    from rtvos.cli import parse_options

    options = parse_options(args.option)
    size = tuple(int(v) for v in args.size.split("x"))
    runs = {"bare": [], "pipeline_60fps": [], "pipeline_30fps": []}
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}: bare loop ...", file=sys.stderr)
        runs["bare"].append(bare_loop(args.model, options, args.frames, size))
        print(f"round {r + 1}/{args.rounds}: pipeline, 60 fps camera ...", file=sys.stderr)
        runs["pipeline_60fps"].append(pipeline(args.model, options, 2 * args.frames, size, 60))
        print(f"round {r + 1}/{args.rounds}: pipeline at 30 fps ...", file=sys.stderr)
        runs["pipeline_30fps"].append(pipeline(args.model, options, args.frames, size, 30))

    def med(rows, *path):
        vals = []
        for row in rows:
            v = row
            for p in path:
                v = v[p]
            vals.append(v)
        return float(np.median(vals))

    summary = {k: {"fps": med(v, "fps"), "p50_ms": med(v, "latency_ms", "p50"), "p95_ms": med(v, "latency_ms", "p95"),
                   "p99_ms": med(v, "latency_ms", "p99")} for k, v in runs.items()}
    ratio_fps = summary["pipeline_60fps"]["fps"] / summary["bare"]["fps"]
    print(f"\n{args.model} {options or ''} on synthetic {args.size}, {args.frames} frames, median of {args.rounds} rounds")
    print(f"{'mode':18s} {'fps':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s}")
    for k, v in summary.items():
        print(f"{k:18s} {v['fps']:7.1f} {v['p50_ms']:8.1f} {v['p95_ms']:8.1f} {v['p99_ms']:8.1f}")
    print(f"pipeline/bare throughput ratio: {ratio_fps:.2f}  (latencies: bare = step only, pipeline = capture->published)")
    write_results(args.json, {"model": args.model, "options": options, "size": args.size, "frames": args.frames,
                              "rounds": args.rounds, "summary": summary, "pipeline_over_bare_fps": ratio_fps,
                              "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
