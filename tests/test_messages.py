"""The wire format (rtvos/messages.py): every decoder accepts what its encoder writes and rejects the rest."""

import cv2
import msgpack
import numpy as np
import pytest

from rtvos import messages
from rtvos.messages import MessageError


def _frame(h=48, w=64):
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_frame_roundtrip_with_target_gt_and_boxes():
    img = _frame()
    target = np.zeros((48, 64), np.uint8)
    target[10:20, 5:15] = 1
    gt = target.copy()
    parts = messages.encode_frame(img, 7, 123456789, camera_id="cam3", target=target, gt_mask=gt,
                                  boxes={1: (5, 10, 15, 20)}, name="00007", stamps={"capture_out": 5})
    msg = messages.decode_frame([bytes(memoryview(p)) for p in parts])
    assert msg.seq == 7 and msg.header["camera_id"] == "cam3" and msg.header["name"] == "00007"
    assert msg.header["step"] == 64 * 3 and msg.header["encoding"] == "rgb8"
    np.testing.assert_array_equal(msg.image, img)
    np.testing.assert_array_equal(msg.target, target)
    np.testing.assert_array_equal(msg.gt_mask, gt)
    assert msg.boxes == {1: (5.0, 10.0, 15.0, 20.0)} and msg.has_target


@pytest.mark.parametrize("encoding", ["mono8", "png"])
def test_mask_roundtrip(encoding):
    mask = np.zeros((30, 40), np.uint8)
    mask[3:9, 4:20] = 2
    objects = [{"id": 2, "score": 0.9, "bbox": [4, 3, 20, 9], "area": 96}]
    parts = messages.encode_mask(mask, 11, 99, camera_id="c", model="online", objects=objects,
                                 stamps={"infer_out": 1}, encoding=encoding)
    msg = messages.decode_mask([bytes(memoryview(p)) for p in parts])
    np.testing.assert_array_equal(msg.mask, mask)
    h = msg.header
    assert (h["height"], h["width"], h["step"], h["encoding"], h["model"]) == (30, 40, 40, encoding, "online")
    assert msg.objects == objects and h["v"] == messages.SCHEMA_VERSION


def test_rejects_garbage_header():
    with pytest.raises(MessageError, match="msgpack"):
        messages.unpack_header(b"\xc1\xc1\xc1")
    with pytest.raises(MessageError, match="map"):
        messages.unpack_header(msgpack.packb([1, 2, 3]))


def test_rejects_wrong_schema_version_and_kind():
    with pytest.raises(MessageError, match="schema version"):
        messages.unpack_header(msgpack.packb({"v": 99, "kind": "mask"}))
    with pytest.raises(MessageError, match="kind"):
        messages.unpack_header(msgpack.packb({"v": messages.SCHEMA_VERSION, "kind": "pickle"}))


def test_rejects_oversized_header():
    big = msgpack.packb({"v": 1, "kind": "mask", "junk": "x" * (messages.MAX_HEADER_BYTES + 1)})
    with pytest.raises(MessageError, match="exceeds"):
        messages.unpack_header(big)


def test_rejects_buffer_size_mismatch():
    parts = messages.encode_frame(_frame(), 0, 1)
    with pytest.raises(MessageError, match="bytes"):
        messages.decode_frame([parts[0], bytes(100)])
    mparts = messages.encode_mask(np.zeros((4, 4), np.uint8), 0, 1, camera_id="c", model="m",
                                  objects=[], stamps={})
    with pytest.raises(MessageError, match="bytes"):
        messages.decode_mask([mparts[0], bytes(15)])


def test_rejects_bad_field_types():
    header = messages.pack_header({"v": 1, "kind": "mask", "seq": "7", "height": 4, "width": 4,
                                   "encoding": "mono8"})
    with pytest.raises(MessageError, match="seq"):
        messages.decode_mask([header, bytes(16)])
    header = messages.pack_header({"v": 1, "kind": "mask", "seq": 1, "height": -4, "width": 4,
                                   "encoding": "mono8"})
    with pytest.raises(MessageError, match="height"):
        messages.decode_mask([header, bytes(16)])


def test_encode_refuses_wrong_sized_target():
    with pytest.raises(MessageError, match="target"):
        messages.encode_frame(_frame(), 0, 1, target=np.zeros((10, 10), np.uint8))


# ------------------------------------------------------------------------------------------- control
def _png(mask):
    return cv2.imencode(".png", mask)[1].tobytes()


def test_control_requests_roundtrip():
    mask = np.zeros((20, 30), np.uint8)
    mask[5:10, 5:10] = 2
    req = messages.decode_control(messages.encode_control("set_target", mask=mask))
    assert req.op == "set_target" and np.array_equal(req.mask, mask)
    req = messages.decode_control(messages.encode_control("set_target", boxes={3: (1, 2, 10, 12)}))
    assert req.boxes == {3: (1.0, 2.0, 10.0, 12.0)}
    req = messages.decode_control(messages.encode_control("add_object", object_id=7, box=(1, 2, 3, 4)))
    assert (req.op, req.object_id, req.box) == ("add_object", 7, (1, 2, 3, 4))
    assert messages.decode_control(messages.encode_control("remove_object", object_id=1)).object_id == 1
    assert messages.decode_control(messages.encode_control("reset")).op == "reset"


def _control(**header):
    return messages.pack_header({"v": messages.SCHEMA_VERSION, "kind": "control", **header})


@pytest.mark.parametrize("parts, match", [
    ([], "1 or 2 parts"),
    ([b"a", b"b", b"c"], "1 or 2 parts"),
    ([b"\xc1"], "msgpack"),
    ([messages.pack_header({"v": 1, "kind": "mask"})], "control request"),
    ([_control(op="explode")], "unknown op"),
    ([_control(op="remove_object")], "needs an object id"),
    ([_control(op="remove_object", id=0)], "id"),
    ([_control(op="remove_object", id="1")], "id"),
    ([_control(op="add_object", id=2)], "mask PNG or a box"),
    ([_control(op="add_object", id=2, box=[1, 2, 3])], "box"),
    ([_control(op="add_object", id=2, box="abcd")], "box"),
    ([_control(op="set_target")], "mask PNG or boxes"),
    ([_control(op="set_target", boxes={"1": [1, 2]})], "box"),
    ([_control(op="set_target", boxes=[1, 2, 3, 4])], "boxes"),
    ([_control(op="set_target", boxes={"x": [1, 2, 3, 4]})], "boxes"),
    ([_control(op="stats"), b""], "PNG"),                      # an empty second part
    ([_control(op="set_target"), b"not a png"], "PNG"),
    ([_control(op="set_target"), _png(np.zeros((4, 4, 3), np.uint8))], "single-channel"),
])
def test_control_decoder_rejects_what_is_malformed(parts, match):
    with pytest.raises(MessageError, match=match):
        messages.decode_control(parts)


# ------------------------------------------------------------------------------ telemetry and replies
def test_stage_reports_roundtrip_with_typed_counters():
    live = messages.LiveStats(frames=3, fps=20.0, latency_ms={"infer": {"p50": 4.0, "max": None}},
                              budget_violations={"infer": 1}, budgets_ms={"infer": 60.0}, metrics={"live_iou": 0.9})
    report = messages.StageReport("publish", "final", counters=messages.PublishCounters(published=3, seq_gaps=1),
                                  live=live, error="", pid=12, t_ns=34)
    assert messages.decode_report(messages.encode_report(report)) == report
    capture = messages.StageReport("capture", "heartbeat", counters=messages.CaptureCounters(captured=5, dropped=1))
    assert messages.decode_report(messages.encode_report(capture)).counters == messages.CaptureCounters(5, 1, 0)


def _report(**fields):
    body = {"stage": "infer", "event": "heartbeat", "counters": messages.InferCounters().as_dict(), "live": None,
            "error": "", "fatal": False, "pid": 1, "t_ns": 1} | fields
    return messages.pack_header({"v": messages.SCHEMA_VERSION, "kind": "stats", **body})


@pytest.mark.parametrize("data, match", [
    (b"\x00", "map"),
    (_report(stage=["infer"]), "stage"),
    (_report(stage="decode"), "stage"),
    (_report(event="explode"), "event"),
    (_report(counters={"inferred": 1}), "exactly"),
    (_report(counters=messages.InferCounters().as_dict() | {"inferred": -1}), "negative"),
    (_report(counters=messages.InferCounters().as_dict() | {"inferred": "1"}), "int"),
    (_report(counters=messages.CaptureCounters().as_dict()), "exactly"),  # another stage's counters
    (_report(live={"fps": 1.0}), "live"),
    (_report(error=3), "error"),
])
def test_stage_report_decoder_rejects_what_is_malformed(data, match):
    with pytest.raises(MessageError, match=match):
        messages.decode_report(data)


def test_counters_add_field_by_field():
    total = messages.InferCounters(inferred=3, dropped=1) + messages.InferCounters(inferred=2, failed=1)
    assert total == messages.InferCounters(inferred=5, dropped=1, failed=1)


def test_control_replies_roundtrip():
    reply = messages.ControlReply(True, op="stats", objects=[1, 2], model="online", active=True,
                                  counters=messages.InferCounters(inferred=4))
    back = messages.decode_reply(messages.encode_reply(reply))
    assert back == reply and back.as_dict()["counters"]["inferred"] == 4
    refused = messages.decode_reply(messages.encode_reply(messages.ControlReply(False, error="add_object: empty")))
    assert not refused.ok and refused.error == "add_object: empty"
    with pytest.raises(MessageError, match="ok"):
        messages.decode_reply(messages.pack_header({"v": 1, "kind": "reply", "ok": "yes"}))


# ------------------------------------------------------------------------- every decoder is total
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SCALARS = (st.none() | st.booleans() | st.integers(-(2 ** 63), 2 ** 64 - 1) | st.floats() | st.text(max_size=20)
           | st.binary(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                                             max_size=5), max_leaves=20)
FIELDS = ("seq", "t_capture_ns", "camera_id", "stamps", "height", "width", "encoding", "step", "extras", "boxes",
          "name", "objects", "model", "following", "op", "id", "box", "stage", "event", "counters", "live", "error",
          "fatal", "note", "pid", "t_ns", "ok", "seq", "retry_after_ms", "active", "token")
SMALL_SIDES = st.integers(1, 6)


@st.composite
def headers(draw, kind=None):
    """A schema-like header: the right version, a kind, a random choice of the schema's fields with random
    values (sometimes sensible ones), and random extra fields."""
    header = {"v": 1, "kind": kind or draw(st.sampled_from(messages.KINDS))}
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=12)):
        header[name] = draw(VALUES | SMALL_SIDES | st.sampled_from(["mono8", "png", "rgb8", "stats", "capture",
                                                                    "heartbeat", ["gt"], ["target"], {}]))
    header.update(draw(st.dictionaries(st.text(max_size=6), VALUES, max_size=3)))
    return header


@st.composite
def messages_parts(draw, kind=None):
    header = draw(headers(kind))
    try:
        head = messages.pack_header(header)
    except (MessageError, ValueError, TypeError, OverflowError):
        head = draw(st.binary(max_size=64))
    buffers = draw(st.lists(st.binary(max_size=200) | st.sampled_from([bytes(36), bytes(108), b"", _png(np.zeros((4, 4),
                                                                                                        np.uint8))]),
                            max_size=3))
    return [head, *buffers]


def _only_rejections(decode, *args) -> None:
    try:
        decode(*args)
    except MessageError:
        pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_rejected_not_raised(data):
    for decode in (messages.unpack_header, messages.decode_report, messages.decode_reply):
        _only_rejections(decode, data)
    _only_rejections(messages.decode_control, [data])
    _only_rejections(messages.decode_frame, [data, data])
    _only_rejections(messages.decode_mask, [data, data])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages_parts())
def test_arbitrary_structures_are_rejected_not_raised(parts):
    _only_rejections(messages.decode_frame, parts)
    _only_rejections(messages.decode_mask, parts)
    _only_rejections(messages.decode_control, parts)
    _only_rejections(messages.decode_control, parts, 16)
    _only_rejections(messages.decode_report, parts[0])
    _only_rejections(messages.decode_report, parts[0], "token")
    _only_rejections(messages.decode_reply, parts[0])


def _valid(kind: str) -> list:
    """A well-formed message of each kind (as its stage would send it)."""
    mask = np.zeros((4, 6), np.uint8)
    mask[1:3, 2:4] = 1
    if kind == "frame":
        return messages.encode_frame(np.zeros((4, 6, 3), np.uint8), 3, 10, target=mask, boxes={1: (0, 0, 3, 3)},
                                     name="00003", stamps={"capture_out": 11})
    if kind == "mask":
        objects = [{"id": 1, "score": 0.9, "bbox": [2, 1, 4, 3], "area": 4}]
        return messages.encode_mask(mask, 3, 10, camera_id="c", model="m", objects=objects, stamps={"infer_out": 12},
                                    extras=["gt"], name="00003") + [mask.tobytes()]
    if kind == "control":
        return messages.encode_control("add_object", object_id=2, mask=mask, box=(0, 0, 3, 3))
    if kind == "stats":
        live = messages.LiveStats(latency_ms={"infer": {"p50": 1.0}}, budget_violations={"infer": 0})
        return [messages.encode_report(messages.StageReport("publish", "final", counters=messages.PublishCounters(),
                                                            live=live))]
    return [messages.encode_reply(messages.ControlReply(True, op="stats", objects=[1],
                                                        counters=messages.InferCounters()))]


DECODERS = {"frame": messages.decode_frame, "mask": messages.decode_mask, "control": messages.decode_control,
            "stats": lambda parts: messages.decode_report(parts[0]), "reply": lambda parts: messages.decode_reply(parts[0])}


@st.composite
def mutated(draw):
    """A well-formed message with some of its header fields (at any depth) replaced or removed."""
    kind = draw(st.sampled_from(list(DECODERS)))
    parts = _valid(kind)
    header = messages.unpack_header(parts[0])

    def mutate(node):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node, key=str)))
            if draw(st.booleans()) and isinstance(node[key], (dict, list)) and node[key]:
                mutate(node[key])
            elif draw(st.integers(0, 4)) == 0:
                del node[key]
            else:
                node[key] = draw(VALUES)
        elif isinstance(node, list) and node:
            i = draw(st.integers(0, len(node) - 1))
            if isinstance(node[i], (dict, list)) and draw(st.booleans()):
                mutate(node[i])
            else:
                node[i] = draw(VALUES)

    for _ in range(draw(st.integers(1, 3))):
        mutate(header)
    try:
        parts[0] = messages.pack_header(header)
    except (MessageError, ValueError, TypeError, OverflowError):
        pass
    return kind, parts


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_every_field_of_every_message_is_checked(case):
    kind, parts = case
    _only_rejections(DECODERS[kind], parts)


def test_well_formed_messages_of_every_kind_are_accepted():
    for kind, decode in DECODERS.items():
        decode(_valid(kind))


def test_a_small_png_declaring_a_huge_image_is_refused_before_decoding():
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = (messages.PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 20001 * 50)) + chunk(b"IEND", b""))
    assert len(bomb) < 2000
    with pytest.raises(MessageError, match="20000x20000"):
        messages.decode_control([messages.encode_control("set_target", boxes={1: (0, 0, 5, 5)})[0], bomb], 640 * 480)
    header = messages.pack_header({"v": 1, "kind": "mask", "seq": 0, "t_capture_ns": 0, "height": 4, "width": 4,
                                   "encoding": "png"})
    with pytest.raises(MessageError, match="20000x20000"):
        messages.decode_mask([header, bomb])


def test_internal_messages_without_the_run_token_are_rejected():
    parts = messages.encode_frame(_frame(), 1, 2, token="secret")
    assert messages.unpack_header(parts[0], "secret")["seq"] == 1
    for token in ("other", None):
        forged = messages.encode_frame(_frame(), 1, 2, token=token)
        with pytest.raises(MessageError, match="not from this run"):
            messages.unpack_header(forged[0], "secret")
    report = messages.StageReport("capture", "heartbeat", counters=messages.CaptureCounters(captured=1))
    assert messages.decode_report(messages.encode_report(report, "secret"), "secret") == report
    with pytest.raises(MessageError, match="not from this run"):
        messages.decode_report(messages.encode_report(report), "secret")
