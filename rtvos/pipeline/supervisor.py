"""The supervisor: starts the three stage processes, watches them, shows live stats, shuts down cleanly.

Start order: publish and infer first (the model loads), then capture, so no frame is lost to start-up.
A stage that dies is reported and restarted (infer/publish, up to `max_restarts`); a finished source
ends the run once its end-of-stream marker has come through every stage.  SIGINT/SIGTERM stop capture
first and let the frames in flight drain, then the rest; nothing is left running.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import zmq

from rtvos import messages
from rtvos.config import RunConfig, control_endpoint
from rtvos.pipeline.links import Links
from rtvos.pipeline.runtime import STARTUP_FAILED
from rtvos.pipeline.stats import status_line
from rtvos.transport import check_endpoint, make_socket, private_ipc_dir

READY_TIMEOUT_S = 300.0
DRAIN_TIMEOUT_S = 15.0
RESTARTABLE = ("infer", "publish")


@dataclass
class StageState:
    name: str
    proc: subprocess.Popen | None = None
    ready: bool = False
    final: messages.StageReport | None = None
    died: bool = False                           # exited without a final report, not restarted
    last_seen: float = 0.0
    restarts: int = 0
    counters: messages.Counters | None = None    # the running instance's, from its last report
    carried: messages.Counters | None = None     # the sum of its dead predecessors' last reports
    live: messages.LiveStats | None = None       # publish: the last live statistics
    stalled: bool = False                        # silent longer than the heartbeat timeout (reported once)

    def __post_init__(self):
        self.counters = messages.STAGE_COUNTERS[self.name]()
        self.carried = messages.STAGE_COUNTERS[self.name]()

    def record(self, report: messages.StageReport) -> None:
        """Counters and live statistics from a heartbeat or the final report."""
        if report.counters is not None:
            self.counters = report.counters
        if report.live is not None:
            self.live = report.live

    def carry_over(self) -> None:
        """A dead instance's last reported counters add to its successor's."""
        self.carried = self.carried + self.counters
        self.counters = messages.STAGE_COUNTERS[self.name]()

    @property
    def total(self) -> messages.Counters:
        return self.carried + self.counters

    @property
    def ended(self) -> bool:
        return self.final is not None or self.died


def final_statistics(capture: messages.CaptureCounters, infer: messages.InferCounters,
                     publish: messages.PublishCounters, live: messages.LiveStats) -> dict:
    """The run's frame accounting and latency from the stages' counters. Every captured frame is
    published, dropped (at capture or at infer: latest frame wins) or failed; `frames_lost` is the rest,
    and should be 0 (a stage that died with frames in flight)."""
    dropped = capture.dropped + infer.dropped
    return {
        "frames_captured": capture.captured,
        "frames_published": publish.published,
        "frames_dropped": dropped,
        "frames_dropped_at_capture": capture.dropped,
        "frames_dropped_at_infer": infer.dropped,
        "frames_failed": infer.failed,
        "frames_lost": max(0, capture.captured - publish.published - dropped - infer.failed),
        "messages_rejected": infer.rejected + publish.rejected,
        "source_skipped": capture.skipped,
        "fps": live.fps,
        "latency_ms": live.latency_ms,
        "budget_violations": live.budget_violations,
        "seq_gaps_seen": publish.seq_gaps,
        **live.metrics,
    }


def exit_code(started: bool, frames_lost: int, stream_error: str) -> int:
    """`rtvos run`'s exit code: 3 when the pipeline could not start; 1 when frames were lost or the
    stream ended on an error (e.g. the camera disappeared); else 0."""
    if not started:
        return STARTUP_FAILED
    return 1 if frames_lost or stream_error else 0


class Supervisor:
    def __init__(self, cfg: RunConfig, stream=None):
        self.cfg = cfg
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.stages = {name: StageState(name) for name in ("publish", "infer", "capture")}
        self.reports_rejected = 0
        self.errors: list[str] = []
        self.stalls = 0
        self.stop_requested = 0
        self._ipc_dir = None
        self._last_status = 0.0
        self._status_shown = False

    # ------------------------------------------------------------------------------------- plumbing
    def _links(self) -> Links:
        ep = self.cfg.endpoints
        self._ipc_dir = private_ipc_dir()
        auto = lambda name: f"ipc://{self._ipc_dir}/{name}.sock"  # noqa: E731
        return Links(frames=ep.frames or auto("frames"), results=ep.results or auto("results"),
                     stats=ep.stats or auto("stats"), publish=ep.publish, allow_remote=ep.allow_remote,
                     control=control_endpoint(ep))

    def _spawn(self, name: str) -> None:
        cmd = [sys.executable, "-m", "rtvos.pipeline.stage", name,
               "--config", json.dumps(self.cfg.to_dict()), "--links", json.dumps(self.links.__dict__)]
        st = self.stages[name]
        st.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        st.ready, st.final, st.last_seen = False, None, time.monotonic()

    def say(self, text: str) -> None:
        if self._status_shown and self.tty:
            self.stream.write("\n")
            self._status_shown = False
        self.stream.write(f"rtvos: {text}\n")
        self.stream.flush()

    def _on_signal(self, signum, frame) -> None:
        self.stop_requested += 1
        if self.stop_requested == 1:
            self.say("stopping (again to force)...")
        else:
            for st in self.stages.values():
                if st.proc and st.proc.poll() is None:
                    st.proc.kill()

    def _pump(self, timeout_ms: int = 100) -> None:
        """Read every report waiting from the stages."""
        if not self.stats_sock.poll(timeout_ms):
            return
        while True:
            try:
                data = self.stats_sock.recv(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                report = messages.decode_report(data)
            except messages.MessageError:
                self.reports_rejected += 1
                continue
            st = self.stages[report.stage]
            st.last_seen = time.monotonic()
            st.record(report)
            if report.event == "ready":
                st.ready = True
            elif report.event == "final":
                st.final = report
            elif report.event == "error":
                self.errors.append(f"{st.name}: {report.error}")
                self.say(f"{st.name}: {report.error}")

    def _check_children(self) -> None:
        timeout = self.cfg.monitor.heartbeat_timeout_s
        for st in self.stages.values():
            if st.proc is None or st.ended or st.proc.poll() is not None:
                continue
            silent = time.monotonic() - st.last_seen
            if silent > timeout and not st.stalled:
                # Reported, not killed: a first-frame fit or an engine build can legitimately take long.
                st.stalled = True
                self.stalls += 1
                self.say(f"{st.name} stage silent for {silent:.0f} s (heartbeat timeout {timeout:g} s)")
            elif silent <= timeout and st.stalled:
                st.stalled = False
                self.say(f"{st.name} stage is back")
        for st in self.stages.values():
            if st.proc is None or st.ended:
                continue
            code = st.proc.poll()
            if code is None:
                continue
            self._pump(0)
            if st.ended:
                continue
            msg = f"{st.name} stage died (exit code {code})"
            self.errors.append(msg)
            if st.name in RESTARTABLE and st.restarts < self.cfg.monitor.max_restarts and not self.stop_requested:
                st.restarts += 1
                st.carry_over()
                self.say(f"{msg}; restarting ({st.restarts}/{self.cfg.monitor.max_restarts})")
                if st.name == "infer":
                    self.say("the restarted model has no target: masks are empty until one is set "
                             f"(rtvos ctl set --connect {self.links.control or '<control endpoint>'} --mask M.png)")
                self._spawn(st.name)
            else:
                self.say(f"{msg}; stopping the run")
                st.died = True
                self.stop_requested = max(self.stop_requested, 1)

    def _show_status(self, force: bool = False) -> None:
        interval = self.cfg.monitor.status_interval_s if self.tty else max(5.0, self.cfg.monitor.status_interval_s)
        now = time.monotonic()
        if not force and now - self._last_status < interval:
            return
        self._last_status = now
        cap, inf, pub = (self.stages[n].total for n in ("capture", "infer", "publish"))
        line = status_line(self.cfg.model.name, cap.captured, pub.published, cap.dropped + inf.dropped,
                           self.stages["publish"].live or messages.LiveStats(),
                           sum(s.restarts for s in self.stages.values()))
        if self.tty:
            self.stream.write("\r" + line.ljust(110)[:160])
            self._status_shown = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _wait_ready(self, names: tuple[str, ...], what: str) -> bool:
        t0 = time.monotonic()
        while not all(self.stages[n].ready for n in names):
            self._pump(100)
            for n in names:
                st = self.stages[n]
                if st.proc.poll() is not None and not st.ready:
                    self._pump(50)
                    self.say(f"{n} stage exited during start-up (exit code {st.proc.returncode})")
                    return False
            if self.stop_requested:
                return False
            if time.monotonic() - t0 > READY_TIMEOUT_S:
                self.say(f"{what} not ready after {READY_TIMEOUT_S:.0f} s")
                return False
        return True

    # ------------------------------------------------------------------------------------------ run
    def run(self) -> int:
        check_endpoint(self.cfg.endpoints.publish, self.cfg.endpoints.allow_remote)
        self.links = self._links()
        ctx = zmq.Context()
        self.stats_sock = make_socket(ctx, zmq.PULL, hwm=10000)
        self.stats_sock.bind(self.links.stats)
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        t_start = time.monotonic()
        try:
            self.say(f"model {self.cfg.model.name!r}, source {self.cfg.source.spec!r}, "
                     f"masks on {self.links.publish}" + (f", control on {self.links.control}" if self.links.control else ""))
            self._spawn("publish")
            self._spawn("infer")
            ok = self._wait_ready(("publish", "infer"), "model")
            if ok:
                self._spawn("capture")
                ok = self._wait_ready(("capture",), "source")
            if ok:
                self.say(f"running (loaded in {time.monotonic() - t_start:.1f} s)")
                self._watch()
            self._shutdown()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            self.stats_sock.close()
            ctx.term()
            if self._ipc_dir:
                shutil.rmtree(self._ipc_dir, ignore_errors=True)
        self.result = self._final_stats(time.monotonic() - t_start)
        self._write_stats(self.result)
        capture = self.stages["capture"].final
        return exit_code(ok, self.result["frames_lost"], capture.error if capture is not None else "")

    def _watch(self) -> None:
        capture_stopped = False
        drain_deadline = None
        while not self.stages["publish"].ended:
            self._pump(100)
            self._check_children()
            self._show_status()
            if self.stop_requested and not capture_stopped:
                capture_stopped = True
                cap = self.stages["capture"].proc
                if cap.poll() is None:
                    cap.send_signal(signal.SIGTERM)
                drain_deadline = time.monotonic() + DRAIN_TIMEOUT_S
            if drain_deadline and time.monotonic() > drain_deadline:
                self.say("frames in flight did not drain in time")
                break
        self._show_status(force=True)
        if self._status_shown and self.tty:
            self.stream.write("\n")

    def _shutdown(self) -> None:
        for name in ("capture", "infer", "publish"):
            proc = self.stages[name].proc
            if proc is not None and proc.poll() is None:
                try:
                    proc.wait(timeout=3)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for st in self.stages.values():
            if st.proc is None:
                continue
            try:
                st.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                st.proc.kill()
                st.proc.wait()
        self._pump(50)

    # ---------------------------------------------------------------------------------------- stats
    def _final_stats(self, duration_s: float) -> dict:
        cap, inf, pub = (self.stages[n].total for n in ("capture", "infer", "publish"))
        return {
            "model": self.cfg.model.name,
            "source": self.cfg.source.spec,
            "endpoint": self.cfg.endpoints.publish,
            "duration_s": round(duration_s, 3),
            **final_statistics(cap, inf, pub, self.stages["publish"].live or messages.LiveStats()),
            "budgets_ms": self.cfg.budgets.as_dict(),
            "restarts": {n: s.restarts for n, s in self.stages.items()},
            "stalls": self.stalls,
            "reports_rejected": self.reports_rejected,
            "errors": self.errors,
        }

    def _write_stats(self, stats: dict) -> None:
        e2e = stats["latency_ms"].get("end_to_end", {})
        fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        self.say(f"captured {stats['frames_captured']}, published {stats['frames_published']}, "
                 f"dropped {stats['frames_dropped']}, failed {stats['frames_failed']}, lost {stats['frames_lost']}; "
                 f"{stats['fps']:.1f} fps; end-to-end ms p50 {fmt(e2e.get('p50'))} p95 {fmt(e2e.get('p95'))} "
                 f"p99 {fmt(e2e.get('p99'))} max {fmt(e2e.get('max'))}")
        if self.cfg.monitor.stats_json:
            path = self.cfg.monitor.stats_json
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                json.dump(stats, f, indent=2)
            self.say(f"stats written to {path}")


def run_pipeline(cfg: RunConfig) -> int:
    """Run until the source ends or Ctrl-C; the exit code is `exit_code`'s."""
    return Supervisor(cfg).run()
