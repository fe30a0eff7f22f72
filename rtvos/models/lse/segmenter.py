"""`lse` behind the segmenter protocol, as the paper runs it (sections 4 and 5.2).

start(): a box becomes the first mask `box_init`'s way, as for every model (rtvos.models.target; LSE's
ways run on this segmenter's own network). Per object, the pre-trained network's foreground branch
(lse.pt) is copied and fine-tuned on the first frame within a step and time budget, with a progress
bar: on crops around the object (its box jittered, flipped, at several margins) and around it in
augmented copies of the frame (the object warped and pasted back, as CRVOS's and FRTM's first frames),
labelled by the mask when the target is a mask, and -- the paper's rule for a box (`box_labels="paper"`) -- by the
pre-trained network's confident (>= 0.6) pixels inside the box as foreground, everything outside the
box as background, the rest unlabelled (when nothing is confident, the first mask stands in). The
first mask itself as the labels (`box_labels="mask"`) measured worse (benchmarks/RESULTS.md). The
object's reference embedding r is the median LSE of its foreground pixels. Only the foreground head is
fine-tuned, on the trunk's features computed once, 8 crops a step: the paper retrains the whole network
for 20 epochs on a GPU; on a 2-core CPU that takes minutes, the head alone seconds, and the embeddings
stay what pre-training made them.

step(): per object, zoom in: the crop around its last box grown by `margin` (geometry.crop_box) at
CROP x CROP; the foreground branch and the LSE's similarity to r are averaged (the fusion) and pasted
back into the frame, where a guided filter snaps the stride-4 map to the frame's edges (`snap` map
cells in radius; rtvos.models.shared.edges); the objects are merged by soft aggregation. The new
mask's box is the next crop's, but a box grows by at most `max_growth` of its size per side a frame:
a mask that spills onto the background would otherwise widen the next crop, which lets it spill
further. An object lost (under `min_pixels`, or `lost_share` of its usual area) keeps its last box
and its crop widens (`widen` times the margin per frame) until it is found again or the crop covers
the frame; while searching, the foreground branch alone decides (the location-sensitive embedding
expects the object at the centre of its crop, where a lost one is not).

Two passes over a recorded video (the paper's model adaptation; `rtvos eval|segment --two-pass`, never
live): the first pass (`scan`) keeps, per object, up to `adapt_frames` crops of frames spread over the
video (a reservoir sample) with the pass's own masks as pseudo-labels (first_pass_labels: the mask's edge
unlabelled); `adapt` fine-tunes the object's foreground head once more on them and the first frame's
crops; the second pass starts from the adapted heads and does not change them again.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from rtvos.engines import EngineCache
from rtvos.models.checkpoint import load_network
from rtvos.models.lse import SPEC, TRAIN_COMMAND
from rtvos.models.lse.geometry import CROP, IGNORE, MARGIN, STRIDE, box_pseudo_labels, crop_box, first_pass_labels
from rtvos.models.lse.losses import foreground_loss
from rtvos.models.lse.net import LSENetwork, fuse, references
from rtvos.models.protocol import Segmenter
from rtvos.models.shared.aggregate import merge_probabilities
from rtvos.models.shared.augment import augment_first_frame
from rtvos.models.shared.backbone import PYRAMID_TAPS, Backbone, preprocess
from rtvos.models.shared.box_init import grabcut, or_shrunk_box, pixel_box
from rtvos.models.shared.crops import Box, accumulate, crop, mask_box
from rtvos.models.shared.edges import check_snap, snap_in_cells
from rtvos.models.shared.finetune import finetune
from rtvos.models.shared.int8_calibration import backbone_int8
from rtvos.models.target import WITH_NETWORK, TargetError

BOX_THRESHOLD = 0.5     # a box's mask: the fused probability inside the box
# What a box start fine-tunes on (LSEConfig.box_labels): the paper's pseudo-labels (the network's confident
# pixels in the box), the first mask, or the first mask inside the box with the rest of the box unlabelled.
# By cross-validation (benchmarks/RESULTS.md, thirteenth session): 48.8, 40.8 (fold 1 of 3), 46.2.
BOX_LABELS = ("paper", "mask", "mask-in-box")
AREA_RATE = 0.2         # an object's usual area: a running mean, each frame it is found in weighing this ...
AREA_DECAY = 0.9        # ... shrinking this much a frame while it is lost (an object that did become
                        # smaller is taken back after a while; `lost_share`)

MAP = CROP // STRIDE


def load_pretrained(path: str | Path | None = None) -> LSENetwork:
    """The pre-trained network at `path` (default: the packaged lse.pt), in eval mode."""
    return load_network(path or SPEC.checkpoint_path, LSENetwork, "LSE network", TRAIN_COMMAND)


class CropFeatures:
    """The frozen backbone's pyramid of CROP x CROP crops (one engine, built on first use)."""

    def __init__(self, backend: str = "auto", precision: str = "int8"):
        self.engines = EngineCache(Backbone(taps=PYRAMID_TAPS), backend, backbone_int8(precision))

    def __call__(self, crops: list[np.ndarray]) -> tuple[torch.Tensor, ...]:
        parts = [self.engines(preprocess(c, (CROP, CROP))) for c in crops]  # batch 1: one engine serves all
        return tuple(torch.cat(level) for level in zip(*parts))


def crop_probability(net: LSENetwork, f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor,
                     r: torch.Tensor | None = None, inside: torch.Tensor | None = None,
                     fusion: bool = True) -> torch.Tensor:
    """The fused foreground probability (B x MAP x MAP) of crops; `r`: the object's reference (None: from
    the foreground branch, restricted to `inside` (B x MAP x MAP bool) when given)."""
    fg_logit, _, _, lse = net(f4, f8, f16)
    fg = torch.sigmoid(fg_logit[:, 0])
    if not fusion:
        return fg
    if r is None:
        keep = fg > 0.5 if inside is None else (fg > 0.5) & inside
        r = references(lse, keep)
    return fuse(fg, lse, r)


def box_probability(net: LSENetwork, features: CropFeatures, frame: np.ndarray,
                    box: Box) -> tuple[np.ndarray, np.ndarray]:
    """The pre-trained network's foreground probability around `box` (HxW, 0 outside its crop) and the
    box itself as a mask (HxW bool)."""
    h, w = frame.shape[:2]
    inside = np.zeros((h, w), bool)
    x0, y0, x1, y1 = pixel_box(box, (h, w))
    inside[y0:y1, x0:x1] = True
    cbox = crop_box(box)
    inside_map = torch.from_numpy(crop(inside.astype(np.uint8), cbox, MAP, interpolation=cv2.INTER_NEAREST,
                                       fill=0) > 0)[None]
    with torch.no_grad():
        prob = crop_probability(net, *features([crop(frame, cbox, CROP)]), inside=inside_map)[0].numpy()
    return accumulate([cv2.resize(prob, (CROP, CROP), interpolation=cv2.INTER_LINEAR)], [cbox], (h, w)), inside


def first_mask(way: str, frame_rgb: np.ndarray, box: Box, prob: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """A box's first mask (HxW bool, never empty) from the network's `prob`ability around it
    (box_probability): the network's own (`way` "lse", mask_in_box) or GrabCut started from it
    ("lse+grabcut")."""
    if way == "lse+grabcut":
        return grabcut(frame_rgb, box, prior=prob)
    return mask_in_box(prob, inside, box)


def mask_in_box(prob: np.ndarray, inside: np.ndarray, box: Box) -> np.ndarray:
    """Boolean HxW mask of the object inside `box` (`inside`) where the network's `prob` >= BOX_THRESHOLD;
    the box itself, shrunk, when that is (almost) nothing (or_shrunk_box)."""
    if not inside.any():
        raise TargetError(f"the box {tuple(round(v, 1) for v in box)} covers no whole pixel of the frame")
    return or_shrunk_box((prob >= BOX_THRESHOLD) & inside, inside.shape, *pixel_box(box, inside.shape))


def digest(*arrays: np.ndarray) -> bytes:
    """A 16-byte digest of arrays' shapes and contents: a frame (and label mask) seen before."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.digest()


def limit_growth(new: Box, old: Box, growth: float) -> Box:
    """`new`, its width and height at most `old`'s grown by `growth` on each side, about `new`'s centre
    (the box may move freely; only its size is held back)."""
    cx, cy = (new[0] + new[2]) / 2, (new[1] + new[3]) / 2
    w = min(new[2] - new[0], (old[2] - old[0]) * (1 + 2 * growth))
    h = min(new[3] - new[1], (old[3] - old[1]) * (1 + 2 * growth))
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


@dataclass
class LSEConfig:
    margin: float = MARGIN          # the crop: the object's last box grown by this many box sizes per side
    widen: float = 2.0              # a lost object's crop margin grows this many times per frame
    max_growth: float = 0.2         # a box grows by at most this share of its size per side a frame
    min_pixels: int = 16            # an object under this many pixels is lost ...
    lost_share: float = 0.0         # ... or under this share of its usual area (ObjectState.area; 0: off). Off:
                                    # 0.2 rescues a ball locked on specks after an occlusion (soccerball +23)
                                    # but moves three other sequences -2 to +1 (RESULTS, thirteenth session)
    threshold: float = 0.5          # on the fused probability
    fusion: bool = True             # fuse the embeddings with the foreground branch (False: the branch alone)
    snap: float = 3.0               # the map snapped to the frame's edges by a guided filter this many map cells
                                    # in radius (0: off; rtvos.models.shared.edges) ...
    snap_eps: float = 1e-3          # ... and its regularisation. 3 and 1e-3 by 3-fold cross-validation: from
                                    # boxes 48.8 -> 58.3 J&F, every fold (1, 2, 4 cells: 51.5, 54.5, 57.8;
                                    # eps 1e-2, 1e-4: 55.0, 57.0; benchmarks/RESULTS.md, thirteenth session)
    finetune_steps: int = 400       # first-frame fine-tuning of the foreground head: Adam steps ...
    finetune_seconds: float = 30.0  # ... or this much time per object, whichever ends first (0: none)
    finetune_crops: int = 6         # crops of the first frame to fine-tune on ...
    finetune_augment: int = 32      # ... and augmented copies of it (the object warped, shared/augment.py), a crop
                                    # each. 32 copies, 400 steps of 8 crops by cross-validation: from boxes 58.3 ->
                                    # 59.6 J&F (J 64.1), start 3 -> 7 s (benchmarks/RESULTS.md, seventeenth session)
    finetune_batch: int = 8         # crops per fine-tuning step (0: all of them)
    finetune_lr: float = 1e-3
    box_labels: str = "paper"       # what a box start fine-tunes on: paper | mask | mask-in-box (BOX_LABELS)
    adapt_frames: int = 12          # two passes: first-pass frames kept per object to adapt on (a reservoir)
    adapt_steps: int = 100          # the adaptation's Adam steps ...
    adapt_seconds: float = 10.0     # ... or this much time per object, whichever ends first
    adapt_batch: int = 8            # crops per adaptation step
    adapt_band: int = 1             # crop-map cells along a first-pass mask's edge left unlabelled
    progress: bool = True           # a progress bar while fine-tuning (stderr)
    checkpoint: str = ""            # pre-trained network; "" = the packaged rtvos/models/lse/lse.pt
    backend: str = "auto"           # backbone engine: auto | torch | onnxruntime | tensorrt
    precision: str = "int8"         # onnxruntime backbone: int8 | fp32
    seed: int = 0

    def __post_init__(self):
        if self.box_labels not in BOX_LABELS:
            raise ValueError(f"lse: box_labels must be one of {', '.join(BOX_LABELS)}, got {self.box_labels!r}")
        check_snap(self.snap, self.snap_eps)


@dataclass
class ObjectState:
    net: LSENetwork
    r: torch.Tensor                 # the reference embedding
    box: Box                        # the last tight box
    margin: float                   # the crop margin now (widened while lost)
    report: dict = field(default_factory=dict)
    images: list[np.ndarray] = field(default_factory=list)  # crops to adapt on: the first frame's, then the
    labels: list[torch.Tensor] = field(default_factory=list)  # first pass's kept ones; their MAP x MAP labels
    first: int = 0                  # how many of them are the first frame's
    scanned: int = 0                # first-pass frames in which the object was found
    area: float = 0.0               # its usual area, pixels: a running mean over the frames it was found in


class LSESegmenter(Segmenter):
    name = "lse"
    config_class = LSEConfig
    two_pass = True

    def __init__(self, net: LSENetwork | None = None, features: CropFeatures | None = None, **options):
        """`net`: a ready pre-trained network (e.g. one being trained); it is copied, never modified."""
        super().__init__(**options)
        self.pretrained = net if net is not None else load_pretrained(self.cfg.checkpoint or None)
        self.features = features or CropFeatures(self.cfg.backend, self.cfg.precision)
        self.objects: dict[int, ObjectState] = {}
        self.adapted: dict[int, ObjectState] = {}  # what adapt() learned, by object, for the next start ...
        self.adapted_for: bytes | None = None       # ... on the same first frame and label mask (their digest)
        self.started_on: bytes | None = None        # the digest of the last start's
        self.box_memo: tuple[bytes | None, dict] = (None, {})  # a frame's digest, its boxes' box_probability
        # (kept from a start's first masks to its fine-tuning labels, then dropped)

    def _box_probability(self, frame: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
        """box_probability by this segmenter's pre-trained network, once per frame and box (a box start
        asks for it twice: for the first mask, then for the paper's fine-tuning labels)."""
        key = digest(frame)
        if self.box_memo[0] != key:
            self.box_memo = (key, {})
        memo, box = self.box_memo[1], tuple(float(v) for v in box)
        if box not in memo:
            memo[box] = box_probability(self.pretrained, self.features, frame, box)
            for array in memo[box]:
                array.setflags(write=False)  # shared by whoever asks next
        return memo[box]

    def _box_to_mask(self, frame: np.ndarray, box: Box, box_init: str) -> np.ndarray:
        """A box's first mask, `box_init`'s way; by this segmenter's own network where that way is LSE's
        and names no other checkpoint."""
        way, _, path = box_init.partition(":")
        if path or way not in WITH_NETWORK:
            return super()._box_to_mask(frame, box, box_init)
        return first_mask(way, frame, box, *self._box_probability(frame, box))

    # ---------------------------------------------------------------------------------- fine-tuning
    def _first_frame_labels(self, frame: np.ndarray, mask: np.ndarray, box: Box | None) -> np.ndarray:
        """HxW float labels (1 / 0 / IGNORE): the mask; from a box, `box_labels`' (BOX_LABELS). The paper's
        falls back on the first mask where nothing in the box is confident."""
        if box is None or self.cfg.box_labels == "mask":
            return mask.astype(np.float32)
        prob, inside = self._box_probability(frame, box)
        if self.cfg.box_labels == "mask-in-box":  # the first mask is the box's confident part
            return box_pseudo_labels(mask.astype(np.float32), inside)
        labels = box_pseudo_labels(prob, inside)
        if not (labels == 1).any():
            labels[mask] = 1.0
        return labels

    def _crops(self, frame: np.ndarray, labels: np.ndarray, box: Box, rng: np.random.Generator, count: int):
        """`count` fine-tuning crops around `box`: the tracker's own crop first, then jittered, flipped ones."""
        images, maps = [], []
        x0, y0, x1, y1 = box
        bw, bh = x1 - x0, y1 - y0
        for j in range(max(1, count)):
            if j == 0:
                b, margin, flip = box, self.cfg.margin, False
            else:
                cx, cy = (x0 + x1) / 2 + rng.normal(0, 0.1) * bw, (y0 + y1) / 2 + rng.normal(0, 0.1) * bh
                s = float(np.exp(rng.uniform(-0.2, 0.2)))
                b, margin, flip = (cx - s * bw / 2, cy - s * bh / 2, cx + s * bw / 2, cy + s * bh / 2), \
                    rng.uniform(0.3, 0.9), bool(j % 2)
            cb = crop_box(b, margin)
            images.append(crop(frame, cb, CROP, flip=flip))
            maps.append(crop(labels, cb, MAP, flip=flip, interpolation=cv2.INTER_NEAREST, fill=IGNORE))
        return images, torch.from_numpy(np.stack(maps))

    def _augmented_crops(self, frame: np.ndarray, labels: np.ndarray, rng: np.random.Generator):
        """One crop around the object in each of `finetune_augment` augmented copies of the first frame: the
        object, its unlabelled pixels with it, cut out, warped and pasted back (rtvos.models.shared.augment)."""
        values = np.array([0.0, 1.0, IGNORE], np.float32)  # the labels as classes of a label image, to warp
        classes = np.select([labels == 1, labels == IGNORE], [1, 2], 0).astype(np.uint8)
        images, maps = [], [torch.zeros((0, MAP, MAP))]
        for image, warped in augment_first_frame(frame, classes, self.cfg.finetune_augment, rng):
            box = mask_box(warped > 0)
            if box is not None:  # (None: warped out of the frame)
                more, more_maps = self._crops(image, values[warped], box, rng, 1)
                images += more
                maps.append(more_maps)
        return images, torch.cat(maps)

    def _tune_head(self, net: LSENetwork, images: list[np.ndarray], labels: torch.Tensor, r: torch.Tensor | None,
                   steps: int, seconds: float, batch: int, desc: str) -> tuple[dict, torch.Tensor]:
        """Fine-tune `net`'s foreground head (in place) on crops and their MAP x MAP labels (1 / 0 / IGNORE),
        `batch` crops a step, the fusion with `r` (None: each crop's own reference, from its labels).
        Returns the budget's report and the references used."""
        with torch.no_grad():
            pyramid = self.features(images)
            x4, _ = net.features(*pyramid)
            lse = net(*pyramid)[3]
        if r is None:
            r = references(lse, labels == 1)
        gen = torch.Generator().manual_seed(self.cfg.seed)
        batch = min(batch, len(images))

        def loss() -> torch.Tensor:
            pick = torch.randperm(len(images), generator=gen)[:batch] if batch < len(images) else slice(None)
            fg_logit = net.foreground(x4[pick])
            fg = torch.sigmoid(fg_logit[:, 0])
            refs = r[pick] if r.dim() == 2 else r
            return foreground_loss(fg_logit, fuse(fg, lse[pick], refs) if self.cfg.fusion else fg, labels[pick])

        net.train()
        report = finetune(net.foreground.parameters(), loss, steps, seconds, self.cfg.finetune_lr, desc, self.cfg.progress)
        net.eval()
        return report, r

    def _fit_object(self, frame: np.ndarray, k: int, label: np.ndarray,
                    adapted: ObjectState | None = None) -> ObjectState:
        """A fine-tuned copy of the network and the reference embedding for object k (`adapted`'s, when
        adapt() learned them on this recording)."""
        mask = label == k
        given = self.start_boxes.get(k)
        box = tuple(float(v) for v in given) if given is not None else mask_box(mask)
        if adapted is not None:
            return ObjectState(net=adapted.net, r=adapted.r, box=box, margin=self.cfg.margin, report=adapted.report,
                               images=adapted.images, labels=adapted.labels, first=adapted.first)
        labels_full = self._first_frame_labels(frame, mask, given)
        rng = np.random.default_rng([self.cfg.seed, k])
        torch.manual_seed(self.cfg.seed)
        images, labels = self._crops(frame, labels_full, box, rng, self.cfg.finetune_crops)
        more, more_labels = self._augmented_crops(frame, labels_full, rng)
        images, labels = images + more, torch.cat([labels, more_labels])
        net = copy.deepcopy(self.pretrained)
        net.foreground.requires_grad_(True)  # (a network saved mid-training may carry a stage's freezing)
        report, r_each = self._tune_head(net, images, labels, None, self.cfg.finetune_steps, self.cfg.finetune_seconds,
                                         self.cfg.finetune_batch or len(images), f"lse: fine-tuning on object {k}")
        report.update(crops=len(images), from_box=given is not None)
        return ObjectState(net=net, r=r_each[0], box=box, margin=self.cfg.margin, report=report,
                           images=images, labels=list(labels), first=len(images))

    # ------------------------------------------------------------------------------------ protocol
    def _start(self, frame: np.ndarray, label: np.ndarray) -> None:
        key = digest(frame, label)
        adapted = self.adapted if key == self.adapted_for else {}  # learned on this recording's start, or not
        self.objects = {k: self._fit_object(frame, k, label, adapted.get(k)) for k in self.ids}
        self.adapted, self.adapted_for, self.started_on = {}, None, key
        self.box_memo = (None, {})

    def _observe(self, frame: np.ndarray, label: np.ndarray) -> None:
        """Keep a reservoir sample of `adapt_frames` crops per object, labelled by this pass's mask."""
        for k in self.ids:
            ob, mask = self.objects[k], label == k
            if np.count_nonzero(mask) < self.cfg.min_pixels:
                continue  # not found here: nothing certain to learn
            ob.scanned += 1
            n = ob.scanned
            slot = n - 1 if n <= self.cfg.adapt_frames else int(np.random.default_rng([self.cfg.seed, k, n]).integers(n))
            if slot >= self.cfg.adapt_frames:
                continue
            cbox = crop_box(mask_box(mask), self.cfg.margin)
            image, labels = crop(frame, cbox, CROP), torch.from_numpy(first_pass_labels(mask, cbox, MAP, self.cfg.adapt_band))
            if ob.first + slot < len(ob.images):
                ob.images[ob.first + slot], ob.labels[ob.first + slot] = image, labels
            else:
                ob.images.append(image)
                ob.labels.append(labels)

    def _adapt(self) -> None:
        """Fine-tune each object's foreground head once more on its first-frame and first-pass crops; the
        next start on the same first frame and objects begins from them."""
        self.adapted = {k: self._adapt_object(k, self.objects[k]) for k in self.ids}
        self.adapted_for = self.started_on

    def _adapt_object(self, k: int, ob: ObjectState) -> ObjectState:
        if ob.scanned == 0:  # never found after the first frame: more steps on that frame would only over-fit
            report = {"steps": 0, "why": "not found in the first pass"}
        else:
            report, _ = self._tune_head(ob.net, ob.images, torch.stack(ob.labels), ob.r, self.cfg.adapt_steps,
                                        self.cfg.adapt_seconds, self.cfg.adapt_batch,
                                        f"lse: adapting object {k} to the recording")
        report.update(crops=len(ob.images), scanned=ob.scanned)
        return ObjectState(net=ob.net, r=ob.r, box=ob.box, margin=self.cfg.margin, report={**ob.report, "adapted": report},
                           images=ob.images[:ob.first], labels=ob.labels[:ob.first], first=ob.first)

    def _add_object(self, frame: np.ndarray, object_id: int, label: np.ndarray) -> list[int]:
        self.objects[object_id] = self._fit_object(frame, object_id, label)
        self.box_memo = (None, {})
        return sorted(set(self.ids) | {object_id})

    def _remove_object(self, frame: np.ndarray, object_id: int, label: np.ndarray) -> list[int]:
        del self.objects[object_id]
        return [k for k in self.ids if k != object_id]

    def _warm_up(self, frame: np.ndarray, label: np.ndarray) -> None:
        """The backbone's engine for a crop (a start would fine-tune for seconds)."""
        self.features([np.zeros((CROP, CROP, 3), np.uint8)])

    def crop_box(self, object_id: int) -> Box:
        ob = self.objects[object_id]
        return crop_box(ob.box, ob.margin)

    def _snap(self, frame: np.ndarray, prob: np.ndarray, box: Box) -> np.ndarray:
        """The object's probability in its crop `box` snapped to the frame's edges."""
        return snap_in_cells(frame, prob, box, (box[2] - box[0]) / MAP, self.cfg.snap, self.cfg.snap_eps)

    def _searching(self, ob: ObjectState) -> bool:
        """The object was lost and its crop is widened to find it again."""
        return ob.margin > self.cfg.margin

    def _step(self, frame: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
        probs = []
        for k in self.ids:
            ob, box = self.objects[k], self.crop_box(k)
            # a widened search looks with the foreground branch alone: the location-sensitive embedding
            # expects the object at the centre of its crop, where a lost object no longer is
            with torch.no_grad():
                p = crop_probability(ob.net, *self.features([crop(frame, box, CROP)]), r=ob.r,
                                     fusion=self.cfg.fusion and not self._searching(ob))[0].numpy()
            prob = accumulate([cv2.resize(p, (CROP, CROP), interpolation=cv2.INTER_LINEAR)], [box], self.frame_hw)
            probs.append(self._snap(frame, prob, box))
        label, scores = merge_probabilities(probs, self.ids, self.cfg.threshold)
        h, w = self.frame_hw
        for k in self.ids:
            ob = self.objects[k]
            m = label == k
            n = np.count_nonzero(m)
            if n >= max(self.cfg.min_pixels, self.cfg.lost_share * ob.area):
                ob.area = n if ob.area == 0 else (1 - AREA_RATE) * ob.area + AREA_RATE * n
                box = mask_box(m)  # found again after a wider search: its box as it is
                ob.box = box if self._searching(ob) else limit_growth(box, ob.box, self.cfg.max_growth)
                ob.margin = self.cfg.margin
            else:  # lost: look wider around where it was, until the crop covers the frame
                ob.area *= AREA_DECAY
                x0, y0, x1, y1 = ob.box
                most = (2 * max(h, w) / max(1.0, x1 - x0, y1 - y0) - 1) / 2
                ob.margin = min(ob.margin * self.cfg.widen + 0.5, most)
        return label, scores
