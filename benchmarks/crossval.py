"""Cross-validated accuracy of a model (and of a training setting): K folds over the sequences of a
DAVIS-layout root (rtvos/evaluation/splits.py); for each fold the model's learned part is trained on
the other folds -- with no dev check, so nothing is chosen on the sequences it is scored on -- and
scored on the held-out fold with the official J and F.

    .venv/bin/python benchmarks/crossval.py --model crvos --folds 3 --steps 400 --out runs/cv/crvos-base
    .venv/bin/python benchmarks/crossval.py --model frtm-fast --trainer frtm --reuse runs/cv/frtm-base ...
    .venv/bin/python benchmarks/crossval.py --model online --folds 3 --out runs/cv/online   # nothing to train

Resumable: a fold whose checkpoint or scores exist is not done again. Prints a table (per fold and
pooled over every sequence, J&F mean and spread) and writes <out>/summary.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from common import REPO

RTVOS = [sys.executable, "-m", "rtvos"]


def run(cmd: list[str], log: Path) -> None:
    print("  $ " + shlex.join(["rtvos", *cmd[3:]]), file=sys.stderr)
    with open(log, "a") as f:
        f.write("$ " + shlex.join(cmd) + "\n")
        f.flush()
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT, cwd=REPO)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="the model scored (rtvos models)")
    ap.add_argument("--trainer", help="the model whose trainer makes its checkpoint (default: --model, if it has one)")
    ap.add_argument("--reuse", type=Path, help="take the fold checkpoints from this earlier cross-validation")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--steps", type=int, help="training steps per fold (equal budgets compare settings fairly)")
    ap.add_argument("--train-args", default="", help="more `rtvos train` options, quoted")
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="model option when scoring")
    ap.add_argument("--eval-args", default="", help="more `rtvos eval` options, quoted (e.g. \"--init box\"); "
                    "{fold} stands for the fold's number (e.g. --box-init lse:runs/cv/lse-box/fold{fold}/best.pt)")
    ap.add_argument("--davis-root", default=str(REPO.parent / "shared" / "data" / "davis2016-train"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "crossval.json",
                    help="the summary is also kept here, under the name of --out (one entry per model and setting)")
    args = ap.parse_args()

    from rtvos.models import get_spec

    trainer = args.trainer or (args.model if get_spec(args.model).trainer else None)
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "log.txt"
    t0 = time.monotonic()
    folds = []
    for i in range(1, args.folds + 1):
        split = f"fold:{i}/{args.folds}"
        fold_dir = args.out / f"fold{i}"
        fold_dir.mkdir(exist_ok=True)
        options = list(args.option)
        if trainer:
            ckpt = (args.reuse / f"fold{i}" if args.reuse else fold_dir) / "best.pt"
            if not ckpt.is_file():
                if args.reuse:
                    raise SystemExit(f"crossval: no checkpoint {ckpt} to reuse")
                if args.steps is None:
                    raise SystemExit("crossval: give --steps (the training budget per fold)")
                print(f"fold {i}/{args.folds}: training {trainer}", file=sys.stderr)
                run(RTVOS + ["train", trainer, "--split", split, "--no-dev", "--steps", str(args.steps),
                             "--davis-root", args.davis_root, "--out", str(fold_dir),
                             *shlex.split(args.train_args)], log)
            options.append(f"checkpoint={ckpt}")
        scores = fold_dir / "eval.json"
        if not scores.is_file():
            print(f"fold {i}/{args.folds}: scoring {args.model} on the held-out fold", file=sys.stderr)
            run(RTVOS + ["eval", "--model", args.model, "--davis-root", args.davis_root, "--split", split,
                         "--out", str(fold_dir / "masks"), "--json", str(scores), "--quiet",
                         *[a for o in options for a in ("--option", o)],
                         *shlex.split(args.eval_args.replace("{fold}", str(i)))], log)
        folds.append(json.loads(scores.read_text()))

    per_seq = {name: s for f in folds for name, s in f["sequences"].items()}
    seq_jf = np.array([(s["J"] + s["F"]) / 2 for s in per_seq.values()])
    fold_jf = np.array([f["JF"] for f in folds])
    summary = {
        "model": args.model, "trainer": trainer, "folds": args.folds, "steps": args.steps,
        "train_args": args.train_args, "options": args.option, "eval_args": args.eval_args, "reuse": str(args.reuse) if args.reuse else None,
        "JF": float(np.mean(seq_jf)), "J": float(np.mean([s["J"] for s in per_seq.values()])),
        "F": float(np.mean([s["F"] for s in per_seq.values()])),
        "JF_fold_mean": float(fold_jf.mean()), "JF_fold_std": float(fold_jf.std(ddof=1)) if len(folds) > 1 else 0.0,
        "JF_sequence_std": float(seq_jf.std(ddof=1)), "fps": float(np.mean([f["fps"] for f in folds])),
        "per_fold": [{"JF": f["JF"], "J": f["J"], "F": f["F"], "sequences": sorted(f["sequences"])} for f in folds],
        "per_sequence": {k: round((v["J"] + v["F"]) / 2, 4) for k, v in sorted(per_seq.items())},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "minutes": round((time.monotonic() - t0) / 60, 1),
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    kept = json.loads(args.results.read_text()) if args.results.is_file() else {}
    kept[args.out.name] = {k: v for k, v in summary.items() if k != "per_sequence"}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(dict(sorted(kept.items())), indent=1))
    print(f"{args.model} ({args.folds}-fold cross-validation over {len(per_seq)} sequences)")
    for i, f in enumerate(folds, 1):
        print(f"  fold {i}: J&F {100 * f['JF']:.1f} (J {100 * f['J']:.1f}, F {100 * f['F']:.1f}) on {len(f['sequences'])} sequences")
    print(f"  all sequences: J&F {100 * summary['JF']:.1f} (J {100 * summary['J']:.1f}, F {100 * summary['F']:.1f}); "
          f"folds {100 * summary['JF_fold_mean']:.1f} +- {100 * summary['JF_fold_std']:.1f}; {summary['fps']:.1f} fps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
