"""Segmenter speed across backends and input sizes, in one run (same machine state for every row).

    .venv/bin/python benchmarks/backends.py --models crvos,online --backends torch,onnxruntime \
        --sizes 854x480,427x240 --frames 60

Each cell is `rtvos bench` (the segmenter alone, synthetic frames at that size, warm-up first, only
`step` timed; the start, first-frame fine-tuning included, reported beside it) in a fresh process.
Rows are interleaved by size so noise spreads evenly. Prints a table with each backend's speed-up over
torch, writes JSON to benchmarks/results/backends.json.
A model may carry its own options: `--models frtm-fast,frtm-fast@zoom=2` (`@KEY=VALUE`, repeatable;
`--option` applies to every model).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO, setting_name, write_results


def bench(model: str, backend: str, size: str, frames: int, options: list[str]) -> dict:
    """One cell; backend "onnxruntime-fp32" is onnxruntime with the option precision=fp32."""
    if backend.endswith("-fp32"):
        backend, options = backend[:-len("-fp32")], options + ["precision=fp32"]
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [sys.executable, "-m", "rtvos", "bench", "--model", model, "--backend", backend, "--size", size,
               "--frames", str(frames), "--json", f.name] + [a for o in options for a in ("--option", o)]
        subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
        return json.loads(Path(f.name).read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="crvos")
    ap.add_argument("--backends", default="torch,onnxruntime", help="torch, onnxruntime (the model's default precision), onnxruntime-fp32")
    ap.add_argument("--sizes", default="854x480,427x240", help="frame sizes WIDTHxHEIGHT")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--option", action="append", default=[])
    ap.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "backends.json"))
    args = ap.parse_args()
    rows = []
    for size in args.sizes.split(","):
        for entry in args.models.split(","):
            model, *own = entry.split("@")
            for backend in args.backends.split(","):
                print(f"{entry} [{backend}] {size} ...", file=sys.stderr)
                rows.append(bench(model, backend, size, args.frames, args.option + own))
    print(f"\n{'model':18s} {'backend':12s} {'precision':9s} {'input':>9s} {'fps':>7s} {'p50 ms':>8s} {'p99 ms':>8s} "
          f"{'start s':>8s} {'vs torch':>9s}")
    for r in rows:
        ref = next((x for x in rows if x["model"] == r["model"] and x["options"] == r["options"]
                    and x["input"] == r["input"] and x["backend"] == "torch"), None)
        speedup = f"{r['fps'] / ref['fps']:.2f}x" if ref else "-"
        print(f"{setting_name(r['model'], r['options']):18s} {r['backend']:12s} {r.get('precision', 'fp32'):9s} {r['input']:>9s} {r['fps']:7.1f} "
              f"{r['latency_ms']['p50']:8.1f} {r['latency_ms']['p99']:8.1f} {r['start_ms'] / 1000:8.1f} {speedup:>9s}")
    write_results(args.json, {"rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
