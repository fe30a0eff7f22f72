"""LSE's network (papers/lse-location-sensitive-embeddings.txt, Fig. 2), on the frozen EfficientNet-Lite0
pyramid of a zoomed-in crop:

- a trunk: the stride-16 and -8 features merged top-down into a stride-8 map, and that with the stride-4
  features into a stride-4 map;
- ASPP heads: the foreground logit at stride 4; at stride 8, a 64-d appearance embedding and each
  pixel's offset to the centre of the object it belongs to (the location embedding, in crop sizes: the
  paper's 1/321);
- the object-centre map (pixel position + offset) embedded by a 1x1 convolution, concatenated with the
  appearance embedding, and a fourth ASPP head: the location-sensitive embedding (LSE), at stride 8;
- the fusion: r = the per-dimension median of the LSEs of the foreground pixels, each pixel's embedding
  probability 2 / (1 + exp(||r - e||^2)) (up-sampled to stride 4), averaged with the foreground
  branch's probability.

What a 2-core CPU affords decides two things: "ASPP" is a 1x1 and three 3x3 convolutions at dilations
1, 2 and 4, summed (the paper's DeepLab ASPP on ResNet-101 is ~50x the cost), and the embeddings live at
stride 8, where they cost a quarter of what they would at stride 4 (the foreground branch keeps
stride 4 for the edges). Everything is static-shaped, so the network exports to ONNX like the backbone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rtvos.models.shared.backbone import PYRAMID_CHANNELS

EMBEDDING = 64  # the paper's embedding size


def similarity(a: torch.Tensor, b: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """The paper's s = 2 / (1 + exp(||a - b||^2)): 1 for equal embeddings, towards 0 far apart."""
    d2 = ((a - b) ** 2).sum(dim)
    return 2.0 * torch.sigmoid(-d2)  # = 2 / (1 + exp(d2)), without overflow


def pixel_grid(h: int, w: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """1 x 2 x h x w: each cell centre's (y, x) in crop sizes (0..1)."""
    ys = (torch.arange(h, dtype=dtype, device=device) + 0.5) / h
    xs = (torch.arange(w, dtype=dtype, device=device) + 0.5) / w
    return torch.stack(torch.meshgrid(ys, xs, indexing="ij"))[None]


def centre_map(offsets: torch.Tensor) -> torch.Tensor:
    """Each pixel's object centre: its position plus its predicted offset (B x 2 x h x w, crop sizes)."""
    return pixel_grid(*offsets.shape[-2:], dtype=offsets.dtype, device=offsets.device) + offsets


def embedding_grid(mask: torch.Tensor) -> torch.Tensor:
    """A stride-4 map (... x h4 x w4) at the embeddings' stride 8 (nearest: every other cell)."""
    return mask[..., 1::2, 1::2]


def references(embeddings: torch.Tensor, foregrounds: torch.Tensor) -> torch.Tensor:
    """r per sample (B x C): the per-dimension median of the embeddings (B x C x h x w) of each sample's
    foreground pixels (B x h x w bool, at the embeddings' grid or at stride 4); of every pixel where
    none is foreground. One masked median for the batch (no per-sample round trip to a GPU)."""
    if foregrounds.shape[-2:] != embeddings.shape[-2:]:
        foregrounds = embedding_grid(foregrounds)
    flat = embeddings.flatten(2)
    chosen = foregrounds.flatten(1)
    chosen = chosen | ~chosen.any(dim=1, keepdim=True)
    return flat.masked_fill(~chosen[:, None, :], float("nan")).nanmedian(dim=2).values


def fuse(fg_prob: torch.Tensor, embedding: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """The fused foreground probability: the mean of the foreground branch's (B x h4 x w4) and the
    embeddings' (B x C x h8 x w8) similarity to `r` (B x C, or C), up-sampled to the branch's grid."""
    r = r.view(r.shape[0] if r.dim() == 2 else 1, -1, 1, 1)
    sim = F.interpolate(similarity(embedding, r)[:, None], size=fg_prob.shape[-2:], mode="bilinear",
                        align_corners=False)[:, 0]
    return 0.5 * (fg_prob + sim)


class ASPP(nn.Module):
    """A 1x1 and three dilated 3x3 convolutions (1, 2, 4), summed."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.branches = nn.ModuleList([nn.Conv2d(cin, cout, 1)] +
                                      [nn.Conv2d(cin, cout, 3, padding=d, dilation=d) for d in (1, 2, 4)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sum(b(x) for b in self.branches)


class LSENetwork(nn.Module):
    """forward(f4, f8, f16) -> (fg logit B x 1 x h4 x w4, appearance B x 64 x h8 x w8, offsets B x 2 x h8 x w8,
    LSE B x 64 x h8 x w8). `fused` turns them into the final foreground probability (B x h4 x w4)."""

    # parameter groups of the paper's three training stages
    STAGE1 = ("trunk", "appearance", "offset")   # L_ae + L_le
    STAGE2 = ("centre", "lse")                   # L_lse, the first two frozen
    # stage 3: everything, the foreground head included (L_ae + L_le + L_lse + L_fg)

    def __init__(self, channels: tuple[int, int, int] = PYRAMID_CHANNELS, width: int = 48, width4: int = 32,
                 embedding: int = EMBEDDING, centre_channels: int = 16):
        super().__init__()
        self.config = {"channels": list(channels), "width": width, "width4": width4, "embedding": embedding,
                       "centre_channels": centre_channels}
        c4, c8, c16 = channels
        self.trunk = nn.ModuleDict({
            "p16": nn.Conv2d(c16, width, 1), "p8": nn.Conv2d(c8, width, 1), "m8": nn.Conv2d(width, width, 3, padding=1),
            "p4": nn.Conv2d(c4, width4, 1), "q8": nn.Conv2d(width, width4, 1),
            "m4": nn.Conv2d(width4, width4, 3, padding=1), "out4": nn.Conv2d(width4, width4, 3, padding=1)})
        self.foreground = ASPP(width4, 1)
        self.appearance = ASPP(width, embedding)
        self.offset = ASPP(width, 2)
        self.centre = nn.Conv2d(2, centre_channels, 1)
        self.lse = ASPP(embedding + centre_channels, embedding)

    def features(self, f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The trunk: (stride-4 map, stride-8 map)."""
        t = self.trunk
        x16 = F.relu(t["p16"](f16))
        x8 = F.interpolate(x16, size=f8.shape[-2:], mode="bilinear", align_corners=False)
        x8 = F.relu(t["m8"](F.relu(t["p8"](f8)) + x8))
        x4 = F.interpolate(t["q8"](x8), size=f4.shape[-2:], mode="bilinear", align_corners=False)
        x4 = F.relu(t["m4"](F.relu(t["p4"](f4)) + x4))
        return F.relu(t["out4"](x4)), x8

    def forward(self, f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor):
        x4, x8 = self.features(f4, f8, f16)
        appearance = self.appearance(x8)
        offsets = self.offset(x8)
        centres = F.relu(self.centre(centre_map(offsets)))
        lse = self.lse(torch.cat([appearance, centres], dim=1))
        return self.foreground(x4), appearance, offsets, lse

    @staticmethod
    def fused(fg_logit: torch.Tensor, lse: torch.Tensor, r: torch.Tensor | None = None) -> torch.Tensor:
        """B x h4 x w4 fused foreground probability; `r` per sample (B x C) or shared (C); None: each
        sample's own reference from its foreground branch (> 0.5), as in training."""
        fg = torch.sigmoid(fg_logit[:, 0])
        if r is None:
            r = references(lse, fg > 0.5)
        return fuse(fg, lse, r)
