"""What every stage process shares, so a stage supplies only its own work (as a Holoscan operator supplies
`compute()` and the runtime owns the rest):

- process setup: logging (rtvos's own lines; third-party chatter is held back), SIGINT left to the
  supervisor; until the stage is ready SIGTERM ends it at once, afterwards it asks it to stop at its
  next turn (and a stage whose supervisor is gone just exits);
- the ZeroMQ context and sockets: binds are loopback or the run's private directory unless the run
  allows remote endpoints;
- the `Reporter`, the stage's typed line to the supervisor, every report carrying the run's token; a
  keep-alive thread reports for the stage while it is busy in a long turn (a model starting), so a
  busy stage is never taken for a stalled one;
- start-up: a stage that cannot start (a port taken, a model that will not load) reports a fatal error
  and exits with code 3;
- the loop: one `turn()` at a time, a heartbeat with the stage's counters between turns;
- the end: a stream error (StreamError, e.g. a source that fails, while opening or later) is reported
  and the stage exits 1; end of stream is passed on (`finish`), the final counters are reported, and
  the sockets are closed.

    class Publish(Stage):
        name = "publish"
        def open(self): ...                # sockets (self.rt.socket), model; StartupError if impossible
        def turn(self) -> bool: ...        # one turn; False when the stream has ended
        def finish(self) -> None: ...      # pass end of stream on
        def counters(self): ...            # the stage's typed counters
"""

from __future__ import annotations

import abc
import logging
import os
import signal
import threading
import time

import zmq

from rtvos import messages
from rtvos.config import RunConfig
from rtvos.pipeline.links import Links, Run
from rtvos.transport import EndpointError, check_endpoint, make_socket

HEARTBEAT_INTERVAL_S = 0.5
KEEPALIVE_AFTER_S = 1.0  # the keep-alive thread reports when the stage has not for this long
STARTUP_FAILED = 3  # the exit code of a stage that could not start (and of `rtvos run` then)
STREAM_FAILED = 1   # the exit code of a stage whose stream ended on an error


class StartupError(RuntimeError):
    """The stage cannot start; the message says why and what to do."""


class StreamError(RuntimeError):
    """The stream cannot go on (e.g. the camera disappeared); the stage ends it in order."""


def configure_logging(name: str) -> None:
    """rtvos's own log lines at INFO, prefixed with the stage; other libraries' only from WARNING on (the
    ONNX Runtime quantiser alone would print dozens of lines per engine)."""
    logging.basicConfig(level=logging.WARNING, format=f"[%(asctime)s] {name}: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("rtvos").setLevel(logging.INFO)


class Reporter:
    """A stage's line to the supervisor (typed `messages.StageReport`s over PUSH, with the run's token).
    `send` is for the stage's own thread; the keep-alive thread has a socket of its own."""

    def __init__(self, ctx: zmq.Context, endpoint: str, stage: str, token: str):
        self.ctx, self.endpoint, self.stage, self.token = ctx, endpoint, stage, token
        self.sock = self._socket()
        self._last_heartbeat = 0
        self.last_report = time.monotonic()
        self.snapshot: tuple = (None, None)  # (counters, live) of the last heartbeat, for the keep-alive
        self.note = ""                       # what the stage is busy with, for the keep-alive
        self._keepalive: threading.Thread | None = None
        self._stop_keepalive = threading.Event()

    def _socket(self) -> zmq.Socket:
        sock = make_socket(self.ctx, zmq.PUSH, hwm=1000, linger_ms=2000)
        sock.connect(self.endpoint)
        return sock

    def _report(self, sock: zmq.Socket, event: str, **fields) -> None:
        report = messages.StageReport(stage=self.stage, event=event, pid=os.getpid(), t_ns=time.monotonic_ns(),
                                      **fields)
        try:
            sock.send(messages.encode_report(report, self.token), flags=zmq.NOBLOCK)
        except zmq.Again:
            pass  # the supervisor is gone or swamped; the stage goes on

    def send(self, event: str, **fields) -> None:
        self.last_report = time.monotonic()
        self._report(self.sock, event, **fields)

    def heartbeat_due(self) -> bool:
        """True at most once every HEARTBEAT_INTERVAL_S (ask as often as convenient)."""
        now = time.monotonic_ns()
        if now - self._last_heartbeat < HEARTBEAT_INTERVAL_S * 1e9:
            return False
        self._last_heartbeat = now
        return True

    def heartbeat(self, counters: messages.Counters, live: messages.LiveStats | None = None) -> None:
        self.snapshot = (counters, live)
        self.send("heartbeat", counters=counters, live=live)

    def start_keepalive(self) -> None:
        def run():
            sock = self._socket()
            try:
                while not self._stop_keepalive.wait(HEARTBEAT_INTERVAL_S):
                    if time.monotonic() - self.last_report >= KEEPALIVE_AFTER_S:
                        counters, live = self.snapshot
                        self._report(sock, "heartbeat", counters=counters, live=live, note=self.note)
            finally:
                sock.close()

        self._keepalive = threading.Thread(target=run, name="keepalive", daemon=True)
        self._keepalive.start()

    def close(self) -> None:
        if self._keepalive is not None:
            self._stop_keepalive.set()
            self._keepalive.join(timeout=2)
        self.sock.close()


class Stage(abc.ABC):
    """One stage's own work; `StageRuntime` drives it."""

    name: str

    def __init__(self, cfg: RunConfig, links: Links, run: Run):
        self.cfg, self.links, self.run = cfg, links, run
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
            self.rt.reporter.heartbeat(self.counters(), self.live())

    def busy(self, note: str) -> None:
        """Say what a long turn is doing (the keep-alive reports it; "" when done)."""
        self.rt.reporter.note = note


class StageRuntime:
    def __init__(self, stage: Stage):
        self.stage = stage
        self.stopping = False
        configure_logging(stage.name)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the supervisor stops us
        self.log = logging.getLogger(f"rtvos.{stage.name}")
        self.ctx = zmq.Context()
        self.reporter = Reporter(self.ctx, stage.links.stats, stage.name, stage.run.token)
        self.sockets: list[zmq.Socket] = []
        self.closers: list = []

    def on_close(self, close) -> None:
        """Call `close()` at the end, before the sockets close (e.g. to stop an authenticator)."""
        self.closers.append(close)

    @property
    def stop(self) -> bool:
        return self.stopping

    def _on_term(self, signum, frame) -> None:
        if os.getppid() != self.stage.run.supervisor_pid:
            os._exit(STREAM_FAILED)  # the supervisor is gone: nobody to report to, nothing to drain for
        self.stopping = True

    def socket(self, kind: int, *, bind: str | None = None, connect: str | None = None, what: str = "",
               hint: str = "", **options) -> zmq.Socket:
        """A socket the runtime closes at the end. `bind` endpoints are loopback (or ipc) unless the run
        allows remote ones; a bind that is refused or fails is a StartupError naming `what`."""
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
        reporter.start_keepalive()
        code = 0
        try:
            error = ""
            try:
                try:
                    stage.open()
                except StartupError as exc:
                    reporter.send("error", error=str(exc), fatal=True)
                    return STARTUP_FAILED
                signal.signal(signal.SIGTERM, self._on_term)  # from now on: stop in order, at the next turn
                reporter.send("ready", note=reporter.note)
                reporter.note = ""
                while not self.stop and stage.turn():
                    stage.heartbeat()
            except StreamError as exc:  # the stream cannot go on: end it in order, counters included
                error, code = str(exc), STREAM_FAILED
                reporter.send("error", error=error)
            stage.finish()
            reporter.send("final", counters=stage.counters(), live=stage.live(final=True), error=error)
            return code
        finally:
            time.sleep(0.05)  # let the last reports leave
            for close in self.closers:
                close()
            for sock in self.sockets:
                sock.close()
            reporter.close()
            self.ctx.term()
