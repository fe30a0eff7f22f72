"""MCAP recordings of ROS 2 messages (rtvos/ros/mcap_file.py) and replaying them as a source
(rtvos/sources/mcap.py)."""

import json

import numpy as np
import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory

from rtvos.ros.mcap_file import McapRecorder
from rtvos.sources import SourceError, open_source


def _frames(n=5):
    for i in range(n):
        image = np.full((24, 32, 3), 20 * i, np.uint8)
        mask = np.zeros((24, 32), np.uint8)
        mask[4:12, 2 + i:10 + i] = 1
        header = {"camera_id": "cam7", "frame_id": "optical", "stamp": 1_000 + i,
                  "objects": [{"id": 1, "score": 0.8, "bbox": [2 + i, 4, 10 + i, 12], "area": 64}]}
        yield header, mask, image


def _record(path, image_format="raw", camera=None):
    rec = McapRecorder(path, image_format, camera)
    for header, mask, image in _frames():
        rec.mask(header, mask, image)
    rec.stats({"fps": 10.0, "final": True})
    rec.close()


def test_a_recording_holds_ros2_messages_with_stamps_and_frame_ids(tmp_path):
    _record(tmp_path / "r.mcap", camera={"k": np.eye(3), "height": 24, "width": 32})
    with open(tmp_path / "r.mcap", "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        schemas = {ch.topic: summary.schemas[ch.schema_id].name for ch in summary.channels.values()}
        assert schemas == {"/rtvos/cam7/image": "sensor_msgs/msg/Image", "/rtvos/cam7/mask": "sensor_msgs/msg/Image",
                           "/rtvos/cam7/detections": "vision_msgs/msg/Detection2DArray",
                           "/rtvos/cam7/camera_info": "sensor_msgs/msg/CameraInfo", "/rtvos/stats": "rtvos/Stats"}
        masks = [m for _, ch, _, m in reader.iter_decoded_messages(topics=["/rtvos/cam7/mask"])]
        stats = [json.loads(m.data) for _, _, m in reader.iter_messages(topics=["/rtvos/stats"])]
    assert [m.header.stamp.nanosec for m in masks] == [1000, 1001, 1002, 1003, 1004]
    assert {m.header.frame_id for m in masks} == {"optical"} and masks[0].encoding == "mono8"
    assert stats == [{"fps": 10.0, "final": True}]


@pytest.mark.parametrize("image_format", ["raw", "jpeg"])
def test_a_recording_plays_back_as_a_source_with_its_stamps_and_masks(tmp_path, image_format):
    _record(tmp_path / "r.mcap", image_format)
    frames = list(open_source(f"mcap:{tmp_path / 'r.mcap'}").frames())
    expected = list(_frames())
    assert [f.stamp_ns for f in frames] == [h["stamp"] for h, _, _ in expected]
    assert frames[0].target is not None and all(f.target is None for f in frames[1:])
    for f, (_, mask, image) in zip(frames, expected):
        assert np.array_equal(f.gt_mask, mask)
        assert np.abs(f.image.astype(int) - image).max() <= (0 if image_format == "raw" else 3)
    resumed = list(open_source(f"mcap:{tmp_path / 'r.mcap'}").frames(start=3))
    assert [f.seq for f in resumed] == [3, 4] and resumed[0].stamp_ns == 1003


def test_files_that_are_not_recordings_say_so(tmp_path):
    (tmp_path / "x.mcap").write_bytes(b"not an mcap")
    with pytest.raises(SourceError, match="not a readable MCAP"):
        open_source(f"mcap:{tmp_path / 'x.mcap'}")
    rec = McapRecorder(tmp_path / "masks-only.mcap")
    rec.close()
    with pytest.raises(SourceError, match="no /rtvos/<camera>/image topic"):
        open_source(f"mcap:{tmp_path / 'masks-only.mcap'}")
