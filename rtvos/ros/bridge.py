"""Masks (with their frames) and statistics from a run's topic, handed to the sinks that take them: an
MCAP recording and the Foxglove live server. Used by the pipeline's record stage (`rtvos run --record
F.mcap --foxglove PORT`) and by `rtvos record --connect ...` on a run that is already going."""

from __future__ import annotations

from dataclasses import dataclass

from rtvos.config import RecordConfig
from rtvos.thermal.undistort import Undistorter
from rtvos.transport import listen_address


def camera_of(calibration: str | None) -> dict | None:
    """The camera_info of the frames a thermal source with this calibration publishes: they are
    undistorted, so the new camera matrix and no distortion."""
    if not calibration:
        return None
    u = Undistorter(calibration)
    w, h = u.size
    return {"k": u.new_camera_matrix, "height": h, "width": w}


@dataclass
class Bridge:
    sinks: list

    @classmethod
    def open(cls, cfg: RecordConfig, calibration: str | None = None, allow_remote: bool = False) -> "Bridge":
        """The sinks `cfg` asks for; raises EndpointError for a Foxglove address it may not serve."""
        sinks = []
        if cfg.mcap:
            from rtvos.ros.mcap_file import McapRecorder  # noqa: PLC0415

            sinks.append(McapRecorder(cfg.mcap, cfg.image_format, camera_of(calibration)))
        if cfg.foxglove:
            from rtvos.ros.foxglove_live import FoxgloveLive  # noqa: PLC0415

            sinks.append(FoxgloveLive(*listen_address(cfg.foxglove, allow_remote, "--foxglove")))
        return cls(sinks)

    def mask(self, msg) -> None:
        for sink in self.sinks:
            sink.mask(msg.header, msg.mask, msg.image)

    def stats(self, payload: dict) -> None:
        for sink in self.sinks:
            sink.stats(payload)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()
