"""FRTM's refinement network R: turns the target model's coarse stride-16 scores into a fine mask.

Target-agnostic and trained offline (train.py): it never sees which object it
segments, only backbone features and the target model's score map.

Per depth (strides 16, 8, 4 of EfficientNet-Lite0, or the Lite2 its config names):
- a target segmentation encoder (TSE): project the features (1x1), concatenate the scores resized to
  that depth, three 3x3 convolutions;
- a refinement module: add the up-sampled coarser output, two residual blocks with channel attention
  between them (squeeze-and-excitation style).
Then a 3x3 head to one logit at stride 4, bilinearly up-sampled to the processing resolution.

Widths 24 / 32 / 64 at strides 4 / 8 / 16 (the paper uses 64 throughout): at 64 channels the stride-4
and stride-8 stacks alone are ~1 GMAC per frame at 256x448, several times the backbone on a 2-core CPU;
these widths halve that. A deliberate speed trade, to be revisited with measurements.
Static shapes only, so it exports to ONNX (and TensorRT) like the backbone.

With `tuned_blocks` = n (recorded in the checkpoint) R owns the backbone's last n blocks below the
stride-16 tap, initialised from ImageNet and fine-tuned with it (`rtvos train frtm --tune-blocks`). R does
not run them: the target model must see the same stride-16 features R does, so the segmenter puts them
into its backbone (`with_tuned_blocks`), and training runs them on the cached features below.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rtvos.models.shared.backbone import LITE0, backbone_record, backbone_variant, owned_blocks, tap_channels


def conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class TargetSegmentationEncoder(nn.Module):
    def __init__(self, cin: int, mid: int):
        super().__init__()
        self.project = nn.Conv2d(cin, mid, 1)
        self.convs = nn.Sequential(conv3x3(mid + 1, mid), nn.ReLU(inplace=True), conv3x3(mid, mid),
                                   nn.ReLU(inplace=True), conv3x3(mid, mid), nn.ReLU(inplace=True))

    def forward(self, feat: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        if score.shape[-2:] != feat.shape[-2:]:
            score = F.interpolate(score, size=feat.shape[-2:], mode="bilinear", align_corners=False)
        return self.convs(torch.cat([F.relu(self.project(feat)), score], dim=1))


class ResidualBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv1, self.conv2 = conv3x3(c, c), conv3x3(c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.conv2(F.relu(self.conv1(x))))


class ChannelAttention(nn.Module):
    def __init__(self, c: int, reduction: int = 4):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, c // reduction, 1), nn.Conv2d(c // reduction, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True)))))
        return x * w


class RefinementModule(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.res1, self.attention, self.res2 = ResidualBlock(c), ChannelAttention(c), ResidualBlock(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res2(self.attention(self.res1(x)))


class RefinementNetwork(nn.Module):
    """R: forward(f4, f8, f16, score) -> logits (B x 1 x 4h4 x 4w4); score: B x 1 x h16 x w16 (D's output)."""

    def __init__(self, channels: tuple[int, int, int] | None = None, widths: tuple[int, int, int] = (24, 32, 64),
                 tuned_blocks: int = 0, backbone: str = LITE0.key):
        super().__init__()
        self.variant = backbone_variant(backbone)  # the EfficientNet-Lite it takes features from
        channels = tuple(channels or tap_channels(self.variant.pyramid_taps, self.variant))
        self.config = {"channels": list(channels), "widths": list(widths)} | \
                      ({"tuned_blocks": tuned_blocks} if tuned_blocks else {}) | backbone_record(self.variant)
        # tuned.0 is block backbone_taps(tuned_blocks)[2] + 1
        self.tuned = owned_blocks(tuned_blocks, channels[2], self.variant)
        c4, c8, c16 = channels
        w4, w8, w16 = widths
        self.tse16, self.tse8, self.tse4 = (TargetSegmentationEncoder(c16, w16), TargetSegmentationEncoder(c8, w8),
                                            TargetSegmentationEncoder(c4, w4))
        self.rm16, self.rm8, self.rm4 = RefinementModule(w16), RefinementModule(w8), RefinementModule(w4)
        self.to8 = nn.Conv2d(w16, w8, 1)
        self.to4 = nn.Conv2d(w8, w4, 1)
        self.head = conv3x3(w4, 1)

    def forward(self, f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor, score: torch.Tensor) -> torch.Tensor:
        x = self.rm16(self.tse16(f16, score))
        x = F.interpolate(self.to8(x), size=f8.shape[-2:], mode="bilinear", align_corners=False)
        x = self.rm8(self.tse8(f8, score) + x)
        x = F.interpolate(self.to4(x), size=f4.shape[-2:], mode="bilinear", align_corners=False)
        x = self.rm4(self.tse4(f4, score) + x)
        logits = self.head(x)
        return F.interpolate(logits, scale_factor=4.0, mode="bilinear", align_corners=False)
