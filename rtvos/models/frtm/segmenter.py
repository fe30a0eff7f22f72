"""`online`, `frtm` and `frtm-fast` behind the segmenter protocol.

`online` is FRTM's discriminative target model D alone, on a frozen EfficientNet-Lite0 (or Lite2:
`backbone=lite2`; `frtm` runs on the one its R was trained on). Start: the first frame and augmented copies of it (cut out / inpaint / warp / paste) go through the
backbone; one target model per object is fitted by Gauss-Newton/CG (5 GN steps).  Each new frame:
features -> D -> coarse scores at stride 16 -> bilinear up-sampling to the frame -> (soft aggregation
across objects) -> label mask.  The predicted mask goes back into each object's bounded sample memory,
and w2 is refitted every `update_every` frames.  No refinement network.

`frtm` = D + the offline-trained, target-agnostic refinement network R (net.py) that turns D's coarse
scores into a fine mask. Per frame: backbone taps at strides 4/8/16 -> per object D's stride-16 scores
-> R (all objects in one batch) -> sigmoid -> up-sampled to the frame -> soft aggregation -> label mask,
which also feeds each object's sample memory (so D learns from R's refined masks). An R trained with
fine-tuned backbone blocks brings them along: they go into the backbone, so D and R see the same
stride-16 features. The GN/CG step stays eager; the backbone and R go through the engine layer (ONNX
Runtime on the CPU by default).
First-frame fine-tuning of R (`finetune_steps`): at the start a copy of R is fine-tuned on the first
frame -- fresh augmented copies of each object's first window (cut out, warped, pasted back on the
inpainted background), through the backbone, with the scores of the target model just fitted (not on
these copies: it errs on them as it will on the next frames) -- and that copy, built for this stream
alone (`EngineCache(keep=False)`), refines the rest. The packaged R learned from 30 sequences how to
refine any object's scores; the copy learns this object's outline. Only objects given as masks are
tuned for: those given as boxes keep the packaged R (a box's first mask is a guess, whose errors a copy
would learn). An object added later as a mask tunes a fresh copy on every such object. As CRVOS's
decoder does (rtvos/models/crvos/segmenter.py), which tunes for boxes too.
Presets (paper, section 4): `frtm` uses c = 96, t_s = 8, 5 GN steps; `frtm-fast` (FAST_PRESET in the
package) c = 32, t_s = 16, 4 GN steps, 5 CG iterations per update, and a smaller processing size.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from rtvos.engines import EngineCache
from rtvos.models.checkpoint import load_network
from rtvos.models.frtm import FRTM_SPEC, TRAIN_COMMAND
from rtvos.models.frtm.memory import SampleMemory, hard_negative_emphasis
from rtvos.models.frtm.net import RefinementNetwork
from rtvos.models.frtm.target_model import TargetModel
from rtvos.models.protocol import Segmenter
from rtvos.models.shared.aggregate import merge_probabilities
from rtvos.models.shared.augment import augment_first_frame
from rtvos.models.shared.backbone import (
    LITE0,
    Backbone,
    LiteVariant,
    backbone_variant,
    preprocess,
    processing_size,
    with_tuned_blocks,
)
from rtvos.models.shared.edges import check_snap, snap_in_window
from rtvos.models.shared.finetune import finetune, has_budget
from rtvos.models.shared.int8_calibration import backbone_int8
from rtvos.models.shared.zoom import Window, window_at, window_for


@dataclass
class OnlineConfig:
    height: int = 288            # processing height (width follows the aspect ratio), multiple of 32
    channels: int = 96           # c, the target model's hidden channels
    augmentations: int = 11      # augmented first-frame samples (plus the original, weighted twice)
    gn_steps: int = 5            # first frame: GN steps ...
    cg_first: int = 5            # ... CG iterations in the first GN step ...
    cg_iterations: int = 10      # ... and in the others
    update_every: int = 8        # t_s: refit w2 every t_s frames
    update_cg: int = 10          # CG iterations per update
    amortize: bool = True        # spread each update's CG iterations over the next t_s frames
    memory: int = 80             # K_max samples per object
    eta: float = 0.1             # memory learning rate
    min_pixels: int = 10         # skip memory updates when the predicted mask is this small
    hard_negatives: float = 0.0  # extra loss weight on background the target model scored as target (0: off)
    hard_threshold: float = 0.5  # ... scored above this
    zoom: float = 2.0            # target-centred: each object seen in a window around it, magnified up to this
                                 # (1: the whole frame; see rtvos/models/shared/zoom.py). 2 by 3-fold cross-
                                 # validation: better on every fold for online, frtm and frtm-fast alike, for
                                 # 0 to 10 % of the speed at 854x480 (benchmarks/RESULTS.md)
    zoom_margin: float = 1.0     # the window holds the object's box grown by this many box sizes on every side
    redetect_threshold: float = 0.5  # a lost object is searched for in the whole frame: found where its score
                                     # peaks above this
    threshold: float = 0.5       # on the up-sampled score
    snap: float = 0.5            # each object's probability snapped to the frame's edges by a guided filter
                                 # this many output cells in radius (0: off; rtvos/models/shared/edges.py) ...
    snap_eps: float = 1e-3       # ... and its regularisation. 0.5 by 3-fold cross-validation for `online`:
                                 # 58.5 -> 61.2 J&F, every fold (0.25: the same; 0.75, 1: 57.6, 57.5;
                                 # benchmarks/RESULTS.md, thirteenth session)
    reg: float = 1e-4            # lambda for w1 and w2
    seed: int = 0
    backend: str = "auto"        # backbone engine: auto (onnxruntime if installed) | torch | onnxruntime
    precision: str = "int8"      # onnxruntime backbone: int8 (calibrated on synthetic frames) | fp32
    backbone: str | None = None  # the ImageNet EfficientNet-Lite: lite0 | lite2 (default lite0; frtm and
                                 # frtm-fast: the one their R was trained on, and no other)

    def __post_init__(self):
        check_snap(self.snap, self.snap_eps)


class OnlineSegmenter(Segmenter):
    """The target model alone. FRTM changes what turns coarse scores into probabilities
    (`_probabilities`), which trained network it loads and so which backbone it runs on
    (`_load_networks`), which taps it needs (`taps_on`) and its options (`config_class`)."""

    name = "online"
    config_class = OnlineConfig
    output_stride = 16  # the probability maps' cells, in processing pixels: the target model's scores

    def __init__(self, **options):
        super().__init__(**options)
        if self.cfg.height % 32:
            raise ValueError(f"height must be a multiple of 32, got {self.cfg.height}")
        variant = self._load_networks()
        self._use_backbone(Backbone(taps=self.taps_on(variant), variant=variant))

    def _load_networks(self) -> LiteVariant:
        """Load what the model has trained (nothing here); returns the backbone to run on."""
        return backbone_variant(self.cfg.backbone or LITE0.key)

    @staticmethod
    def taps_on(variant: LiteVariant) -> tuple[int, ...]:
        """The backbone taps the model takes: the stride-16 features alone (the target model's)."""
        return (variant.stride16_tap,)

    def _use_backbone(self, backbone: Backbone) -> None:
        self.backbone = backbone
        self.backbone_engines = EngineCache(backbone, self.cfg.backend, backbone_int8(self.cfg.precision))

    # ------------------------------------------------------------------------------------- features
    def _features(self, images: list[np.ndarray]) -> tuple[torch.Tensor, ...]:
        """Backbone features at every tap (the last is stride 16, what the target model sees)."""
        return self.backbone_engines(torch.cat([preprocess(im, self.proc_hw) for im in images]))

    def _labels(self, label: np.ndarray, k: int) -> torch.Tensor:
        fh, fw = self.feat_hw
        y = cv2.resize((label == k).astype(np.float32), (fw, fh), interpolation=cv2.INTER_AREA)
        return torch.from_numpy(y)[None]

    # ---------------------------------------------------------------------------------------- start
    @property
    def zooming(self) -> bool:
        return self.cfg.zoom > 1.0

    def _window_for(self, mask: np.ndarray) -> Window:
        return window_for(mask, self.frame_hw, self.cfg.zoom, self.cfg.zoom_margin)

    def _start(self, frame: np.ndarray, label: np.ndarray) -> None:
        h, w = self.frame_hw
        self.proc_hw = processing_size(h, w, self.cfg.height)  # every window keeps the frame's aspect ratio
        self.feat_hw = (self.proc_hw[0] // 16, self.proc_hw[1] // 16)
        self._rng = np.random.default_rng(self.cfg.seed)
        self._gen = torch.Generator().manual_seed(self.cfg.seed)
        self.models: dict[int, TargetModel] = {}
        self.memories: dict[int, SampleMemory] = {}
        self.windows: dict[int, Window] = {}
        self.redetections = 0  # objects lost from their window and found again in the whole frame
        if self.zooming:
            for k in self.ids:
                self._fit_in_window(k, frame, label)
        else:
            dataset = self._first_frame_dataset(frame, label)
            for k in self.ids:
                self._fit_object(k, *dataset)
                self.windows[k] = Window.full(self.frame_hw)
        self.frames_seen = 0
        self._updates: list = []  # running amortised updates (generators)

    def _fit_in_window(self, k: int, frame: np.ndarray, label: np.ndarray) -> None:
        """Object k's target model, fitted on the window around it."""
        self.windows[k] = win = self._window_for(label == k)
        self._fit_object(k, *self._first_frame_dataset(win.crop(frame), win.crop(label)))

    def _first_frame_dataset(self, frame: np.ndarray, label: np.ndarray):
        """The frame and its augmented copies at processing size: (label masks, stride-16 features,
        sample weights: the original counts twice)."""
        small = cv2.resize(frame, self.proc_hw[::-1], interpolation=cv2.INTER_AREA)
        small_label = cv2.resize(label, self.proc_hw[::-1], interpolation=cv2.INTER_NEAREST)
        samples = [(small, small_label)] + augment_first_frame(small, small_label, self.cfg.augmentations, self._rng)
        feats = torch.cat([self._features([im])[-1] for im, _ in samples])
        gamma = torch.ones(len(samples))
        gamma[0] = 2.0
        return [lab for _, lab in samples], feats, gamma / gamma.sum()

    def _fit_object(self, k: int, labels_full: list[np.ndarray], feats: torch.Tensor, gamma: torch.Tensor) -> None:
        """A new target model and memory for object k, fitted on the first-frame dataset."""
        labels = torch.stack([self._labels(lab, k) for lab in labels_full])
        if float(labels[0].sum()) < 1e-3:  # object smaller than one feature cell: keep it visible
            labels[0] = torch.from_numpy(
                cv2.resize((labels_full[0] == k).astype(np.float32), self.feat_hw[::-1],
                           interpolation=cv2.INTER_LINEAR) > 0).float()[None]
        tm = TargetModel(feats.shape[1], self.cfg.channels, self.cfg.reg, self.cfg.reg, generator=self._gen)
        tm.fit(feats, labels, gamma, self.cfg.gn_steps, self.cfg.cg_first, self.cfg.cg_iterations)
        mem = SampleMemory(self.cfg.memory, self.cfg.eta)
        with torch.no_grad():
            mem.initialize(tm.project(feats), labels, gamma)
        self.models[k], self.memories[k] = tm, mem

    # ------------------------------------------------------------------------ objects come and go
    def _add_object(self, frame: np.ndarray, object_id: int, label: np.ndarray) -> list[int]:
        """Fit a target model for the new (or re-drawn) object on `frame`; the others keep theirs."""
        self._fit_in_window(object_id, frame, label)
        return sorted(set(self.ids) | {object_id})

    def _remove_object(self, frame: np.ndarray, object_id: int, label: np.ndarray) -> list[int]:
        del self.models[object_id], self.memories[object_id], self.windows[object_id]
        return [k for k in self.ids if k != object_id]

    # ----------------------------------------------------------------------------------------- step
    def _step(self, frame: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
        projected, coarse = {}, {}
        if self.zooming:  # each object in its own window
            probs = []
            for k in self.ids:
                win = self.windows[k]
                pyramid = self._features([win.crop(frame)])
                with torch.no_grad():
                    z = self.models[k].project(pyramid[-1])
                    coarse[k] = self.models[k].score_projected(z)
                projected[k] = z[0]
                probs.append(self._snap(frame, win.paste(self._probabilities(pyramid, coarse[k], (win.h, win.w), [k])[0],
                                                         self.frame_hw), win))
        else:  # one backbone pass for every object
            pyramid = self._features([frame])
            with torch.no_grad():
                for k in self.ids:
                    z = self.models[k].project(pyramid[-1])
                    coarse[k] = self.models[k].score_projected(z)
                    projected[k] = z[0]
            probs = [self._snap(frame, p, Window.full(self.frame_hw)) for p in
                     self._probabilities(pyramid, torch.cat([coarse[k] for k in self.ids]), self.frame_hw, self.ids)]
        label, scores = merge_probabilities(probs, self.ids, self.cfg.threshold)
        self._update_memories(label, projected, coarse)
        if self.zooming:
            self._follow(frame, label)
        return label, scores

    def _snap(self, frame: np.ndarray, prob: np.ndarray, win: Window) -> np.ndarray:
        """An object's probability, seen in `win`, snapped to the frame's edges (`snap` output cells)."""
        return snap_in_window(frame, prob, win, self.output_stride, self.proc_hw[0], self.cfg.snap, self.cfg.snap_eps)

    def _follow(self, frame: np.ndarray, label: np.ndarray) -> None:
        """Next frame's windows: around each object's new mask; an object lost from its window is searched
        for in the whole frame (at the processing size), and its window moves to where its target model
        scores highest, if that is above `redetect_threshold`; otherwise it stays, and the search repeats."""
        lost = [k for k in self.ids if np.count_nonzero(label == k) < self.cfg.min_pixels]
        for k in self.ids:
            if k not in lost:
                self.windows[k] = self._window_for(label == k)
        if not lost:
            return
        f16 = self._features([frame])[-1]
        for k in lost:
            with torch.no_grad():
                s = self.models[k](f16)[0, 0]
            if float(s.max()) < self.cfg.redetect_threshold:
                continue
            y, x = divmod(int(s.argmax()), s.shape[1])
            cy, cx = Window.full(self.frame_hw).to_frame(y, x, tuple(s.shape))
            self.windows[k] = window_at(cy, cx, self.windows[k].h, self.frame_hw)
            self.redetections += 1

    def _probabilities(self, pyramid: tuple[torch.Tensor, ...], coarse: torch.Tensor,
                       out_hw: tuple[int, int], ids: list[int]) -> list[np.ndarray]:
        """Per object (`ids`), the foreground probability at `out_hw` (the frame, or an object's window).
        `coarse`: their target models' stride-16 scores, K x 1 x h16 x w16. Here: the scores themselves,
        bilinearly up-sampled."""
        h, w = out_hw
        return [cv2.resize(s[0].clamp(0, 1).numpy(), (w, h), interpolation=cv2.INTER_LINEAR) for s in coarse]
    def _update_memories(self, label: np.ndarray, projected: dict[int, torch.Tensor],
                          coarse: dict[int, torch.Tensor]) -> None:
        """Add this frame to each object's memory (with `hard_negatives`, the background its target model
        scored as target weighs more: `coarse` holds those scores); every t_s frames refit w2.

        Amortised (default): the update works on a snapshot of the memory and runs
        ceil(update_cg / t_s) CG iterations per frame, so it ends within t_s frames with exactly the
        w2 the all-at-once update would give on that snapshot, and no frame pays ~100 ms for it.
        """
        self.frames_seen += 1
        cfg = self.cfg
        for k in self.ids:
            if np.count_nonzero(label == k) >= cfg.min_pixels:
                y = self._labels(self.windows[k].crop(label), k)  # the window this frame was seen in
                emphasis = hard_negative_emphasis(coarse[k][0], y, cfg.hard_threshold, cfg.hard_negatives) \
                    if cfg.hard_negatives > 0 else None
                self.memories[k].add(projected[k], y, emphasis)
        if self.frames_seen % cfg.update_every == 0:
            self._drain_updates(None)  # an unfinished update completes before the next one starts
            for k in self.ids:
                z, y, g, e = (t.clone() for t in self.memories[k].active()) if cfg.amortize \
                    else self.memories[k].active()
                self._updates.append(self.models[k].update_steps(z, y, g, cfg.update_cg, e))
            if not cfg.amortize:
                self._drain_updates(None)
                return
        self._drain_updates(-(-cfg.update_cg // cfg.update_every))

    def _drain_updates(self, iterations: int | None) -> None:
        """Advance the running updates by `iterations` CG iterations each (None: to the end)."""
        running = []
        for gen in self._updates:
            n = 0
            for _ in gen:
                n += 1
                if iterations is not None and n >= iterations:
                    running.append(gen)
                    break
        self._updates = running


# ------------------------------------------------------------------------------------------- FRTM
@dataclass
class FRTMConfig(OnlineConfig):
    checkpoint: str | None = None   # R's weights (default: the packaged rtvos/models/frtm/refiner.pt)
    snap: float = 0.5               # R's stride-4 cells: 73.1 -> 73.6 J&F by 3-fold cross-validation, every fold
                                    # (0.25 / 1: 73.5 / 73.6, a plateau; benchmarks/RESULTS.md, fourteenth session)
    finetune_steps: int = 100       # first-frame fine-tuning of a copy of R: Adam steps ...
    finetune_seconds: float = 30.0  # ... or this much time, whichever ends first (0: none). By 3-fold cross-
                                    # validation: frtm 73.5 -> 81.1 J&F, frtm-fast 69.4 -> 78.2, every fold
                                    # (benchmarks/RESULTS.md, twenty-second session). It lengthens the start
                                    # (finetune_steps=0: under a second). backend tensorrt would compile the
                                    # tuned copy at every start (not measured, no GPU here).
    finetune_samples: int = 16      # fresh augmented copies of each object's first window, scored by its
                                    # fitted target model: what R learns this object from
    finetune_batch: int = 4
    finetune_lr: float = 3e-4       # 3e-4 by cross-validation (1e-4: 80.9 / 77.4)
    finetune_boxes: bool = False    # tune R for objects given as boxes too (off: their first mask is a guess,
                                    # and the copy learns its errors: fold 1 from GrabCut's mask 76.1 -> 68.5)
    progress: bool = True           # a progress bar while fine-tuning (stderr)


def load_refiner(path: str | Path | None = None) -> RefinementNetwork:
    """R with the weights at `path` (default: the packaged refiner.pt), frozen, in eval mode."""
    network = load_network(path or FRTM_SPEC.checkpoint_path, RefinementNetwork, "FRTM refinement network",
                           TRAIN_COMMAND)
    return network.requires_grad_(False)


@dataclass
class RefinerSamples:
    """What a copy of R is fine-tuned on for one object: backbone pyramids of augmented copies of its first
    window, the first target model's scores on them, and the object's masks at processing size."""
    f4: torch.Tensor
    f8: torch.Tensor
    f16: torch.Tensor
    scores: torch.Tensor
    masks: torch.Tensor

    @staticmethod
    def cat(samples: list["RefinerSamples"]) -> "RefinerSamples":
        return RefinerSamples(*(torch.cat([getattr(s, f) for s in samples]) for f in ("f4", "f8", "f16", "scores", "masks")))


class FRTMSegmenter(OnlineSegmenter):
    name = "frtm"
    config_class = FRTMConfig
    output_stride = 4  # R's logits

    def __init__(self, refiner: RefinementNetwork | None = None, **options):
        self.refiner = refiner  # None: _load_networks loads it from the `checkpoint` option
        super().__init__(**options)
        if self.refiner.tuned is not None:  # R's fine-tuned blocks make the stride-16 features D sees too
            self._use_backbone(with_tuned_blocks(self.backbone, self.refiner.tuned))
        self.packaged_engines = EngineCache(self.refiner, self.cfg.backend)  # one per object count
        self.refiner_samples: dict[int, RefinerSamples] = {}  # the objects a copy of R is tuned for ...
        self.tuned_engines: EngineCache | None = None  # ... that copy's engines
        self.finetune_report: dict = {}

    def _load_networks(self) -> LiteVariant:
        """R (the one handed in, else from the `checkpoint` option); it names the backbone it was trained on."""
        if self.refiner is None:
            self.refiner = load_refiner(self.cfg.checkpoint)
        variant = self.refiner.variant
        if self.cfg.backbone is not None and backbone_variant(self.cfg.backbone) != variant:
            raise ValueError(f"this R was trained on EfficientNet-{variant.name} features and runs on no other "
                             f"backbone, got backbone={self.cfg.backbone} (for another backbone, give the checkpoint "
                             f"of an R trained on it: rtvos train frtm --backbone)")
        return variant

    @staticmethod
    def taps_on(variant: LiteVariant) -> tuple[int, ...]:
        """Strides 4, 8 and 16: R's pyramid, whose last the target model takes too."""
        return variant.pyramid_taps

    # ------------------------------------------------------------------ first-frame fine-tuning of R
    @property
    def finetuning(self) -> bool:
        return has_budget(self.cfg.finetune_steps, self.cfg.finetune_seconds)

    @property
    def tuned_ids(self) -> set[int]:
        """The objects refined by the tuned copy of R (the others: by the packaged R)."""
        return set(self.refiner_samples)

    def _tunes_for(self, k: int) -> bool:
        """Whether R is fine-tuned for object k: it was given as a mask (or `finetune_boxes`)."""
        return self.finetuning and (self.cfg.finetune_boxes or k not in self.start_boxes)

    def _start(self, frame: np.ndarray, label: np.ndarray) -> None:
        super()._start(frame, label)
        self._tune_rng = np.random.default_rng(self.cfg.seed)  # its own: D's first-frame draws stay the same
        self.refiner_samples, self.tuned_engines, self.finetune_report = {}, None, {}
        for k in self.ids:
            if self._tunes_for(k):
                self.refiner_samples[k] = self._samples_for_refiner(k, frame, label)
        self._tune_refiner()

    def _warm_up(self, frame: np.ndarray, label: np.ndarray) -> None:
        """The backbone's engines and the packaged R's (a start would fine-tune for seconds)."""
        OnlineSegmenter._start(self, frame, label)
        self.refiner_samples = {}
        self._check_label(self._step(frame)[0])

    def _add_object(self, frame: np.ndarray, object_id: int, label: np.ndarray) -> list[int]:
        """The new object's target model; if R is tuned for it, a fresh copy tuned on every object it is
        tuned for."""
        ids = super()._add_object(frame, object_id, label)
        self.refiner_samples.pop(object_id, None)  # followed anew: its old samples go (packaged R, unless tuned)
        if self._tunes_for(object_id):
            self.refiner_samples[object_id] = self._samples_for_refiner(object_id, frame, label)
            self._tune_refiner()
        return ids

    def _remove_object(self, frame: np.ndarray, object_id: int, label: np.ndarray) -> list[int]:
        self.refiner_samples.pop(object_id, None)  # the tuned copy stays: it still knows the others
        return super()._remove_object(frame, object_id, label)

    def _samples_for_refiner(self, k: int, frame: np.ndarray, label: np.ndarray) -> RefinerSamples:
        """Fresh augmented copies of object k's first window (not those its target model was fitted on: on
        these D errs as it will on the next frames), through the backbone, scored by the fitted D."""
        win = self.windows[k]
        small = cv2.resize(win.crop(frame), self.proc_hw[::-1], interpolation=cv2.INTER_AREA)
        small_label = cv2.resize((win.crop(label) == k).astype(np.uint8), self.proc_hw[::-1],
                                 interpolation=cv2.INTER_NEAREST)
        copies = augment_first_frame(small, small_label, self.cfg.finetune_samples, self._tune_rng)
        pyramids = [self._features([image]) for image, _ in copies]
        f4, f8, f16 = (torch.cat([p[i] for p in pyramids]).float() for i in range(3))
        with torch.no_grad():
            scores = self.models[k](f16)
        masks = torch.from_numpy(np.stack([mask > 0 for _, mask in copies])).float()[:, None]
        return RefinerSamples(f4, f8, f16, scores, masks)

    def _tune_refiner(self) -> None:
        """A copy of the packaged R fine-tuned on the samples of every object R is tuned for (binary
        cross-entropy, as R was trained), within the step and time budget; its engines, for this stream
        alone, are built here, not in the first step. Nothing to tune for: the packaged R alone."""
        if not self.refiner_samples:
            return
        data = RefinerSamples.cat(list(self.refiner_samples.values()))
        tuned = copy.deepcopy(self.refiner).eval().requires_grad_(False)
        head = [p for name, p in tuned.named_parameters() if not name.startswith("tuned.")]  # the backbone's stay
        for p in head:
            p.requires_grad_(True)
        n, b = len(data.masks), min(self.cfg.finetune_batch, len(data.masks))

        def loss() -> torch.Tensor:
            rows = torch.from_numpy(self._tune_rng.choice(n, size=b, replace=False))
            logits = tuned(data.f4[rows], data.f8[rows], data.f16[rows], data.scores[rows])
            return F.binary_cross_entropy_with_logits(logits, data.masks[rows])

        report = finetune(head, loss, self.cfg.finetune_steps, self.cfg.finetune_seconds, self.cfg.finetune_lr,
                          f"{self.name}: fine-tuning R on the first frame", self.cfg.progress)
        self.finetune_report = {**report, "samples": n}
        self.tuned_engines = EngineCache(tuned.requires_grad_(False), self.cfg.backend, keep=False)
        batch = 1 if self.zooming else len(self.refiner_samples)  # the batch its steps will give it
        with torch.no_grad():
            self.tuned_engines(*(t[:1].expand(batch, -1, -1, -1).contiguous()
                                 for t in (data.f4, data.f8, data.f16, data.scores)))

    def _probabilities(self, pyramid: tuple[torch.Tensor, ...], coarse: torch.Tensor,
                       out_hw: tuple[int, int], ids: list[int]) -> list[np.ndarray]:
        """R's probabilities: the objects R is tuned for through the tuned copy, the others through the
        packaged R (each group in one batch)."""
        f4, f8, f16 = pyramid
        logits = torch.empty(len(ids), 1, *self.proc_hw)
        tuned = [i for i, k in enumerate(ids) if k in self.refiner_samples]
        packaged = [i for i in range(len(ids)) if i not in tuned]
        for rows, engines in ((tuned, self.tuned_engines), (packaged, self.packaged_engines)):
            if rows:
                inputs = tuple(t.expand(len(rows), *t.shape[1:]).contiguous() for t in (f4, f8, f16))
                logits[rows] = engines(*inputs, coarse[rows].contiguous())[0].float()
        h, w = out_hw
        probs = torch.sigmoid(logits[:, 0]).numpy()
        return [cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR) for p in probs]
