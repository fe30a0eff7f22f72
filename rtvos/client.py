"""Subscribing to rtvos mask topics from Python (what a robotics stack imports).

    from rtvos.client import MaskSubscriber

    with MaskSubscriber("tcp://127.0.0.1:5555") as sub:
        for msg in sub:                     # blocks; use sub.recv(timeout=1.0) for a bounded wait
            mask = msg.mask                 # HxW uint8: 0 background, k = object k
            for obj in msg.objects:         # {"id", "score", "bbox": [x0, y0, x1, y1], "area"}
                ...
            msg.header["seq"], msg.header["t_capture_ns"], msg.latency_ms

Messages on the wire: `[topic, msgpack header, buffer]`, see rtvos.messages.
"""

from __future__ import annotations

import collections
import time

import numpy as np
import zmq

from rtvos import messages


class SubscriberTimeout(TimeoutError):
    pass


class ReceivedMask(messages.MaskMessage):
    t_receive_ns: int = 0
    image: "np.ndarray | None" = None  # the frame (RGB), when subscribed with images=True and published

    @property
    def latency_ms(self) -> float:
        """Capture -> received, exact when publisher and subscriber share a host (one monotonic clock)."""
        return (self.t_receive_ns - self.header["t_capture_ns"]) / 1e6


class MaskSubscriber:
    def __init__(self, endpoint: str = "tcp://127.0.0.1:5555", *, stats: bool = False, images: bool = False,
                 ctx: zmq.Context | None = None):
        self._own_ctx = ctx is None
        self.ctx = ctx or zmq.Context()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, messages.MAX_BUFFER_BYTES + 1024 * 1024)
        self.sock.setsockopt(zmq.RCVHWM, 100)
        self.sock.setsockopt(zmq.SUBSCRIBE, messages.TOPIC_MASK)
        if stats:
            self.sock.setsockopt(zmq.SUBSCRIBE, messages.TOPIC_STATS)
        if images:  # the run must publish them (`rtvos run --publish-images`)
            self.sock.setsockopt(zmq.SUBSCRIBE, messages.TOPIC_IMAGE)
        self._images: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()
        self.sock.connect(endpoint)
        self.endpoint = endpoint
        self.rejected = 0
        self.last_stats: dict | None = None

    def recv(self, timeout: float | None = None) -> ReceivedMask:
        """The next mask. Stats messages update `last_stats`; malformed messages are counted in
        `rejected` and skipped. Raises SubscriberTimeout after `timeout` seconds without a mask."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait_ms = -1 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if not self.sock.poll(wait_ms):
                raise SubscriberTimeout(f"no mask from {self.endpoint} within {timeout:.1f} s")
            parts = self.sock.recv_multipart()
            t_rx = time.monotonic_ns()
            try:
                topic = parts[0]
                header = messages.unpack_header(parts[1])
                if topic == messages.TOPIC_STATS:
                    self.last_stats = header
                    continue
                if topic == messages.TOPIC_IMAGE:
                    frame = messages.decode_frame(parts[1:], header)
                    self._images[frame.seq] = frame.image
                    while len(self._images) > 8:  # an image whose mask never came is forgotten
                        self._images.popitem(last=False)
                    continue
                msg = messages.decode_mask(parts[1:], header)
            except (messages.MessageError, IndexError):
                self.rejected += 1
                continue
            out = ReceivedMask(header=msg.header, mask=msg.mask)
            out.t_receive_ns = t_rx
            out.image = self._images.pop(msg.seq, None)
            return out

    def __iter__(self):
        while True:
            yield self.recv()

    def close(self) -> None:
        self.sock.close()
        if self._own_ctx:
            self.ctx.term()

    def __enter__(self) -> "MaskSubscriber":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
