"""`frtm` and `frtm-fast`: FRTM = the online target model D (see online.py) + the offline-trained,
target-agnostic refinement network R (refiner.py) that turns D's coarse scores into a fine mask.

Per frame: backbone taps at strides 4/8/16 -> per object D's stride-16 scores -> R (all objects in
one batch) -> sigmoid -> up-sampled to the frame -> soft aggregation -> label mask, which also feeds
each object's sample memory (so D learns from R's refined masks). The GN/CG step stays eager; the
backbone and R go through the engine layer (ONNX Runtime on the CPU by default).

Presets (paper, section 4): `frtm` uses c = 96, t_s = 8, 5 GN steps; `frtm-fast` uses c = 32,
t_s = 16, 4 GN steps, 5 CG iterations per update, and a smaller processing size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from rtvos.engines import load_engine
from rtvos.segmenters.backbone import Backbone
from rtvos.segmenters.online import OnlineConfig, OnlineSegmenter
from rtvos.segmenters.refiner import Refiner

CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "frtm_refiner.pt"

FAST_PRESET = {"channels": 32, "update_every": 16, "gn_steps": 4, "cg_first": 5, "cg_iterations": 5,
               "update_cg": 5, "augmentations": 5, "height": 256}


@dataclass
class FRTMConfig(OnlineConfig):
    checkpoint: str | None = None   # refiner weights (default: the packaged rtvos/checkpoints/frtm_refiner.pt)


def load_refiner(path: str | Path | None = None) -> Refiner:
    path = Path(path) if path else CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(
            f"no trained FRTM refinement network at {path}; train one with `rtvos train frtm` "
            "(see README, 'Training') or pass --option checkpoint=PATH")
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("refiner", state)
    refiner = Refiner()
    refiner.load_state_dict({k: v.float() for k, v in state.items()})
    return refiner.eval().requires_grad_(False)


class FRTMSegmenter(OnlineSegmenter):
    name = "frtm"
    taps = (2, 4, 10)
    config_class = FRTMConfig

    def __init__(self, backbone: Backbone | None = None, refiner: Refiner | None = None, **options):
        super().__init__(backbone, **options)
        self.refiner = refiner if refiner is not None else load_refiner(self.cfg.checkpoint)
        self._refiner_engines: dict[tuple, object] = {}

    def _probabilities(self, pyramid: tuple[torch.Tensor, ...], coarse: torch.Tensor) -> list[np.ndarray]:
        f4, f8, f16 = pyramid
        k = coarse.shape[0]
        inputs = tuple(t.expand(k, *t.shape[1:]).contiguous() for t in (f4, f8, f16)) + (coarse.contiguous(),)
        shapes = tuple(tuple(t.shape) for t in inputs)
        if shapes not in self._refiner_engines:  # one per object count (objects may come and go)
            self._refiner_engines[shapes] = load_engine(self.refiner, shapes, self.cfg.backend)
        logits = self._refiner_engines[shapes](*inputs)[0]
        h, w = self.frame_hw
        probs = torch.sigmoid(logits[:, 0]).numpy()
        return [cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR) for p in probs]


class FRTMFastSegmenter(FRTMSegmenter):
    name = "frtm-fast"

    def __init__(self, backbone: Backbone | None = None, refiner: Refiner | None = None, **options):
        super().__init__(backbone, refiner, **{**FAST_PRESET, **options})
