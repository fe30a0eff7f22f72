"""`crvos` behind the segmenter protocol, on a frozen EfficientNet-Lite0 pyramid.

Per frame: backbone features f4 / f8 / f16 (strides 4 / 8 / 16; f16 from below the backbone blocks a
decoder fine-tuned and owns, `CRVOSDecoder.backbone_taps`) and, per object, the *Clue* -- the
previous frame's soft mask as (background, foreground) probabilities area-pooled to stride 16, plus
three coordinate channels -- go through the decoder (net.py) to 2-channel (background, foreground)
logits at the processing resolution.  The previous prediction is the only memory, so a step costs one
backbone pass plus one decoder pass, batched over the objects; what the decoder learns of the object,
it learns once, on the first frame (below).

With `zoom` > 1 each object is seen in its own window around its last mask (rtvos/models/shared/zoom.py),
one backbone pass per object; its Clue is its last soft mask moved into the new window. An object lost
(fewer than `min_pixels`) is looked for in the whole frame next, with its last Clue.

Each object's probability is snapped to the frame's edges (`snap`, rtvos/models/shared/edges.py)
before the masks are made; its Clue stays the decoder's own soft mask.

**First-frame fine-tuning** (`finetune_steps`): at the start a copy of the decoder is fine-tuned on the
first frame -- each object's window and augmented copies of it (the object cut out, warped and pasted
back on the inpainted background: where it might be in the next frame), with the first mask as the
Clue, itself drifted at times (`perturb_masks`) -- and that copy, compiled for this stream alone
(`EngineCache(keep=False)`), segments the rest. The packaged decoder learned what objects look like
from 30 sequences; the copy learns what this one looks like, which is what the unadapted decoder got
wrong when it called an object's white or washed-out parts background (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from rtvos.engines import Calibration, EngineCache
from rtvos.models.checkpoint import load_network
from rtvos.models.crvos import SPEC, TRAIN_COMMAND
from rtvos.models.crvos.net import CLUE_STRIDE, CRVOSDecoder, make_clue, perturb_masks
from rtvos.models.protocol import Segmenter
from rtvos.models.shared.aggregate import merge_probabilities
from rtvos.models.shared.augment import augment_first_frame
from rtvos.models.shared.backbone import Backbone, preprocess, processing_size
from rtvos.models.shared.edges import check_snap, snap_in_window
from rtvos.models.shared.finetune import finetune, has_budget
from rtvos.models.shared.int8_calibration import RECIPE, backbone_int8, calibration_frames, check_precision
from rtvos.models.shared.zoom import Window, reframe, window_for

OUTPUT_STRIDE = 4  # the decoder's finest features: its logits are up-sampled from stride-4 cells


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
    threshold: float = 0.4       # on the up-sampled foreground probability; 0.4 by 3-fold cross-validation
                                 # (57.5 J&F against 57.1 at 0.5 and 57.3 at 0.3; no fold worse)
    zoom: float = 3.0            # target-centred: each object seen in a window around it, magnified up to this
                                 # (1: the whole frame, one backbone pass for every object). 3 with margin 0.5
                                 # by 3-fold cross-validation: better on every fold (52.0 against 51.5 J&F);
                                 # 0-6 % slower for one object, a backbone pass per object (benchmarks/RESULTS.md)
    zoom_margin: float = 0.5     # the window holds the object's box grown by this many box sizes on every side
    min_pixels: int = 10         # fewer: the object is lost, and looked for in the whole frame next (zoom > 1)
    snap: float = 2.0            # each object's probability snapped to the frame's edges by a guided filter
                                 # this many stride-4 cells in radius (0: off; rtvos/models/shared/edges.py) ...
    snap_eps: float = 1e-3       # ... and its regularisation. 2 by 3-fold cross-validation: 57.5 -> 59.7 J&F,
                                 # every fold, 26 of 30 sequences (0.5 / 1 / 3: 58.5 / 59.2 / 59.7); 0.8-0.9x the
                                 # speed at 854x480 (benchmarks/RESULTS.md, fifteenth session)
    finetune_steps: int = 100    # first-frame fine-tuning of a copy of the decoder: Adam steps ...
    finetune_seconds: float = 30.0  # ... or this much time, whichever ends first (0: none). By 3-fold
                                 # cross-validation: 59.7 -> 82.6 J&F, every fold, 28 of 30 sequences; about
                                 # 27 s at the start on 2 cores (benchmarks/RESULTS.md, sixteenth session)
                                 # An object added later restarts every object: the same wait again.
                                 # backend tensorrt would compile the tuned copy at every start (minutes;
                                 # not measured, no GPU here): use decoder_backend=torch there.
    finetune_samples: int = 16   # augmented copies of each object's first window to fine-tune on
    finetune_batch: int = 4
    finetune_lr: float = 3e-4    # 3e-4 by cross-validation (1e-4: 80.0, 1e-3: 81.5)
    finetune_perturb: float = 0.5  # share of the samples whose Clue drifts (shifted, dilated or eroded)
    progress: bool = True        # a progress bar while fine-tuning (stderr)
    seed: int = 0
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
        a fresh Backbone at the decoder's `backbone_taps` and the decoder from `checkpoint`."""
        super().__init__(**options)
        if self.cfg.height % 32 or self.cfg.height <= 0:
            raise ValueError(f"height must be a positive multiple of 32, got {self.cfg.height}")
        check_precision(self.cfg.precision)
        check_snap(self.cfg.snap, self.cfg.snap_eps)
        self.decoder = decoder if decoder is not None else load_decoder(self.cfg.checkpoint or None)
        taps = self.decoder.backbone_taps  # below the backbone blocks the decoder fine-tuned, if any
        self.backbone = backbone or Backbone(taps=taps)
        if tuple(self.backbone.taps) != taps:
            raise ValueError(f"this crvos decoder needs backbone taps {taps}, got {self.backbone.taps}")
        int8 = self.cfg.precision == "int8"
        self.backbone_engines = EngineCache(self.backbone, self.cfg.backend, backbone_int8(self.cfg.precision))
        # one decoder engine per number of objects (the batch)
        self.decoder_calibration = decoder_calibration(self.backbone) if int8 else None
        self.packaged_engines = EngineCache(self.decoder, self.decoder_backend, self.decoder_calibration)
        self.finetune_report: dict = {}

    @property
    def decoder_backend(self) -> str:
        return self.cfg.decoder_backend or self.cfg.backend

    @property
    def finetuning(self) -> bool:
        return has_budget(self.cfg.finetune_steps, self.cfg.finetune_seconds)

    @property
    def zooming(self) -> bool:
        return self.cfg.zoom > 1.0

    def _window_for(self, mask: np.ndarray) -> Window:
        return window_for(mask, self.frame_hw, self.cfg.zoom, self.cfg.zoom_margin)

    def _inputs(self, frame: np.ndarray) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """Backbone features (the whole frame once, or each object's window: batched) and every object's
        Clue: its last soft mask, moved into the window it is seen in now."""
        windows = [self.windows[k] for k in self.ids]
        images = [w.crop(frame) for w in windows] if self.zooming else [frame]
        feats = tuple(self.backbone_engines(torch.cat([preprocess(im, self.proc_hw) for im in images])))
        prev = [reframe(p, seen, now, self.frame_hw) for (seen, p), now in zip((self.prev[k] for k in self.ids), windows)]
        return feats, make_clue(torch.from_numpy(np.stack(prev))[:, None], self.feat16_hw)

    def _decode(self, feats, clue: torch.Tensor) -> torch.Tensor:
        """All objects in one decoder call: features repeated along the batch (or one window each), one Clue each."""
        n = clue.shape[0]
        inputs = [f.expand(n, -1, -1, -1).contiguous() for f in feats] + [clue.contiguous()]
        return self.decoder_engines(*inputs)[0]

    def _start(self, frame: np.ndarray, label: np.ndarray) -> None:
        self._first_clues(label)
        if self.finetuning:  # a copy fine-tuned on this frame, its engines for this stream alone
            self._use(EngineCache(self._finetuned(frame, label), self.decoder_backend, self.decoder_calibration,
                                  keep=False), frame)
        else:
            self._use(self.packaged_engines, frame)

    def _warm_up(self, frame: np.ndarray, label: np.ndarray) -> None:
        """The backbone's engine and the packaged decoder's (a start would fine-tune for seconds)."""
        self._first_clues(label)
        self._use(self.packaged_engines, frame)

    def _use(self, decoder_engines: EngineCache, frame: np.ndarray) -> None:
        """Decode with these engines from now on; build (export / load) and warm up them and the backbone's
        here, not in the first step."""
        self.decoder_engines = decoder_engines
        with torch.no_grad():
            self._decode(*self._inputs(frame))

    def _first_clues(self, label: np.ndarray) -> None:
        """Sizes, and each object's window and first Clue: its mask (an object added or removed later
        restarts every object: the protocol's default)."""
        h, w = self.frame_hw
        self.proc_hw = processing_size(h, w, self.cfg.height)
        self.feat16_hw = (self.proc_hw[0] // CLUE_STRIDE, self.proc_hw[1] // CLUE_STRIDE)
        self.windows: dict[int, Window] = {}
        self.prev: dict[int, tuple[Window, np.ndarray]] = {}  # each object's last soft mask: the window it covers
        ph, pw = self.proc_hw
        for k in self.ids:
            self.windows[k] = win = self._window_for(label == k)
            self.prev[k] = win, cv2.resize(win.crop(label == k).astype(np.float32), (pw, ph),
                                           interpolation=cv2.INTER_AREA)

    def _finetune_samples(self, frame: np.ndarray, label: np.ndarray, rng: np.random.Generator):
        """Each object's first window at processing size and `finetune_samples` augmented copies of it:
        (images, their masks of the object, the first mask: every sample's Clue)."""
        ph, pw = self.proc_hw
        images, targets, clues = [], [], []
        for k in self.ids:
            win, first = self.prev[k]
            small = cv2.resize(win.crop(frame), (pw, ph), interpolation=cv2.INTER_AREA)
            small_label = cv2.resize(win.crop(label == k).astype(np.uint8), (pw, ph), interpolation=cv2.INTER_NEAREST)
            for image, mask in [(small, small_label), *augment_first_frame(small, small_label, self.cfg.finetune_samples, rng)]:
                images.append(image)
                targets.append(mask > 0)
                clues.append(first)
        return images, torch.from_numpy(np.stack(targets)).long(), torch.from_numpy(np.stack(clues))[:, None]

    def _finetuned(self, frame: np.ndarray, label: np.ndarray) -> CRVOSDecoder:
        """A copy of the decoder fine-tuned on the first frame's samples (cross-entropy, the Clue drifted
        for a `finetune_perturb` share of them), within the step and time budget."""
        rng = np.random.default_rng(self.cfg.seed)  # every draw (samples, batches, drifts) comes from it
        images, targets, clues = self._finetune_samples(frame, label, rng)
        with torch.no_grad():  # the frozen backbone, all samples in one eager pass (no engine for this batch)
            f4, f8, f16 = self.backbone(torch.cat([preprocess(image, self.proc_hw) for image in images]))
        decoder = copy.deepcopy(self.decoder).eval()  # eval: the tuned blocks keep their BatchNorm statistics
        n, b = len(images), min(self.cfg.finetune_batch, len(images))

        def loss() -> torch.Tensor:
            rows = torch.from_numpy(rng.choice(n, size=b, replace=False))
            clue = make_clue(perturb_masks(clues[rows], self.cfg.finetune_perturb, rng), self.feat16_hw)
            return F.cross_entropy(decoder(f4[rows], f8[rows], f16[rows], clue), targets[rows])

        report = finetune(decoder.parameters(), loss, self.cfg.finetune_steps, self.cfg.finetune_seconds,
                          self.cfg.finetune_lr, f"{self.name}: fine-tuning on the first frame", self.cfg.progress)
        self.finetune_report = {**report, "samples": n}
        return decoder

    def _step(self, frame: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
        with torch.no_grad():
            logits = self._decode(*self._inputs(frame))
            fg = torch.softmax(logits.float(), dim=1)[:, 1, :, :].numpy()
        windows = [self.windows[k] for k in self.ids]
        probs = [snap_in_window(frame, w.paste(p, self.frame_hw), w, OUTPUT_STRIDE, self.proc_hw[0], self.cfg.snap,
                                self.cfg.snap_eps) for w, p in zip(windows, fg)]
        label, scores = merge_probabilities(probs, self.ids, self.cfg.threshold)
        for k, win, p in zip(self.ids, windows, fg):
            found = np.count_nonzero(label == k) >= self.cfg.min_pixels
            if found or not self.zooming:
                self.prev[k] = win, p  # each object's own soft mask is its next Clue
            self.windows[k] = self._window_for(label == k) if found else Window.full(self.frame_hw)
        return label, scores
