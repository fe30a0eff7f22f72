"""`crvos` behind the segmenter protocol, on a frozen EfficientNet-Lite0 pyramid.

Per frame: backbone features f4 / f8 / f16 (strides 4 / 8 / 16) and, per object, the *Clue* -- the
previous frame's soft mask as (background, foreground) probabilities area-pooled to stride 16, plus
three coordinate channels -- go through the decoder (net.py) to 2-channel (background, foreground)
logits at the processing resolution.  No online learning: the previous prediction is the only memory,
so a step costs one backbone pass plus one decoder pass, batched over the objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from rtvos.engines import Calibration, EngineCache
from rtvos.models.checkpoint import load_network
from rtvos.models.crvos import SPEC, TRAIN_COMMAND
from rtvos.models.crvos.net import CRVOSDecoder, make_clue
from rtvos.models.protocol import Segmenter
from rtvos.models.shared.aggregate import merge_probabilities
from rtvos.models.shared.backbone import PYRAMID_TAPS, Backbone, preprocess, processing_size
from rtvos.models.shared.int8_calibration import RECIPE, backbone_int8, calibration_frames, check_precision


def load_decoder(path: str | Path | None = None) -> CRVOSDecoder:
    """The decoder with the weights at `path` (default: the packaged crvos.pt), in eval mode."""
    return load_network(path or SPEC.checkpoint_path, CRVOSDecoder, "CRVOS decoder", TRAIN_COMMAND)


def decoder_calibration(backbone: Backbone) -> Calibration:
    """INT8 calibration for the decoder: the calibration frames at the engine's processing size (4x its
    f4 input), through `backbone`, and a Clue per object from their exact masks."""

    def samples(shapes):
        n, _, h4, w4 = shapes[0]
        proc_hw, feat16_hw = (4 * h4, 4 * w4), tuple(shapes[2][-2:])
        out = []
        for image, label in calibration_frames():
            x = preprocess(image, proc_hw)
            with torch.no_grad():
                feats = backbone(x)
            masks = [(label == k) for k in np.unique(label) if k] or [label > 0]
            prev = torch.from_numpy(np.stack([cv2.resize(masks[i % len(masks)].astype(np.float32), proc_hw[::-1],
                                                         interpolation=cv2.INTER_AREA) for i in range(n)]))[:, None]
            out.append(tuple(f.expand(n, -1, -1, -1).numpy() for f in feats) + (make_clue(prev, feat16_hw).numpy(),))
        return out

    return Calibration(key=f"decoder-{RECIPE}", samples=samples)


@dataclass
class CRVOSConfig:
    height: int = 256            # processing height (width follows the aspect ratio), multiple of 32
    threshold: float = 0.5       # on the up-sampled foreground probability
    checkpoint: str = ""         # decoder weights; "" = the packaged rtvos/models/crvos/crvos.pt
    backend: str = "auto"        # engine for backbone and decoder: auto | torch | onnxruntime
    decoder_backend: str = ""    # engine for the decoder alone ("" = `backend`; training evaluates with torch)
    precision: str = "int8"      # onnxruntime graphs: int8 (statically quantised, calibrated on synthetic
                                 # frames; see rtvos/models/shared/int8_calibration.py) | fp32.  torch is always fp32.


class CRVOSSegmenter(Segmenter):
    name = "crvos"
    config_class = CRVOSConfig

    def __init__(self, backbone: Backbone | None = None, decoder: CRVOSDecoder | None = None, **options):
        """`backbone` / `decoder`: ready modules to share (e.g. the decoder being trained); by default
        a fresh Backbone(taps=PYRAMID_TAPS) and the decoder from `checkpoint`."""
        super().__init__(**options)
        if self.cfg.height % 32 or self.cfg.height <= 0:
            raise ValueError(f"height must be a positive multiple of 32, got {self.cfg.height}")
        check_precision(self.cfg.precision)
        self.decoder = decoder if decoder is not None else load_decoder(self.cfg.checkpoint or None)
        self.backbone = backbone or Backbone(taps=PYRAMID_TAPS)
        if tuple(self.backbone.taps) != PYRAMID_TAPS:
            raise ValueError(f"crvos needs backbone taps {PYRAMID_TAPS}, got {self.backbone.taps}")
        int8 = self.cfg.precision == "int8"
        self.backbone_engines = EngineCache(self.backbone, self.cfg.backend, backbone_int8(self.cfg.precision))
        # one decoder engine per number of objects (the batch)
        self.decoder_engines = EngineCache(self.decoder, self.cfg.decoder_backend or self.cfg.backend,
                                           decoder_calibration(self.backbone) if int8 else None)

    def _features(self, frame: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f4, f8, f16 = self.backbone_engines(preprocess(frame, self.proc_hw))
        return f4, f8, f16

    def _decode(self, feats, clue: torch.Tensor) -> torch.Tensor:
        """All objects in one decoder call: features repeated along the batch, one Clue each."""
        n = clue.shape[0]
        inputs = [f.expand(n, -1, -1, -1).contiguous() for f in feats] + [clue.contiguous()]
        return self.decoder_engines(*inputs)[0]

    def _start(self, frame: np.ndarray, label: np.ndarray) -> None:
        h, w = self.frame_hw
        self.proc_hw = processing_size(h, w, self.cfg.height)
        self.feat16_hw = (self.proc_hw[0] // 16, self.proc_hw[1] // 16)
        ph, pw = self.proc_hw
        prev = [cv2.resize((label == k).astype(np.float32), (pw, ph), interpolation=cv2.INTER_AREA) for k in self.ids]
        self.prev_fg = torch.from_numpy(np.stack(prev))[:, None]  # Nx1xHxW soft masks, processing resolution
        with torch.no_grad():  # build (export / load) and warm up both engines here, not in the first step
            self._decode(self._features(frame), make_clue(self.prev_fg, self.feat16_hw))

    def _step(self, frame: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
        feats = self._features(frame)
        with torch.no_grad():
            logits = self._decode(feats, make_clue(self.prev_fg, self.feat16_hw))
            fg = torch.softmax(logits.float(), dim=1)[:, 1:2]
        self.prev_fg = fg  # each object's own soft mask is its next Clue
        h, w = self.frame_hw
        probs = [cv2.resize(p[0].numpy(), (w, h), interpolation=cv2.INTER_LINEAR) for p in fg]
        return merge_probabilities(probs, self.ids, self.cfg.threshold)
