"""What EfficientNet-Lite2 would cost the models against the Lite0 they run on (issue 10, item 3: "try
Lite2 where the speed allows"), before anything is trained on it.

    .venv/bin/python benchmarks/backbone_variants.py --sizes 448x256,512x288 --frames 100

Each variant's stride 4 / 8 / 16 pyramid (what CRVOS's decoder, FRTM's R and target model and PLM take)
runs through the ONNX Runtime engine layer at each processing size (WIDTHxHEIGHT: 448x256 is what
`crvos` and `frtm-fast` run a 854x480 frame at, 512x288 `frtm`), INT8 (the models' default, the same
calibration) and fp32. The cells are timed round-robin, one call each per round, so the machine's noise
spreads evenly; a table of the median ms per call and Lite2's ratio to Lite0, JSON to
benchmarks/results/backbone_variants.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from common import REPO, write_results
from tqdm import tqdm

from rtvos.engines import EngineCache
from rtvos.models.shared.backbone import LITE0, LITE2, Backbone
from rtvos.models.shared.int8_calibration import PRECISIONS, backbone_int8


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="448x256,512x288", help="processing sizes WIDTHxHEIGHT (multiples of 32)")
    ap.add_argument("--precisions", default=",".join(PRECISIONS))
    ap.add_argument("--frames", type=int, default=100, help="timed calls per cell")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "backbone_variants.json"))
    args = ap.parse_args()

    cells = []
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        for precision in args.precisions.split(","):
            for variant in (LITE0, LITE2):
                backbone = Backbone(taps=variant.pyramid_taps, variant=variant)
                engine = EngineCache(backbone, "onnxruntime", backbone_int8(precision))
                x = torch.rand(1, 3, h, w)
                print(f"building {variant.name} {precision} {w}x{h} ...", file=sys.stderr)
                for _ in range(args.warmup):
                    engine(x)
                cells.append({"variant": variant.name, "precision": precision, "size": f"{w}x{h}", "taps": list(backbone.taps),
                              "channels": list(backbone.channels),
                              "parameters": sum(p.numel() for p in backbone.parameters()), "engine": engine, "x": x, "ms": []})
    for _ in tqdm(range(args.frames), desc="timing (round-robin)", unit="round"):
        for c in cells:
            t0 = time.perf_counter()
            c["engine"](c["x"])
            c["ms"].append((time.perf_counter() - t0) * 1e3)

    rows = []
    for c in cells:
        c.pop("engine"), c.pop("x")
        ms = c.pop("ms")
        rows.append({**c, "ms_p50": statistics.median(ms), "ms_mean": statistics.fmean(ms)})
    print(f"\n{'variant':8s} {'precision':9s} {'size':>8s} {'params':>8s} {'ms p50':>8s} {'vs Lite0':>9s}")
    for r in rows:
        ref = next(x for x in rows if x["variant"] == LITE0.name and x["precision"] == r["precision"] and x["size"] == r["size"])
        r["vs_lite0"] = r["ms_p50"] / ref["ms_p50"]
        print(f"{r['variant']:8s} {r['precision']:9s} {r['size']:>8s} {r['parameters'] / 1e6:7.2f}M {r['ms_p50']:8.2f} {r['vs_lite0']:8.2f}x")
    write_results(args.json, {"command": " ".join(sys.argv), "frames": args.frames, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
