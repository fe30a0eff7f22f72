"""How much a CRVOS decoder uses its Clue: on frames of held-out sequences, the mask it gives from the
true previous mask, from an empty Clue, and from the previous mask moved a third of the frame sideways
(rotated: what leaves one edge comes back at the other).
A decoder that follows its Clue loses the object when the Clue is emptied or moved; one that segments
whatever stands out gives the same mask from all three.

    .venv/bin/python benchmarks/clue_sensitivity.py \\
        base=runs/cv/crvos-base/fold1/best.pt mosaic=runs/cv/crvos-mosaic50/fold1/best.pt --split fold:1/3

Prints a table (mean IoU with the ground truth from each Clue, and how alike the masks from the true
and the empty Clue are) and writes benchmarks/results/clue_sensitivity.json. The decoder and the
backbone run in fp32 eager torch, at the packaged processing height.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch
from common import REPO, write_results

CLUES = ("true", "empty", "moved")


def masks_from_clues(decoder, backbone, image: np.ndarray, previous: np.ndarray, height: int) -> dict[str, np.ndarray]:
    """The decoder's mask (frame size) for `image` from each kind of Clue made of `previous` (bool)."""
    from rtvos.models.crvos.net import CLUE_STRIDE, make_clue
    from rtvos.models.shared.backbone import preprocess, processing_size

    h, w = previous.shape
    ph, pw = processing_size(h, w, height)
    clues = {"true": previous, "empty": np.zeros_like(previous), "moved": np.roll(previous, w // 3, axis=1)}
    with torch.no_grad():
        feats = backbone(preprocess(image, (ph, pw)))
        out = {}
        for kind in CLUES:
            prev = cv2.resize(clues[kind].astype(np.float32), (pw, ph), interpolation=cv2.INTER_AREA)
            logits = decoder(*feats, make_clue(torch.from_numpy(prev)[None, None], (ph // CLUE_STRIDE, pw // CLUE_STRIDE)))
            fg = torch.softmax(logits, dim=1)[0, 1].numpy()
            out[kind] = cv2.resize(fg, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("decoders", nargs="+", metavar="NAME=CHECKPOINT", help="CRVOS decoders to compare")
    ap.add_argument("--davis-root", default=str(REPO.parent / "shared" / "data" / "davis2016-train"))
    ap.add_argument("--split", default="fold:1/3", help="the sequences scored: this split's held-out ones")
    ap.add_argument("--frames", default="5,15,25", help="frame indices scored in each sequence (comma-separated)")
    ap.add_argument("--height", type=int, default=256, help="processing height (the packaged decoder's)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "clue_sensitivity.json")
    args = ap.parse_args()

    from rtvos.evaluation.davis import DavisDataset
    from rtvos.evaluation.metrics import iou
    from rtvos.evaluation.splits import scored
    from rtvos.models.crvos.segmenter import load_decoder
    from rtvos.models.shared.backbone import Backbone

    if not all("=" in d for d in args.decoders):
        ap.error("name each decoder: NAME=CHECKPOINT")
    named = dict(d.split("=", 1) for d in args.decoders)
    dataset = DavisDataset(args.davis_root)
    sequences = scored(dataset.sequence_names(), args.split)
    indices = [int(i) for i in args.frames.split(",")]
    results = {}
    print(f"{'decoder':<12} {'IoU true':>9} {'IoU empty':>10} {'IoU moved':>10} {'true~empty':>11}")
    for name, path in named.items():
        decoder = load_decoder(path)
        backbone = Backbone(taps=decoder.backbone_taps).eval()  # below any blocks the decoder fine-tuned
        rows = []
        for seq_name in sequences:
            seq = dataset.sequence(seq_name)
            for i in (i for i in indices if 1 <= i < len(seq)):
                gt, previous = seq.load_mask(i) > 0, seq.load_mask(i - 1) > 0
                masks = masks_from_clues(decoder, backbone, seq.load_frame(i), previous, args.height)
                rows.append({"sequence": seq_name, "frame": i, **{f"iou_{k}": iou(masks[k], gt) for k in CLUES},
                             "true_vs_empty": iou(masks["true"], masks["empty"])})
        if not rows:
            ap.error(f"no frame of --frames {args.frames} exists in these sequences")
        mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k not in ("sequence", "frame")}
        results[name] = {"checkpoint": path, **mean, "frames": rows}
        print(f"{name:<12} {mean['iou_true']:>9.3f} {mean['iou_empty']:>10.3f} {mean['iou_moved']:>10.3f} "
              f"{mean['true_vs_empty']:>11.3f}")
    write_results(args.out, {"split": args.split, "sequences": sequences, "frame_indices": indices,
                             "height": args.height, "decoders": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
