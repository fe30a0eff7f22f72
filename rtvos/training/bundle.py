"""A compact copy of the training data, for a machine the data cannot be mounted on (a lent GPU machine
takes the repository and what it carries, 64 MiB in all).

    python -m rtvos.training.bundle --out .gpu/data          # davis2016-train/ and ecssd/ under it

DAVIS: every --frame-step-th frame of each sequence (names kept, so a sequence is the same sequence with
fewer frames) and its annotation; ECSSD: every photograph and mask. Images larger than --max-side are
resized to it as LSE's object pool resizes them (INTER_AREA; masks INTER_NEAREST, written as 8-bit
grayscale 0/255) and re-encoded at JPEG --quality. ImageSets are copied unchanged: the cross-validation
folds follow their order, so `--split fold:K/3` names the same sequences on the copy. What the copy
loses (frames, pixels, JPEG quality) is what a run trained on it says in its provenance (the run's
--davis-root and this folder's bundle.json).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from rtvos.evaluation.davis import DavisDataset
from rtvos.models.lse.samples import MAX_SIDE, fit
from rtvos.training.common import default_davis_root
from rtvos.training.ecssd import default_root as default_ecssd_root


def write_pair(image_rgb: np.ndarray, mask: np.ndarray, image_path: Path, mask_path: Path, quality: int) -> None:
    """The image as a JPEG, the boolean mask as an 8-bit 0/255 PNG."""
    image_path.parent.mkdir(parents=True, exist_ok=True)
    mask_path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(image_path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"cannot write {image_path}")
    if not cv2.imwrite(str(mask_path), mask.astype(np.uint8) * 255, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"cannot write {mask_path}")


def bundle_davis(root: Path, out: Path, frame_step: int, max_side: int, quality: int) -> int:
    """The DAVIS copy; returns the number of frames written."""
    dataset = DavisDataset(root)
    if (root / "ImageSets").is_dir():
        shutil.copytree(root / "ImageSets", out / "ImageSets", dirs_exist_ok=True)
    written = 0
    for name in tqdm(dataset.sequence_names(), desc="DAVIS", unit="seq"):
        seq = dataset.sequence(name)
        for i in range(0, len(seq), frame_step):
            image, mask = fit(seq.load_frame(i), seq.load_mask(i) > 0, max_side)
            rel = Path(seq.resolution) / name / seq.frame_names[i]
            write_pair(image, mask, out / "JPEGImages" / rel.with_suffix(".jpg"),
                       out / "Annotations" / rel.with_suffix(".png"), quality)
            written += 1
    return written


def bundle_ecssd(root: Path, out: Path, max_side: int, quality: int) -> int:
    """The ECSSD copy; returns the number of photographs written."""
    from rtvos.training.ecssd import EcssdDataset  # noqa: PLC0415

    photos = EcssdDataset(root)
    for i in tqdm(range(len(photos)), desc="ECSSD", unit="photo"):
        image, mask = fit(*photos.read(i), max_side)
        write_pair(image, mask, out / "images" / f"{photos.names[i]}.jpg", out / "masks" / f"{photos.names[i]}.png",
                   quality)
    return len(photos)


def size_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rtvos.training.bundle", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder to write davis2016-train/ and ecssd/ into")
    p.add_argument("--davis-root", type=Path, default=None, help="DAVIS-layout root (default: $RTVOS_DAVIS_ROOT or ../shared/data/davis2016-train)")
    p.add_argument("--ecssd-root", type=Path, default=None, help="ECSSD folder (default: $RTVOS_ECSSD_ROOT or ../shared/data/ecssd)")
    p.add_argument("--frame-step", type=int, default=2, help="keep every N-th DAVIS frame (default 2)")
    p.add_argument("--max-side", type=int, default=MAX_SIDE, help="longer image side at most (default %(default)s, LSE's object pool)")
    p.add_argument("--quality", type=int, default=85, help="JPEG quality (default 85)")
    args = p.parse_args(argv)
    if args.frame_step < 1 or args.max_side < 32 or not 1 <= args.quality <= 100:
        raise SystemExit(f"{p.prog}: --frame-step >= 1, --max-side >= 32 and --quality 1..100")
    davis_root, ecssd_root = args.davis_root or default_davis_root(), args.ecssd_root or default_ecssd_root()
    davis_out, ecssd_out = args.out / "davis2016-train", args.out / "ecssd"
    frames = bundle_davis(davis_root, davis_out, args.frame_step, args.max_side, args.quality)
    photos = bundle_ecssd(ecssd_root, ecssd_out, args.max_side, args.quality)
    record = {"davis_root": str(davis_root.resolve()), "ecssd_root": str(Path(ecssd_root).resolve()),
              "frame_step": args.frame_step, "max_side": args.max_side, "quality": args.quality,
              "davis_frames": frames, "ecssd_photos": photos,
              "mib": {"davis": round(size_mib(davis_out), 1), "ecssd": round(size_mib(ecssd_out), 1)}}
    (args.out / "bundle.json").write_text(json.dumps(record, indent=1))
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
