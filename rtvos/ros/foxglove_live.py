"""The live topics over the Foxglove WebSocket protocol (`foxglove-sdk`): open Foxglove, connect to
ws://HOST:PORT, and the frames come with the masks drawn on them as image annotations -- no rtvos code on
the viewing side.

    /rtvos/<camera_id>/image        foxglove.RawImage (rgb8), when the run publishes its frames
    /rtvos/<camera_id>/mask         foxglove.RawImage (mono8: 0 background, k = object k)
    /rtvos/<camera_id>/annotations  foxglove.ImageAnnotations: each object's outline, filled in its
                                    colour, and its id and score
    /rtvos/stats                    the live statistics (JSON)
"""

from __future__ import annotations

import cv2
import numpy as np

from rtvos.view.overlay import PALETTE


def _time(stamp_ns: int):
    from foxglove.messages import Timestamp  # noqa: PLC0415

    return Timestamp(sec=stamp_ns // 1_000_000_000, nsec=stamp_ns % 1_000_000_000)


def _color(object_id: int, alpha: float):
    from foxglove.messages import Color  # noqa: PLC0415

    r, g, b = (float(c) / 255 for c in PALETTE[min(object_id, len(PALETTE) - 1)])
    return Color(r=r, g=g, b=b, a=alpha)


def outlines(mask: np.ndarray, objects: list[dict]) -> tuple[list, list]:
    """What to draw for a label mask: [(object id, [(x, y), ...] outline)], [(object id, (x, y), label)]."""
    polygons, labels = [], []
    for obj in objects:
        k = obj["id"]
        contours, _ = cv2.findContours((mask == k).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        polygons += [(k, [(float(x), float(y)) for x, y in c[:, 0]]) for c in contours]
        if obj.get("bbox"):
            x0, y0 = obj["bbox"][:2]
            labels.append((k, (float(x0), float(max(0, y0 - 4))), f"#{k} {obj['score']:.2f}"))
    return polygons, labels


def annotations(mask: np.ndarray, objects: list[dict], stamp_ns: int):
    """foxglove ImageAnnotations for a label mask: per object its outlines (filled) and a label."""
    from foxglove.messages import (  # noqa: PLC0415
        Color,
        ImageAnnotations,
        Point2,
        PointsAnnotation,
        PointsAnnotationType,
        TextAnnotation,
    )

    t = _time(stamp_ns)
    polygons, labels = outlines(mask, objects)
    points = [PointsAnnotation(timestamp=t, type=PointsAnnotationType.LineLoop,
                               points=[Point2(x=x, y=y) for x, y in polygon], outline_color=_color(k, 1.0),
                               fill_color=_color(k, 0.4), thickness=2) for k, polygon in polygons]
    texts = [TextAnnotation(timestamp=t, position=Point2(x=x, y=y), text=text, font_size=14,
                            text_color=_color(k, 1.0), background_color=Color(r=0, g=0, b=0, a=0.6))
             for k, (x, y), text in labels]
    return ImageAnnotations(timestamp=t, points=points, texts=texts)


class FoxgloveLive:
    def __init__(self, host: str = "127.0.0.1", port: int = 8765):
        import foxglove  # noqa: PLC0415

        self.foxglove = foxglove
        self.server = foxglove.start_server(name="rtvos", host=host, port=port)
        self.port = self.server.port
        self.channels: dict[str, object] = {}
        self.stats_channel = foxglove.Channel("/rtvos/stats", message_encoding="json")

    def _channel(self, topic: str, kind: str):
        if topic not in self.channels:
            from foxglove import channels  # noqa: PLC0415

            self.channels[topic] = getattr(channels, kind)(topic)
        return self.channels[topic]

    def mask(self, header: dict, mask: np.ndarray, image: np.ndarray | None = None) -> None:
        from foxglove.messages import RawImage  # noqa: PLC0415

        cam, stamp, frame_id = header["camera_id"], header["stamp"], header["frame_id"]
        t = _time(stamp)
        if image is not None:
            h, w = image.shape[:2]
            self._channel(f"/rtvos/{cam}/image", "RawImageChannel").log(
                RawImage(timestamp=t, frame_id=frame_id, width=w, height=h, encoding="rgb8", step=3 * w,
                         data=np.ascontiguousarray(image).tobytes()))
        h, w = mask.shape
        self._channel(f"/rtvos/{cam}/mask", "RawImageChannel").log(
            RawImage(timestamp=t, frame_id=frame_id, width=w, height=h, encoding="mono8", step=w,
                     data=np.ascontiguousarray(mask).tobytes()))
        self._channel(f"/rtvos/{cam}/annotations", "ImageAnnotationsChannel").log(
            annotations(mask, header["objects"], stamp))

    def stats(self, payload: dict) -> None:
        self.stats_channel.log(payload)

    def close(self) -> None:
        self.server.stop()
