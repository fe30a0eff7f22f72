"""Frames from a video file or a live camera, through cv2.VideoCapture (BGR converted to RGB)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Iterator

import cv2

from .base import Frame, Pacer, Source, SourceError

log = logging.getLogger(__name__)


class VideoSource(Source):
    """A video file.  fps: real-time pacing (None = as fast as possible; the file's own rate is in
    `native_fps`).  loop: start over at the end (seq keeps counting).  Each `frames()` call starts
    from the beginning of the file.  Frames are named by their index in the file ("00012").
    """

    def __init__(self, path: str | Path, fps: float | None = None, loop: bool = False):
        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"video source: no such file {self.path}")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"video source: OpenCV cannot open {self.path} (unsupported container/codec?)")
        self.name = self.path.stem
        self.fps = fps
        self.loop = loop
        self.native_fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0) or None
        self.frame_count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) or None  # the container's claim

    def frames(self, start: int = 0) -> Iterator[Frame]:
        if self._cap is None:
            raise SourceError(f"video source {self.path} is closed")
        pacer = Pacer(self.fps)
        seq = 0
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        while True:
            index = 0
            while True:
                if seq < start:  # resuming: passed over, unpaced
                    if not self._cap.grab():
                        break
                    seq += 1
                    index += 1
                    continue
                pacer.wait()
                ok, bgr = self._cap.read()
                t = time.monotonic_ns()
                if not ok or bgr is None:
                    break  # end of file (or a broken tail: nothing more can be read)
                yield Frame(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), seq=seq, t_capture_ns=t,
                            name=f"{index:05d}", meta={"source": "video", "index": index})
                seq += 1
                index += 1
            if not self.loop or index == 0:
                return
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class CameraSource(Source):
    """A live camera (V4L2/USB/CSI through OpenCV).  The camera paces itself: `fps`, `width` and
    `height` are requests to the driver (check `self.width/height/fps` after opening for what it gave).

    A failed read is counted in `self.read_failures`; `max_failures` failed reads in a row (the camera
    has gone away) raise SourceError.  The driver's frame queue is kept to one frame where the backend
    allows it, so frames are fresh rather than buffered.
    """

    def __init__(self, index: int | str = 0, width: int | None = None, height: int | None = None,
                 fps: float | None = None, max_failures: int = 30, retry_sleep_s: float = 0.01):
        self.index = index
        self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            self._cap.release()
            self._cap = None
            raise SourceError(f"no camera at index {index}: check `ls /dev/video*` (and that no other program "
                              f"holds it) or pass --source synthetic")
        if width:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, int(width))
        if height:
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, int(height))
        if fps:
            self._cap.set(cv2.CAP_PROP_FPS, float(fps))
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0) or fps
        self.name = f"camera{index}"
        self.max_failures = max_failures
        self.retry_sleep_s = retry_sleep_s
        self.read_failures = 0
        self._seq = 0

    def frames(self, start: int = 0) -> Iterator[Frame]:
        """Yields frames until closed; seq keeps counting across calls (from `start`, when it is later)."""
        self._seq = max(self._seq, start)
        streak = 0
        while self._cap is not None:
            ok, bgr = self._cap.read()
            t = time.monotonic_ns()
            if not ok or bgr is None:
                self.read_failures += 1
                streak += 1
                if streak >= self.max_failures:
                    raise SourceError(f"camera {self.index}: {streak} reads in a row failed "
                                      f"({self.read_failures} in all); the camera has gone away")
                log.warning("camera %s: read failed (%d in a row)", self.index, streak)
                time.sleep(self.retry_sleep_s)
                continue
            streak = 0
            yield Frame(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), seq=self._seq, t_capture_ns=t,
                        meta={"source": "camera", "index": self.index})
            self._seq += 1

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
