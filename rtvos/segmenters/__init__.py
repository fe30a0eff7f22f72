"""Segmenters by name. The pipeline, evaluation and benchmarks only ever call `create_segmenter`."""

from __future__ import annotations

from typing import Callable

from rtvos.segmenters.protocol import Result, Segmenter, Target, TargetError


def _online(**opts) -> Segmenter:
    from rtvos.segmenters.online import OnlineSegmenter

    return OnlineSegmenter(**opts)


def _crvos(**opts) -> Segmenter:
    from rtvos.segmenters.crvos import CRVOSSegmenter

    return CRVOSSegmenter(**opts)


def _frtm(**opts) -> Segmenter:
    from rtvos.segmenters.frtm import FRTMSegmenter

    return FRTMSegmenter(**opts)


def _frtm_fast(**opts) -> Segmenter:
    from rtvos.segmenters.frtm import FRTMFastSegmenter

    return FRTMFastSegmenter(**opts)


def _plm(**opts) -> Segmenter:
    from rtvos.segmenters.plm import PLMSegmenter

    return PLMSegmenter(**opts)


def _plm_p(**opts) -> Segmenter:
    from rtvos.segmenters.plm import PLMPostSegmenter

    return PLMPostSegmenter(**opts)


def _static(**opts) -> Segmenter:
    from rtvos.segmenters.static import StaticSegmenter

    return StaticSegmenter(**opts)


REGISTRY: dict[str, tuple[Callable[..., Segmenter], str]] = {
    "online": (_online, "FRTM's online target model D (Gauss-Newton/CG) on EfficientNet-Lite0 features"),
    "crvos": (_crvos, "CRVOS: Clue (previous mask + coordinates) refined by three deconv refine modules (trained decoder)"),
    "frtm": (_frtm, "FRTM: the online target model + the offline-trained refinement network R (accurate preset)"),
    "frtm-fast": (_frtm_fast, "FRTM fast preset: c=32, t_s=16, 4 GN steps, 5 CG per update, 256-px processing"),
    "plm": (_plm, "PLM: Siamese pixel-level matching, fine-tuned on the first frame, nine candidates per object"),
    "plm-p": (_plm_p, "PLM_P: PLM + the weighted-median post-process (5x5, 3 passes)"),
    "static": (_static, "baseline: repeats the first mask on every frame (the trivial lower bound)"),
}


def available() -> dict[str, str]:
    return {name: doc for name, (_, doc) in REGISTRY.items()}


def create_segmenter(name: str, **options) -> Segmenter:
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(REGISTRY)}")
    return REGISTRY[name][0](**options)


__all__ = ["Result", "Segmenter", "Target", "TargetError", "available", "create_segmenter"]
