"""MCAP files of ROS 2 messages, written with no ROS install (the `mcap` and `mcap-ros2-support`
libraries). A recording opens in Foxglove and plays with `ros2 bag play`:

    /rtvos/<camera_id>/mask         sensor_msgs/msg/Image, mono8 (0 background, k = object k)
    /rtvos/<camera_id>/detections   vision_msgs/msg/Detection2DArray
    /rtvos/<camera_id>/image        sensor_msgs/msg/Image (rgb8) or CompressedImage (jpeg), when published
    /rtvos/<camera_id>/camera_info  sensor_msgs/msg/CameraInfo, when the calibration is known
    /rtvos/stats                    the live statistics, JSON (jsonschema), about once a second

Header stamps are the wall-clock time of capture; log times the time of recording.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
from mcap.writer import CompressionType, Writer
from mcap_ros2._dynamic import serialize_dynamic

from rtvos.ros import msgs

STATS_TOPIC = "/rtvos/stats"
STATS_SCHEMA = {"type": "object", "title": "rtvos/Stats",
                "description": "rtvos live statistics (see the README's --stats-json)"}
IMAGE_FORMATS = ("jpeg", "raw")


def topic(camera_id: str, name: str) -> str:
    return f"/rtvos/{camera_id}/{name}"


class McapRecorder:
    """Writes masks (with their detections, frames and camera info) and statistics to `path`."""

    def __init__(self, path: str | Path, image_format: str = "jpeg", camera: dict | None = None):
        if image_format not in IMAGE_FORMATS:
            raise ValueError(f"image format must be one of {IMAGE_FORMATS}, got {image_format!r}")
        self.path, self.image_format, self.camera = Path(path), image_format, camera
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")
        self.writer = Writer(self._file, compression=CompressionType.ZSTD)
        self.writer.start(profile="ros2", library="rtvos")
        self.schemas = {name: self.writer.register_schema(name, "ros2msg", text.encode())
                        for name, text in msgs.SCHEMAS.items()}
        self.encoders = {name: serialize_dynamic(name, text)[name] for name, text in msgs.SCHEMAS.items()}
        stats_schema = self.writer.register_schema("rtvos/Stats", "jsonschema", json.dumps(STATS_SCHEMA).encode())
        self.channels: dict[str, tuple[int, str]] = {}
        self.stats_channel = self.writer.register_channel(STATS_TOPIC, "json", stats_schema)
        self.sequence = 0
        self.masks = 0

    def _write(self, name: str, datatype: str, message: dict, log_time: int) -> None:
        if name not in self.channels:
            self.channels[name] = (self.writer.register_channel(name, "cdr", self.schemas[datatype]), datatype)
        channel, _ = self.channels[name]
        self.sequence += 1
        self.writer.add_message(channel, log_time=log_time, data=self.encoders[datatype](message),
                                publish_time=log_time, sequence=self.sequence)

    def mask(self, header: dict, mask: np.ndarray, image: np.ndarray | None = None) -> None:
        """One published mask (its header as on the wire) and, when there, its frame (RGB)."""
        now = time.time_ns()
        cam, stamp, frame_id = header["camera_id"], header["stamp"], header["frame_id"]
        if image is not None:
            if self.image_format == "raw":
                self._write(topic(cam, "image"), msgs.IMAGE, msgs.image(image, stamp, frame_id), now)
            else:
                ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
                self._write(topic(cam, "image"), msgs.COMPRESSED_IMAGE, msgs.compressed_image(jpeg.tobytes(), stamp,
                                                                                               frame_id), now)
        if self.camera is not None:
            self._write(topic(cam, "camera_info"), msgs.CAMERA_INFO,
                        msgs.camera_info(stamp=stamp, frame_id=frame_id, **self.camera), now)
        self._write(topic(cam, "mask"), msgs.IMAGE, msgs.image(mask, stamp, frame_id), now)
        self._write(topic(cam, "detections"), msgs.DETECTIONS, msgs.detections(header["objects"], stamp, frame_id), now)
        self.masks += 1

    def stats(self, payload: dict) -> None:
        now = time.time_ns()
        self.sequence += 1
        self.writer.add_message(self.stats_channel, log_time=now, publish_time=now, sequence=self.sequence,
                                data=json.dumps(payload).encode())

    def close(self) -> None:
        if self._file.closed:
            return
        self.writer.finish()
        self._file.close()
