"""A synthetic 16-bit LWIR road scene with an exact drivable-region mask (thermal road tracking tests).

The camera (1.6 m above a flat road, in the right lane of a two-lane road) drives forward at 15 m/s.
The road curves smoothly over time (its centreline's lateral offset is -lane - drift + heading * Z +
curvature * Z^2 / 2 at depth Z, all slow sums of sines), the horizon bounces slightly, and the ground
texture scrolls with true perspective: each ground pixel looks up a precomputed, longitudinally
periodic texture in road coordinates (lateral offset from the centreline, distance along the road).

Raw counts are on a 14-bit-in-16 scale (0..16383): grass verges ~7400-7800, asphalt a few hundred
counts warmer or cooler than the grass (chosen by the seed: sunny day vs. wet/cool road), lane
markings slightly cooler (lower emissivity paint), a cold sky (~5800-7400) over a treeline, and up to
three vehicles (a lead car, a car in the other lane, an oncoming car) whose bodies are warm, windows
cold and tyres, engine and exhaust hot.  The sensor adds temporal Gaussian noise, fixed-pattern noise
(per-column offsets, per-pixel gain), cos^4-like vignetting and a few dead (0) and hot (16383) pixels.

`gt_mask` is the exact road (asphalt) mask, 1 where the road is visible and not covered by a vehicle;
the first frame also carries it as `target`.  Frames are normalised to RGB with a thermal profile
(default "default") like ThermalSource, and the raw frame is in `frame.meta["raw"]` (HxW uint16).
Everything is a pure function of the seed and the frame index (`render(i)`; motion uses a fixed 30 Hz
simulation clock, whatever the pacing `fps`).

Speed: textures, sky panorama, vehicle templates and sensor maps are built once; a frame is one
cv2.remap of the ground texture plus a few vectorised passes (a few ms at 640x512 on one core).
"""

from __future__ import annotations

import math
import time
from typing import Iterator

import cv2
import numpy as np

from rtvos.thermal.normalize import NormalizationProfile, ProfileError, ThermalNormalizer, load_profile

from .base import Frame, Pacer, Source, SourceError
from .noise import fbm

SIM_DT = 1.0 / 30.0       # seconds per frame of simulated motion
CAM_HEIGHT = 1.6          # m
SPEED = 15.0              # m/s
ROAD_HALF = 3.75          # m: two 3.5 m lanes plus paved edges
LANE = 1.75               # m: lane centres at +-LANE from the road centreline
Z_MAX = 250.0             # m: depth clamp just below the horizon
TEX_DL, TEX_LMAX = 0.03, 30.0   # m per texel across the road, lateral half-extent
TEX_DZ, TEX_PERIOD = 0.05, 40.0  # m per texel along the road, longitudinal period
RAW_MAX = 16383           # 14-bit sensor


def _ground_texture(rng: np.random.Generator, t_grass: float, t_road: float) -> np.ndarray:
    """(NZ+1) x NL x 2 float32 in road coordinates: channel 0 the structure (absolute counts), channel 1
    the fine detail (zero-mean counts, faded with distance).  Row NZ repeats row 0 (periodic along z)."""
    nz, nl = int(round(TEX_PERIOD / TEX_DZ)), int(round(2 * TEX_LMAX / TEX_DL))
    per = (True, False)
    l = (np.arange(nl, dtype=np.float32) + 0.5) * TEX_DL - TEX_LMAX  # lateral offset of each column
    z = np.arange(nz, dtype=np.float32) * TEX_DZ
    al = np.abs(l)[None, :]
    road = al < ROAD_HALF
    gravel = (al >= ROAD_HALF) & (al < ROAD_HALF + 0.6)
    big = fbm(rng, nz, nl, (200, 100), periodic=per) - 0.5
    mid = fbm(rng, nz, nl, (40, 20), periodic=per) - 0.5
    fine = fbm(rng, nz, nl, (8, 4, 2), gain=0.8, periodic=per) - 0.5
    structure = np.where(road, t_road + 150 * big + 60 * mid, t_grass + 260 * big + 120 * mid)
    structure = np.where(gravel, 0.5 * (t_road + t_grass) + 60 * mid, structure)
    # Wheel paths (polished, slightly cooler) in both lanes, and a few repaired patches.
    for c in (-LANE - 0.8, -LANE + 0.8, LANE - 0.8, LANE + 0.8):
        structure -= 70.0 * np.exp(-((l - c) / 0.3) ** 2)[None, :] * road
    for _ in range(3):
        z0, c0 = rng.uniform(0, TEX_PERIOD), rng.uniform(-3.0, 3.0)
        patch = (np.abs(((z - z0 + TEX_PERIOD / 2) % TEX_PERIOD) - TEX_PERIOD / 2)[:, None] < rng.uniform(0.8, 2.5)) \
            & (np.abs(l - c0)[None, :] < rng.uniform(0.5, 1.5))
        structure += rng.uniform(-70, 70) * (patch & road)
    detail = np.where(road, 60 * fine, 130 * fine + 60 * (mid > 0.25))
    paint = -rng.uniform(120, 220)
    dashes = (np.abs(l) < 0.075)[None, :] & ((z % 10.0) < 3.0)[:, None]  # centre line, 3 m dash / 10 m
    edges = ((al > ROAD_HALF - 0.35) & (al < ROAD_HALF - 0.2))  # solid edge lines
    detail = detail + paint * (dashes | edges)
    tex = np.stack([structure, detail], axis=-1).astype(np.float32)
    return np.concatenate([tex, tex[:1]], axis=0)


def _backdrop(rng: np.random.Generator, rows: int, width: int, t_grass: float, t_sky_h: float,
              t_zenith: float, scale: float) -> np.ndarray:
    """rows x width float32 counts above the ground, the last row being the horizon; periodic in x.
    Sky colder towards the zenith with faint cloud, over a treeline and a few buildings."""
    d = (rows - 1 - np.arange(rows, dtype=np.float32))[:, None]  # pixels above the horizon
    span = max(rows - 1, 1)
    sky = t_sky_h - (t_sky_h - t_zenith) * np.sqrt(np.clip(d / span, 0, 1))
    cells = tuple(c for c in (64, 32, 16, 8) if width % c == 0) or (width,)
    cloud = fbm(rng, rows, width, cells, periodic=(False, True))
    img = sky + 180 * (cloud - 0.5) * np.clip(d / span * 2, 0, 1)
    prof_cells = tuple(c for c in (128, 32, 8) if width % c == 0) or (width,)
    prof = fbm(rng, 1, width, prof_cells, periodic=(False, True))[0]
    tree_h = scale * (6 + 34 * prof) * (prof > 0.25)  # treeline height in pixels (gaps where low)
    for _ in range(3):  # block buildings
        x0, bw, bh = int(rng.integers(0, width)), int(scale * rng.uniform(20, 60)), scale * rng.uniform(18, 40)
        cols = np.arange(x0, x0 + bw) % width
        tree_h[cols] = np.maximum(tree_h[cols], bh)
    leaves = fbm(rng, rows, width, cells, periodic=(False, True))
    trees = d < tree_h[None, :]
    img = np.where(trees, t_grass - 250 + 220 * (leaves - 0.5), img)
    return img.astype(np.float32)


def _vehicle_template(rng: np.random.Generator, kind: str, t_body: float) -> tuple[np.ndarray, np.ndarray]:
    """A 64x80 (rows x cols) temperature template and alpha (bool) of a vehicle seen from behind
    ("rear") or from the front ("front"); the shape fills the template box."""
    h, w = 64, 80
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    v, u = (yy + 0.5) / h, (xx + 0.5) / w  # 0..1 down, 0..1 right
    cabin_top = 0.08 if kind != "van" else 0.02
    half_w = np.where(v < 0.45, 0.36 + 0.12 * np.clip((v - cabin_top) / (0.45 - cabin_top), 0, 1), 0.49)
    alpha = (np.abs(u - 0.5) < half_w) & (v > cabin_top)
    temp = t_body + 60 * (fbm(rng, h, w, (16, 8)) - 0.5)
    glass = (v > cabin_top + 0.06) & (v < 0.40) & (np.abs(u - 0.5) < half_w - 0.06)
    temp = np.where(glass, t_body - 900 + 40 * v, temp)  # windows reflect the cold sky
    tyres = (v > 0.80) & ((np.abs(u - 0.14) < 0.09) | (np.abs(u - 0.86) < 0.09))
    temp = np.where(tyres, t_body + 450, temp)
    if kind == "front":  # hot engine behind the grille, warm bonnet
        grille = (v > 0.55) & (v < 0.78) & (np.abs(u - 0.5) < 0.3)
        temp = np.where(grille, t_body + 1300 * np.exp(-((u - 0.5) / 0.25) ** 2), temp)
    else:  # hot exhaust low on the left, warm lights
        exhaust = ((u - 0.25) / 0.06) ** 2 + ((v - 0.9) / 0.05) ** 2 < 1
        temp = np.where(exhaust, t_body + 3000, temp)
        lights = (v > 0.5) & (v < 0.6) & ((np.abs(u - 0.1) < 0.06) | (np.abs(u - 0.9) < 0.06))
        temp = np.where(lights, t_body + 300, temp)
    return temp.astype(np.float32), alpha


class _Vehicle:
    """A vehicle in road coordinates: lateral offset `lat` (m), size, and depth Z(t) (m)."""

    def __init__(self, rng: np.random.Generator, role: str, t_ambient: float):
        self.role = role
        if role == "lead":  # ahead of us in our lane, distance breathing 12..32 m
            self.lat, self.size, kind = LANE, (1.8, 1.45), "rear"
            self.z0, self.za, self.period = 22.0, 10.0, rng.uniform(14, 22)
        elif role == "van":  # same direction, other lane, drifting 12..70 m ahead
            self.lat, self.size, kind = -LANE, (2.0, 2.1), "van"
            self.z0, self.za, self.period = 41.0, 29.0, rng.uniform(18, 28)
        else:  # oncoming: from 170 m down past us, then a gap
            self.lat, self.size, kind = -LANE, (1.8, 1.45), "front"
            self.period, self.closing = rng.uniform(7, 10), SPEED + rng.uniform(10, 16)
        self.phase = rng.uniform(0, 2 * math.pi)
        self.temp, self.alpha = _vehicle_template(rng, kind, t_ambient + rng.uniform(150, 400))

    def depth(self, t: float) -> float:
        if self.role == "oncoming":
            return 170.0 - self.closing * ((t + self.phase) % self.period)
        return self.z0 + self.za * math.sin(2 * math.pi * t / self.period + self.phase)


class SyntheticThermalRoadSource(Source):
    """Synthetic LWIR road video with exact road masks (see the module docstring).

    width, height: frame size (>= 64x64).  fps: pacing (None = as fast as possible).  frames: number of
    frames (None = endless).  seed: the whole stream is a function of it.  profile: normalisation profile
    (name, path or NormalizationProfile).  vehicles: 0..3.
    `render(i)` returns (raw HxW uint16, road mask HxW uint8) for frame i; `road_mask(i)` the road
    without the vehicles' occlusion.
    """

    name = "synthetic-thermal"

    def __init__(self, width: int = 640, height: int = 512, fps: float | None = 30.0, frames: int | None = None,
                 seed: int = 0, profile: "NormalizationProfile | str | None" = "default", vehicles: int = 3):
        if width < 64 or height < 64:
            raise SourceError(f"synthetic-thermal frame size {width}x{height} is too small (min 64x64)")
        if frames is not None and frames < 0:
            raise SourceError(f"frames must be >= 0 or None, got {frames}")
        if not 0 <= vehicles <= 3:
            raise SourceError(f"synthetic-thermal vehicles must be 0..3, got {vehicles}")
        try:
            self.profile = load_profile(profile)
        except ProfileError as exc:
            raise SourceError(f"synthetic-thermal: {exc}") from None
        self.width, self.height, self.fps = int(width), int(height), fps
        self.frame_count, self.seed = frames, seed
        w, h = self.width, self.height
        rng = np.random.default_rng(seed)
        self.f = 780.0 * w / 640.0
        self.cx = w / 2.0
        self.yh0 = 0.40 * h
        self._xg = (np.arange(w, dtype=np.float32) + 0.5 - self.cx)  # pixel centres relative to cx
        # Radiometry of this scene (raw counts).
        self.t_grass = float(rng.uniform(7400, 7800))
        self.road_warmer = bool(rng.random() < 0.5)
        self.t_road = self.t_grass + (1 if self.road_warmer else -1) * float(rng.uniform(300, 700))
        t_sky_h = self.t_grass - float(rng.uniform(400, 700))
        t_zenith = t_sky_h - float(rng.uniform(500, 900))
        # Motion: curvature, heading, drift and bounce as sums of sines.
        self._curv = [(rng.uniform(1 / 700, 1 / 400), 2 * math.pi / rng.uniform(18, 30), rng.uniform(0, 2 * math.pi)),
                      (rng.uniform(1 / 2000, 1 / 1000), 2 * math.pi / rng.uniform(7, 12), rng.uniform(0, 2 * math.pi))]
        self._head = (rng.uniform(0.008, 0.02), 2 * math.pi / rng.uniform(9, 15), rng.uniform(0, 2 * math.pi))
        self._drift = (rng.uniform(0.15, 0.4), 2 * math.pi / rng.uniform(6, 11), rng.uniform(0, 2 * math.pi))
        self._bounce = (0.004 * h, 2 * math.pi / 0.9, rng.uniform(0, 2 * math.pi))
        # Textures.
        self._tex = _ground_texture(rng, self.t_grass, self.t_road)
        self._bounce_margin = int(math.ceil(1.4 * self._bounce[0])) + 2  # the bounce peaks at 1.4 a
        self._back_rows = int(self.yh0) + self._bounce_margin + 1
        self._back_w = 2 * w
        self._back = _backdrop(rng, self._back_rows, self._back_w, self.t_grass, t_sky_h, t_zenith, h / 512.0)
        roles = ("lead", "van", "oncoming")[:vehicles]
        self._vehicles = [_Vehicle(rng, r, self.t_grass) for r in roles]
        # Sensor: vignetting x per-pixel gain, per-column offsets, a temporal noise field, defects.
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xx + 0.5 - self.cx) ** 2 + (yy + 0.5 - h / 2) ** 2) / self.f ** 2
        cos4 = 1.0 / (1.0 + r2) ** 2
        self._gain = ((1.0 - 0.08 * (1.0 - cos4)) * (1.0 + rng.normal(0, 0.002, (h, w)))).astype(np.float32)
        self._col_offset = rng.normal(0, 12.0, w).astype(np.float32)
        self._noise_pad = 32
        self._noise = rng.normal(0, 14.0, (h + self._noise_pad, w + self._noise_pad)).astype(np.float32)
        n_def = 3
        flat = rng.choice(h * w, 2 * n_def, replace=False)
        self.dead_pixels = np.unravel_index(flat[:n_def], (h, w))
        self.hot_pixels = np.unravel_index(flat[n_def:], (h, w))

    # --- scene geometry --------------------------------------------------------------------------------------

    def _state(self, i: int) -> dict:
        t = i * SIM_DT
        kappa = sum(a * math.sin(w * t + p) for a, w, p in self._curv)
        theta = sum(-a / w * math.cos(w * t + p) for a, w, p in self._curv) * SPEED  # road heading, integrated
        a, w, p = self._head
        psi = a * math.sin(w * t + p)
        a, w, p = self._drift
        drift = a * math.sin(w * t + p)
        a, w, p = self._bounce
        yh = self.yh0 + a * math.sin(w * t + p) + 0.4 * a * math.sin(2.7 * w * t + 2 * p)
        return {"t": t, "kappa": kappa, "theta": theta, "psi": psi, "drift": drift, "yh": yh, "s": SPEED * t}

    def _centre(self, st: dict, z):
        """Lateral position (m, camera frame) of the road centreline at depth z."""
        return -(LANE + st["drift"]) + st["psi"] * z + 0.5 * st["kappa"] * z * z

    def _ground_rows(self, st: dict) -> tuple[int, np.ndarray]:
        y0 = min(int(math.floor(st["yh"])) + 1, self.height - 1)
        rows = np.arange(y0, self.height, dtype=np.float32) + 0.5
        z = np.minimum(self.f * CAM_HEIGHT / (rows - st["yh"]), Z_MAX).astype(np.float32)
        return y0, z

    def _road_rows(self, st: dict, z: np.ndarray) -> np.ndarray:
        """(n_rows, W) bool: the road region (analytic, without vehicles) for ground rows at depths z."""
        k = z / self.f
        xc = self._centre(st, z)
        xl, xr = (xc - ROAD_HALF) / k, (xc + ROAD_HALF) / k
        return (self._xg[None, :] > xl[:, None]) & (self._xg[None, :] < xr[:, None])

    def road_mask(self, i: int) -> np.ndarray:
        """HxW uint8: the road at frame i ignoring vehicles (1 = road)."""
        st = self._state(i)
        y0, z = self._ground_rows(st)
        mask = np.zeros((self.height, self.width), np.uint8)
        mask[y0:] = self._road_rows(st, z)
        return mask

    # --- rendering ---------------------------------------------------------------------------------------------

    def render(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame i as (raw HxW uint16 counts, road mask HxW uint8 with vehicles cut out)."""
        h, w = self.height, self.width
        st = self._state(i)
        y0, z = self._ground_rows(st)
        scene = np.empty((h, w), np.float32)
        mask = np.zeros((h, w), np.uint8)
        # Sky and treeline: the backdrop rows ending at the horizon, panned with the heading.
        top = self._back_rows - 1 - (y0 - 1)
        shift = int(round(self.f * (st["theta"] - st["psi"]))) % self._back_w
        cols = (np.arange(w) + shift) % self._back_w
        scene[:y0] = self._back[top:top + y0][:, cols]
        # Ground: road-coordinate texture look-up with perspective (one remap).
        k = (z / self.f)[:, None]
        xc = self._centre(st, z)[:, None]
        map_x = self._xg[None, :] * (k / TEX_DL) + ((TEX_LMAX - xc) / TEX_DL - 0.5)
        map_y = np.repeat((((z + st["s"]) % TEX_PERIOD) / TEX_DZ)[:, None], w, axis=1)
        tex = cv2.remap(self._tex, map_x.astype(np.float32, copy=False), map_y, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
        fade = (1.0 / (1.0 + (z / 45.0) ** 2))[:, None]
        scene[y0:] = tex[..., 0] + tex[..., 1] * fade
        mask[y0:] = self._road_rows(st, z)
        # Vehicles, far to near.
        for veh, zv in sorted(((v, v.depth(st["t"])) for v in self._vehicles), key=lambda p: -p[1]):
            self._draw_vehicle(scene, mask, st, veh, zv)
        # Sensor.
        scene *= self._gain
        scene += self._col_offset
        nx, ny = (i * 37) % self._noise_pad, (i * 61) % self._noise_pad
        scene += self._noise[ny:ny + h, nx:nx + w]
        np.clip(scene, 0, RAW_MAX, out=scene)
        raw = scene.astype(np.uint16)
        raw[self.dead_pixels] = 0
        raw[self.hot_pixels] = RAW_MAX
        return raw, mask

    def _draw_vehicle(self, scene: np.ndarray, mask: np.ndarray, st: dict, veh: _Vehicle, zv: float) -> None:
        if not 2.5 < zv < Z_MAX:
            return
        vw, vh = veh.size
        yb = st["yh"] + self.f * CAM_HEIGHT / zv  # bottom row (where the tyres touch the road)
        xm = self.cx + self.f * (self._centre(st, zv) + veh.lat) / zv
        pw, ph = self.f * vw / zv, self.f * vh / zv
        x0, x1 = int(round(xm - pw / 2)), int(round(xm + pw / 2))
        y0, y1 = int(round(yb - ph)), int(round(yb))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        cx0, cx1, cy0, cy1 = max(x0, 0), min(x1, self.width), max(y0, 0), min(y1, self.height)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        interp = cv2.INTER_AREA if pw < veh.temp.shape[1] else cv2.INTER_LINEAR
        temp = cv2.resize(veh.temp, (x1 - x0, y1 - y0), interpolation=interp)
        alpha = cv2.resize(veh.alpha.view(np.uint8), (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST) > 0
        win = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
        a = alpha[win]
        np.copyto(scene[cy0:cy1, cx0:cx1], temp[win], where=a)
        mask[cy0:cy1, cx0:cx1][a] = 0

    def frames(self, start: int = 0) -> Iterator[Frame]:
        """Yields frames start, start + 1, ... (up to `frames`, or forever), paced at `fps` when set."""
        pacer = Pacer(self.fps)
        normalizer = ThermalNormalizer(self.profile)
        i = start
        while self.frame_count is None or i < self.frame_count:
            pacer.wait()
            t = time.monotonic_ns()
            raw, mask = self.render(i)
            yield Frame(image=normalizer(raw), seq=i, t_capture_ns=t, target=mask.copy() if i == 0 else None,
                        gt_mask=mask, name=f"{i:05d}",
                        meta={"source": "synthetic-thermal", "seed": self.seed, "raw": raw, "bits": 14})
            i += 1
