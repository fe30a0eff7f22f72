"""The endpoints one run's stages use, and what every stage process does first."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import time
from dataclasses import dataclass

import zmq

from rtvos import messages
from rtvos.transport import make_socket


@dataclass(frozen=True)
class Links:
    frames: str     # capture PUSH -> infer PULL (infer binds)
    results: str    # infer PUSH -> publish PULL (publish binds)
    stats: str      # every stage PUSH -> supervisor PULL (supervisor binds)
    publish: str    # publish PUB (public mask + stats topic)
    allow_remote: bool = False
    control: str | None = None  # infer REP (target changes); None = no control socket


class StopFlag:
    """Becomes true when the supervisor asks the stage to stop (SIGTERM)."""

    def __init__(self):
        self.signalled = False

    def __bool__(self) -> bool:
        return self.signalled


def setup_stage_process(name: str) -> StopFlag:
    """Common start of every stage process.

    - Ctrl-C goes to the whole process group: stages ignore SIGINT and let the supervisor stop them in
      order, so the final counters reach the supervisor.
    - SIGTERM asks the stage to stop at its next loop turn.
    - If the supervisor dies hard, the kernel sends us SIGTERM (PR_SET_PDEATHSIG): no orphans.
    """
    logging.basicConfig(level=logging.INFO, format=f"[%(asctime)s] {name}: %(message)s", datefmt="%H:%M:%S")
    flag = StopFlag()
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def on_term(signum, frame):
        flag.signalled = True

    signal.signal(signal.SIGTERM, on_term)
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    return flag


class Reporter:
    """A stage's line to the supervisor: ready, heartbeats with counters, final counters, errors."""

    def __init__(self, ctx: zmq.Context, endpoint: str, stage: str, interval_s: float = 0.5):
        self.sock = make_socket(ctx, zmq.PUSH, hwm=1000, linger_ms=2000)
        self.sock.connect(endpoint)
        self.stage = stage
        self.interval_ns = int(interval_s * 1e9)
        self._last = 0

    def send(self, event: str, **fields) -> None:
        payload = {"stage": self.stage, "event": event, "pid": os.getpid(), "t_ns": time.monotonic_ns(), **fields}
        try:
            self.sock.send(messages.encode_stats(payload), flags=zmq.NOBLOCK)
        except zmq.Again:
            pass  # the supervisor is gone or swamped; the stage goes on

    def heartbeat(self, **fields) -> None:
        now = time.monotonic_ns()
        if now - self._last >= self.interval_ns:
            self._last = now
            self.send("heartbeat", **fields)

    def close(self) -> None:
        self.sock.close()
