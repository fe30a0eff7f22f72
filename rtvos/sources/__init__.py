"""Frame sources: a synthetic test stream, image folders (DAVIS), video files and cameras.

`open_source(spec)` opens one from a command-line style spec:

    synthetic            640x480 synthetic stream (synthetic:WxH for another size)
    folder:<dir>         a folder of images, e.g. <davis>/JPEGImages/480p/bear (annotations auto-detected)
    video:<file>         a video file
    camera:<index>       a camera by OpenCV index (or a device path, camera:/dev/video2)
    thermal:<path>       a thermal recording: folder of 16-bit PNG/TIFF or .raw files, one .raw file of many
                         frames, or an 8-bit video; normalised with `profile`, undistorted with `calibration`
    synthetic-thermal    640x512 synthetic 14-bit LWIR road scene with road masks (synthetic-thermal:WxH)
    mcap:<file>          a recording of rtvos (rtvos run --record, rtvos record): its frames, stamps and masks

A bare existing directory or file path is taken as folder:/video:, and a bare integer as camera:.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

from rtvos.sizes import parse_size

from .base import Frame, Pacer, Source, SourceError
from .spec import FILE_SCHEMES, SPEC_FORMS, rebase_spec

__all__ = ["Frame", "Source", "SourceError", "Pacer", "LimitedSource", "open_source", "rebase_spec", "SPEC_FORMS",
           "FILE_SCHEMES"]

log = logging.getLogger(__name__)



class LimitedSource(Source):
    """Wraps a source so that it yields at most `n` frames; other attributes (counters such as
    `skipped` or `read_failures`) are read through from the wrapped source."""

    def __init__(self, source: Source, n: int):
        if n < 0:
            raise SourceError(f"frames must be >= 0 or None, got {n}")
        self.source, self.n = source, n
        self.name, self.fps = source.name, source.fps

    def frames(self, start: int = 0) -> Iterator[Frame]:
        if start >= self.n:
            return
        gen = self.source.frames(start)
        try:
            for k, frame in enumerate(gen, start=start + 1):
                yield frame
                if k >= self.n:
                    return  # stop before pulling (and pacing) one more frame
        finally:
            gen.close()

    def close(self) -> None:
        self.source.close()

    @property
    def skipped(self) -> int:
        return self.source.skipped

    @property
    def frame_count(self) -> int:
        return self.n if self.source.frame_count is None else min(self.n, self.source.frame_count)

    def __getattr__(self, attr):  # only called for attributes not found on the wrapper
        if attr == "source":
            raise AttributeError(attr)
        return getattr(self.source, attr)


def _parse_size(text: str) -> tuple[int, int]:
    try:
        return parse_size(text)
    except ValueError:
        raise SourceError(f"bad synthetic size {text!r}: expected WxH (WIDTHxHEIGHT), e.g. synthetic:640x480") from None


def open_source(spec: str, *, fps: float | None = None, frames: int | None = None, width: int | None = None,
                height: int | None = None, seed: int = 0, loop: bool = False, objects: int = 1,
                profile: str | None = None, calibration: str | None = None) -> Source:
    """Opens the source named by `spec` (see the module docstring); raises SourceError when it can't.

    fps: pacing for synthetic/folder/video (None = as fast as possible; synthetic then runs unpaced too),
    a request to the driver for cameras.  frames: at most this many frames (None = all / endless).
    width, height: synthetic frame size (a WxH in the spec wins) or the camera resolution request.
    seed, objects: synthetic stream.  loop: replay folders and video files.
    Thermal sources: width, height give the raw frame size (.raw files); profile is a thermal
    normalisation profile (a name in calibration/thermal/ or a .toml path; None = "default");
    calibration a camera_info YAML for undistortion (thermal:<path> only).
    """
    from .folder import FolderSource
    from .synthetic import SyntheticSource
    from .synthetic_thermal import SyntheticThermalRoadSource
    from .thermal import ThermalSource
    from .video import CameraSource, VideoSource

    spec = spec.strip()
    scheme, sep, arg = spec.partition(":")
    scheme = scheme.lower()
    if not sep and scheme not in ("synthetic", "synthetic-thermal"):  # bare path or index
        if spec.isdigit():
            scheme, arg = "camera", spec
        elif Path(spec).is_dir():
            scheme, arg = "folder", spec
        elif Path(spec).is_file():
            scheme, arg = "video", spec
    if scheme == "synthetic":
        w, h = _parse_size(arg) if arg else (width or 640, height or 480)
        return SyntheticSource(width=w, height=h, fps=fps, frames=frames, seed=seed, objects=objects)
    if scheme == "synthetic-thermal":
        if calibration:
            log.warning("synthetic-thermal has no lens distortion: ignoring calibration %s", calibration)
        w, h = _parse_size(arg) if arg else (width or 640, height or 512)
        return SyntheticThermalRoadSource(width=w, height=h, fps=fps, frames=frames, seed=seed,
                                          profile=profile or "default")
    if scheme == "folder" and arg:
        src: Source = FolderSource(arg, fps=fps, loop=loop)
    elif scheme == "video" and arg:
        src = VideoSource(arg, fps=fps, loop=loop)
    elif scheme == "thermal" and arg:
        src = ThermalSource(arg, profile=profile, calibration=calibration, width=width, height=height,
                            fps=fps, loop=loop)
    elif scheme == "mcap" and arg:
        from .mcap import McapSource  # noqa: PLC0415 (the MCAP libraries load only when needed)

        src = McapSource(arg, fps=fps)
    elif scheme == "camera":
        index: int | str = int(arg) if arg.strip().isdigit() else (arg or 0)
        src = CameraSource(index, width=width, height=height, fps=fps)
    else:
        raise SourceError(f"unknown source {spec!r}: valid forms are {SPEC_FORMS}")
    return LimitedSource(src, frames) if frames is not None else src
