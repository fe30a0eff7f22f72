"""A synthetic test stream (our `videotestsrc`) with exact ground truth.

Each frame shows up to three textured, slowly deforming, rotating blobs that wander over a panning,
textured background.  Everything is a pure function of the seed and the frame index, so a stream is
reproducible bit for bit, and every frame carries its exact label mask in `Frame.gt_mask`
(0 = background, k = object k, later objects drawn on top); the first frame also carries it as
`Frame.target`.

Speed: all textures are built once in `__init__`; a frame is a crop of the background, a small
affine warp of each object texture inside its bounding box, a mask from a polar radius look-up
table, and a crop of a precomputed sensor-noise field (about 1 ms at 640x480 on one core).
"""

from __future__ import annotations

import math
import time
from typing import Iterator

import cv2
import numpy as np

from .base import Frame, Pacer, Source, SourceError
from .noise import fbm

_N_THETA = 720  # angular bins of the radius look-up table
_MAX_OBJECTS = 3


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """An earthy, low-saturation scene texture: mottled olive/brown/slate ground with grain and pebbles."""
    coarse = fbm(rng, h, w, (160, 80, 40))
    fine = fbm(rng, h, w, (12, 6, 3), gain=0.8)
    mix = fbm(rng, h, w, (240, 120, 60))
    warp = fbm(rng, h, w, (120, 60))
    pebbles = fbm(rng, h, w, (9, 4), gain=0.5)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, math.pi)
    grain = np.sin((xx * math.cos(a) + yy * math.sin(a)) / rng.uniform(5, 8) + 8.0 * warp)
    olive = np.array([92, 108, 66], np.float32)
    brown = np.array([128, 108, 86], np.float32)
    slate = np.array([96, 106, 118], np.float32)
    m = mix[..., None]
    base = np.where(m < 0.5, olive + (brown - olive) * (2 * m), brown + (slate - brown) * (2 * m - 1))
    shade = 0.5 + 0.55 * coarse + 0.35 * fine + 0.12 * grain * (mix > 0.45)
    shade += 0.35 * (pebbles > 0.78) - 0.25 * (pebbles < 0.15)
    img = base * shade[..., None] + rng.normal(0.0, 4.0, (h, w, 3)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _object_texture(rng: np.random.Generator, size: int, kind: int) -> np.ndarray:
    """A saturated, patterned texture for object `kind` (0, 1, 2), size x size x 3 RGB uint8."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    var = fbm(rng, size, size, (32, 16))[..., None]
    if kind == 0:  # orange with dark leopard spots
        spots = fbm(rng, size, size, (12, 6)) > 0.62
        img = np.array([232, 122, 38], np.float32) * (0.8 + 0.4 * var)
        img[spots] = np.array([70, 36, 18], np.float32)
    elif kind == 1:  # blue with wavy white stripes
        wob = fbm(rng, size, size, (24, 12))
        stripes = np.sin((xx + 0.4 * yy) / 4.5 + 5.0 * wob) > 0.35
        img = np.array([38, 84, 204], np.float32) * (0.8 + 0.4 * var)
        img[stripes] = np.array([226, 232, 240], np.float32)
    else:  # magenta / yellow warped checker
        wob = fbm(rng, size, size, (24,))
        check = ((np.floor((xx + 14 * wob) / 11) + np.floor((yy + 14 * wob) / 11)) % 2).astype(bool)
        img = np.where(check[..., None], np.float32([204, 40, 150]), np.float32([240, 212, 60]))
        img = img * (0.8 + 0.4 * var)
    img += rng.normal(0.0, 6.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


class _Blob:
    """Motion, size, shape and texture of one object; `place(i)` gives its state at frame i."""

    def __init__(self, rng: np.random.Generator, width: int, height: int, radius: float, kind: int):
        self.r0 = radius
        self.ax = max(width / 2 - 1.1 * radius, 0.0)
        self.ay = max(height / 2 - 1.1 * radius, 0.0)
        self.cx0, self.cy0 = width / 2, height / 2
        self.px = rng.uniform(220, 360)  # path periods, in frames
        self.py = rng.uniform(160, 300)
        self.ph = rng.uniform(0, 2 * math.pi, 5)
        self.ps = rng.uniform(120, 240)  # size period
        self.rot = rng.uniform(0.3, 0.8) * rng.choice([-1.0, 1.0])  # degrees per frame
        self.harm = np.arange(2, 6, dtype=np.float32)  # radial harmonics 2..5
        self.amp = rng.uniform(0.03, 0.07, 4).astype(np.float32)
        self.hphase = rng.uniform(0, 2 * math.pi, 4).astype(np.float32)
        self.hspeed = (2 * math.pi / rng.uniform(50, 160, 4)).astype(np.float32)  # radians per frame
        size = int(math.ceil(2 * radius * 1.6))
        self.tex = _object_texture(rng, size, kind)
        self.tc = size / 2.0
        theta = np.linspace(-math.pi, math.pi, _N_THETA, endpoint=False, dtype=np.float32)
        self._k_theta = self.harm[:, None] * theta[None, :]  # (4, N_THETA)
        # Polar grids around an integer centre, large enough for the biggest outline; frames crop them.
        half = int(math.ceil(radius * 1.18 * (1.0 + float(self.amp.sum())))) + 2
        d = np.arange(-half, half + 1, dtype=np.float32)
        gx, gy = np.meshgrid(d, d)
        self.half = half
        self.rho = np.sqrt(gx * gx + gy * gy)
        ang = np.arctan2(gy, gx) + np.float32(math.pi)
        self.theta_idx = (ang * np.float32(_N_THETA / (2 * math.pi))).astype(np.intp) % _N_THETA
        self.light = -(gx + gy) / np.float32(math.sqrt(2.0))  # light from the top left

    def place(self, i: int) -> tuple[float, float, float, float, np.ndarray]:
        """(cx, cy, scale, angle_deg, radius_lut[N_THETA]) at frame i."""
        cx = self.cx0 + self.ax * (0.8 * math.sin(2 * math.pi * i / self.px + self.ph[0])
                                   + 0.2 * math.sin(2 * math.pi * i / (0.37 * self.px) + self.ph[1]))
        cy = self.cy0 + self.ay * (0.8 * math.sin(2 * math.pi * i / self.py + self.ph[2])
                                   + 0.2 * math.sin(2 * math.pi * i / (0.41 * self.py) + self.ph[3]))
        scale = 1.0 + 0.18 * math.sin(2 * math.pi * i / self.ps + self.ph[4])
        angle = self.rot * i
        # The outline turns with the texture (+k*angle: cv2 angles are counter-clockwise on screen)
        # and also morphs on its own (hspeed*i).
        phase = self.hphase + self.hspeed * i + self.harm * math.radians(angle)
        wobble = (self.amp[:, None] * np.sin(self._k_theta + phase[:, None])).sum(0)
        lut = (self.r0 * scale) * (1.0 + wobble)
        return cx, cy, scale, angle, lut.astype(np.float32)


class SyntheticSource(Source):
    """Moving, deforming textured objects over a panning textured background, with exact GT masks.

    width, height: frame size.  fps: real-time pacing (None = as fast as possible).
    frames: number of frames (None = endless).  seed: the whole stream is a function of it.
    objects: 1..3 objects, labelled 1..objects in `gt_mask` (each with its own texture).
    `render(i)` returns (image, gt_mask) for frame i without pacing or timestamps.
    """

    name = "synthetic"

    def __init__(self, width: int = 640, height: int = 480, fps: float | None = 30.0,
                 frames: int | None = None, seed: int = 0, objects: int = 1):
        if width < 32 or height < 32:
            raise SourceError(f"synthetic frame size {width}x{height} is too small (min 32x32)")
        if not 1 <= objects <= _MAX_OBJECTS:
            raise SourceError(f"synthetic objects must be 1..{_MAX_OBJECTS}, got {objects}")
        if frames is not None and frames < 0:
            raise SourceError(f"frames must be >= 0 or None, got {frames}")
        self.width, self.height, self.fps = int(width), int(height), fps
        self.frame_count, self.seed, self.objects = frames, seed, objects
        rng = np.random.default_rng(seed)
        # Background larger than the frame; the camera pans over it.
        self._mx, self._my = max(8, width // 4), max(8, height // 4)
        self._bg = _background(rng, height + 2 * self._my, width + 2 * self._mx)
        self._pan = rng.uniform(0, 2 * math.pi, 2)
        self._noise_pad = 32
        self._noise = rng.integers(0, 9, (height + self._noise_pad, width + self._noise_pad, 3), dtype=np.uint8)
        radius = min(width, height) * (0.17 if objects == 1 else 0.13)
        self._blobs = [_Blob(rng, width, height, radius, k) for k in range(objects)]

    def render(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame i as (HxWx3 uint8 RGB image, HxW uint8 label mask)."""
        h, w = self.height, self.width
        ox = int(round(self._mx * (1 + math.sin(2 * math.pi * i / 400 + self._pan[0]))))
        oy = int(round(self._my * (1 + 0.7 * math.sin(2 * math.pi * i / 330 + self._pan[1]))))
        img = self._bg[oy:oy + h, ox:ox + w].copy()
        mask = np.zeros((h, w), np.uint8)
        for label, blob in enumerate(self._blobs, start=1):
            self._draw(img, mask, label, blob, i)
        nx, ny = (i * 37) % self._noise_pad, (i * 61) % self._noise_pad
        cv2.add(img, self._noise[ny:ny + h, nx:nx + w], dst=img)  # saturating sensor noise
        return img, mask

    def _draw(self, img: np.ndarray, mask: np.ndarray, label: int, blob: _Blob, i: int) -> None:
        cx, cy, scale, angle, lut = blob.place(i)
        icx, icy = int(round(cx)), int(round(cy))  # the outline moves in whole pixels, the texture smoothly
        half = min(int(math.ceil(float(lut.max()))) + 1, blob.half)
        x0, x1 = max(icx - half, 0), min(icx + half + 1, self.width)
        y0, y1 = max(icy - half, 0), min(icy + half + 1, self.height)
        if x1 <= x0 or y1 <= y0:
            return  # wholly outside the frame this time
        gx0, gy0 = x0 - icx + blob.half, y0 - icy + blob.half  # the same window in the polar grids
        win = (slice(gy0, gy0 + y1 - y0), slice(gx0, gx0 + x1 - x0))
        r = lut[blob.theta_idx[win]]
        rho = blob.rho[win]
        inside = rho < r
        if not inside.any():
            return
        m = cv2.getRotationMatrix2D((blob.tc, blob.tc), angle, scale)
        m[0, 2] += cx - x0 - blob.tc
        m[1, 2] += cy - y0 - blob.tc
        tex = cv2.warpAffine(blob.tex, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)
        # Soft 3-D look: darker towards the rim, brighter towards the light.
        q = rho / r
        shade = 1.05 - 0.35 * q * q + 0.15 * blob.light[win] / r
        shaded = cv2.multiply(tex, cv2.merge([shade, shade, shade]), dtype=cv2.CV_8U)
        np.copyto(img[y0:y1, x0:x1], shaded, where=inside[..., None])
        mask[y0:y1, x0:x1][inside] = label

    def frames(self, start: int = 0) -> Iterator[Frame]:
        """Yields frames start, start + 1, ... (up to `frames`, or forever), paced at `fps` when set."""
        pacer = Pacer(self.fps)
        i = start
        while self.frame_count is None or i < self.frame_count:
            pacer.wait()
            t = time.monotonic_ns()
            img, mask = self.render(i)
            yield Frame(image=img, seq=i, t_capture_ns=t, target=mask.copy() if i == 0 else None,
                        gt_mask=mask, name=f"{i:05d}", meta={"source": "synthetic", "seed": self.seed})
            i += 1
