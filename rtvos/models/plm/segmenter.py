"""`plm` / `plm-p`: pixel-level matching (PLM), as the paper runs it.

start(): the pre-trained matching network (plm.pt in this package) is copied and fine-tuned on the
first frame only -- about 150 (query, search) pairs made from it (search margins 10/30/50 %, >= 50 %
overlap, translation and flips), the extractor frozen (with the blocks the network fine-tuned in
pre-training, if any), compressors / FC / decoding convs trained --
within a step and time budget, with a progress bar.  Each object's query (its box + 25 %, background
removed) is compressed once.  The network is never updated again (the paper: updates drift).

step(): for each object, nine candidate boxes around its previous box (`geometry.candidate_boxes`),
cropped to 96x96 and matched against the query in one batch; the 48x48 maps are resized back onto
their boxes and averaged where they overlap, snapped to the frame's edges by a guided filter (`snap`,
rtvos/models/shared/edges.py), then thresholded.  `plm-p` (postprocess=True) adds the weighted median
filter (5x5, 3 passes) guided by the frame.

full_frame=True (thermal road): query and search are the whole frame, the nine candidates the frame
on a 3x3 grid of small offsets.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rtvos.models.checkpoint import load_network
from rtvos.models.plm import SPEC, TRAIN_COMMAND
from rtvos.models.plm.geometry import candidate_boxes, full_frame_boxes, weighted_median
from rtvos.models.plm.net import CROP, Extractor, PLMNet, plm_taps
from rtvos.models.plm.samples import query_crop, search_sample
from rtvos.models.protocol import Segmenter
from rtvos.models.shared.aggregate import merge_probabilities
from rtvos.models.shared.backbone import Backbone, with_tuned_blocks
from rtvos.models.shared.crops import Box, accumulate, crop, mask_box
from rtvos.models.shared.edges import check_snap, snap_in_cells
from rtvos.models.shared.finetune import finetune


def load_pretrained(path: str | Path | None = None) -> PLMNet:
    """The pre-trained matching network at `path` (default: the packaged plm.pt), in eval mode."""
    return load_network(path or SPEC.checkpoint_path, PLMNet, "PLM matching network", TRAIN_COMMAND)


@dataclass
class PLMConfig:
    full_frame: bool = False        # query and search = the whole frame (thermal road)
    margin: float = 0.3             # candidates: the previous box + this fraction of its size on each side
    shift: float = 0.1              # ... on a 3x3 grid of offsets of this fraction of the box size
    threshold: float = 0.5          # on the accumulated foreground probability
    postprocess: bool = False       # PLM_P: weighted median filter (5x5, 3 passes)
    snap: float = 3.0               # each object's probability snapped to the frame's edges by a guided filter
                                    # this many map cells in radius (a cell: the centre candidate / 48; 0 = off).
                                    # 3 by 3-fold cross-validation: 63.6 / 65.8 / 67.2 / 67.4 / 67.1 J&F at
                                    # 0 / 1 / 2 / 3 / 4, every fold better than 0 (benchmarks/RESULTS.md)
    snap_eps: float = 1e-3          # ... and its regularisation
    finetune_steps: int = 600       # first-frame fine-tuning: Adam steps ... (600 by 3-fold cross-validation:
                                    # on Lite0's network 54.5 / 57.4 / 59.5 J&F at 60 / 150 / 300 steps, 300 better
                                    # on every fold (fifteenth session); on Lite2's, snapped, 67.4 -> 68.6 (J 69.6
                                    # -> 70.5) from 300 to 600, every fold better; starts in ~29 s on 2 cores
                                    # against ~15 s (benchmarks/RESULTS.md, twenty-second session)
    finetune_seconds: float = 30.0  # ... or this much time, whichever ends first (0 = no fine-tuning): a busier
                                    # machine takes fewer steps
    finetune_pairs: int = 150       # pairs made from the first frame (shared among the objects)
    finetune_batch: int = 25
    finetune_lr: float = 3e-4       # 59.5 / 61.0 / 60.9 J&F at 1e-4 / 3e-4 / 1e-3 (300 steps; 600 steps at 1e-4:
                                    # 61.1, twice the start; benchmarks/RESULTS.md, seventeenth session)
    progress: bool = True           # a progress bar while fine-tuning (stderr)
    checkpoint: str = ""            # pre-trained network; "" = the packaged rtvos/models/plm/plm.pt
    backend: str = "auto"           # extractor engine: auto | torch | onnxruntime | tensorrt
    precision: str = "int8"         # onnxruntime extractor: int8 (calibrated on synthetic frames) | fp32
    seed: int = 0


class PLMSegmenter(Segmenter):
    """`plm`, and `plm-p` with postprocess=True."""

    name = "plm"
    config_class = PLMConfig

    def __init__(self, net: PLMNet | None = None, **options):
        """`net`: a ready pre-trained network (e.g. one being trained); it is copied, never modified."""
        super().__init__(**options)
        if not 0 <= self.cfg.threshold <= 1:
            raise ValueError(f"threshold must be in [0, 1], got {self.cfg.threshold}")
        check_snap(self.cfg.snap, self.cfg.snap_eps)
        self.pretrained = net if net is not None else load_pretrained(self.cfg.checkpoint or None)
        variant = self.pretrained.variant  # the EfficientNet-Lite the network was trained on
        backbone = Backbone(taps=plm_taps(variant), variant=variant)
        if self.pretrained.tuned is not None:  # the network's fine-tuned blocks go into its extractor
            backbone = with_tuned_blocks(backbone, self.pretrained.tuned)
        self.extractor = Extractor(self.cfg.backend, backbone, precision=self.cfg.precision)
        self.finetune_report: dict = {}

    # ------------------------------------------------------------------------------ fine-tuning
    def _pairs(self, frame: np.ndarray, label: np.ndarray, rng: np.random.Generator):
        """Query crops (one per object) and (object index, search crop, label map) training samples."""
        queries, index, searches, labels = [], [], [], []
        per_object = max(1, self.cfg.finetune_pairs // len(self.ids))
        for i, k in enumerate(self.ids):
            m = label == k
            queries.append(query_crop(frame, m, CROP, self.cfg.full_frame))
            for _ in range(per_object):
                x, y = search_sample(frame, m, rng, CROP, self.net.map_size, self.cfg.full_frame, max_angle=0.0)
                index.append(i)
                searches.append(x)
                labels.append(y)
        return np.stack(queries), np.array(index), np.stack(searches), torch.from_numpy(np.stack(labels))[:, None]

    def _finetune(self, frame: np.ndarray, label: np.ndarray) -> tuple[torch.Tensor, ...]:
        """Fine-tune `self.net` on pairs from the first frame; returns the queries' extractor features
        (one per object), which start() compresses into the queries every later frame is matched to."""
        t_pairs = time.monotonic()
        rng = np.random.default_rng(self.cfg.seed)
        torch.manual_seed(self.cfg.seed)
        queries, index, searches, labels = self._pairs(frame, label, rng)
        qf, sf = self.extractor(queries, once=True), self.extractor(searches, once=True)
        t0 = time.monotonic()  # the budget is the optimisation's; making the pairs is bounded by their number
        n, b = len(index), min(self.cfg.finetune_batch, len(index))

        def loss() -> torch.Tensor:
            rows = torch.from_numpy(rng.choice(n, size=b, replace=False))
            qflat, _ = self.net.compress(qf)
            sflat, skip = self.net.compress([f[rows] for f in sf])
            logits = self.net(qflat[torch.from_numpy(index)[rows]], sflat, skip)
            return F.binary_cross_entropy_with_logits(logits, labels[rows])

        self.net.train()
        report = finetune(self.net.parameters(), loss, self.cfg.finetune_steps, self.cfg.finetune_seconds,
                          self.cfg.finetune_lr, f"{self.name}: fine-tuning on the first frame", self.cfg.progress)
        self.net.eval()
        self.finetune_report = {**report, "pairs": int(len(index)), "pairs_seconds": round(t0 - t_pairs, 2)}
        return qf

    # -------------------------------------------------------------------------------- protocol
    def _start(self, frame: np.ndarray, label: np.ndarray) -> None:
        self.net = copy.deepcopy(self.pretrained)
        query_features = self._finetune(frame, label)
        with torch.no_grad():
            self.query_flat, _ = self.net.compress(query_features)
        self.boxes: dict[int, Box] = {k: mask_box(label == k) for k in self.ids}
        self._match(frame)  # builds (exports / loads) the extractor engine for the candidate batch now

    def _warm_up(self, frame: np.ndarray, label: np.ndarray) -> None:
        """The extractor's engine for one object's nine candidates (a start would fine-tune for seconds)."""
        self.extractor(np.zeros((len(full_frame_boxes(self.frame_hw)), CROP, CROP, 3), np.uint8))

    def candidates(self, object_id: int) -> list[Box]:
        if self.cfg.full_frame:
            return full_frame_boxes(self.frame_hw)
        return candidate_boxes(self.boxes[object_id], self.cfg.margin, self.cfg.shift)

    def _match(self, frame: np.ndarray) -> list[np.ndarray]:
        """Each object's HxW foreground probability on `frame` (nine candidates each, one batch)."""
        boxes = [self.candidates(k) for k in self.ids]
        crops = np.stack([crop(frame, b, CROP) for bs in boxes for b in bs])
        with torch.no_grad():
            sflat, skip = self.net.compress(self.extractor(crops))
            q = self.query_flat.repeat_interleave(len(boxes[0]), dim=0)
            maps = torch.sigmoid(self.net(q, sflat, skip))[:, 0].numpy()
        per = len(boxes[0])
        return [self._snap(frame, accumulate(maps[i * per:(i + 1) * per], bs, self.frame_hw), bs)
                for i, bs in enumerate(boxes)]

    def _snap(self, frame: np.ndarray, prob: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """An object's probability snapped to the frame's edges where its candidates cover the frame."""
        region = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
        x0, y0, x1, y1 = boxes[len(boxes) // 2]  # the centre candidate
        cell = float(np.sqrt((x1 - x0) * (y1 - y0))) / self.net.map_size
        return snap_in_cells(frame, prob, region, cell, self.cfg.snap, self.cfg.snap_eps)

    def _step(self, frame: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
        probs = self._match(frame)
        label, scores = merge_probabilities(probs, self.ids, self.cfg.threshold)
        if self.cfg.postprocess:
            label = self._postprocess(label, probs, frame)
            scores = {k: float(p[label == k].mean()) if (label == k).any() else 0.0 for k, p in zip(self.ids, probs)}
        for k in self.ids:
            box = mask_box(label == k)
            if box is not None:  # a lost object keeps searching where it was last seen
                self.boxes[k] = box
        return label, scores

    def _postprocess(self, label: np.ndarray, probs: list[np.ndarray], frame: np.ndarray) -> np.ndarray:
        """Weighted median per object; a pixel two objects both keep goes to the more probable one."""
        filtered = [weighted_median(label == k, frame) for k in self.ids]
        out = np.zeros_like(label)
        best = np.full(label.shape, -1.0, np.float32)
        for k, keep, p in zip(self.ids, filtered, probs):
            win = keep & (p > best)
            out[win] = k
            best[win] = p[win]
        return out
