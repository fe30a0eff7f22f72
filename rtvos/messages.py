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

Every decoder is total: whatever bytes arrive, it returns a message whose every field has the type and
range the schema gives, or raises `MessageError` (nothing else).  Messages on a run's internal links
carry the run's token (`unpack_header(data, token=...)` rejects the others).  PNG payloads are checked
from their header (declared size) before they are decoded.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from dataclasses import dataclass, field

import cv2
import msgpack
import numpy as np

SCHEMA_VERSION = 1
MAX_HEADER_BYTES = 64 * 1024
MAX_BUFFER_BYTES = 64 * 1024 * 1024  # a 4K RGB frame is ~25 MB
MAX_SIDE = 16384                     # pixels per image side
MAX_TEXT = 256                       # characters in a name, camera id, model name, error
MAX_STAMPS = 16
MAX_CONTROL_PIXELS = 4096 * 4096     # a control mask before any frame has set the stream's size
MAX_INT = (1 << 63) - 1

TOPIC_MASK = b"mask"
TOPIC_STATS = b"stats"
TOPIC_IMAGE = b"image"  # optional: the frames themselves (frame messages), for viewers and recorders

KINDS = ("frame", "mask", "eos", "stats", "control", "reply")
ENCODINGS = ("mono8", "png")
FRAME_EXTRAS = ("target", "gt")
MASK_EXTRAS = ("gt", "image")


class MessageError(ValueError):
    """A message that does not follow the schema. The stage that gets one counts it and goes on."""


def pack_header(header: dict) -> bytes:
    data = msgpack.packb(header, use_bin_type=True)
    if len(data) > MAX_HEADER_BYTES:
        raise MessageError(f"header of {len(data)} bytes exceeds the {MAX_HEADER_BYTES}-byte limit")
    return data


def unpack_header(data: bytes | memoryview, token: str | None = None) -> dict:
    """The header dict of a message: msgpack map, known schema version and kind. With `token` (a run's
    internal links), a header without that token is rejected: it is not from this run."""
    try:
        size = memoryview(data).nbytes
    except TypeError:
        raise MessageError(f"a header must be bytes, got {type(data).__name__}") from None
    if size > MAX_HEADER_BYTES:
        raise MessageError(f"header of {size} bytes exceeds the {MAX_HEADER_BYTES}-byte limit")
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
    if type(v) is not int or v != SCHEMA_VERSION:
        raise MessageError(f"unsupported schema version {v!r} (this build speaks {SCHEMA_VERSION})")
    kind = header.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise MessageError(f"unknown message kind {kind!r}")
    if token is not None and header.get("token") != token:
        raise MessageError("not from this run (missing or wrong run token)")
    return header


# -------------------------------------------------------------------------------------- typed fields
def _typed(value, kind, what: str):
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise MessageError(f"{what} must be {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    return value  # a float field keeps an integer value as sent (a count, a whole number of ms)


def _int(value, what: str, lo: int = 0, hi: int = MAX_INT) -> int:
    _typed(value, int, what)
    if not lo <= value <= hi:
        raise MessageError(f"{what} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def _text(value, what: str, max_len: int = MAX_TEXT) -> str:
    _typed(value, str, what)
    if len(value) > max_len:
        raise MessageError(f"{what} is longer than {max_len} characters")
    return value


def _number_map(value, what: str, kind=float, nullable: bool = False) -> dict:
    """A map of str -> number (or None, when `nullable`)."""
    _typed(value, dict, what)
    out = {}
    for k, v in value.items():
        _typed(k, str, f"a key of {what}")
        out[k] = None if nullable and v is None else _typed(v, kind, f"{what}[{k!r}]")
    return out


def _stamps(value) -> dict[str, int]:
    """A message's stamps: stage name -> monotonic ns."""
    stamps = _number_map(value, "stamps", int)
    if len(stamps) > MAX_STAMPS or any(len(k) > 32 or not 0 <= v <= MAX_INT for k, v in stamps.items()):
        raise MessageError(f"stamps must map at most {MAX_STAMPS} stage names to non-negative ns")
    return stamps


def _box(value, what: str) -> tuple[float, float, float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise MessageError(f"{what} must be [x0, y0, x1, y1]")
    return tuple(_typed(c, float, what) for c in value)


def _boxes(value) -> dict[int, tuple[float, float, float, float]]:
    """Boxes per object id: {"k": [x0, y0, x1, y1]} on the wire (msgpack map keys are strings)."""
    if not isinstance(value, dict) or not value or len(value) > 255:
        raise MessageError("boxes must map object id -> [x0, y0, x1, y1]")
    out = {}
    for k, box in value.items():
        if not (isinstance(k, str) and k.isascii() and k.isdigit() and 1 <= int(k) <= 255):
            raise MessageError(f"boxes: {k!r} is not an object id (1..255)")
        out[int(k)] = _box(box, f"the box of object {k}")
    return out


def _extras(value, allowed: tuple[str, ...]) -> list[str]:
    _typed(value, list, "extras")
    if not all(isinstance(e, str) and e in allowed for e in value) or len(set(value)) != len(value):
        raise MessageError(f"extras must be distinct names from {allowed}, got {value!r}")
    return value


def _optional(header: dict, key: str, check, *args):
    return None if header.get(key) is None else check(header[key], key, *args)


def _image_size(header: dict) -> tuple[int, int]:
    h = _int(header.get("height"), "height", 1, MAX_SIDE)
    w = _int(header.get("width"), "width", 1, MAX_SIDE)
    return h, w


def buffer_as_array(buf, shape: tuple[int, ...], what: str) -> np.ndarray:
    mv = memoryview(buf)
    expected = int(np.prod(shape))
    if mv.nbytes != expected:
        raise MessageError(f"{what} buffer has {mv.nbytes} bytes, expected {expected} for shape {shape}")
    return np.frombuffer(mv, dtype=np.uint8).reshape(shape)


# ------------------------------------------------------------------------------------------------ PNG
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data) -> tuple[int, int]:
    """(height, width) a PNG declares in its IHDR chunk, read without decoding anything."""
    head = bytes(memoryview(data)[:24])
    if len(head) < 24 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise MessageError("not a PNG")
    width, height = struct.unpack(">II", head[16:24])
    return height, width


def decode_png_mask(data, max_pixels: int, what: str = "mask PNG") -> np.ndarray:
    """A single-channel 8-bit PNG as HxW uint8. Its declared size is checked first (at most
    `max_pixels`), so a small file that declares a huge image is refused before it is decoded."""
    buf = np.frombuffer(memoryview(data), np.uint8)
    if buf.nbytes > MAX_BUFFER_BYTES:
        raise MessageError(f"{what} exceeds the buffer size limit")
    h, w = png_size(buf)
    if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE) or h * w > max_pixels:
        raise MessageError(f"{what} declares {w}x{h} pixels, more than the {max_pixels} allowed")
    try:
        mask = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        mask = None
    if mask is None or mask.ndim != 2 or mask.dtype != np.uint8 or mask.shape != (h, w):
        raise MessageError(f"{what} is not a single-channel 8-bit PNG")
    return mask


# ---------------------------------------------------------------------------------------------- frames

def encode_frame(image: np.ndarray, seq: int, t_capture_ns: int, *, camera_id: str = "cam0",
                 target: np.ndarray | None = None, boxes: dict | None = None,
                 gt_mask: np.ndarray | None = None, name: str | None = None,
                 stamps: dict | None = None, stamp: int = 0, frame_id: str | None = None,
                 token: str | None = None) -> list:
    """capture -> infer (with the run's `token`), and the public image topic. Returns the multipart list
    [header, image, (target), (gt)]. `stamp`: wall-clock time of capture (ns since the epoch);
    `frame_id`: the camera's frame (ROS), default the camera id."""
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
        "stamp": int(stamp), "frame_id": frame_id or camera_id,
        "t_capture_ns": int(t_capture_ns), "stamps": dict(stamps or {}),
        "height": h, "width": w, "encoding": "rgb8", "step": w * 3, "extras": extras,
    }
    if boxes:
        header["boxes"] = {str(k): [float(c) for c in b] for k, b in boxes.items()}
    if name is not None:
        header["name"] = str(name)
    if token is not None:
        header["token"] = token
    parts[0] = pack_header(header)
    return parts


@dataclass
class FrameMessage:
    """A checked frame message. `header` holds only the schema's fields, each of its type."""

    header: dict
    image: np.ndarray
    target: np.ndarray | None = None
    gt_mask: np.ndarray | None = None

    @property
    def seq(self) -> int:
        return self.header["seq"]

    @property
    def boxes(self) -> dict[int, tuple]:
        return dict(self.header.get("boxes") or {})

    @property
    def has_target(self) -> bool:
        return self.target is not None or bool(self.header.get("boxes"))


def decode_frame(parts: list, header: dict | None = None) -> FrameMessage:
    header = header if header is not None else unpack_header(parts[0])
    if header["kind"] != "frame":
        raise MessageError(f"expected a frame message, got {header['kind']!r}")
    h, w = _image_size(header)
    if header.get("encoding") != "rgb8":
        raise MessageError(f"frame encoding must be 'rgb8', got {header.get('encoding')!r}")
    if header.get("step", 3 * w) != 3 * w:
        raise MessageError(f"frame step must be {3 * w} (3 x width)")
    extras = _extras(header.get("extras", []), FRAME_EXTRAS)
    if len(parts) != 2 + len(extras):
        raise MessageError(f"frame message has {len(parts)} parts, header announces {2 + len(extras)}")
    if h * w * 3 > MAX_BUFFER_BYTES:
        raise MessageError(f"frame of {w}x{h} exceeds the buffer size limit")
    camera_id = _text(header.get("camera_id", "cam0"), "camera_id")
    clean = {"v": SCHEMA_VERSION, "kind": "frame", "seq": _int(header.get("seq"), "seq"), "camera_id": camera_id,
             "stamp": _int(header.get("stamp", 0), "stamp"),
             "frame_id": _text(header.get("frame_id", camera_id), "frame_id"),
             "t_capture_ns": _int(header.get("t_capture_ns"), "t_capture_ns"),
             "stamps": _stamps(header.get("stamps", {})), "height": h, "width": w, "encoding": "rgb8",
             "step": 3 * w, "extras": extras, "boxes": _optional(header, "boxes", lambda v, _: _boxes(v)),
             "name": _optional(header, "name", _text)}
    out = FrameMessage(header=clean, image=buffer_as_array(parts[1], (h, w, 3), "image"))
    for label, buf in zip(extras, parts[2:]):
        setattr(out, "target" if label == "target" else "gt_mask", buffer_as_array(buf, (h, w), label))
    return out


# ----------------------------------------------------------------------------------------------- masks

def encode_mask(mask: np.ndarray, seq: int, t_capture_ns: int, *, camera_id: str, model: str,
                objects: list[dict], stamps: dict, encoding: str = "mono8", following: bool = True,
                stamp: int = 0, frame_id: str | None = None, extras: list[str] | None = None,
                name: str | None = None, token: str | None = None) -> list:
    """infer -> publish (with the run's `token` and `extras` buffers to follow) -> subscribers.
    Returns [header, buffer]. `following` is False when nothing is followed (no target yet, or after a
    reset): an empty mask then means "no target", not "nothing found"."""
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
        "stamp": int(stamp), "frame_id": frame_id or camera_id,
        "t_capture_ns": int(t_capture_ns), "stamps": dict(stamps),
        "height": h, "width": w, "encoding": encoding, "step": w, "is_bigendian": 0,
        "model": model, "objects": objects, "following": bool(following),
    }
    if name is not None:
        header["name"] = name
    if extras:
        header["extras"] = list(extras)
    if token is not None:
        header["token"] = token
    return [pack_header(header), buf]


def _bbox(value, what: str) -> list[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 4:
        raise MessageError(f"{what} must be [x0, y0, x1, y1] or null")
    return [_int(c, what, 0, MAX_SIDE) for c in value]


def _objects(value) -> list[dict]:
    """Per-object id, score, bbox [x0, y0, x1, y1] (None when absent) and area."""
    _typed(value, list, "objects")
    if len(value) > 255:
        raise MessageError("more than 255 objects")
    out = []
    for i, obj in enumerate(value):
        what = f"objects[{i}]"
        _typed(obj, dict, what)
        out.append({"id": _int(obj.get("id"), f"{what}.id", 1, 255),
                    "score": _typed(obj.get("score"), float, f"{what}.score"),
                    "bbox": _bbox(obj.get("bbox"), f"{what}.bbox"), "area": _int(obj.get("area"), f"{what}.area")})
    return out


@dataclass
class MaskMessage:
    """A checked mask message. `header` holds only the schema's fields, each of its type; `extras` the
    named buffers that follow the mask on the internal infer -> publish link."""

    header: dict
    mask: np.ndarray
    extras: dict = field(default_factory=dict)

    @property
    def seq(self) -> int:
        return self.header["seq"]

    @property
    def objects(self) -> list[dict]:
        return self.header["objects"]

    @property
    def following(self) -> bool:
        return self.header["following"]


def decode_mask(parts: list, header: dict | None = None) -> MaskMessage:
    header = header if header is not None else unpack_header(parts[0])
    if header["kind"] != "mask":
        raise MessageError(f"expected a mask message, got {header['kind']!r}")
    extras = _extras(header.get("extras", []), MASK_EXTRAS)
    if len(parts) != 2 + len(extras):
        raise MessageError(f"mask message has {len(parts)} parts, header announces {2 + len(extras)}")
    h, w = _image_size(header)
    enc = header.get("encoding")
    if enc == "mono8":
        mask = buffer_as_array(parts[1], (h, w), "mask")
    elif enc == "png":
        mask = decode_png_mask(parts[1], h * w, "PNG mask")
        if mask.shape != (h, w):
            raise MessageError("PNG mask does not decode to the announced height x width")
    else:
        raise MessageError(f"unknown mask encoding {enc!r}")
    camera_id = _text(header.get("camera_id", "cam0"), "camera_id")
    clean = {"v": SCHEMA_VERSION, "kind": "mask", "seq": _int(header.get("seq"), "seq"), "camera_id": camera_id,
             "stamp": _int(header.get("stamp", 0), "stamp"),
             "frame_id": _text(header.get("frame_id", camera_id), "frame_id"),
             "t_capture_ns": _int(header.get("t_capture_ns"), "t_capture_ns"),
             "stamps": _stamps(header.get("stamps", {})), "height": h, "width": w, "encoding": enc, "step": w,
             "is_bigendian": 0, "model": _text(header.get("model", "?"), "model"),
             "objects": _objects(header.get("objects", [])),
             "following": _typed(header.get("following", True), bool, "following"),
             "name": _optional(header, "name", _text)}
    return MaskMessage(header=clean, mask=mask, extras=dict(zip(extras, parts[2:])))


# ------------------------------------------------------------------------------------ end of stream

def encode_eos(token: str | None = None) -> list:
    header = {"v": SCHEMA_VERSION, "kind": "eos"}
    if token is not None:
        header["token"] = token
    return [pack_header(header)]


def encode_stats(stats: dict) -> bytes:
    """The public statistics topic's header (see LiveStats.topic_payload)."""
    return pack_header({"v": SCHEMA_VERSION, "kind": "stats", **stats})


# --------------------------------------------------------------------------------------------- control
CONTROL_OPS = ("set_target", "add_object", "remove_object", "reset", "stats")
CHANGE_OPS = ("set_target", "add_object", "remove_object", "reset")


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


def decode_control(parts: list, max_pixels: int = MAX_CONTROL_PIXELS) -> ControlRequest:
    """A control request. `max_pixels`: the most a mask PNG may declare (the stream's frame size once
    known), checked before the PNG is decoded."""
    if not isinstance(parts, list) or not parts or len(parts) > 2:
        n = len(parts) if isinstance(parts, list) else "?"
        raise MessageError(f"control request must have 1 or 2 parts (header, optional PNG), got {n}")
    header = unpack_header(parts[0])
    if header["kind"] != "control":
        raise MessageError(f"expected a control request, got {header['kind']!r}")
    op = header.get("op")
    if not isinstance(op, str) or op not in CONTROL_OPS:
        raise MessageError(f"unknown op {op!r}; one of {', '.join(CONTROL_OPS)}")
    req = ControlRequest(op=op)
    if header.get("id") is not None:
        req.object_id = _int(header["id"], "id", 1, 255)
    if op in ("add_object", "remove_object") and req.object_id is None:
        raise MessageError(f"{op} needs an object id (1..255)")
    if len(parts) == 2:
        req.mask = decode_png_mask(parts[1], max_pixels)
    if header.get("box") is not None:
        req.box = _box(header["box"], "box")
    if header.get("boxes") is not None:
        req.boxes = _boxes(header["boxes"])
    if op == "set_target" and req.mask is None and not req.boxes:
        raise MessageError("set_target needs a mask PNG or boxes")
    if op == "add_object" and req.mask is None and req.box is None:
        raise MessageError("add_object needs a mask PNG or a box")
    return req


# ----------------------------------------------------------------------------------- stage telemetry
STAGES = ("capture", "infer", "publish", "record")  # record: only when the run records or serves Foxglove


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
    resumed: int = 0         # starts on the target kept from before a restart of this stage
    control_ok: int = 0      # target changes applied
    control_failed: int = 0  # target changes refused (the reply says why)
    control_busy: int = 0    # target changes turned away while another one was being paid for


@dataclass
class PublishCounters(Counters):
    published: int = 0   # masks put on the topic
    following: int = 0   # of those, masks of a target (not the empty masks sent while nothing is followed)
    rejected: int = 0    # malformed messages from infer
    seq_gaps: int = 0    # sequence numbers missing between published masks (each one dropped upstream)


@dataclass
class RecordCounters(Counters):
    recorded: int = 0    # masks written to the recording / served live
    gaps: int = 0        # sequence numbers published but not received (a slow recorder)
    rejected: int = 0    # malformed messages on the topic


STAGE_COUNTERS: dict[str, type[Counters]] = {"capture": CaptureCounters, "infer": InferCounters,
                                             "publish": PublishCounters, "record": RecordCounters}


# Upper edges (ms) of the latency histograms' buckets, the last one open: a histogram's counts are
# per bucket (not cumulative), len(LATENCY_BUCKETS_MS) + 1 of them, with the sum of the samples.
LATENCY_BUCKETS_MS = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 150.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0)


def _histograms(value) -> dict:
    """stage -> {"counts": [non-negative int] * (len(LATENCY_BUCKETS_MS) + 1), "sum_ms": number}."""
    out = {}
    for stage, h in _typed(value, dict, "live.histograms").items():
        what = f"live.histograms[{stage!r}]"
        _typed(stage, str, "a histogram stage")
        if not isinstance(h, dict) or set(h) != {"counts", "sum_ms"}:
            raise MessageError(f"{what} must have exactly counts and sum_ms")
        counts = _typed(h["counts"], list, f"{what}.counts")
        if len(counts) != len(LATENCY_BUCKETS_MS) + 1:
            raise MessageError(f"{what}.counts must have {len(LATENCY_BUCKETS_MS) + 1} buckets")
        out[stage] = {"counts": [_int(c, f"{what}.counts") for c in counts],
                      "sum_ms": _typed(h["sum_ms"], float, f"{what}.sum_ms")}
    return out


@dataclass
class LiveStats:
    """What the publish stage measures: fps, per-stage latency percentiles (ms) and budget violations
    over the steady state, the start-up apart (pipeline.stats.LatencyMonitor), and the ground-truth
    metrics by name (rtvos.evaluation.live) when the source has ground truth."""

    frames: int = 0
    fps: float = 0.0
    latency_ms: dict = field(default_factory=dict)         # stage -> {p50, p95, p99, max, mean, count}
    budget_violations: dict = field(default_factory=dict)  # stage -> frames over its budget
    budgets_ms: dict = field(default_factory=dict)
    startup: dict = field(default_factory=dict)            # frames, time_to_first_mask_ms, start_ms
    metrics: dict = field(default_factory=dict)            # e.g. gt_frames, live_iou, road_error_rate
    histograms: dict = field(default_factory=dict)         # stage -> {counts, sum_ms} (LATENCY_BUCKETS_MS)

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
                   startup=_number_map(data["startup"], "live.startup"),
                   metrics=_number_map(data["metrics"], "live.metrics"),
                   histograms=_histograms(data["histograms"]))

    def topic_payload(self, counters: PublishCounters, final: bool = False) -> dict:
        """The public `stats` topic's fields: these, the publish counters and the metrics side by side."""
        out = {k: v for k, v in self.as_dict().items() if k not in ("metrics", "histograms")} | counters.as_dict() \
            | self.metrics
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
    note: str = ""        # what the stage is doing (e.g. "building engines for 854x480"), shown by `rtvos run`
    pid: int = 0
    t_ns: int = 0


def encode_report(report: StageReport, token: str | None = None) -> bytes:
    body = {"stage": report.stage, "event": report.event, "error": report.error, "fatal": report.fatal,
            "note": report.note, "pid": report.pid, "t_ns": report.t_ns,
            "counters": report.counters.as_dict() if report.counters is not None else None,
            "live": report.live.as_dict() if report.live is not None else None}
    if token is not None:
        body["token"] = token
    return pack_header({"v": SCHEMA_VERSION, "kind": "stats", **body})


def decode_report(data: bytes | memoryview, token: str | None = None) -> StageReport:
    """A stage report (from this run, with `token`); anything malformed raises MessageError."""
    header = unpack_header(data, token)
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
        error=_text(header.get("error", ""), "error", MAX_HEADER_BYTES), fatal=_typed(header.get("fatal", False), bool, "fatal"),
        note=_text(header.get("note", ""), "note"), pid=_int(header.get("pid", 0), "pid"),
        t_ns=_int(header.get("t_ns", 0), "t_ns"))


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
    retry_after_ms: int = 0      # busy: when a change may be tried again
    model: str = ""
    active: bool = False
    counters: InferCounters | None = None

    def as_dict(self) -> dict:
        """What `ControlClient` returns (a refusal raises instead): op, seq and objects; for `stats` also
        model, active and counters."""
        out = {"op": self.op, "seq": self.seq, "objects": list(self.objects)}
        if self.op == "stats":
            out |= {"model": self.model, "active": self.active,
                    "counters": self.counters.as_dict() if self.counters is not None else None}
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
        error=_typed(header.get("error", ""), str, "error"),
        retry_after_ms=_int(header.get("retry_after_ms", 0), "retry_after_ms", 0, 3_600_000),
        model=_typed(header.get("model", ""), str, "model"),
        active=_typed(header.get("active", False), bool, "active"),
        counters=None if counters is None else InferCounters.from_dict(counters, "counters"))
