"""What every stage process shares, so a stage supplies only its own work (as a Holoscan operator supplies
`compute()` and the runtime owns the rest):

- process setup: SIGTERM asks the stage to stop at its next turn, SIGINT is left to the supervisor, and
  the stage dies with the supervisor (PR_SET_PDEATHSIG);
- the ZeroMQ context and the `Reporter`, the stage's typed line to the supervisor;
- start-up: a stage that cannot start (a port taken, a model that will not load) reports a fatal
  error and exits with code 3;
- the loop: one `turn()` at a time, a heartbeat with the stage's counters between turns;
- the end: a stream error (StreamError, e.g. a source that fails, while opening or later) is reported,
  end of stream is passed on (`finish`), the final counters are reported, and the sockets are closed.

    class Publish(Stage):
        name = "publish"
        def open(self, rt): ...            # sockets, model; raise StartupError if impossible
        def turn(self) -> bool: ...        # one turn; False when the stream has ended
        def finish(self) -> None: ...      # pass end of stream on
        def close(self) -> None: ...
"""

from __future__ import annotations

import abc
import ctypes
import logging
import os
import signal
import time

import zmq

from rtvos import messages
from rtvos.config import RunConfig
from rtvos.pipeline.links import Links
from rtvos.transport import EndpointError, check_endpoint, make_socket

HEARTBEAT_INTERVAL_S = 0.5
STARTUP_FAILED = 3  # the exit code of a stage that could not start (and of `rtvos run` then)
PR_SET_PDEATHSIG = 1


class StartupError(RuntimeError):
    """The stage cannot start; the message says why and what to do."""


class StreamError(RuntimeError):
    """The stream cannot go on (e.g. the camera disappeared); the stage ends it in order."""


class StopFlag:
    """Becomes true when the supervisor asks the stage to stop (SIGTERM)."""

    def __init__(self):
        self.signalled = False

    def __bool__(self) -> bool:
        return self.signalled


def setup_stage_process(name: str) -> StopFlag:
    """Logging, signals and the parent-death signal of a stage process (see the module doc)."""
    logging.basicConfig(level=logging.INFO, format=f"[%(asctime)s] {name}: %(message)s", datefmt="%H:%M:%S")
    flag = StopFlag()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the supervisor stops us in order

    def on_term(signum, frame):
        flag.signalled = True

    signal.signal(signal.SIGTERM, on_term)
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    return flag


class Reporter:
    """A stage's line to the supervisor (typed `messages.StageReport`s over PUSH)."""

    def __init__(self, ctx: zmq.Context, endpoint: str, stage: str):
        self.sock = make_socket(ctx, zmq.PUSH, hwm=1000, linger_ms=2000)
        self.sock.connect(endpoint)
        self.stage = stage
        self._last_heartbeat = 0

    def send(self, event: str, **fields) -> None:
        report = messages.StageReport(stage=self.stage, event=event, pid=os.getpid(), t_ns=time.monotonic_ns(), **fields)
        try:
            self.sock.send(messages.encode_report(report), flags=zmq.NOBLOCK)
        except zmq.Again:
            pass  # the supervisor is gone or swamped; the stage goes on

    def heartbeat_due(self) -> bool:
        """True at most once every HEARTBEAT_INTERVAL_S (ask as often as convenient)."""
        now = time.monotonic_ns()
        if now - self._last_heartbeat < HEARTBEAT_INTERVAL_S * 1e9:
            return False
        self._last_heartbeat = now
        return True

    def close(self) -> None:
        self.sock.close()


class Stage(abc.ABC):
    """One stage's own work; `StageRuntime` drives it."""

    name: str

    def __init__(self, cfg: RunConfig, links: Links):
        self.cfg, self.links = cfg, links
        self.rt: StageRuntime | None = None

    @abc.abstractmethod
    def open(self) -> None:
        """Make sockets (`self.rt.socket`) and whatever else the stage needs; StartupError if it cannot."""

    @abc.abstractmethod
    def turn(self) -> bool:
        """One turn of the stage's loop (it may block up to ~0.1 s); False when the stream has ended."""

    @abc.abstractmethod
    def finish(self) -> None:
        """The stream has ended (or the stage is asked to stop): pass end of stream on."""

    @abc.abstractmethod
    def counters(self) -> messages.Counters:
        """The stage's counters now (heartbeats and the final report carry them)."""

    def live(self, final: bool = False) -> messages.LiveStats | None:
        """Live statistics to report besides the counters (publish): over the recent frames, or over the
        whole run for the final report."""
        return None

    def heartbeat(self) -> None:
        """Report the counters now if a heartbeat is due (for stages that wait inside a turn)."""
        if self.rt.reporter.heartbeat_due():
            self.rt.reporter.send("heartbeat", counters=self.counters(), live=self.live())


class StageRuntime:
    def __init__(self, stage: Stage):
        self.stage = stage
        self.stop = setup_stage_process(stage.name)
        self.log = logging.getLogger(f"rtvos.{stage.name}")
        self.ctx = zmq.Context()
        self.reporter = Reporter(self.ctx, stage.links.stats, stage.name)
        self.sockets: list[zmq.Socket] = []

    def socket(self, kind: int, *, bind: str | None = None, connect: str | None = None, what: str = "",
               hint: str = "", **options) -> zmq.Socket:
        """A socket the runtime closes at the end. `bind` endpoints are loopback unless the run allows
        remote ones; a bind that is refused or fails is a StartupError naming `what`."""
        sock = make_socket(self.ctx, kind, **options)
        self.sockets.append(sock)
        if bind is not None:
            try:
                sock.bind(check_endpoint(bind, self.stage.links.allow_remote))
            except (zmq.ZMQError, EndpointError) as exc:
                raise StartupError(f"cannot bind {what or 'a socket'} at {bind}: {exc}{hint}") from None
        if connect is not None:
            sock.connect(connect)
        return sock

    def run(self) -> int:
        stage, reporter = self.stage, self.reporter
        stage.rt = self
        try:
            error = ""
            try:
                try:
                    stage.open()
                except StartupError as exc:
                    self.log.error("%s", exc)
                    reporter.send("error", error=str(exc), fatal=True)
                    return STARTUP_FAILED
                reporter.send("ready")
                while not self.stop and stage.turn():
                    stage.heartbeat()
            except StreamError as exc:  # the stream cannot go on: end it in order, counters included
                error = str(exc)
                self.log.error("%s", exc)
                reporter.send("error", error=error)
            stage.finish()
            reporter.send("final", counters=stage.counters(), live=stage.live(final=True), error=error)
            return 0
        finally:
            time.sleep(0.05)  # let the last reports leave
            for sock in self.sockets:
                sock.close()
            reporter.close()
            self.ctx.term()
