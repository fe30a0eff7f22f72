"""`rtvos bench`: time a segmenter alone (no pipeline) on frames of a real size, after warm-up.

Frames come from the synthetic camera rendered at the requested size (pre-rendered, so rendering is
not timed), or from a DAVIS folder. Only `step` is timed; `start` (first-frame work) is reported apart.
"""

from __future__ import annotations

import time

import numpy as np


def load_frames(source: str | None, hw: tuple[int, int], count: int) -> tuple[list[np.ndarray], np.ndarray]:
    """`count` RGB frames of size hw (resized if the source differs) and the first frame's target."""
    import cv2

    from rtvos.sources import open_source

    h, w = hw
    spec = source or f"synthetic:{w}x{h}"
    src = open_source(spec, fps=None, frames=None if source else count, loop=bool(source))
    frames, target = [], None
    with src:
        for f in src.frames():
            img, tgt = f.image, f.target
            if img.shape[:2] != (h, w):
                img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
                if tgt is not None:
                    tgt = cv2.resize(tgt, (w, h), interpolation=cv2.INTER_NEAREST)
            if target is None:
                if tgt is None:
                    raise SystemExit(f"rtvos bench: source {spec!r} has no first-frame target")
                target = tgt
            frames.append(img)
            if len(frames) >= count:
                break
    return frames, target


def run_bench(model: str, backend: str, hw: tuple[int, int], frames: int, warmup: int, options: dict,
              source: str | None = None, threads: int | None = None) -> dict:
    import torch

    from rtvos.models import create_segmenter
    from rtvos.models.session import StreamSession

    opts = dict(options)
    if backend:
        opts["backend"] = backend
    imgs, target = load_frames(source, hw, frames + warmup + 1)
    seg = create_segmenter(model, threads=threads, **opts)
    session = StreamSession(seg)
    t0 = time.perf_counter()
    session.start(imgs[0], target)
    start_ms = (time.perf_counter() - t0) * 1000
    for img in imgs[1:1 + warmup]:
        session.step(img)
    times = []
    for img in imgs[1 + warmup:]:
        t = time.perf_counter()
        session.step(img)
        times.append((time.perf_counter() - t) * 1000)
    a = np.asarray(times)
    precision = {"tensorrt": "fp16", "torch": "fp32"}.get(backend, getattr(seg.cfg, "precision", "fp32"))
    return {
        "model": model, "backend": backend, "precision": precision, "options": options, "input": f"{hw[1]}x{hw[0]}",
        "frames": len(times), "warmup": warmup, "threads": torch.get_num_threads(),
        "fps": round(float(len(a) / (a.sum() / 1000)), 3),
        "latency_ms": {"p50": round(float(np.percentile(a, 50)), 3), "p90": round(float(np.percentile(a, 90)), 3),
                       "p99": round(float(np.percentile(a, 99)), 3), "mean": round(float(a.mean()), 3)},
        "start_ms": round(start_ms, 1),
    }
