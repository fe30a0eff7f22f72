"""rtvos's masks, objects and frames as ROS 2 messages (rtvos/ros/msgs.py)."""

import numpy as np
from mcap_ros2._dynamic import serialize_dynamic

from rtvos.ros import msgs


def test_every_schema_parses_and_serialises_its_message():
    mask = np.zeros((4, 6), np.uint8)
    mask[1:3, 2:5] = 2
    examples = {msgs.IMAGE: msgs.image(mask, 1_700_000_000_123_456_789, "cam"),
                msgs.COMPRESSED_IMAGE: msgs.compressed_image(b"\xff\xd8", 5, "cam"),
                msgs.CAMERA_INFO: msgs.camera_info(np.eye(3), 4, 6, 5, "cam"),
                msgs.DETECTIONS: msgs.detections([{"id": 2, "score": 0.5, "bbox": [2, 1, 5, 3], "area": 6}], 5, "cam")}
    for name, message in examples.items():
        assert len(serialize_dynamic(name, msgs.SCHEMAS[name])[name](message)) > 0


def test_headers_split_the_wall_clock_stamp():
    h = msgs.header(1_700_000_000_123_456_789, "lwir0")
    assert h == {"stamp": {"sec": 1_700_000_000, "nanosec": 123_456_789}, "frame_id": "lwir0"}


def test_images_say_their_encoding_and_step():
    assert msgs.image(np.zeros((4, 6), np.uint8), 0, "c")["encoding"] == "mono8"
    rgb = msgs.image(np.zeros((4, 6, 3), np.uint8), 0, "c")
    assert (rgb["encoding"], rgb["step"], len(rgb["data"])) == ("rgb8", 18, 72)


def test_one_detection_per_object_with_pixels():
    d = msgs.detections([{"id": 1, "score": 0.9, "bbox": [10, 20, 30, 60], "area": 500},
                         {"id": 2, "score": 0.0, "bbox": None, "area": 0}], 7, "c")["detections"]
    assert len(d) == 1
    assert d[0]["bbox"]["center"]["position"] == {"x": 20.0, "y": 40.0}
    assert (d[0]["bbox"]["size_x"], d[0]["bbox"]["size_y"]) == (20.0, 40.0)
    assert d[0]["id"] == "1" and d[0]["results"][0]["hypothesis"] == {"class_id": "1", "score": 0.9}
