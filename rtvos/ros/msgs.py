"""ROS 2 message definitions (the `ros2msg` text an MCAP schema carries, dependencies appended) and the
conversions of rtvos's masks, objects and frames into them, as the plain dicts an MCAP ROS 2 writer
serialises:

    sensor_msgs/msg/Image            the mask (mono8: 0 background, k = object k) and raw frames (rgb8)
    sensor_msgs/msg/CompressedImage  JPEG frames
    sensor_msgs/msg/CameraInfo       the camera, when its calibration is known
    vision_msgs/msg/Detection2DArray one detection per object: bounding box centre and size, id, score

Every message has a std_msgs/Header: `stamp` the wall-clock time of capture, `frame_id` configurable.
"""

from __future__ import annotations

import numpy as np

SEPARATOR = "\n" + "=" * 80 + "\n"


def _with(definition: str, *dependencies: str) -> str:
    """A message definition with its dependencies appended (MSG: name sections), as MCAP stores it."""
    return definition.strip() + "".join(SEPARATOR + f"MSG: {name}\n" + DEFINITIONS[name].strip()
                                        for name in dependencies) + "\n"


DEFINITIONS = {
    "builtin_interfaces/Time": "int32 sec\nuint32 nanosec",
    "std_msgs/Header": "builtin_interfaces/Time stamp\nstring frame_id",
    "sensor_msgs/RegionOfInterest": "uint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 width\nbool do_rectify",
    "geometry_msgs/Point": "float64 x\nfloat64 y\nfloat64 z",
    "geometry_msgs/Quaternion": "float64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1",
    "geometry_msgs/Pose": "geometry_msgs/Point position\ngeometry_msgs/Quaternion orientation",
    "geometry_msgs/PoseWithCovariance": "geometry_msgs/Pose pose\nfloat64[36] covariance",
    "vision_msgs/ObjectHypothesis": "string class_id\nfloat64 score",
    "vision_msgs/ObjectHypothesisWithPose": "vision_msgs/ObjectHypothesis hypothesis\n"
                                            "geometry_msgs/PoseWithCovariance pose",
    "vision_msgs/Point2D": "float64 x\nfloat64 y",
    "vision_msgs/Pose2D": "vision_msgs/Point2D position\nfloat64 theta",
    "vision_msgs/BoundingBox2D": "vision_msgs/Pose2D center\nfloat64 size_x\nfloat64 size_y",
    "vision_msgs/Detection2D": "std_msgs/Header header\nvision_msgs/ObjectHypothesisWithPose[] results\n"
                               "vision_msgs/BoundingBox2D bbox\nstring id",
}
HEADER_DEPS = ("std_msgs/Header", "builtin_interfaces/Time")

IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
DETECTIONS = "vision_msgs/msg/Detection2DArray"

SCHEMAS = {
    IMAGE: _with("std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\nuint8 is_bigendian\n"
                 "uint32 step\nuint8[] data", *HEADER_DEPS),
    COMPRESSED_IMAGE: _with("std_msgs/Header header\nstring format\nuint8[] data", *HEADER_DEPS),
    CAMERA_INFO: _with("std_msgs/Header header\nuint32 height\nuint32 width\nstring distortion_model\nfloat64[] d\n"
                       "float64[9] k\nfloat64[9] r\nfloat64[12] p\nuint32 binning_x\nuint32 binning_y\n"
                       "sensor_msgs/RegionOfInterest roi", *HEADER_DEPS, "sensor_msgs/RegionOfInterest"),
    DETECTIONS: _with("std_msgs/Header header\nvision_msgs/Detection2D[] detections", "vision_msgs/Detection2D",
                      *HEADER_DEPS, "vision_msgs/ObjectHypothesisWithPose", "vision_msgs/ObjectHypothesis",
                      "geometry_msgs/PoseWithCovariance", "geometry_msgs/Pose", "geometry_msgs/Point",
                      "geometry_msgs/Quaternion", "vision_msgs/BoundingBox2D", "vision_msgs/Pose2D",
                      "vision_msgs/Point2D"),
}


def header(stamp_ns: int, frame_id: str) -> dict:
    return {"stamp": {"sec": stamp_ns // 1_000_000_000, "nanosec": stamp_ns % 1_000_000_000}, "frame_id": frame_id}


def stamp_ns(msg_header) -> int:
    """The stamp of a decoded ROS 2 header, in ns."""
    return int(msg_header.stamp.sec) * 1_000_000_000 + int(msg_header.stamp.nanosec)


def image(array: np.ndarray, stamp: int, frame_id: str) -> dict:
    """sensor_msgs/Image of an HxW uint8 (mono8) or HxWx3 uint8 RGB (rgb8) array."""
    h, w = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    return {"header": header(stamp, frame_id), "height": h, "width": w,
            "encoding": "mono8" if channels == 1 else "rgb8", "is_bigendian": 0, "step": w * channels,
            "data": np.ascontiguousarray(array).tobytes()}


def compressed_image(jpeg: bytes, stamp: int, frame_id: str) -> dict:
    return {"header": header(stamp, frame_id), "format": "jpeg", "data": jpeg}


def detections(objects: list[dict], stamp: int, frame_id: str) -> dict:
    """vision_msgs/Detection2DArray: an object with no pixels (bbox None) has no detection."""
    out = []
    for obj in objects:
        if not obj.get("bbox"):
            continue
        x0, y0, x1, y1 = obj["bbox"]
        out.append({"header": header(stamp, frame_id), "id": str(obj["id"]),
                    "results": [{"hypothesis": {"class_id": str(obj["id"]), "score": float(obj["score"])},
                                 "pose": {"pose": {"position": {"x": (x0 + x1) / 2, "y": (y0 + y1) / 2, "z": 0.0},
                                                   "orientation": {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0}},
                                          "covariance": [0.0] * 36}}],
                    "bbox": {"center": {"position": {"x": (x0 + x1) / 2, "y": (y0 + y1) / 2}, "theta": 0.0},
                             "size_x": float(x1 - x0), "size_y": float(y1 - y0)}})
    return {"header": header(stamp, frame_id), "detections": out}


def camera_info(k: np.ndarray, height: int, width: int, stamp: int, frame_id: str,
                d: np.ndarray | None = None, model: str = "plumb_bob") -> dict:
    """sensor_msgs/CameraInfo of a pinhole camera (K 3x3; no distortion unless `d`)."""
    k = np.asarray(k, float).reshape(3, 3)
    p = np.hstack([k, np.zeros((3, 1))])
    return {"header": header(stamp, frame_id), "height": height, "width": width, "distortion_model": model,
            "d": [float(v) for v in (np.zeros(5) if d is None else np.ravel(d))], "k": [float(v) for v in k.ravel()],
            "r": [float(v) for v in np.eye(3).ravel()], "p": [float(v) for v in p.ravel()], "binning_x": 0,
            "binning_y": 0, "roi": {"x_offset": 0, "y_offset": 0, "height": 0, "width": 0, "do_rectify": False}}
