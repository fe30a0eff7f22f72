"""What `rtvos run` checks before anything is started or any model loaded, so that a bad argument or
target fails at once with the reason (exit code 2): every endpoint is local unless allowed (the
control socket needs keys to be anything else; the servers -- Foxglove, metrics -- listen on loopback unless
allowed too), the source opens and yields a frame (its size is then
what the model builds its engines for), fps and frame counts are not negative, and a target mask or
box fits that frame and marks something."""

from __future__ import annotations

from rtvos.config import RunConfig
from rtvos.models.target import Target, TargetError, as_target, check_box_init, read_target_mask
from rtvos.sources import SourceError, open_source
from rtvos.transport import EndpointError, check_endpoint, is_local, listen_address


class PreflightError(ValueError):
    """The run cannot go as configured; the message says why."""


def check_endpoints(cfg: RunConfig) -> None:
    """Every endpoint the run binds is loopback or ipc unless remote ones are allowed; the control socket
    is never reachable from other hosts without CURVE keys, allowed or not."""
    ep = cfg.endpoints
    try:
        for name in ("publish", "frames", "results", "stats"):
            if getattr(ep, name):
                check_endpoint(getattr(ep, name), ep.allow_remote)
        if ep.control and ep.control.lower() != "none" and not ep.control_keys and not is_local(ep.control):
            raise EndpointError(f"the control socket {ep.control} would let anyone who reaches this host change the "
                                "targets: give it CURVE keys (`rtvos keys DIR`, then [endpoints] control_keys = "
                                "\"DIR\"), or keep it local (the default)")
        for flag, where in (("--foxglove", cfg.record.foxglove), ("--metrics", cfg.monitor.http)):
            if where:
                listen_address(where, ep.allow_remote, flag)
    except EndpointError as exc:
        raise PreflightError(str(exc)) from None


def preflight(cfg: RunConfig) -> tuple[tuple[int, int], bool]:
    """((height, width) of the source's frames, whether a first-frame target is given)."""
    check_endpoints(cfg)
    sc = cfg.source
    if sc.fps is not None and sc.fps < 0:
        raise PreflightError(f"--fps must be >= 0 (0 = as fast as possible), got {sc.fps:g}")
    if sc.frames is not None and sc.frames < 0:
        raise PreflightError(f"--frames must be >= 0, got {sc.frames}")
    try:
        source = open_source(sc.spec, fps=None, frames=1, width=sc.width, height=sc.height, seed=sc.seed,
                             profile=sc.profile, calibration=sc.calibration)
        with source:
            first = next(iter(source.frames()), None)
    except SourceError as exc:
        raise PreflightError(f"source {sc.spec!r}: {exc}") from None
    if first is None:
        raise PreflightError(f"source {sc.spec!r} has no frames")
    h, w = first.height, first.width
    try:
        check_box_init(sc.box_init)  # also used later, by `rtvos ctl add/set --box`
        if sc.target_mask:
            as_target(read_target_mask(sc.target_mask), h, w)
        if sc.target_box:
            if len(sc.target_box) != 4:
                raise TargetError(f"a box is x0,y0,x1,y1, got {sc.target_box}")
            as_target(Target.from_boxes({1: tuple(sc.target_box)}, sc.box_init), h, w)
    except TargetError as exc:
        raise PreflightError(f"target: {exc}") from None
    return (h, w), bool(sc.target_mask or sc.target_box or first.target is not None)
