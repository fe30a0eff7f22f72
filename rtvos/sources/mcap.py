"""`mcap:<file>`: a recording's frames as a source (rtvos/ros/mcap_file.py writes them), with their
original stamps, so a field recording can be run again with another model. The frames come from the
first `/rtvos/<camera>/image` topic (raw or JPEG); the recording's masks of that camera, matched by
stamp, are the ground truth, and the first one the first frame's target."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
from mcap.exceptions import McapError
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory

from rtvos.ros.msgs import stamp_ns

from .base import Frame, Pacer, Source, SourceError


def _pixels(msg) -> np.ndarray:
    """An RGB (rgb8 Image or JPEG CompressedImage) or mono8 array from a decoded ROS 2 image."""
    if hasattr(msg, "format"):  # CompressedImage
        bgr = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SourceError("a compressed image in the recording does not decode")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    channels = {"rgb8": 3, "mono8": 1}.get(msg.encoding)
    if channels is None:
        raise SourceError(f"image encoding {msg.encoding!r} is not supported (rgb8, mono8, jpeg)")
    data = np.frombuffer(bytes(msg.data), np.uint8)
    if data.size != msg.height * msg.step or msg.step != msg.width * channels:
        raise SourceError("an image in the recording has the wrong number of bytes")
    return data.reshape(msg.height, msg.width, channels) if channels == 3 else data.reshape(msg.height, msg.width)


class McapSource(Source):
    def __init__(self, path: str | Path, fps: float | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"mcap source: {self.path} is not a file")
        try:
            with open(self.path, "rb") as f:
                summary = make_reader(f).get_summary()
        except (McapError, OSError, ValueError) as exc:
            raise SourceError(f"mcap source: {self.path} is not a readable MCAP file ({exc})") from None
        topics = sorted(c.topic for c in (summary.channels.values() if summary else []))
        images = [t for t in topics if t.startswith("/rtvos/") and t.endswith("/image")]
        if not images:
            raise SourceError(f"mcap source: {self.path} has no /rtvos/<camera>/image topic (record with "
                              f"--publish-images); topics: {', '.join(topics) or 'none'}")
        self.image_topic = images[0]
        channel = next(c.id for c in summary.channels.values() if c.topic == self.image_topic)
        counts = summary.statistics.channel_message_counts if summary.statistics else {}
        self.frame_count = counts.get(channel)
        self.mask_topic = self.image_topic[: -len("image")] + "mask"
        self.name, self.fps = self.path.stem, fps

    def frames(self, start: int = 0) -> Iterator[Frame]:
        pacer = Pacer(self.fps)
        pending = None  # (stamp, image) waiting for its mask
        seq = 0

        def frame(stamp, image, mask):
            nonlocal seq
            out = Frame(image=image, seq=seq, t_capture_ns=time.monotonic_ns(), stamp_ns=stamp, gt_mask=mask,
                        target=mask.copy() if (seq == 0 and mask is not None) else None, name=f"{seq:05d}",
                        meta={"source": "mcap", "path": str(self.path)})
            seq += 1
            return out

        with open(self.path, "rb") as f:
            reader = make_reader(f, decoder_factories=[DecoderFactory()])
            try:
                for _, channel, _, msg in reader.iter_decoded_messages(topics=[self.image_topic, self.mask_topic]):
                    stamp = stamp_ns(msg.header)
                    if channel.topic == self.image_topic:
                        if pending is not None:  # the previous frame had no mask
                            if seq >= start:
                                pacer.wait()
                                yield frame(*pending, None)
                            else:
                                seq += 1
                        pending = (stamp, _pixels(msg))
                    elif pending is not None and stamp == pending[0]:
                        if seq >= start:
                            pacer.wait()
                            yield frame(*pending, _pixels(msg).copy())
                        else:
                            seq += 1
                        pending = None
            except McapError as exc:
                raise SourceError(f"mcap source: {self.path}: {exc}") from None
            if pending is not None and seq >= start:
                yield frame(*pending, None)
