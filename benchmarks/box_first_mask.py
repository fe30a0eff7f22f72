"""How good is the first mask made from a box? Every way a box becomes a mask, cross-validated.

    .venv/bin/python benchmarks/box_first_mask.py --inits grabcut,lse:runs/cv/lse-box/fold{fold}/best.pt [--folds 3]

For each held-out fold's sequences, the box of the first annotation (as a detector would hand it over)
becomes a mask by each `--inits` entry (rtvos.models.target.BOX_INITS; "{fold}" stands for the fold's
number, so an LSE network is only scored on sequences it did not train on); J (IoU) and F against the
annotation. Every model's box start begins with this mask, so it bounds what the model can do after.
Prints a table, writes benchmarks/results/box_first_mask.json.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from common import REPO, write_results

from rtvos.evaluation.davis import DavisDataset
from rtvos.evaluation.metrics import boundary_f, iou
from rtvos.evaluation.splits import folds
from rtvos.models.target import box_mask, boxes_of
from rtvos.training.common import default_davis_root


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inits", required=True, help="comma-separated box inits; {fold} = the fold's number")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--fold", type=int, default=None, help="score only this fold's sequences (a quick look)")
    ap.add_argument("--davis-root", default=None)
    ap.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "box_first_mask.json"))
    args = ap.parse_args()
    data = DavisDataset(args.davis_root or default_davis_root())
    names = data.sequence_names()
    rows = {}
    for init in args.inits.split(","):
        per_seq, seconds = {}, []
        for i, held in enumerate(folds(names, args.folds), start=1):
            for name in held if args.fold in (None, i) else []:
                seq = data.sequence(name)
                frame, label = seq.load_frame(0), seq.load_mask(0)
                truth = label > 0
                t0 = time.perf_counter()
                mask = box_mask(frame, boxes_of(truth.astype(np.uint8))[1], init.replace("{fold}", str(i)))
                seconds.append(time.perf_counter() - t0)
                per_seq[name] = {"J": float(iou(mask, truth)), "F": float(boundary_f(mask, truth))}
        j = float(np.mean([v["J"] for v in per_seq.values()]))
        f = float(np.mean([v["F"] for v in per_seq.values()]))
        rows[init] = {"J": j, "F": f, "ms_median": 1000 * float(np.median(seconds[1:] or seconds)),
                      "sequences": per_seq}
        print(f"{init}: first mask J {100 * j:.1f}, F {100 * f:.1f} over {len(per_seq)} sequences "
              f"(median {rows[init]['ms_median']:.0f} ms)", file=sys.stderr)
    print("\n| box to mask | J | F | ms (median) |\n|---|---|---|---|")
    for init, r in rows.items():
        print(f"| `{init}` | {100 * r['J']:.1f} | {100 * r['F']:.1f} | {r['ms_median']:.0f} |")
    write_results(args.json, {"command": " ".join(sys.argv), "folds": args.folds, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
