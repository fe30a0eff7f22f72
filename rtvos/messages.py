"""Wire format: multipart ZeroMQ messages `[header, buffer, ...]`.

The header is a small msgpack dict with a schema version; buffers are raw pixels (sent with copy=False).
No pickle anywhere.  Field names follow ROS 2 `sensor_msgs/Image` where they overlap (height, width,
encoding, step), so a ROS bridge is a thin mapping.

Kinds of message:

- ``frame``  capture -> infer: header + RGB image buffer (+ optional target mask buffer).
- ``mask``   infer -> publish -> subscribers: header + label mask buffer (``mono8``: 0 background,
  k = object k; or ``png``: the same mask PNG-encoded, lossless).
- ``eos``    end of stream (the source ran out, or the run is stopping), header only.
- ``stats``  the live statistics on the public topic; and every stage's reports to the supervisor
  (`StageReport`: ready, heartbeats and the final report with typed counters, errors).
- ``control`` / ``reply``  target changes on the control socket and their outcome (`ControlReply`).

On the public PUB socket every message is prefixed with a topic frame (``b"mask"``, ``b"stats"``, and
``b"image"`` when the run publishes its frames too) so subscribers can filter; internal PUSH/PULL links
carry no topic frame. On the internal infer -> publish link a mask message may carry extra buffers
after the mask (ground truth, the image), named in order by the header's ``extras`` list.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import cv2
import msgpack
import numpy as np

SCHEMA_VERSION = 1
MAX_HEADER_BYTES = 64 * 1024
MAX_BUFFER_BYTES = 64 * 1024 * 1024  # a 4K RGB frame is ~25 MB

TOPIC_MASK = b"mask"
TOPIC_STATS = b"stats"
TOPIC_IMAGE = b"image"  # optional: the frames themselves (frame messages), for viewers and recorders

ENCODINGS = ("mono8", "png")


class MessageError(ValueError):
    """A message that does not follow the schema. The stage that gets one counts it and goes on."""


def pack_header(header: dict) -> bytes:
    data = msgpack.packb(header, use_bin_type=True)
    if len(data) > MAX_HEADER_BYTES:
        raise MessageError(f"header of {len(data)} bytes exceeds the {MAX_HEADER_BYTES}-byte limit")
    return data


def unpack_header(data: bytes | memoryview) -> dict:
    if len(data) > MAX_HEADER_BYTES:
        raise MessageError(f"header of {len(data)} bytes exceeds the {MAX_HEADER_BYTES}-byte limit")
    try:
        header = msgpack.unpackb(
            bytes(data), raw=False, strict_map_key=True,
            max_str_len=MAX_HEADER_BYTES, max_bin_len=MAX_HEADER_BYTES,
            max_array_len=4096, max_map_len=4096, max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises several types for garbage input
        raise MessageError(f"header is not valid msgpack: {exc}") from None
    if not isinstance(header, dict):
        raise MessageError(f"header must be a map, got {type(header).__name__}")
    v = header.get("v")
    if v != SCHEMA_VERSION:
        raise MessageError(f"unsupported schema version {v!r} (this build speaks {SCHEMA_VERSION})")
    kind = header.get("kind")
    if kind not in ("frame", "mask", "eos", "stats", "control", "reply"):
        raise MessageError(f"unknown message kind {kind!r}")
    return header


def _require_int(header: dict, key: str, lo: int = 0, hi: int = 1 << 62) -> int:
    value = header.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise MessageError(f"header field {key!r} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def buffer_as_array(buf, shape: tuple[int, ...], what: str) -> np.ndarray:
    mv = memoryview(buf)
    expected = int(np.prod(shape))
    if mv.nbytes != expected:
        raise MessageError(f"{what} buffer has {mv.nbytes} bytes, expected {expected} for shape {shape}")
    return np.frombuffer(mv, dtype=np.uint8).reshape(shape)


# ---------------------------------------------------------------------------------------------- frames

def encode_frame(image: np.ndarray, seq: int, t_capture_ns: int, *, camera_id: str = "cam0",
                 target: np.ndarray | None = None, boxes: dict | None = None,
                 gt_mask: np.ndarray | None = None, name: str | None = None,
                 stamps: dict | None = None) -> list:
    """capture -> infer. Returns the multipart list [header, image, (target), (gt)]."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise MessageError(f"frame image must be HxWx3 uint8, got {image.shape} {image.dtype}")
    h, w = image.shape[:2]
    parts = [None, np.ascontiguousarray(image)]
    extras = []
    for label, arr in (("target", target), ("gt", gt_mask)):
        if arr is not None:
            if arr.shape != (h, w):
                raise MessageError(f"{label} mask is {arr.shape}, frame is {(h, w)}")
            parts.append(np.ascontiguousarray(arr, dtype=np.uint8))
            extras.append(label)
    header = {
        "v": SCHEMA_VERSION, "kind": "frame", "seq": int(seq), "camera_id": camera_id,
        "t_capture_ns": int(t_capture_ns), "stamps": dict(stamps or {}),
        "height": h, "width": w, "encoding": "rgb8", "step": w * 3, "extras": extras,
    }
    if boxes:
        header["boxes"] = {str(k): [float(c) for c in b] for k, b in boxes.items()}
    if name is not None:
        header["name"] = str(name)
    parts[0] = pack_header(header)
    return parts


@dataclass
class FrameMessage:
    header: dict
    image: np.ndarray
    target: np.ndarray | None = None
    gt_mask: np.ndarray | None = None

    @property
    def seq(self) -> int:
        return self.header["seq"]

    @property
    def boxes(self) -> dict[int, tuple]:
        return {int(k): tuple(v) for k, v in self.header.get("boxes", {}).items()}

    @property
    def has_target(self) -> bool:
        return self.target is not None or bool(self.header.get("boxes"))


def decode_frame(parts: list, header: dict | None = None) -> FrameMessage:
    header = header if header is not None else unpack_header(parts[0])
    if header["kind"] != "frame":
        raise MessageError(f"expected a frame message, got {header['kind']!r}")
    _require_int(header, "seq")
    _require_int(header, "t_capture_ns")
    h = _require_int(header, "height", 1, 16384)
    w = _require_int(header, "width", 1, 16384)
    if header.get("encoding") != "rgb8":
        raise MessageError(f"frame encoding must be 'rgb8', got {header.get('encoding')!r}")
    extras = header.get("extras", [])
    if not isinstance(extras, list) or len(parts) != 2 + len(extras):
        raise MessageError(f"frame message has {len(parts)} parts, header announces {2 + len(extras)}")
    if h * w * 3 > MAX_BUFFER_BYTES:
        raise MessageError(f"frame of {w}x{h} exceeds the buffer size limit")
    image = buffer_as_array(parts[1], (h, w, 3), "image")
    out = FrameMessage(header=header, image=image)
    for label, buf in zip(extras, parts[2:]):
        arr = buffer_as_array(buf, (h, w), label)
        if label == "target":
            out.target = arr
        elif label == "gt":
            out.gt_mask = arr
        else:
            raise MessageError(f"unknown extra buffer {label!r}")
    boxes = header.get("boxes", {})
    if not isinstance(boxes, dict) or any(not (isinstance(b, list) and len(b) == 4) for b in boxes.values()):
        raise MessageError("boxes must map object id -> [x0, y0, x1, y1]")
    return out


# ----------------------------------------------------------------------------------------------- masks

def encode_mask(mask: np.ndarray, seq: int, t_capture_ns: int, *, camera_id: str, model: str,
                objects: list[dict], stamps: dict, encoding: str = "mono8", extra: dict | None = None,
                name: str | None = None) -> list:
    """infer -> publish -> subscribers. Returns [header, buffer]."""
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise MessageError(f"mask must be HxW uint8, got {mask.shape} {mask.dtype}")
    if encoding not in ENCODINGS:
        raise MessageError(f"mask encoding must be one of {ENCODINGS}, got {encoding!r}")
    h, w = mask.shape
    if encoding == "png":
        ok, png = cv2.imencode(".png", mask)
        if not ok:
            raise MessageError("PNG encoding of the mask failed")
        buf = png.tobytes()
    else:
        buf = np.ascontiguousarray(mask)
    header = {
        "v": SCHEMA_VERSION, "kind": "mask", "seq": int(seq), "camera_id": camera_id,
        "t_capture_ns": int(t_capture_ns), "stamps": dict(stamps),
        "height": h, "width": w, "encoding": encoding, "step": w, "is_bigendian": 0,
        "model": model, "objects": objects,
    }
    if name is not None:
        header["name"] = name
    if extra:
        header.update(extra)
    return [pack_header(header), buf]


@dataclass
class MaskMessage:
    header: dict
    mask: np.ndarray

    @property
    def seq(self) -> int:
        return self.header["seq"]

    @property
    def objects(self) -> list[dict]:
        return self.header.get("objects", [])


def decode_mask(parts: list, header: dict | None = None) -> MaskMessage:
    header = header if header is not None else unpack_header(parts[0])
    if header["kind"] != "mask":
        raise MessageError(f"expected a mask message, got {header['kind']!r}")
    if len(parts) != 2:
        raise MessageError(f"mask message must have 2 parts (header, buffer), got {len(parts)}")
    _require_int(header, "seq")
    h = _require_int(header, "height", 1, 16384)
    w = _require_int(header, "width", 1, 16384)
    enc = header.get("encoding")
    if enc == "mono8":
        mask = buffer_as_array(parts[1], (h, w), "mask")
    elif enc == "png":
        data = np.frombuffer(memoryview(parts[1]), dtype=np.uint8)
        if data.nbytes > MAX_BUFFER_BYTES:
            raise MessageError("PNG mask exceeds the buffer size limit")
        mask = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if mask is None or mask.shape != (h, w):
            raise MessageError("PNG mask does not decode to the announced height x width")
    else:
        raise MessageError(f"unknown mask encoding {enc!r}")
    if not isinstance(header.get("objects", []), list):
        raise MessageError("objects must be a list")
    return MaskMessage(header=header, mask=mask)


# ------------------------------------------------------------------------------------ end of stream

def encode_eos() -> list:
    return [pack_header({"v": SCHEMA_VERSION, "kind": "eos"})]


def encode_stats(stats: dict) -> bytes:
    """The public statistics topic's header (see LiveStats.topic_payload)."""
    return pack_header({"v": SCHEMA_VERSION, "kind": "stats", **stats})


# --------------------------------------------------------------------------------------------- control
CONTROL_OPS = ("set_target", "add_object", "remove_object", "reset", "stats")


@dataclass
class ControlRequest:
    """A request on the control socket: header {"v", "kind": "control", "op", ...} + optional PNG mask.

    set_target     mask (label PNG: 0 background, k = object k) or boxes {id: [x0, y0, x1, y1]}
    add_object     id + mask (PNG, nonzero = the object) or box [x0, y0, x1, y1]
    remove_object  id
    reset          stop following everything (empty masks until a new target)
    stats          the infer stage's counters and the objects followed
    """

    op: str
    object_id: int | None = None
    mask: np.ndarray | None = None
    box: tuple | None = None
    boxes: dict | None = None


def encode_control(op: str, *, object_id: int | None = None, mask: np.ndarray | None = None,
                   box=None, boxes: dict | None = None) -> list:
    header = {"v": SCHEMA_VERSION, "kind": "control", "op": op}
    if object_id is not None:
        header["id"] = int(object_id)
    if box is not None:
        header["box"] = [float(c) for c in box]
    if boxes:
        header["boxes"] = {str(k): [float(c) for c in b] for k, b in boxes.items()}
    parts = [pack_header(header)]
    if mask is not None:
        ok, png = cv2.imencode(".png", np.ascontiguousarray(mask, dtype=np.uint8))
        if not ok:
            raise MessageError("PNG encoding of the mask failed")
        parts.append(png.tobytes())
    return parts


def decode_control(parts: list) -> ControlRequest:
    if not parts or len(parts) > 2:
        raise MessageError(f"control request must have 1 or 2 parts (header, optional PNG), got {len(parts)}")
    header = unpack_header(parts[0])
    if header["kind"] != "control":
        raise MessageError(f"expected a control request, got {header['kind']!r}")
    op = header.get("op")
    if op not in CONTROL_OPS:
        raise MessageError(f"unknown op {op!r}; one of {', '.join(CONTROL_OPS)}")
    req = ControlRequest(op=op)
    if "id" in header:
        req.object_id = _require_int(header, "id", 1, 255)
    if op in ("add_object", "remove_object") and req.object_id is None:
        raise MessageError(f"{op} needs an object id (1..255)")
    if len(parts) == 2:
        data = np.frombuffer(memoryview(parts[1]), np.uint8)
        if data.nbytes > MAX_BUFFER_BYTES:
            raise MessageError("mask PNG exceeds the buffer size limit")
        try:
            mask = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
        except cv2.error:
            mask = None
        if mask is None or mask.ndim != 2:
            raise MessageError("the mask part is not a single-channel PNG")
        req.mask = mask.astype(np.uint8)
    box = header.get("box")
    if box is not None:
        if not (isinstance(box, list) and len(box) == 4 and all(isinstance(c, (int, float)) for c in box)):
            raise MessageError("box must be [x0, y0, x1, y1]")
        req.box = tuple(box)
    boxes = header.get("boxes")
    if boxes is not None:
        try:
            req.boxes = {int(k): tuple(float(c) for c in v) for k, v in boxes.items()}
        except (TypeError, ValueError, AttributeError):
            req.boxes = None
        if not req.boxes or any(len(b) != 4 for b in req.boxes.values()):
            raise MessageError("boxes must map object id -> [x0, y0, x1, y1]")
    if op == "set_target" and req.mask is None and not req.boxes:
        raise MessageError("set_target needs a mask PNG or boxes")
    if op == "add_object" and req.mask is None and req.box is None:
        raise MessageError("add_object needs a mask PNG or a box")
    return req


# -------------------------------------------------------------------------------------- typed fields
def _typed(value, kind, what: str):
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise MessageError(f"{what} must be {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return float(value) if kind is float else value


def _number_map(value, what: str, kind=float, nullable: bool = False) -> dict:
    """A map of str -> number (or None, when `nullable`)."""
    _typed(value, dict, what)
    out = {}
    for k, v in value.items():
        _typed(k, str, f"a key of {what}")
        out[k] = None if nullable and v is None else _typed(v, kind, f"{what}[{k!r}]")
    return out


# ----------------------------------------------------------------------------------- stage telemetry
STAGES = ("capture", "infer", "publish")


@dataclass
class Counters:
    """A stage's counters: non-negative integers, one spelling each, added field by field (a restarted
    stage's counters add to those its dead predecessor last reported)."""

    def __add__(self, other: "Counters") -> "Counters":
        if type(other) is not type(self):
            return NotImplemented
        return type(self)(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self)})

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data, what: str = "counters") -> "Counters":
        _typed(data, dict, what)
        names = {f.name for f in dataclasses.fields(cls)}
        if set(data) != names:
            raise MessageError(f"{what} must have exactly {sorted(names)}, got {sorted(map(str, data))}")
        values = {k: _typed(v, int, f"{what}.{k}") for k, v in data.items()}
        if any(v < 0 for v in values.values()):
            raise MessageError(f"{what} must not be negative")
        return cls(**values)


@dataclass
class CaptureCounters(Counters):
    captured: int = 0   # frames read from the source and sent on (or dropped)
    dropped: int = 0    # dropped at capture: inference was busy
    skipped: int = 0    # corrupt frames the source skipped


@dataclass
class InferCounters(Counters):
    inferred: int = 0        # frames segmented and passed on
    dropped: int = 0         # dropped at infer: a newer frame had come (latest frame wins)
    failed: int = 0          # frames the model failed on, or whose own target was refused
    rejected: int = 0        # malformed messages (frame link and control socket)
    no_target: int = 0       # frames passed on with an empty mask: nothing to follow yet
    control_ok: int = 0      # target changes applied
    control_failed: int = 0  # target changes refused (the reply says why)


@dataclass
class PublishCounters(Counters):
    published: int = 0   # masks put on the topic
    rejected: int = 0    # malformed messages from infer
    seq_gaps: int = 0    # sequence numbers missing between published masks (each one dropped upstream)


STAGE_COUNTERS: dict[str, type[Counters]] = {"capture": CaptureCounters, "infer": InferCounters,
                                             "publish": PublishCounters}


@dataclass
class LiveStats:
    """What the publish stage measures: fps, per-stage latency percentiles (ms), budget violations, and
    the ground-truth metrics by name (rtvos.evaluation.live) when the source has ground truth."""

    frames: int = 0
    fps: float = 0.0
    latency_ms: dict = field(default_factory=dict)         # stage -> {p50, p95, p99, max, mean, count}
    budget_violations: dict = field(default_factory=dict)  # stage -> frames over its budget
    budgets_ms: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)            # e.g. gt_frames, live_iou, road_error_rate

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data) -> "LiveStats":
        _typed(data, dict, "live")
        names = {f.name for f in dataclasses.fields(cls)}
        if set(data) != names:
            raise MessageError(f"live must have exactly {sorted(names)}, got {sorted(map(str, data))}")
        latency = _typed(data["latency_ms"], dict, "live.latency_ms")
        return cls(frames=_typed(data["frames"], int, "live.frames"), fps=_typed(data["fps"], float, "live.fps"),
                   latency_ms={_typed(k, str, "a latency stage"): _number_map(v, f"live.latency_ms[{k!r}]", nullable=True)
                               for k, v in latency.items()},
                   budget_violations=_number_map(data["budget_violations"], "live.budget_violations", int),
                   budgets_ms=_number_map(data["budgets_ms"], "live.budgets_ms"),
                   metrics=_number_map(data["metrics"], "live.metrics"))

    def topic_payload(self, counters: PublishCounters, final: bool = False) -> dict:
        """The public `stats` topic's fields: these, the publish counters and the metrics side by side."""
        out = {k: v for k, v in self.as_dict().items() if k != "metrics"} | counters.as_dict() | self.metrics
        return out | ({"final": True} if final else {})


REPORT_EVENTS = ("ready", "heartbeat", "final", "error")


@dataclass
class StageReport:
    """A stage's line to the supervisor: `ready` once it serves; a `heartbeat` with its counters (and,
    for publish, the live statistics) about twice a second; `final` at its end (`error` there: what
    ended the stream early, e.g. a camera that disappeared); `error` when something went wrong
    (`fatal`: the stage could not start)."""

    stage: str
    event: str
    counters: Counters | None = None
    live: LiveStats | None = None
    error: str = ""
    fatal: bool = False
    pid: int = 0
    t_ns: int = 0


def encode_report(report: StageReport) -> bytes:
    body = {"stage": report.stage, "event": report.event, "error": report.error, "fatal": report.fatal,
            "pid": report.pid, "t_ns": report.t_ns,
            "counters": report.counters.as_dict() if report.counters is not None else None,
            "live": report.live.as_dict() if report.live is not None else None}
    return pack_header({"v": SCHEMA_VERSION, "kind": "stats", **body})


def decode_report(data: bytes | memoryview) -> StageReport:
    """A stage report; anything malformed raises MessageError (never anything else)."""
    header = unpack_header(data)
    if header["kind"] != "stats":
        raise MessageError(f"expected a stage report, got {header['kind']!r}")
    stage, event = header.get("stage"), header.get("event")
    if not isinstance(stage, str) or stage not in STAGES:
        raise MessageError(f"unknown stage {stage!r}")
    if not isinstance(event, str) or event not in REPORT_EVENTS:
        raise MessageError(f"unknown report event {event!r}")
    counters = header.get("counters")
    live = header.get("live")
    return StageReport(
        stage=stage, event=event,
        counters=None if counters is None else STAGE_COUNTERS[stage].from_dict(counters, f"{stage} counters"),
        live=None if live is None else LiveStats.from_dict(live),
        error=_typed(header.get("error", ""), str, "error"), fatal=_typed(header.get("fatal", False), bool, "fatal"),
        pid=_typed(header.get("pid", 0), int, "pid"), t_ns=_typed(header.get("t_ns", 0), int, "t_ns"))


# ------------------------------------------------------------------------------------- control reply
@dataclass
class ControlReply:
    """The answer to a control request. A change names the frame (`seq`) it was applied to: the mask
    with that seq is the first to show it. `stats` answers with the model, whether it follows
    anything, and the infer stage's counters."""

    ok: bool
    op: str = ""
    seq: int | None = None
    objects: list[int] = field(default_factory=list)
    error: str = ""
    model: str = ""
    active: bool = False
    counters: InferCounters | None = None

    def as_dict(self) -> dict:
        """What `ControlClient` returns: every field but `ok` and `error` (a refusal raises instead)."""
        out = dataclasses.asdict(self)
        for k in ("ok", "error"):
            out.pop(k)
        return out


def encode_reply(reply: ControlReply) -> bytes:
    body = dataclasses.asdict(reply)
    body["counters"] = reply.counters.as_dict() if reply.counters is not None else None
    return pack_header({"v": SCHEMA_VERSION, "kind": "reply", **body})


def decode_reply(data: bytes | memoryview) -> ControlReply:
    header = unpack_header(data)
    if header["kind"] != "reply":
        raise MessageError(f"expected a control reply, got {header['kind']!r}")
    objects = _typed(header.get("objects", []), list, "objects")
    seq, counters = header.get("seq"), header.get("counters")
    return ControlReply(
        ok=_typed(header.get("ok"), bool, "ok"), op=_typed(header.get("op", ""), str, "op"),
        seq=None if seq is None else _typed(seq, int, "seq"),
        objects=[_typed(k, int, "an object id") for k in objects],
        error=_typed(header.get("error", ""), str, "error"), model=_typed(header.get("model", ""), str, "model"),
        active=_typed(header.get("active", False), bool, "active"),
        counters=None if counters is None else InferCounters.from_dict(counters, "counters"))
