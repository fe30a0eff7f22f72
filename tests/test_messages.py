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
