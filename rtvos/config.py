"""Run configuration: dataclasses loaded from a TOML launch file, then overridden by command-line flags.

A launch file looks like `launch/synthetic_demo.toml`:

    [source]    spec, fps, frames, width, height, seed, loop, target_mask, target_box, profile, calibration
    [model]     name, device, [model.options]
    [endpoints] publish, allow_remote, frames, results, stats
    [budgets]   capture_ms, infer_ms, publish_ms, end_to_end_ms
    [publish]   encoding, camera_id, frame_id, images
    [record]    mcap, foxglove, image_format
    [monitor]   status_interval_s, stats_json, heartbeat_timeout_s, max_restarts, metrics, http
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from rtvos.models.target import DEFAULT_BOX_INIT


class ConfigError(ValueError):
    pass


@dataclass
class SourceConfig:
    spec: str = "synthetic"
    fps: float | None = 30.0          # real-time pacing; 0 or None = as fast as possible
    frames: int | None = None         # stop after N frames (None = until the source ends / Ctrl-C)
    width: int | None = None
    height: int | None = None
    seed: int = 0
    loop: bool = False
    target_mask: str | None = None    # PNG label mask for the first frame (0 bg, k = object k)
    target_box: list[float] | None = None  # x0, y0, x1, y1 on the first frame (object 1)
    box_init: str = DEFAULT_BOX_INIT  # how a box becomes a first mask: grabcut | lse | lse+grabcut (rtvos.models.target)
    profile: str | None = None        # thermal sources: normalisation profile (name in calibration/thermal/ or .toml)
    calibration: str | None = None    # thermal:<path> sources: camera_info YAML for undistortion
    every_frame: bool = False         # no frame dropped: capture waits for the model (recordings, not cameras)


@dataclass
class ModelConfig:
    name: str = "online"
    options: dict = field(default_factory=dict)
    threads: int | None = None        # torch intra-op threads in the infer process (None = all cores)


@dataclass
class EndpointConfig:
    publish: str = "tcp://127.0.0.1:5555"   # the public mask + stats topic (PUB)
    control: str | None = None        # target changes; default: ipc in the run's private directory (only you
                                      # can reach it; `rtvos ctl` finds it); "none": off; or tcp://HOST:PORT
    control_keys: str | None = None   # CURVE keys (rtvos keys DIR) for a control socket off this host
    allow_remote: bool = False
    frames: str | None = None         # capture -> infer (default: private ipc://)
    results: str | None = None        # infer -> publish (default: private ipc://)
    stats: str | None = None          # stages -> supervisor (default: private ipc://)


@dataclass
class BudgetConfig:
    capture_ms: float = 15.0
    infer_ms: float = 60.0
    publish_ms: float = 10.0
    end_to_end_ms: float = 100.0

    def as_dict(self) -> dict[str, float]:
        return {"capture": self.capture_ms, "infer": self.infer_ms,
                "publish": self.publish_ms, "end_to_end": self.end_to_end_ms}


@dataclass
class PublishConfig:
    encoding: str = "mono8"
    camera_id: str = "cam0"
    frame_id: str | None = None       # the camera's frame in ROS terms (header frame_id); default: camera_id
    images: bool = False              # also publish the frames (topic "image"), e.g. for `rtvos view`


@dataclass
class RecordConfig:
    mcap: str | None = None           # record the run's topics as ROS 2 messages to this MCAP file
    foxglove: str | None = None       # serve them live over the Foxglove WebSocket protocol: [HOST:]PORT
    image_format: str = "jpeg"        # frames in the recording: jpeg (CompressedImage) or raw (Image rgb8)

    @property
    def enabled(self) -> bool:
        return bool(self.mcap or self.foxglove)


@dataclass
class MonitorConfig:
    status_interval_s: float = 1.0
    stats_json: str | None = None
    heartbeat_timeout_s: float = 10.0
    max_restarts: int = 3
    metrics: list[str] = field(default_factory=lambda: ["live_iou"])  # with ground truth: live_iou, road_error_rate
    http: str | None = None           # [HOST:]PORT serving /metrics (Prometheus) and /health (rtvos run --metrics)


@dataclass
class RunConfig:
    source: SourceConfig = field(default_factory=SourceConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    endpoints: EndpointConfig = field(default_factory=EndpointConfig)
    budgets: BudgetConfig = field(default_factory=BudgetConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    record: RecordConfig = field(default_factory=RecordConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, origin: str = "config") -> "RunConfig":
        cfg = cls()
        sections = {f.name: f for f in dataclasses.fields(cls)}
        for key, value in data.items():
            if key not in sections:
                raise ConfigError(f"{origin}: unknown section [{key}]; known: {', '.join(sections)}")
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: [{key}] must be a table")
            setattr(cfg, key, build_dataclass(getattr(cfg, key).__class__, value, f"{origin} [{key}]"))
        return cfg


def control_endpoint(ep: EndpointConfig, private_dir: str) -> str | None:
    """The control socket's endpoint: as configured, else ipc in the run's private directory."""
    if ep.control is None:
        return f"ipc://{private_dir}/control.sock"
    return None if ep.control.lower() == "none" else ep.control


def build_dataclass(klass, values: dict, where: str, noun: str = "key", error: type[Exception] = ConfigError):
    """`klass(**values)`, but unknown names are an `error` that names them and lists the known ones."""
    names = {f.name for f in dataclasses.fields(klass)}
    unknown = set(values) - names
    if unknown:
        raise error(f"{where}: unknown {noun}(s) {sorted(unknown)}; known: {sorted(names)}")
    return klass(**values)


def read_toml(path: Path, error: type[Exception] = ConfigError) -> dict:
    """A TOML file as a dict; a syntax error becomes `error` naming the file."""
    try:
        return tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None


def rebase_paths(cfg: RunConfig, base: str | Path) -> RunConfig:
    """Relative paths in a launch file are relative to the launch file's folder `base`: the source's
    file or folder, its target mask, calibration and profile file, the control keys, the statistics and
    the recording (a command-line flag given on top stays relative to where the command runs)."""
    from rtvos.sources.spec import rebase_spec  # noqa: PLC0415

    def rebased(path: str | None) -> str | None:
        return path if path is None or Path(path).is_absolute() else str(Path(base) / path)

    src = cfg.source
    src.spec = rebase_spec(src.spec, base)
    src.target_mask, src.calibration = rebased(src.target_mask), rebased(src.calibration)
    if src.profile and (src.profile.endswith(".toml") or "/" in src.profile):  # a file, not a profile name
        src.profile = rebased(src.profile)
    cfg.endpoints.control_keys = rebased(cfg.endpoints.control_keys)
    cfg.monitor.stats_json = rebased(cfg.monitor.stats_json)
    cfg.record.mcap = rebased(cfg.record.mcap)
    return cfg


def load_launch(path: str | Path | None) -> RunConfig:
    """Read a launch file (TOML), its relative paths taken relative to it. None gives the defaults."""
    if path is None:
        return RunConfig()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"launch file {path} not found (shipped ones are in launch/)")
    return rebase_paths(RunConfig.from_dict(read_toml(path), origin=str(path)), path.parent)
