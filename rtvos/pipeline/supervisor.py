"""The supervisor: starts the three stage processes, watches them, shows live stats, shuts down cleanly.

Start order: publish and infer first (the model loads and builds its engines for the source's frame
size), then capture, so no frame is lost to start-up.  Everything that makes the stages one run lives
in a private directory (mode 0700: the internal ipc endpoints, the control socket, the kept target)
and in a random token every internal message carries; messages without it are rejected and counted.
A run file (transport.run_file) tells `rtvos ctl` where the control socket is.

A stage that dies is reported and restarted, up to `max_restarts`: infer resumes the target it kept,
capture resumes the stream at the next frame.  A finished source ends the run once its end-of-stream
marker has come through every stage.  SIGINT/SIGTERM stop capture first and let the frames in flight
drain, then the rest; nothing is left running, and the private directory is removed on every exit
(one left by a killed run is removed by the next).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import zmq

from rtvos import messages
from rtvos.config import RunConfig, control_endpoint
from rtvos.pipeline.exporter import Exporter, RunView, health_status
from rtvos.pipeline.links import Links, Run
from rtvos.pipeline.runtime import STARTUP_FAILED
from rtvos.pipeline.stats import status_line
from rtvos.transport import check_endpoint, listen_address, make_socket, private_ipc_dir, run_file

READY_TIMEOUT_S = 300.0
DRAIN_TIMEOUT_S = 15.0
MAX_ERRORS_KEPT = 100


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
    note: str = ""                               # what it said it is busy with
    stalled: bool = False                        # silent longer than the heartbeat timeout (reported once)

    def __post_init__(self):
        self.counters = messages.STAGE_COUNTERS[self.name]()
        self.carried = messages.STAGE_COUNTERS[self.name]()
        self.lock = threading.Lock()

    def record(self, report: messages.StageReport) -> None:
        """Counters, live statistics and what it is busy with, from any report."""
        if report.counters is not None:
            with self.lock:
                self.counters = report.counters
        if report.live is not None:
            self.live = report.live
        if report.event == "heartbeat":
            self.note = report.note

    def carry_over(self) -> None:
        """A dead instance's last reported counters add to its successor's."""
        with self.lock:  # the metrics thread reads `total`: never the dead instance's counters twice
            self.carried = self.carried + self.counters
            self.counters = messages.STAGE_COUNTERS[self.name]()

    @property
    def total(self) -> messages.Counters:
        with self.lock:
            return self.carried + self.counters

    @property
    def ended(self) -> bool:
        return self.final is not None or self.died


def final_statistics(capture: messages.CaptureCounters, infer: messages.InferCounters,
                     publish: messages.PublishCounters, live: messages.LiveStats) -> dict:
    """The run's frame accounting and latency from the stages' counters. Every captured frame is
    published, dropped (at capture or at infer: latest frame wins) or failed; `frames_lost` is the rest,
    and should be 0 (a stage that died with frames in flight). `books_balance` is False when more frames
    came out than went in -- which only frames from outside the run could do."""
    dropped = capture.dropped + infer.dropped
    unaccounted = capture.captured - publish.published - dropped - infer.failed
    return {
        "frames_captured": capture.captured,
        "frames_published": publish.published,
        "frames_dropped": dropped,
        "frames_dropped_at_capture": capture.dropped,
        "frames_dropped_at_infer": infer.dropped,
        "frames_failed": infer.failed,
        "frames_lost": max(0, unaccounted),
        "frames_without_target": infer.no_target,
        "books_balance": unaccounted >= 0 and publish.published <= infer.inferred <= capture.captured,
        "messages_rejected": infer.rejected + publish.rejected,
        "control": {"applied": infer.control_ok, "refused": infer.control_failed, "busy": infer.control_busy},
        "target_resumed": infer.resumed,
        "source_skipped": capture.skipped,
        "fps": live.fps,
        "latency_ms": live.latency_ms,
        "budget_violations": live.budget_violations,
        "startup": {k: int(v) if k == "frames" else v for k, v in live.startup.items()},
        "seq_gaps_seen": publish.seq_gaps,
        **live.metrics,
    }


def read_latency_series(path: str) -> dict[str, list[float]]:
    """The per-frame latencies the publish stage left (`LatencyMonitor.latency_series`); empty when it
    left none (it died) or they cannot be read."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    ok = isinstance(data, dict) and all(isinstance(v, list) for v in data.values())
    return data if ok else {}


def exit_code(started: bool, frames_lost: int, stream_error: str, books_balance: bool = True) -> int:
    """`rtvos run`'s exit code: 3 when the pipeline could not start; 1 when frames were lost, the books
    do not balance, or the stream ended on an error (e.g. the camera disappeared); else 0."""
    if not started:
        return STARTUP_FAILED
    return 1 if frames_lost or stream_error or not books_balance else 0


def describe_exit(code: int) -> str:
    """A process's exit status in words ("exit code 3", "killed by SIGKILL")."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    def __init__(self, cfg: RunConfig, stream=None, frame_hw: tuple[int, int] | None = None):
        self.cfg = cfg
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.frame_hw = frame_hw
        names = ("publish", "record", "infer", "capture") if cfg.record.enabled else ("publish", "infer", "capture")
        self.stages = {name: StageState(name) for name in names}
        self.reports_rejected = 0
        self.errors: list[str] = []
        self.stalls = 0
        self.stop_requested = 0
        self._last_status = 0.0
        self._last_no_target = 0
        self._status_shown = False
        self.exporter: Exporter | None = None

    # ------------------------------------------------------------------------------------- plumbing
    def _links(self, private_dir: str) -> Links:
        ep = self.cfg.endpoints
        auto = lambda name: f"ipc://{private_dir}/{name}.sock"  # noqa: E731
        return Links(frames=ep.frames or auto("frames"), results=ep.results or auto("results"),
                     stats=ep.stats or auto("stats"), publish=ep.publish, allow_remote=ep.allow_remote,
                     control=control_endpoint(ep, private_dir), control_keys=ep.control_keys)

    def _spawn(self, name: str) -> None:
        st = self.stages[name]
        first_seq = st.total.captured if name == "capture" else 0  # a restarted capture resumes the stream
        run = Run(token=self.run_ctx.token, dir=self.run_ctx.dir, supervisor_pid=os.getpid(), frame_hw=self.frame_hw,
                  first_seq=first_seq, restarts=st.restarts)
        cmd = [sys.executable, "-m", "rtvos.pipeline.stage", name,
               "--config", json.dumps(self.cfg.to_dict()), "--links", json.dumps(self.links.__dict__)]
        st.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=run.environ())
        st.ready, st.final, st.last_seen, st.note = False, None, time.monotonic(), ""

    def say(self, text: str) -> None:
        if self._status_shown and self.tty:
            self.stream.write("\n")
            self._status_shown = False
        self.stream.write(f"rtvos: {text}\n")
        self.stream.flush()

    def _error(self, text: str) -> None:
        """An error, said once and kept for the statistics (the first MAX_ERRORS_KEPT of them)."""
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(text)
            self.say(text)
        elif len(self.errors) == MAX_ERRORS_KEPT:
            self.errors.append("(more errors left out)")

    def _on_signal(self, signum, frame) -> None:
        self.stop_requested += 1
        if self.stop_requested == 1:
            self.say("stopping (again to force)...")
        else:
            for st in self.stages.values():
                if st.proc and st.proc.poll() is None:
                    st.proc.kill()

    def _pump(self, timeout_ms: int = 100) -> None:
        """Read every report waiting from the stages (only this run's are taken)."""
        if not self.stats_sock.poll(timeout_ms):
            return
        while True:
            try:
                parts = self.stats_sock.recv_multipart(flags=zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                if len(parts) != 1:
                    raise messages.MessageError(f"a stage report is one part, got {len(parts)}")
                report = messages.decode_report(parts[0], self.run_ctx.token)
            except messages.MessageError:
                self.reports_rejected += 1
                continue
            st = self.stages[report.stage]
            st.last_seen = time.monotonic()
            st.record(report)
            if report.event == "ready":
                st.ready = True
                if report.note:
                    self.say(f"{st.name}: {report.note}")
            elif report.event == "final":
                st.final = report
            elif report.event == "error":
                self._error(f"{st.name}: {report.error}")

    def _check_children(self) -> None:
        timeout = self.cfg.monitor.heartbeat_timeout_s
        for st in self.stages.values():
            if st.proc is None or st.ended or st.proc.poll() is not None:
                continue
            silent = time.monotonic() - st.last_seen
            if silent > timeout and not st.stalled:
                st.stalled = True  # reported, not killed: a busy stage still reports (its keep-alive)
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
            msg = f"{st.name} stage died ({describe_exit(code)})"
            if st.restarts < self.cfg.monitor.max_restarts and not self.stop_requested:
                st.restarts += 1
                st.carry_over()
                self._error(f"{msg}; restarting ({st.restarts}/{self.cfg.monitor.max_restarts})")
                if st.name == "infer" and os.path.exists(self.run_ctx.target_path):
                    self.say("the restarted model resumes the target it kept")
                self._spawn(st.name)
            else:
                self._error(f"{msg}; stopping the run")
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
        if pub.published == 0:
            line = f"{self.cfg.model.name} | starting model" + (f": {self.stages['infer'].note}"
                                                                if self.stages["infer"].note else "")
        elif inf.no_target > self._last_no_target and not inf.control_ok:
            line += f" | waiting for a target: rtvos ctl set --topic {self.links.publish} --mask M.png"
        self._last_no_target = inf.no_target
        if self.tty:
            self.stream.write("\r" + line.ljust(110)[:200])
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
                    self.say(f"{n} stage could not start ({describe_exit(st.proc.returncode)})")
                    return False
            if self.stop_requested:
                return False
            if time.monotonic() - t0 > READY_TIMEOUT_S:
                self._error(f"{what} not ready after {READY_TIMEOUT_S:.0f} s")
                return False
        return True

    def _view(self) -> RunView:
        """The run as the metrics exporter sees it (built per scrape, from the HTTP server's thread)."""
        stages = dict(self.stages)
        up = {n: st.proc is not None and st.proc.poll() is None and st.ready for n, st in stages.items()}
        counters = {n: st.total for n, st in stages.items()}
        status = health_status(counters["publish"].following, up, bool(self.stop_requested))
        return RunView(model=self.cfg.model.name, source=self.cfg.source.spec, camera_id=self.cfg.publish.camera_id,
                       counters=counters, restarts={n: st.restarts for n, st in stages.items()}, up=up,
                       live=stages["publish"].live or messages.LiveStats(), status=status)

    def _serve_metrics(self) -> bool:
        if not self.cfg.monitor.http:
            return True
        host, port = listen_address(self.cfg.monitor.http, self.cfg.endpoints.allow_remote, "--metrics")
        try:
            self.exporter = Exporter(host, port, self._view)
        except OSError as exc:
            self._error(f"cannot serve metrics on {host}:{port}: {exc}")
            return False
        self.say(f"metrics on {self.exporter.address}/metrics, health on {self.exporter.address}/health")
        return True

    def _write_run_file(self) -> None:
        path = run_file(self.links.publish)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"publish": self.links.publish, "control": self.links.control,
                       "control_keys": self.links.control_keys, "pid": os.getpid(), "dir": self.run_ctx.dir}, f)
        os.replace(tmp, path)

    def _remove_run_file(self) -> None:
        path = run_file(self.links.publish)
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass

    # ------------------------------------------------------------------------------------------ run
    def run(self) -> int:
        check_endpoint(self.cfg.endpoints.publish, self.cfg.endpoints.allow_remote)
        private_dir = private_ipc_dir()
        self.run_ctx = Run(token=secrets.token_hex(16), dir=private_dir, supervisor_pid=os.getpid(),
                       frame_hw=self.frame_hw)
        self.links = self._links(private_dir)
        ctx = zmq.Context()
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        t_start = time.monotonic()
        ok = False
        try:
            self.stats_sock = make_socket(ctx, zmq.PULL, hwm=10000)
            self.stats_sock.bind(check_endpoint(self.links.stats, self.links.allow_remote))
            self._write_run_file()
            if not self._serve_metrics():
                return STARTUP_FAILED
            self.say(f"model {self.cfg.model.name!r}, source {self.cfg.source.spec!r}, masks on {self.links.publish}"
                     + (f", control: rtvos ctl --topic {self.links.publish}" if self.links.control else ""))
            starting = tuple(n for n in self.stages if n != "capture")  # the stream starts when all are ready
            for name in starting:
                self._spawn(name)
            ok = self._wait_ready(starting, "model")
            if ok:
                self._spawn("capture")
                ok = self._wait_ready(("capture",), "source")
            if ok:
                self.say(f"running (ready in {time.monotonic() - t_start:.1f} s)")
                self._watch()
            self._shutdown()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            self._kill_leftovers()
            if self.exporter is not None:
                self.exporter.close()
            if hasattr(self, "stats_sock"):
                self.stats_sock.close()
            ctx.term()
            self._remove_run_file()
            series = read_latency_series(self.run_ctx.latency_series_path)
            shutil.rmtree(private_dir, ignore_errors=True)
        self.result = self._final_stats(time.monotonic() - t_start)
        self.result["latency_series"] = series
        if not self.result["books_balance"]:
            self._error("the books do not balance: more frames came out than went in")
            self.result["errors"] = self.errors
        self._write_stats(self.result)
        capture = self.stages["capture"].final
        return exit_code(ok, self.result["frames_lost"], capture.error if capture is not None else "",
                         self.result["books_balance"])

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
                self._error("frames in flight did not drain in time")
                break
        self._show_status(force=True)
        if self._status_shown and self.tty:
            self.stream.write("\n")

    def _shutdown(self) -> None:
        for name in ("capture", "infer", "publish", "record"):
            if name not in self.stages:
                continue
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

    def _kill_leftovers(self) -> None:
        """Whatever exit path got here (an exception included), no stage outlives the supervisor."""
        for st in self.stages.values():
            if st.proc is not None and st.proc.poll() is None:
                st.proc.kill()
                st.proc.wait()

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
            **({"recorded": self.stages["record"].total.as_dict()} if "record" in self.stages else {}),
            "errors": self.errors,
        }

    def _write_stats(self, stats: dict) -> None:
        e2e = stats["latency_ms"].get("end_to_end", {})
        fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        start = stats["startup"]
        first = f"; first mask after {start['time_to_first_mask_ms']:.0f} ms" if start.get("time_to_first_mask_ms") else ""
        self.say(f"captured {stats['frames_captured']}, published {stats['frames_published']}, "
                 f"dropped {stats['frames_dropped']}, failed {stats['frames_failed']}, lost {stats['frames_lost']}; "
                 f"{stats['fps']:.1f} fps; end-to-end ms p50 {fmt(e2e.get('p50'))} p95 {fmt(e2e.get('p95'))} "
                 f"p99 {fmt(e2e.get('p99'))} max {fmt(e2e.get('max'))} (steady state){first}")
        if stats["frames_without_target"]:
            self.say(f"{stats['frames_without_target']} frames had no target to follow (their masks are empty): "
                     "give one with --target-mask / --box, or rtvos ctl set")
        if self.cfg.monitor.stats_json:
            path = self.cfg.monitor.stats_json
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                json.dump(stats, f, indent=2)
            self.say(f"stats written to {path}")


def run_pipeline(cfg: RunConfig, frame_hw: tuple[int, int] | None = None) -> int:
    """Run until the source ends or Ctrl-C; the exit code is `exit_code`'s. `frame_hw`: the source's frame
    size, when known (the model builds its engines for it before the stream starts)."""
    return Supervisor(cfg, frame_hw=frame_hw).run()
