"""Radiometric normalisation: raw 14/16-bit (or 8-bit) thermal frames -> HxWx3 uint8 RGB for the segmenters.

Methods (chosen by a `NormalizationProfile`, usually loaded from `calibration/thermal/<name>.toml`):

    percentile  robust min/max stretch: the `low_pct` / `high_pct` percentiles of the frame map to 0 / 255
    clahe       the percentile stretch, then OpenCV CLAHE (contrast-limited adaptive histogram equalisation)
    minmax      plain min/max stretch over the valid pixels

Dead (0) and hot (saturated) pixels are left out of the statistics: a pixel is valid when
0 < value < saturation (`saturation` defaults to the dtype's maximum, 255 or 65535; set 16383 for a
14-bit camera).  `despeckle` adds a 3x3 median pass over the raw frame that removes isolated
dead/hot pixels from the output too.  Percentiles are taken on every `subsample`-th row and column.

Brightness must not flicker from frame to frame, so the stretch bounds are smoothed over time with an
exponential moving average: bounds = ema * previous + (1 - ema) * this frame's (ema = 0: no smoothing).
That state lives in a `ThermalNormalizer` object, one per stream.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rtvos.config import read_toml

METHODS = ("percentile", "clahe", "minmax")


class ProfileError(ValueError):
    """A normalisation profile is missing or invalid."""


@dataclass
class NormalizationProfile:
    """How to turn raw thermal counts into 8-bit grey (see the module docstring).

    method: "percentile" | "clahe" | "minmax".  low_pct, high_pct: stretch percentiles (0..100).
    clahe_clip: CLAHE clip limit.  clahe_tiles: CLAHE tile grid (n -> n x n, or [columns, rows]).
    ema: weight of the previous bounds in the temporal smoothing, 0 <= ema < 1 (0 = off).
    despeckle: 3x3 median over the raw frame first.  subsample: statistics on every n-th row/column.
    min_span: the stretch never spans fewer raw counts than this (keeps flat scenes from exploding noise).
    saturation: raw values >= this are "hot" and left out of the statistics (None = dtype maximum).
    """

    method: str = "percentile"
    low_pct: float = 1.0
    high_pct: float = 99.0
    clahe_clip: float = 2.0
    clahe_tiles: int | list[int] = 8
    ema: float = 0.9
    despeckle: bool = False
    subsample: int = 4
    min_span: float = 32.0
    saturation: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ProfileError(f"unknown normalisation method {self.method!r}; use one of {', '.join(METHODS)}")
        if not 0.0 <= self.low_pct < self.high_pct <= 100.0:
            raise ProfileError(f"need 0 <= low_pct < high_pct <= 100, got {self.low_pct}, {self.high_pct}")
        if not 0.0 <= self.ema < 1.0:
            raise ProfileError(f"ema must be in [0, 1), got {self.ema}")
        if self.clahe_clip <= 0:
            raise ProfileError(f"clahe_clip must be > 0, got {self.clahe_clip}")
        tiles = self.tile_grid
        if min(tiles) < 1:
            raise ProfileError(f"clahe_tiles must be >= 1, got {self.clahe_tiles}")
        if int(self.subsample) < 1:
            raise ProfileError(f"subsample must be >= 1, got {self.subsample}")
        if self.min_span <= 0:
            raise ProfileError(f"min_span must be > 0, got {self.min_span}")
        if self.saturation is not None and self.saturation < 2:
            raise ProfileError(f"saturation must be >= 2 or unset, got {self.saturation}")

    @property
    def tile_grid(self) -> tuple[int, int]:
        """(columns, rows) of the CLAHE tile grid."""
        t = self.clahe_tiles
        if isinstance(t, (list, tuple)):
            if len(t) != 2:
                raise ProfileError(f"clahe_tiles must be n or [columns, rows], got {t}")
            return int(t[0]), int(t[1])
        return int(t), int(t)

    @classmethod
    def from_dict(cls, data: dict, origin: str = "profile") -> "NormalizationProfile":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ProfileError(f"{origin}: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
        try:
            return cls(**data)
        except ProfileError as exc:
            raise ProfileError(f"{origin}: {exc}") from None


def profile_dir() -> Path:
    """The shipped profiles: `<repo>/calibration/thermal`, found relative to the package."""
    return Path(__file__).resolve().parents[2] / "calibration" / "thermal"


def available_profiles(directory: str | Path | None = None) -> list[str]:
    d = Path(directory) if directory is not None else profile_dir()
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def load_profile(path_or_name: "str | Path | NormalizationProfile | None" = None, *,
                 directory: str | Path | None = None) -> NormalizationProfile:
    """A profile from a TOML file path, or by bare name from `calibration/thermal/<name>.toml`.

    None means "default".  A NormalizationProfile is returned as is.  The TOML file holds the
    NormalizationProfile fields as top-level keys (see calibration/thermal/default.toml).
    """
    if isinstance(path_or_name, NormalizationProfile):
        return path_or_name
    spec = "default" if path_or_name is None else str(path_or_name)
    p = Path(spec)
    looks_like_path = p.suffix == ".toml" or "/" in spec or "\\" in spec
    if not looks_like_path:
        d = Path(directory) if directory is not None else profile_dir()
        p = d / f"{spec}.toml"
        if not p.is_file():
            names = available_profiles(d)
            raise ProfileError(f"no thermal normalisation profile {spec!r} in {d}; available: "
                               f"{', '.join(names) if names else '(none)'} (or give a path to a .toml file)")
    elif not p.is_file():
        raise ProfileError(f"thermal normalisation profile file {p} not found")
    return NormalizationProfile.from_dict(read_toml(p, ProfileError), origin=str(p))


class ThermalNormalizer:
    """Normalises a stream of raw frames with one profile; keeps the smoothed bounds between frames.

    `normalizer(raw)` takes an HxW uint8/uint16 frame and returns HxWx3 uint8 RGB (grey replicated).
    `bounds` is the (low, high) raw range used for the last frame; `reset()` forgets the history.
    """

    def __init__(self, profile: "NormalizationProfile | str | Path | None" = None):
        self.profile = load_profile(profile)
        self.bounds: tuple[float, float] | None = None
        self._clahe = (cv2.createCLAHE(clipLimit=float(self.profile.clahe_clip),
                                       tileGridSize=self.profile.tile_grid)
                       if self.profile.method == "clahe" else None)

    def reset(self) -> None:
        self.bounds = None

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(self.grey(raw), cv2.COLOR_GRAY2RGB)

    def grey(self, raw: np.ndarray) -> np.ndarray:
        """The normalised frame as HxW uint8."""
        if raw.ndim != 2 or raw.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"thermal frames must be HxW uint8 or uint16, got {raw.dtype} {raw.shape}")
        prof = self.profile
        if prof.despeckle:
            raw = cv2.medianBlur(raw, 3)
        lo, hi = self._frame_bounds(raw)
        if self.bounds is not None and prof.ema > 0:
            plo, phi = self.bounds
            lo = prof.ema * plo + (1.0 - prof.ema) * lo
            hi = prof.ema * phi + (1.0 - prof.ema) * hi
        self.bounds = (lo, hi)
        hi = max(hi, lo + prof.min_span)
        alpha = 255.0 / (hi - lo)
        # dst = saturate_cast<uint8>(raw * alpha - lo * alpha), rounded: one pass, no float copy.
        out = cv2.addWeighted(raw, alpha, raw, 0.0, -lo * alpha, dtype=cv2.CV_8U)
        if self._clahe is not None:
            out = self._clahe.apply(out)
        return out

    def _frame_bounds(self, raw: np.ndarray) -> tuple[float, float]:
        prof = self.profile
        top = prof.saturation if prof.saturation is not None else int(np.iinfo(raw.dtype).max)
        if prof.method == "minmax":
            valid = ((raw > 0) & (raw < top)).view(np.uint8)
            if not valid.any():
                return float(raw.min()), float(raw.max())
            lo, hi, _, _ = cv2.minMaxLoc(raw, valid)
            return float(lo), float(hi)
        s = int(prof.subsample)
        sub = raw[::s, ::s]
        vals = sub[(sub > 0) & (sub < top)]
        if vals.size == 0:  # nothing valid (a blank frame): use everything
            vals = sub.ravel()
        lo, hi = np.percentile(vals, (prof.low_pct, prof.high_pct))
        return float(lo), float(hi)


def normalize(raw: np.ndarray, profile: "NormalizationProfile | str | Path | None" = None) -> np.ndarray:
    """One frame, no temporal smoothing: HxW uint8/uint16 -> HxWx3 uint8 RGB."""
    return ThermalNormalizer(profile)(raw)
