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
import json
import os
import time

import numpy as np
import zmq

from rtvos import curve, messages
from rtvos.transport import recv_all_nowait, run_file


class SubscriberTimeout(TimeoutError):
    pass


class ReceivedMask(messages.MaskMessage):
    t_receive_ns: int = 0
    image: "np.ndarray | None" = None  # the frame (RGB), when subscribed with images=True and published

    @property
    def latency_ms(self) -> float:
        """Capture -> received on the monotonic clock, which is one clock for every process of a host:
        exact when publisher and subscriber share a host, meaningless across hosts (compare `stamp`,
        the wall-clock time of capture, with your clock there)."""
        return (self.t_receive_ns - self.header["t_capture_ns"]) / 1e6

    @property
    def stamp_ns(self) -> int:
        """Wall-clock time of capture, ns since the epoch (ROS header stamp)."""
        return self.header["stamp"]


class MaskSubscriber:
    """`latest_only=True`: each `recv` hands out the newest mask waiting and passes over the older ones
    (counted in `skipped`), so a slow consumer never works on stale masks."""

    def __init__(self, endpoint: str = "tcp://127.0.0.1:5555", *, stats: bool = False, images: bool = False,
                 latest_only: bool = False, ctx: zmq.Context | None = None):
        self.ctx = ctx or zmq.Context.instance()  # (a client never terminates a context: see `close`)
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
        self.latest_only = latest_only
        self.rejected = 0
        self.skipped = 0
        self.last_stats: dict | None = None

    def _take(self, parts: list, t_rx: int) -> ReceivedMask | None:
        """The mask in `parts`, or None for stats, images and malformed messages (counted)."""
        try:
            topic = parts[0]
            header = messages.unpack_header(parts[1])
            if topic == messages.TOPIC_STATS:
                self.last_stats = header
                return None
            if topic == messages.TOPIC_IMAGE:
                frame = messages.decode_frame(parts[1:], header)
                self._images[frame.seq] = frame.image
                while len(self._images) > 8:  # an image whose mask never came is forgotten
                    self._images.popitem(last=False)
                return None
            msg = messages.decode_mask(parts[1:], header)
        except (messages.MessageError, IndexError):
            self.rejected += 1
            return None
        out = ReceivedMask(header=msg.header, mask=msg.mask)
        out.t_receive_ns = t_rx
        out.image = self._images.pop(msg.seq, None)
        return out

    def recv(self, timeout: float | None = None) -> ReceivedMask:
        """The next mask (the newest waiting, with `latest_only`). Stats messages update `last_stats`;
        malformed messages are counted in `rejected` and skipped. Raises SubscriberTimeout after
        `timeout` seconds without a mask."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait_ms = -1 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            if not self.sock.poll(wait_ms):
                raise SubscriberTimeout(f"no mask from {self.endpoint} within {timeout:.1f} s")
            waiting = recv_all_nowait(self.sock, copy=True) if self.latest_only else [self.sock.recv_multipart()]
            t_rx = time.monotonic_ns()
            masks = [m for m in (self._take(parts, t_rx) for parts in waiting) if m is not None]
            if masks:
                self.skipped += len(masks) - 1
                return masks[-1]

    def __iter__(self):
        while True:
            yield self.recv()

    def close(self) -> None:
        """Closes the socket. The process-wide context stays: a private one would have to be terminated,
        and terminating a context waits for every socket in it, so one client left unclosed (an
        exception on the way) would hang the program at exit."""
        self.sock.close(linger=0)

    def __enter__(self) -> "MaskSubscriber":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ControlError(RuntimeError):
    """The pipeline refused a target change (the message says why) or did not answer."""


def find_control(topic: str) -> tuple[str, str | None]:
    """The control endpoint (and CURVE keys folder) of the run of this user publishing on `topic`, from
    the run file `rtvos run` leaves while it runs."""
    path = run_file(topic)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise ControlError(f"no run publishing on {topic} was found ({path} is missing): is `rtvos run` running "
                           "as this user? Give its control endpoint with --connect otherwise") from None
    try:
        os.kill(int(data["pid"]), 0)
    except (ProcessLookupError, KeyError, ValueError):
        raise ControlError(f"the run that published on {topic} has ended ({path} is stale)") from None
    except PermissionError:
        pass
    if not data.get("control"):
        raise ControlError(f"the run publishing on {topic} has no control socket ([endpoints] control = \"none\")")
    return data["control"], data.get("control_keys")


class ControlClient:
    """Changes what a running pipeline follows. Found by its mask topic (the run file `rtvos run` leaves:
    the control socket itself is private to the user who started the run), or given an endpoint; a
    control socket on another host needs the run's CURVE keys (`keys`, see rtvos.curve). Each call
    returns once the change has been applied to a frame; a change the pipeline is too busy for is
    retried until `timeout`.

        ctl = ControlClient()                          # the run publishing on tcp://127.0.0.1:5555
        ctl.add_object(2, box=(100, 80, 220, 200))     # or mask=HxW array (nonzero = the object)
        ctl.remove_object(1)
        ctl.set_target(mask=label_mask)                # replace everything (0 bg, k = object k)
        ctl.reset()                                    # follow nothing until the next target
        ctl.stats()                                    # {"objects": [...], "counters": {...}, ...}
    """

    def __init__(self, endpoint: str | None = None, timeout: float = 10.0, ctx: zmq.Context | None = None, *,
                 topic: str = "tcp://127.0.0.1:5555", keys: str | None = None):
        if endpoint is None:
            endpoint, run_keys = find_control(topic)
            keys = keys or run_keys
        self.ctx = ctx or zmq.Context.instance()
        self.endpoint, self.timeout, self.keys = endpoint, timeout, keys
        self.sock = None
        self._connect()

    def _connect(self) -> None:
        if self.sock is not None:
            self.sock.close(linger=0)
        self.sock = self.ctx.socket(zmq.REQ)
        self.sock.setsockopt(zmq.LINGER, 0)
        if self.keys:
            curve.connect(self.sock, self.keys)
        self.sock.connect(self.endpoint)

    def request(self, op: str, **kwargs) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            self.sock.send_multipart(messages.encode_control(op, **kwargs))
            if not self.sock.poll(int(max(0.0, deadline - time.monotonic()) * 1000)):
                self._connect()  # a REQ socket that got no answer cannot send again
                raise ControlError(f"no answer from {self.endpoint} within {self.timeout:.0f} s: is `rtvos run` "
                                   "running?")
            try:
                parts = self.sock.recv_multipart()
                if len(parts) != 1:
                    raise messages.MessageError(f"a reply is one part, got {len(parts)}")
                reply = messages.decode_reply(parts[0])
            except messages.MessageError as exc:
                raise ControlError(f"malformed reply from {self.endpoint}: {exc}") from None
            if reply.ok:
                return reply.as_dict()
            if not reply.retry_after_ms:
                raise ControlError(reply.error or "refused")
            if time.monotonic() + reply.retry_after_ms / 1000 > deadline:
                raise ControlError(f"{reply.error} (in {reply.retry_after_ms / 1000:.1f} s)")
            time.sleep(reply.retry_after_ms / 1000)  # busy: another change is being paid for

    def set_target(self, mask: np.ndarray | None = None, boxes: dict | None = None) -> dict:
        return self.request("set_target", mask=mask, boxes=boxes)

    def add_object(self, object_id: int, mask: np.ndarray | None = None, box=None) -> dict:
        return self.request("add_object", object_id=object_id, mask=mask, box=box)

    def remove_object(self, object_id: int) -> dict:
        return self.request("remove_object", object_id=object_id)

    def reset(self) -> dict:
        return self.request("reset")

    def stats(self) -> dict:
        return self.request("stats")

    def close(self) -> None:
        self.sock.close(linger=0)  # (the context stays, as MaskSubscriber.close says)

    def __enter__(self) -> "ControlClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
