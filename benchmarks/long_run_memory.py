"""Does a model keep up with a camera, in constant memory, over a long run?

    .venv/bin/python benchmarks/long_run_memory.py --model frtm-fast --fps 15 --frames 3000

Runs the real pipeline (`rtvos run`) on the synthetic camera and samples the resident memory (RSS)
of every stage process once a second from /proc. Reports the published/captured ratio, FPS, latency
and, per stage, RSS at start (after warm-up), end, max and the fitted growth (MB per 1000 frames).
Writes JSON and a PNG plot of RSS over time (benchmarks/results/).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from common import REPO

from rtvos.pipeline.stage import running_stages


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="frtm-fast")
    ap.add_argument("--fps", type=float, default=15.0)
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--size", default="640x480", help="synthetic camera WIDTHxHEIGHT")
    ap.add_argument("--option", action="append", default=[])
    ap.add_argument("--warmup-s", type=float, default=20.0, help="RSS 'start' is taken after this long")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{args.model}-{int(args.fps)}fps-{args.frames}"
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = Path(tmp) / "S.json"
        cmd = [sys.executable, "-m", "rtvos", "run", "--model", args.model, "--source", f"synthetic:{args.size}",
               "--fps", str(args.fps), "--frames", str(args.frames), "--bind", f"tcp://127.0.0.1:{port}",
               "--stats-json", str(stats_path)] + [a for o in args.option for a in ("--option", o)]
        print(" ".join(cmd[2:]), file=sys.stderr)
        run = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.DEVNULL)
        t0 = time.monotonic()
        samples: list[tuple[float, dict[str, float]]] = []
        while run.poll() is None:
            pids = running_stages(f":{port}")
            mem = {st: rss_mb(pid) for st, pid in pids.items()}
            if mem:
                samples.append((time.monotonic() - t0, {k: v for k, v in mem.items() if v is not None}))
            time.sleep(1.0)
        stats = json.loads(stats_path.read_text())
    per_stage = {}
    for stage in ("capture", "infer", "publish"):
        pts = [(t, m[stage]) for t, m in samples if stage in m]
        if not pts:
            continue
        t, v = np.array(pts).T
        late = t >= args.warmup_s
        t_l, v_l = (t[late], v[late]) if late.sum() >= 5 else (t, v)
        slope_per_s = float(np.polyfit(t_l, v_l, 1)[0]) if len(t_l) >= 2 else 0.0
        frames_per_s = stats["frames_captured"] / max(1e-9, stats["duration_s"])
        per_stage[stage] = {"rss_start_mb": round(float(v_l[0]), 1), "rss_end_mb": round(float(v_l[-1]), 1),
                            "rss_max_mb": round(float(v.max()), 1),
                            "growth_mb_per_1000_frames": round(slope_per_s / frames_per_s * 1000, 3)}
    e2e = stats["latency_ms"]["end_to_end"]
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": " ".join(cmd[2:]),
              "model": args.model, "camera_fps": args.fps, "frames_captured": stats["frames_captured"],
              "frames_published": stats["frames_published"], "frames_dropped": stats["frames_dropped"],
              "frames_lost": stats["frames_lost"], "published_ratio": round(stats["frames_published"] / max(1, stats["frames_captured"]), 4),
              "fps": stats["fps"], "e2e_ms": {k: e2e[k] for k in ("p50", "p95", "p99", "max")},
              "infer_ms": {k: stats["latency_ms"]["infer"][k] for k in ("p50", "p95", "p99")},
              "live_iou": stats.get("live_iou"), "rss": per_stage,
              "samples": [{"t": round(t, 1), **m} for t, m in samples]}
    (out_dir / f"long_run_{tag}.json").write_text(json.dumps(result, indent=1))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        for stage in per_stage:
            pts = [(t, m[stage]) for t, m in samples if stage in m]
            ax.plot(*np.array(pts).T, label=stage)
        ax.set_xlabel("seconds")
        ax.set_ylabel("RSS (MB)")
        ax.set_title(f"{args.model}, {args.fps:g} fps camera, {stats['frames_captured']} frames")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out_dir / f"long_run_{tag}.png", dpi=100)
    except ImportError:
        print("(matplotlib not installed: no plot)", file=sys.stderr)
    print(f"{args.model} @ {args.fps:g} fps camera, {stats['frames_captured']} frames: published "
          f"{result['published_ratio'] * 100:.1f}% ({stats['fps']:.1f} fps), e2e p50 {e2e['p50']:.0f} ms p95 {e2e['p95']:.0f} ms, "
          f"lost {stats['frames_lost']}")
    print(f"{'stage':8s} {'RSS start':>10s} {'end':>8s} {'max':>8s} {'MB/1000 frames':>15s}")
    for stage, r in per_stage.items():
        print(f"{stage:8s} {r['rss_start_mb']:10.1f} {r['rss_end_mb']:8.1f} {r['rss_max_mb']:8.1f} "
              f"{r['growth_mb_per_1000_frames']:15.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
