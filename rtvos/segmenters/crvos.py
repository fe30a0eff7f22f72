"""`crvos`: CRVOS (Clue Refining Network) on a frozen EfficientNet-Lite0 pyramid.

Per frame: backbone features f4 / f8 / f16 (strides 4 / 8 / 16; 24 / 40 / 112 channels) and, per object,
the *Clue* -- the previous frame's soft mask as (background, foreground) probabilities area-pooled to
stride 16, plus three coordinate channels -- go through three refine modules and a final transposed
convolution to 2-channel (background, foreground) logits at the processing resolution.  No online
learning: the previous prediction is the only memory, so a step costs one backbone pass plus one
(batched over objects) decoder pass.

Decoder (shapes of the official code; each refine module = 1x1 skip conv, concat, 3x3 conv + ReLU,
transposed conv to 2 channels)::

    RM1 (s16): f16 -1x1-> 256 | Clue(5)      -3x3-> 128 -ReLU- deconv k4 s2 -> o1: 2 ch at s8
    RM2 (s8):  f8  -1x1-> 128 | o1 (2)        -3x3-> 128 -ReLU- deconv k4 s2 -> o2: 2 ch at s4
    RM3 (s4):  f4  -1x1-> 128 | o2 (2)        -3x3-> 128 -ReLU- deconv k3 s1 -> o3: 2 ch at s4
    head:      [bilinear x2 (o1), o2, o3] (6 ch) -> deconv k6 s4 p1 -> 2 ch at s1

RM3 keeps stride 4 with a stride-1 3x3 transposed conv (a learned 2-channel projection, so all three
modules have the same form); the stride-4 head does the last up-sampling.  Only Conv, ConvTranspose,
Relu, Concat and a fixed-scale Resize: exports to ONNX opset 17 (legacy exporter) with static shapes.

The Clue is built outside the decoder (`make_clue`) so the decoder graph stays static and the previous
mask can come from anywhere (ground truth in training, the model's own prediction at run time).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rtvos.engines import Calibration, load_engine
from rtvos.segmenters.aggregate import merge_probabilities
from rtvos.segmenters.backbone import Backbone, preprocess, processing_size
from rtvos.segmenters.calibration import RECIPE, backbone_calibration, calibration_frames, check_precision
from rtvos.segmenters.protocol import Result, Segmenter, Target, config_from_options

TAPS = (2, 4, 10)                 # EfficientNet-Lite0 blocks: stride 4 / 8 / 16
FEATURE_CHANNELS = (24, 40, 112)  # channels at those taps
CLUE_CHANNELS = 5                 # background, foreground, y, x, distance from the centre
TRAIN_COMMAND = "rtvos train crvos --davis-root <DAVIS root>  (or: python -m rtvos.training.crvos_train)"


def default_checkpoint() -> Path:
    """The packaged decoder weights: rtvos/checkpoints/crvos.pt."""
    return Path(__file__).resolve().parents[1] / "checkpoints" / "crvos.pt"


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


# ---------------------------------------------------------------------------------------- decoder
class RefineModule(nn.Module):
    """1x1 conv on the skip features, concat the guidance (Clue or the previous module's 2-channel
    output), 3x3 conv + ReLU, 2-channel transposed conv (x2 up-sampling, or stride 1)."""

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
    """forward(f4, f8, f16, clue) -> Bx2xHxW logits (background, foreground), H = 4 * f4's height."""

    export_signature = "split-concat-conv-v1"  # the exported graph's form (engine cache key)

    def __init__(self, channels: tuple[int, int, int] = FEATURE_CHANNELS, mid: int = 128):
        super().__init__()
        c4, c8, c16 = channels
        self.rm1 = RefineModule(c16, 256, CLUE_CHANNELS, mid, upsample=True)
        self.rm2 = RefineModule(c8, 128, 2, mid, upsample=True)
        self.rm3 = RefineModule(c4, 128, 2, mid, upsample=False)
        self.head = nn.ConvTranspose2d(6, 2, kernel_size=6, stride=4, padding=1)

    def forward(self, f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor, clue: torch.Tensor) -> torch.Tensor:
        o1 = self.rm1(f16, clue)   # stride 8
        o2 = self.rm2(f8, o1)      # stride 4
        o3 = self.rm3(f4, o2)      # stride 4
        o1 = F.interpolate(o1, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.head(torch.cat([o1, o2, o3], dim=1))


def load_decoder(path: str | Path | None = None) -> CRVOSDecoder:
    """A CRVOSDecoder with weights from `path` (default: the packaged checkpoint), in eval mode.
    The file is a decoder state dict (fp32 or fp16) or a training checkpoint holding one under "decoder"."""
    path = Path(path) if path else default_checkpoint()
    if not path.is_file():
        raise FileNotFoundError(
            f"CRVOS decoder weights not found at {path}. Train them with `{TRAIN_COMMAND}` and copy the "
            f"best checkpoint there (or pass checkpoint=<path>)."
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if "decoder" in state:
        state = state["decoder"]
    decoder = CRVOSDecoder()
    decoder.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return decoder.eval()


# -------------------------------------------------------------------------------------- segmenter
@dataclass
class CRVOSConfig:
    height: int = 256            # processing height (width follows the aspect ratio), multiple of 32
    threshold: float = 0.5       # on the up-sampled foreground probability
    checkpoint: str = ""         # decoder weights; "" = the packaged rtvos/checkpoints/crvos.pt
    backend: str = "auto"        # engine for backbone and decoder: auto | torch | onnxruntime
    decoder_backend: str = ""    # engine for the decoder alone ("" = `backend`; training evaluates with torch)
    precision: str = "int8"      # onnxruntime graphs: int8 (statically quantised, calibrated on synthetic
                                 # frames; see rtvos/segmenters/calibration.py) | fp32.  torch is always fp32.


class CRVOSSegmenter(Segmenter):
    name = "crvos"

    def __init__(self, backbone: Backbone | None = None, decoder: CRVOSDecoder | None = None, **options):
        """`backbone` / `decoder`: ready modules to share (e.g. the decoder being trained); by default
        a fresh Backbone(taps=(2, 4, 10)) and the decoder from `checkpoint`."""
        self.cfg = config_from_options(CRVOSConfig, options, self.name)
        if self.cfg.height % 32 or self.cfg.height <= 0:
            raise ValueError(f"height must be a positive multiple of 32, got {self.cfg.height}")
        self.decoder = decoder if decoder is not None else load_decoder(self.cfg.checkpoint or None)
        self.backbone = backbone or Backbone(taps=TAPS)
        if tuple(self.backbone.taps) != TAPS:
            raise ValueError(f"crvos needs backbone taps {TAPS}, got {self.backbone.taps}")
        check_precision(self.cfg.precision)
        self._backbone_engines: dict[tuple[int, ...], object] = {}
        self._decoder_engines: dict[int, object] = {}  # one per number of objects (the batch)
        self._started = False

    def _features(self, frame: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = preprocess(frame, self.proc_hw)
        shape = tuple(x.shape)
        if shape not in self._backbone_engines:
            self._backbone_engines[shape] = load_engine(self.backbone, shape, self.cfg.backend,
                                                        int8=self._calibration("backbone"))
        f4, f8, f16 = self._backbone_engines[shape](x)
        return f4, f8, f16

    def _calibration(self, part: str) -> Calibration | None:
        """INT8 calibration for the backbone or the decoder: synthetic frames at the processing size,
        the decoder's Clue from their exact masks (`calibration.calibration_frames`)."""
        if self.cfg.precision != "int8":
            return None

        if part == "backbone":
            return backbone_calibration()

        def samples(shapes):
            out = []
            for image, label in calibration_frames():
                x = preprocess(image, self.proc_hw)
                with torch.no_grad():
                    feats = self.backbone(x)
                n = shapes[0][0]
                masks = [(label == k) for k in np.unique(label) if k] or [label > 0]
                prev = torch.from_numpy(np.stack([cv2.resize(masks[i % len(masks)].astype(np.float32),
                                                             self.proc_hw[::-1], interpolation=cv2.INTER_AREA)
                                                  for i in range(n)]))[:, None]
                clue = make_clue(prev, self.feat16_hw)
                out.append(tuple(f.expand(n, -1, -1, -1).numpy() for f in feats) + (clue.numpy(),))
            return out

        return Calibration(key=f"decoder-{RECIPE}", samples=samples)

    def _decode(self, feats, clue: torch.Tensor) -> torch.Tensor:
        """All objects in one decoder call: features repeated along the batch, one Clue each."""
        n = clue.shape[0]
        inputs = [f.expand(n, -1, -1, -1).contiguous() for f in feats] + [clue.contiguous()]
        if n not in self._decoder_engines:
            shapes = tuple(tuple(t.shape) for t in inputs)
            self._decoder_engines[n] = load_engine(self.decoder, shapes, self.cfg.decoder_backend or self.cfg.backend,
                                                   int8=self._calibration("decoder"))
        return self._decoder_engines[n](*inputs)[0]

    def start(self, frame: np.ndarray, target: Target | np.ndarray) -> Result:
        label, self.ids = self.begin(frame, target)
        h, w = self.frame_hw
        self.proc_hw = processing_size(h, w, self.cfg.height)
        self.feat16_hw = (self.proc_hw[0] // 16, self.proc_hw[1] // 16)
        ph, pw = self.proc_hw
        prev = [cv2.resize((label == k).astype(np.float32), (pw, ph), interpolation=cv2.INTER_AREA) for k in self.ids]
        self.prev_fg = torch.from_numpy(np.stack(prev))[:, None]  # Nx1xHxW soft masks, processing resolution
        with torch.no_grad():  # build (export / load) and warm up both engines here, not in the first step
            self._decode(self._features(frame), make_clue(self.prev_fg, self.feat16_hw))
        self._started = True
        return Result.from_label_mask(label, {k: 1.0 for k in self.ids}, self.ids)

    def step(self, frame: np.ndarray) -> Result:
        self.check_frame(frame)
        feats = self._features(frame)
        with torch.no_grad():
            logits = self._decode(feats, make_clue(self.prev_fg, self.feat16_hw))
            fg = torch.softmax(logits.float(), dim=1)[:, 1:2]
        self.prev_fg = fg  # each object's own soft mask is its next Clue
        h, w = self.frame_hw
        probs = [cv2.resize(p[0].numpy(), (w, h), interpolation=cv2.INTER_LINEAR) for p in fg]
        label, scores = merge_probabilities(probs, self.ids, self.cfg.threshold)
        return Result.from_label_mask(label, scores, self.ids)
