"""CRVOS's network: the Clue and the decoder of three refine modules (the backbone is the shared, frozen
EfficientNet-Lite0 pyramid at strides 4 / 8 / 16; 24 / 40 / 112 channels).

Decoder (shapes of the official code; each refine module = 1x1 skip conv, concat, 3x3 conv + ReLU,
transposed conv to 2 channels)::

    RM1 (s16): f16 -1x1-> 256 | Clue(5)      -3x3-> 128 -ReLU- deconv k4 s2 -> o1: 2 ch at s8
    RM2 (s8):  f8  -1x1-> 128 | o1 (2)        -3x3-> 128 -ReLU- deconv k4 s2 -> o2: 2 ch at s4
    RM3 (s4):  f4  -1x1-> 128 | o2 (2)        -3x3-> 128 -ReLU- deconv k3 s1 -> o3: 2 ch at s4
    head:      [bilinear x2 (o1), o2, o3] (6 ch) -> deconv k6 s4 p1 -> 2 ch at s1

With `clue_prior` (a network setting, recorded in its checkpoint) the Clue's foreground also enters the
output directly: its log-odds, bilinearly up-sampled from stride 16 and scaled by a learned factor, are
added to the logits, so the decoder refines the previous mask instead of finding whatever stands out
(measured: without it the decoder hardly uses the Clue; benchmarks/clue_sensitivity.py).

With `tuned_blocks` = n (also recorded in the checkpoint) the decoder owns the backbone's last n blocks
below the stride-16 tap, initialised from ImageNet and fine-tuned with it; the shared backbone then stops
n blocks earlier (`backbone_taps`), so the compute per frame is the same and training can still cache
the frozen features.

RM3 keeps stride 4 with a stride-1 3x3 transposed conv (a learned 2-channel projection, so all three
modules have the same form); the stride-4 head does the last up-sampling.  Only Conv, ConvTranspose,
Relu, Concat and a fixed-scale Resize (the Clue prior adds Slice, Clip, Sub, Div, Log, Mul; tuned blocks
depthwise Conv, Clip for ReLU6, Add for the residuals): exports to ONNX opset 17 (legacy exporter) with
static shapes.

The Clue is built outside the decoder (`make_clue`) so the decoder graph stays static and the previous
mask can come from anywhere (ground truth in training, the model's own prediction at run time);
`perturb_masks` makes it drift, for training and first-frame fine-tuning to learn to correct.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rtvos.models.shared.backbone import PYRAMID_CHANNELS, backbone_taps, owned_blocks

CLUE_CHANNELS = 5  # background, foreground, y, x, distance from the centre
CLUE_STRIDE = 16
PRIOR_CLAMP = 4.0  # the Clue prior's log-odds are clamped to +-this ...
PRIOR_BOUND = 1.0 / (1.0 + math.exp(-PRIOR_CLAMP))  # ... by clamping its probability to 1 - this .. this
PRIOR_INIT = 0.5   # the learned scale of the Clue prior starts here


# ------------------------------------------------------------------------------------------- Clue
def coord_channels(h: int, w: int, dtype: torch.dtype = torch.float32, device=None) -> torch.Tensor:
    """1x3xhxw: y and x in [-1, 1] (pixel centres, corners at +-1), and the distance from the centre
    divided by its maximum sqrt(2), so in [0, 1] (0 at the centre, 1 at the corners)."""
    y = torch.linspace(-1.0, 1.0, h, dtype=dtype, device=device).view(h, 1).expand(h, w)
    x = torch.linspace(-1.0, 1.0, w, dtype=dtype, device=device).view(1, w).expand(h, w)
    r = torch.sqrt(x * x + y * y) / (2.0 ** 0.5)
    return torch.stack([y, x, r])[None]


def make_clue(prev_prob_fg: torch.Tensor, feat16_hw: tuple[int, int]) -> torch.Tensor:
    """The Clue: Bx1xHxW previous foreground probability (processing resolution) -> Bx5xhxw at the
    stride-16 feature size: [1 - p, p] area-averaged (adaptive average pooling; exact area pooling when
    H, W are multiples of h, w) and the three coordinate channels."""
    if prev_prob_fg.dim() != 4 or prev_prob_fg.shape[1] != 1:
        raise ValueError(f"prev_prob_fg must be Bx1xHxW, got {tuple(prev_prob_fg.shape)}")
    h, w = (int(v) for v in feat16_hw)
    fg = F.adaptive_avg_pool2d(prev_prob_fg.float(), (h, w))
    coords = coord_channels(h, w, fg.dtype, fg.device).expand(fg.shape[0], -1, -1, -1)
    return torch.cat([1.0 - fg, fg, coords], dim=1)


def perturb_masks(prob: torch.Tensor, p: float, rng: np.random.Generator, max_shift: float = 0.08,
                  max_kernel: int = 15) -> torch.Tensor:
    """With probability `p` per sample: shift (up to `max_shift` of the size) and dilate or erode
    (square kernel up to `max_kernel`) a Bx1xHxW soft mask -- a drifting Clue to learn to correct."""
    if p <= 0:
        return prob
    out = prob.clone()
    h, w = prob.shape[-2:]
    for i in range(prob.shape[0]):
        if rng.random() >= p:
            continue
        m = out[i:i + 1]
        dy, dx = (int(rng.integers(-int(max_shift * s), int(max_shift * s) + 1)) for s in (h, w))
        m = torch.roll(m, shifts=(dy, dx), dims=(2, 3))
        if dy > 0:
            m[..., :dy, :] = 0
        elif dy < 0:
            m[..., dy:, :] = 0
        if dx > 0:
            m[..., :, :dx] = 0
        elif dx < 0:
            m[..., :, dx:] = 0
        k = int(rng.integers(1, max_kernel // 2 + 1)) * 2 + 1
        if rng.random() < 0.5:
            m = F.max_pool2d(m, k, stride=1, padding=k // 2)
        else:
            m = -F.max_pool2d(-m, k, stride=1, padding=k // 2)
        out[i:i + 1] = m
    return out


# ---------------------------------------------------------------------------------------- decoder
class DeconvRefineModule(nn.Module):
    """The paper's refine module: 1x1 conv on the skip features, concat the guidance (Clue or the
    previous module's 2-channel output), 3x3 conv + ReLU, 2-channel transposed conv (x2 up-sampling, or
    stride 1)."""

    def __init__(self, in_channels: int, skip_channels: int, guide_channels: int, mid: int = 128, upsample: bool = True):
        super().__init__()
        self.skip = nn.Conv2d(in_channels, skip_channels, 1)
        self.conv = nn.Conv2d(skip_channels + guide_channels, mid, 3, padding=1)
        if upsample:
            self.deconv = nn.ConvTranspose2d(mid, 2, kernel_size=4, stride=2, padding=1)
        else:
            self.deconv = nn.ConvTranspose2d(mid, 2, kernel_size=3, stride=1, padding=1)

    def forward(self, feat: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
        skip = self.skip(feat)
        if torch.onnx.is_in_onnx_export():
            # The same arithmetic as conv(cat(skip, guide)), split along the input channels:
            # conv_skip(skip) + conv_guide(guide). ONNX Runtime's blocked convolutions want channel
            # counts that are multiples of 8; 128 + 2 is not, and the 3x3 conv at stride 4 is ~2/3 of
            # the decoder's time (measured: 23% faster split). Eager torch is fastest with the concat.
            c = skip.shape[1]
            y = F.conv2d(skip, self.conv.weight[:, :c], self.conv.bias, padding=1) + \
                F.conv2d(guide, self.conv.weight[:, c:], None, padding=1)
        else:
            y = self.conv(torch.cat([skip, guide], dim=1))
        return self.deconv(F.relu(y))


class CRVOSDecoder(nn.Module):
    """forward(f4, f8, f16, clue) -> Bx2xHxW logits (background, foreground), H = 4 * f4's height; the
    features are the backbone's at `backbone_taps`."""

    export_signature = "split-concat-conv-v1"  # the exported graph's form (engine cache key)

    def __init__(self, channels: tuple[int, int, int] = PYRAMID_CHANNELS, mid: int = 128, clue_prior: bool = False,
                 tuned_blocks: int = 0):
        super().__init__()
        self.config = {"channels": list(channels), "mid": mid} | ({"clue_prior": True} if clue_prior else {}) | \
                      ({"tuned_blocks": tuned_blocks} if tuned_blocks else {})
        self.prior_scale = nn.Parameter(torch.tensor(PRIOR_INIT)) if clue_prior else None
        self.backbone_taps = backbone_taps(tuned_blocks)  # the features forward() takes
        self.tuned = owned_blocks(tuned_blocks, channels[2])  # tuned.0 is block backbone_taps[2] + 1, the lowest
        c4, c8, c16 = channels
        self.rm1 = DeconvRefineModule(c16, 256, CLUE_CHANNELS, mid, upsample=True)
        self.rm2 = DeconvRefineModule(c8, 128, 2, mid, upsample=True)
        self.rm3 = DeconvRefineModule(c4, 128, 2, mid, upsample=False)
        self.head = nn.ConvTranspose2d(6, 2, kernel_size=6, stride=4, padding=1)

    def forward(self, f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor, clue: torch.Tensor) -> torch.Tensor:
        if self.tuned is not None:
            f16 = self.tuned(f16)
        o1 = self.rm1(f16, clue)   # stride 8
        o2 = self.rm2(f8, o1)      # stride 4
        o3 = self.rm3(f4, o2)      # stride 4
        o1 = F.interpolate(o1, scale_factor=2.0, mode="bilinear", align_corners=False)
        logits = self.head(torch.cat([o1, o2, o3], dim=1))
        if self.prior_scale is None:
            return logits
        fg = F.interpolate(clue[:, 1:2], scale_factor=float(CLUE_STRIDE), mode="bilinear", align_corners=False)
        fg = fg.clamp(1.0 - PRIOR_BOUND, PRIOR_BOUND)
        half = 0.5 * self.prior_scale * torch.log(fg / (1.0 - fg))  # half the log-odds to each class
        return logits + torch.cat([-half, half], dim=1)
