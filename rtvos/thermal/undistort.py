"""Lens undistortion from an OpenCV / ROS `camera_info` YAML file.

Reads the ROS layout (`camera_calibration` output)

    image_width: 640
    image_height: 512
    camera_matrix: {rows: 3, cols: 3, data: [fx, 0, cx, 0, fy, cy, 0, 0, 1]}   (block or flow style)
    distortion_model: plumb_bob
    distortion_coefficients: {rows: 1, cols: 5, data: [k1, k2, p1, p2, k3]}
    rectification_matrix / projection_matrix      (optional)

and OpenCV's own `cv2.FileStorage` files (`%YAML:1.0`, `!!opencv-matrix` nodes with the same key names).
PyYAML is not a dependency and `cv2.FileStorage` refuses ROS files without the `%YAML:1.0` header,
so a small parser for this flat subset of YAML is included (`parse_simple_yaml`).

`Undistorter(info)` builds the cv2.initUndistortRectifyMap maps once; `undistorter(frame)` remaps a
frame (any dtype cv2.remap takes: uint8, uint16, float32; 1 or 3 channels).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


class CalibrationError(ValueError):
    """A camera calibration file is missing, unreadable or inconsistent."""


# --- a tiny YAML subset: nested mappings by indentation, flow lists/maps, scalars, comments --------------

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _strip_comment(line: str) -> str:
    quote = None
    for k, ch in enumerate(line):
        if ch in "'\"":
            quote = None if quote == ch else (ch if quote is None else quote)
        elif ch == "#" and quote is None and (k == 0 or line[k - 1] in " \t"):
            return line[:k]
    return line


def _scalar(text: str):
    text = text.strip()
    if text.startswith("!!"):  # a tag such as !!opencv-matrix or !!float
        text = text.split(None, 1)[1] if " " in text else ""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if _NUMBER.match(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    low = text.lower()
    if low in (".nan", "nan"):
        return float("nan")
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "~", ""):
        return None
    return text


def _split_flow(body: str) -> list[str]:
    """Splits the inside of [...] or {...} at top-level commas."""
    parts, depth, cur = [], 0, []
    for ch in body:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return parts


def _value(text: str):
    text = text.strip()
    if text.startswith("!!"):
        text = text.split(None, 1)[1] if " " in text else ""
    if text.startswith("["):
        return [_value(p) for p in _split_flow(text[1:text.rindex("]")])]
    if text.startswith("{"):
        out = {}
        for part in _split_flow(text[1:text.rindex("}")]):
            key, _, val = part.partition(":")
            out[key.strip().strip("'\"")] = _value(val)
        return out
    return _scalar(text)


def parse_simple_yaml(text: str) -> dict:
    """Parses the flat YAML of camera_info files: nested mappings (by indentation), flow lists and maps
    (which may span lines), block lists of scalars, scalars, comments, `%` directives and `---`."""
    # Logical lines: comments removed, multi-line flow collections joined.
    lines: list[tuple[int, str]] = []
    pending, pending_indent, depth = "", 0, 0
    for raw in text.splitlines():
        line = _strip_comment(raw).rstrip()
        if not pending and (not line.strip() or line.startswith("%") or line.strip() in ("---", "...")):
            continue
        if not pending:
            pending_indent = len(line) - len(line.lstrip())
            pending = line.strip()
        else:
            pending += " " + line.strip()
        depth = pending.count("[") + pending.count("{") - pending.count("]") - pending.count("}")
        if depth <= 0:
            lines.append((pending_indent, pending))
            pending = ""
    if pending:
        raise CalibrationError("unterminated [ or { in YAML")
    root: dict = {}
    stack: list[tuple[int, object]] = [(-1, root)]  # (indent, container)
    last_key: tuple[dict, str] | None = None
    for indent, line in lines:
        while len(stack) > 1 and indent <= stack[-1][0]:
            stack.pop()
        parent = stack[-1][1]
        if line.startswith("- ") or line == "-":
            if last_key is None:
                raise CalibrationError(f"YAML list item without a key: {line!r}")
            owner, key = last_key
            if not isinstance(owner[key], list):
                owner[key] = []
            owner[key].append(_value(line[1:]))
            continue
        key, sep, rest = line.partition(":")
        if not sep or not isinstance(parent, dict):
            raise CalibrationError(f"unsupported YAML line: {line!r}")
        key = key.strip().strip("'\"")
        rest = rest.strip()
        if rest and not (rest.startswith("!!") and " " not in rest):
            parent[key] = _value(rest)
            last_key = (parent, key)
        else:  # a nested block follows (a mapping, or a list of "- " items)
            child: dict = {}
            parent[key] = child
            stack.append((indent, child))
            last_key = (parent, key)
    return root


# --- camera info ---------------------------------------------------------------------------------------

@dataclass
class CameraInfo:
    """Intrinsics of one camera.  K: 3x3.  D: distortion coefficients.  R: 3x3 rectification (or None).
    P: 3x4 projection (or None)."""

    width: int
    height: int
    K: np.ndarray
    D: np.ndarray
    distortion_model: str = "plumb_bob"
    R: np.ndarray | None = None
    P: np.ndarray | None = None
    name: str = ""


def _matrix(node, rows: int | None, cols: int | None, what: str, path: Path) -> np.ndarray:
    data = node.get("data") if isinstance(node, dict) else node
    if not isinstance(data, list):
        raise CalibrationError(f"{path}: {what} has no data list")
    try:
        arr = np.asarray([float(v) for v in data], np.float64)
    except (TypeError, ValueError):
        raise CalibrationError(f"{path}: {what} data must be numbers") from None
    if isinstance(node, dict):
        rows, cols = node.get("rows", rows), node.get("cols", cols)
    if rows is not None and cols is not None:
        if arr.size != int(rows) * int(cols):
            raise CalibrationError(f"{path}: {what} has {arr.size} values, expected {rows}x{cols}")
        arr = arr.reshape(int(rows), int(cols))
    return arr


def read_camera_info(path: str | Path) -> CameraInfo:
    """Reads an OpenCV/ROS camera_info YAML file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise CalibrationError(f"camera calibration file {path} not found")
    try:
        data = parse_simple_yaml(path.read_text())
    except CalibrationError as exc:
        raise CalibrationError(f"{path}: {exc}") from None

    def pick(*keys):
        for k in keys:
            if k in data:
                return data[k]
        return None

    width, height = pick("image_width", "width"), pick("image_height", "height")
    kn, dn = pick("camera_matrix", "K"), pick("distortion_coefficients", "dist_coeffs", "D")
    if width is None or height is None or kn is None:
        raise CalibrationError(f"{path}: needs image_width, image_height and camera_matrix")
    K = _matrix(kn, 3, 3, "camera_matrix", path)
    D = _matrix(dn, None, None, "distortion_coefficients", path).ravel() if dn is not None else np.zeros(5)
    rn, pn = pick("rectification_matrix", "R"), pick("projection_matrix", "P")
    R = _matrix(rn, 3, 3, "rectification_matrix", path) if rn is not None else None
    P = _matrix(pn, 3, 4, "projection_matrix", path) if pn is not None else None
    model = str(pick("distortion_model") or "plumb_bob")
    if K.shape != (3, 3) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise CalibrationError(f"{path}: camera_matrix must be 3x3 with positive fx, fy")
    return CameraInfo(int(width), int(height), K, D, model, R, P, str(pick("camera_name") or path.stem))


class Undistorter:
    """Removes lens distortion with maps built once from a CameraInfo (or a camera_info YAML path).

    alpha: None keeps the calibrated intrinsics (P's left 3x3 when the file has a projection matrix,
    else K) for the output; a number in [0, 1] uses cv2.getOptimalNewCameraMatrix (0: only valid
    pixels, 1: all source pixels kept).  Pixels that map outside the source image become 0, which the
    normaliser treats as dead pixels (left out of its statistics).
    """

    def __init__(self, info: "CameraInfo | str | Path", alpha: float | None = None):
        self.info = info if isinstance(info, CameraInfo) else read_camera_info(info)
        ci = self.info
        size = (ci.width, ci.height)
        if alpha is not None:
            new_k, _ = cv2.getOptimalNewCameraMatrix(ci.K, ci.D, size, float(alpha), size)
        elif ci.P is not None and ci.P[0, 0] > 0:
            new_k = ci.P[:, :3].copy()
        else:
            new_k = ci.K.copy()
        self.new_camera_matrix = new_k
        r = ci.R if ci.R is not None else np.eye(3)
        model = ci.distortion_model.lower()
        if model in ("plumb_bob", "rational_polynomial", "radial_tangential", "radtan", ""):
            self.map1, self.map2 = cv2.initUndistortRectifyMap(ci.K, ci.D, r, new_k, size, cv2.CV_16SC2)
        elif model in ("equidistant", "fisheye", "kannala_brandt"):
            d = np.zeros(4) if ci.D.size == 0 else ci.D[:4]
            self.map1, self.map2 = cv2.fisheye.initUndistortRectifyMap(ci.K, d, r, new_k, size, cv2.CV_16SC2)
        else:
            raise CalibrationError(f"unsupported distortion_model {ci.distortion_model!r} "
                                   "(plumb_bob, rational_polynomial or equidistant)")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) the maps were built for."""
        return self.info.width, self.info.height

    def __call__(self, frame: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
        """The undistorted frame (same size and dtype).  Use INTER_NEAREST for label masks."""
        h, w = frame.shape[:2]
        if (w, h) != self.size:
            raise CalibrationError(f"frame is {w}x{h} but the calibration is for {self.size[0]}x{self.size[1]}")
        return cv2.remap(frame, self.map1, self.map2, interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
