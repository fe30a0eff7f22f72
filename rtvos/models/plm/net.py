"""PLM's pixel-level matching network on a frozen EfficientNet-Lite extractor (Lite0; Lite2 with `backbone`).

    query  (crop of the reference, background removed) --\\                         /-- FC --> 48x48 table
                                                      extractor -> compressors -> concat      |
    search (candidate crop of the new frame) ----------/   (shared weights)              decoding convs
                                                                                     (+ search skip) -> 48x48 logits

- Extractor: a pretrained EfficientNet-Lite (Lite0 by default, or the variant the network records;
  frozen, as the paper freezes its extractor when fine-tuning) instead of the paper's VGG-like stack
  trained from scratch: ImageNet features are what make a few thousand DAVIS frames enough, and it is
  the backbone family every rtvos model already ships.
  Features of every depth: the last block at each of strides 2/4/8/16/32 (`plm_taps`; on Lite0 blocks
  0/2/4/10/15 with 16/24/40/112/320 channels, on Lite2 0/3/6/14/20 with 16/24/48/120/352), on a 96x96
  crop (the paper: 100x100; 96 is a multiple of 32 for the extractor). The network records the variant
  (`backbone`, as FRTM's R does) and the segmenter runs its extractor on it.
- Compressors (one per depth, shared by both streams): 3x3 conv to ceil(C/16) channels, ReLU, LRN
  (size 5, alpha 1e-4, beta 0.75), as in the paper.
- Matching: query and search compressed features flattened and concatenated (2 x `flat_size` values: 4320 on Lite0, 4374 on Lite2), FC to
  `hidden`, three hidden FC layers (the last to 48x48 = 2304), ReLU between them; reshaped to the
  48x48 matching table.
- Decoding: `dc_layers` 3x3 convs with zero padding, the first widening to 2^(dc_layers-1) channels,
  each next halving, the last to 1 (the paper's rule; it finds 9 best on a GPU, 6 here for the CPU).
- Skip (`skip=True`, our addition): the decoder also sees the search stream's compressed stride-2 and
  stride-4 maps at 48x48, so edges can follow the image rather than only the FC table.
- Output: logits; sigmoid gives the foreground probability of every cell of the crop's 48x48 grid.
- Tuned blocks (`tuned_blocks` = n, recorded in the checkpoint; `rtvos train plm --tune-blocks`): the
  network owns fine-tuned copies of the extractor's last n blocks below the stride-16 tap, as FRTM's R
  does; the stride-16 and stride-32 features both come out of them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rtvos.engines import EngineCache
from rtvos.models.shared.backbone import (
    LITE0,
    Backbone,
    LiteVariant,
    backbone_record,
    backbone_variant,
    owned_blocks,
    tap_channels,
)
from rtvos.models.shared.int8_calibration import backbone_int8

TAP_STRIDES = (2, 4, 8, 16, 32)          # the extractor's features PLM compresses: one map per stride
CROP = 96                                # network input (query and search), pixels
MAP = CROP // 2                          # output grid (stride 2)


def plm_taps(variant: LiteVariant = LITE0) -> tuple[int, ...]:
    """The blocks of `variant` PLM takes features from: the last at each of TAP_STRIDES."""
    return tuple(variant.last_block_at(s) for s in TAP_STRIDES)


class Compressor(nn.Module):
    """3x3 conv to ceil(C/16) channels, ReLU, local response normalisation."""

    def __init__(self, channels: int, ratio: int = 16):
        super().__init__()
        self.out_channels = math.ceil(channels / ratio)
        self.conv = nn.Conv2d(channels, self.out_channels, 3, padding=1)
        self.lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lrn(F.relu(self.conv(x)))


class PLMNet(nn.Module):
    """forward(query_flat, search_flat, search_skip) -> Bx1xMAPxMAP logits.

    `compress(features)` turns the extractor's five maps of a batch of crops into (flat, skip); the
    query's flat vector is computed once per target and reused for every candidate.
    """

    def __init__(self, channels: tuple[int, ...] | None = None, crop: int = CROP, hidden: int = 256,
                 dc_layers: int = 6, skip: bool = True, dropout: float = 0.2, tuned_blocks: int = 0,
                 backbone: str = LITE0.key):
        super().__init__()
        self.variant = backbone_variant(backbone)  # the EfficientNet-Lite whose features it matches
        served = tap_channels(plm_taps(self.variant), self.variant)  # what its extractor gives
        channels = tuple(channels or served)
        if channels != served:
            raise ValueError(f"PLM on EfficientNet-{self.variant.name} takes features of {list(served)} channels, "
                             f"got {list(channels)}")
        self.crop, self.map_size, self.skip = crop, crop // 2, skip
        self.config = {"channels": list(channels), "crop": crop, "hidden": hidden, "dc_layers": dc_layers,
                       "skip": skip, "dropout": dropout} | ({"tuned_blocks": tuned_blocks} if tuned_blocks else {}) | \
                      backbone_record(self.variant)
        # the extractor's last `tuned_blocks` blocks below its stride-16 tap, fine-tuned with the network
        # (rtvos train plm --tune-blocks); the segmenter puts them into its extractor (`with_tuned_blocks`)
        self.tuned = owned_blocks(tuned_blocks, channels[TAP_STRIDES.index(16)], self.variant)
        self.compressors = nn.ModuleList(Compressor(c) for c in channels)
        sizes = [crop // 2]
        for _ in channels[1:]:
            sizes.append(math.ceil(sizes[-1] / 2))
        self.flat_size = sum(c.out_channels * s * s for c, s in zip(self.compressors, sizes))
        self.fc = nn.Sequential(
            nn.Linear(2 * self.flat_size, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, self.map_size * self.map_size),
        )
        skip_channels = self.compressors[0].out_channels + self.compressors[1].out_channels if skip else 0
        layers, cin = [], 1 + skip_channels
        widths = [2 ** (dc_layers - 1 - i) for i in range(dc_layers)]  # e.g. 32, 16, 8, 4, 2, 1
        for i, cout in enumerate(widths):
            layers.append(nn.Conv2d(cin, cout, 3, padding=1))
            if i < dc_layers - 1:
                layers.append(nn.ReLU())
            cin = cout
        self.decoder = nn.Sequential(*layers)

    def compress(self, features: tuple[torch.Tensor, ...] | list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Extractor maps (strides 2..32) of B crops -> (Bxflat_size, Bx(skip channels)xMAPxMAP or None)."""
        comp = [c(f) for c, f in zip(self.compressors, features)]
        flat = torch.cat([c.flatten(1) for c in comp], dim=1)
        skip = None
        if self.skip:
            s4 = F.interpolate(comp[1], size=comp[0].shape[-2:], mode="bilinear", align_corners=False)
            skip = torch.cat([comp[0], s4], dim=1)
        return flat, skip

    def forward(self, query_flat: torch.Tensor, search_flat: torch.Tensor,
                search_skip: torch.Tensor | None = None) -> torch.Tensor:
        table = self.fc(torch.cat([query_flat, search_flat], dim=1)).view(-1, 1, self.map_size, self.map_size)
        x = torch.cat([table, search_skip], dim=1) if self.skip else table
        return self.decoder(x)


class Extractor:
    """The frozen EfficientNet-Lite at PLM's taps (or at `taps`), one engine per batch shape (built on first use)."""

    def __init__(self, backend: str = "auto", backbone: Backbone | None = None, precision: str = "fp32",
                 taps: tuple[int, ...] | None = None, variant: LiteVariant = LITE0):
        """`taps`: PLM's on `variant` (the default), or others for pre-training that runs blocks of its own
        above them; `backbone` (a ready one) brings its own variant."""
        variant = backbone.variant if backbone is not None else variant
        taps = plm_taps(variant) if taps is None else taps
        self.backbone = backbone or Backbone(taps=taps, variant=variant)
        if tuple(self.backbone.taps) != tuple(taps):
            raise ValueError(f"PLM's extractor needs backbone taps {taps}, got {self.backbone.taps}")
        self.engines = EngineCache(self.backbone, backend, backbone_int8(precision))

    def __call__(self, crops: np.ndarray, once: bool = False) -> tuple[torch.Tensor, ...]:
        """B x S x S x 3 uint8 RGB crops -> the feature maps at the taps (ordinary tensors, usable in autograd).
        `once`: a batch shape that will not come again (e.g. fine-tuning pairs): eager torch, no engine
        is built for it."""
        x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255.0).contiguous()
        with torch.no_grad():
            if once:
                return tuple(self.backbone(x))
            return tuple(t.float().clone() for t in self.engines(x))
