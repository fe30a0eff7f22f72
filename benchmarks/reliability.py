"""Reliability under bad input, faults and strangers, against the real pipeline (`rtvos run`):

- every socket fuzzed: the control socket and the three internal links (frames, results, stats) get N
  messages each -- random bytes, random msgpack structures, well-formed messages without the run's
  token (frames, end of stream, stage reports), the two-frame control request that used to crash the
  infer stage, PNG bombs (a small file declaring 20000x20000 pixels), oversized headers -- and a
  flood of valid target changes;
- every stage killed with SIGKILL, once each: how long until masks with the target come again;
- the supervisor killed while the model starts: how long until no stage process is left;
- a second OS user at the control socket (when this runs as root and can become `nobody`).

    .venv/bin/python benchmarks/reliability.py --messages 10000       # table on stdout, JSON in results/

tests/adversarial/ runs the same scenarios (this module's functions) on a smaller scale in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import msgpack
import numpy as np
import zmq
from common import REPO, free_port, write_results
from long_run_memory import rss_mb

from rtvos import messages
from rtvos.client import MaskSubscriber, SubscriberTimeout
from rtvos.pipeline.stage import running_stages
from rtvos.transport import run_file

RTVOS = [sys.executable, "-m", "rtvos"]
SMALL_MODEL = ["--model", "online", "--option", "height=192", "--option", "augmentations=3"]


# -------------------------------------------------------------------------------------- a live run
@dataclass
class LiveRun:
    """`rtvos run` on the synthetic camera (two objects), its internal links on loopback TCP ports so they
    can be reached from outside the run, until `stop()`."""

    frames: int | None = None
    fps: float = 20.0
    extra: list = field(default_factory=list)

    def __post_init__(self):
        self.tmp = tempfile.TemporaryDirectory()
        ports = [free_port() for _ in range(4)]
        self.publish = f"tcp://127.0.0.1:{ports[0]}"
        self.links = {"frames": f"tcp://127.0.0.1:{ports[1]}", "results": f"tcp://127.0.0.1:{ports[2]}",
                      "stats": f"tcp://127.0.0.1:{ports[3]}"}
        launch = Path(self.tmp.name) / "run.toml"
        launch.write_text("[endpoints]\n" + f'publish = "{self.publish}"\n'
                          + "".join(f'{k} = "{v}"\n' for k, v in self.links.items()))
        self.stats_path = Path(self.tmp.name) / "S.json"
        cmd = RTVOS + ["run", "--launch", str(launch), "--source", "synthetic:320x240", "--fps", str(self.fps),
                       "--stats-json", str(self.stats_path), *SMALL_MODEL, *self.extra]
        if self.frames:
            cmd += ["--frames", str(self.frames)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.marker = str(ports[0])

    def first_mask(self, timeout: float = 120.0):
        with MaskSubscriber(self.publish) as sub:
            return sub.recv(timeout=timeout)

    def stages(self) -> dict[str, int]:
        return running_stages(self.marker)

    def control(self) -> str:
        return json.loads(run_file(self.publish).read_text())["control"]

    def stop(self, timeout: float = 60.0) -> tuple[int, dict, str]:
        """(exit code, the run's statistics, its stderr)."""
        if self.proc.poll() is None and not self.frames:
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        stats = json.loads(self.stats_path.read_text()) if self.stats_path.exists() else {}
        self.tmp.cleanup()
        return self.proc.returncode, stats, err


# --------------------------------------------------------------------------------- bad messages
def _png_bomb(side: int = 20000) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (messages.PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * (side + 1) * 64)) + chunk(b"IEND", b""))


def _random_value(rng: np.random.Generator, depth: int = 0):
    kind = rng.integers(0, 9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return bool(rng.integers(2))
    if kind == 2:
        return int(rng.integers(-2 ** 62, 2 ** 62))
    if kind == 3:
        return float(rng.choice([rng.normal() * 1e6, float("nan"), float("inf")]))
    if kind == 4:
        return "".join(chr(c) for c in rng.integers(32, 0x3000, rng.integers(0, 12)))
    if kind == 5:
        return rng.bytes(int(rng.integers(0, 16)))
    if kind in (6, 7):
        return [_random_value(rng, depth + 1) for _ in range(rng.integers(0, 4))]
    return {str(_random_value(rng, depth + 1))[:8]: _random_value(rng, depth + 1) for _ in range(rng.integers(0, 4))}


def bad_messages(n: int, seed: int = 0, for_control: bool = False) -> list[list[bytes]]:
    """`n` messages that must all be rejected: garbage, random structures, the schema's kinds with wrong
    fields, well-formed internal messages without the run's token, PNG bombs, oversized headers."""
    rng = np.random.default_rng(seed)
    fields = ["seq", "t_capture_ns", "stamps", "height", "width", "encoding", "extras", "boxes", "objects", "op",
              "id", "box", "stage", "event", "counters", "live", "token"]
    bomb = _png_bomb()
    out = []
    for i in range(n):
        kind = i % 8
        if kind == 0:
            msg = [rng.bytes(int(rng.integers(0, 64)))]
        elif kind == 1:
            msg = [msgpack.packb(_random_value(rng), use_bin_type=True)]
        elif kind == 2:  # the schema's kinds, random fields
            header = {"v": 1, "kind": str(rng.choice(messages.KINDS))}
            for f in rng.choice(fields, size=int(rng.integers(1, 6))):
                header[str(f)] = _random_value(rng)
            msg = [msgpack.packb(header, use_bin_type=True)] + [rng.bytes(int(rng.integers(0, 64)))
                                                                 for _ in range(rng.integers(0, 3))]
        elif kind == 3:  # well formed, but not from the run
            msg = [messages.encode_eos(), messages.encode_stats({"stage": "capture"}),
                   *messages.encode_frame(np.zeros((24, 32, 3), np.uint8), int(rng.integers(1 << 20)), 0)][:1 + (i % 3)]
            msg = [m if isinstance(m, bytes) else np.asarray(m).tobytes() for m in msg]
        elif kind == 4:  # the two-frame request that crashed the infer stage
            msg = [messages.pack_header({"v": 1, "kind": "control", "op": "stats"}), b""]
        elif kind == 5:
            msg = [messages.pack_header({"v": 1, "kind": "control", "op": "set_target"}), bomb]
        elif kind == 6:
            msg = [b"\x81\xa1v\x01" + rng.bytes(70_000)]  # more than the header limit
        else:
            report = messages.StageReport("capture", "final", counters=messages.CaptureCounters(captured=10 ** 6))
            msg = [messages.encode_report(report, "not-the-token")]
        out.append(msg)
    return out


def _drain(sock: zmq.Socket) -> int:
    n = 0
    while True:
        try:
            sock.recv_multipart(flags=zmq.NOBLOCK)
            n += 1
        except zmq.Again:
            return n


def fuzz_control(endpoint: str, n: int, seed: int = 0) -> dict:
    """`n` bad requests and, in between, floods of valid target changes, from a DEALER (many in flight);
    every request must get a reply."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 100_000)
    sock.connect(endpoint)
    box_change = messages.encode_control("add_object", object_id=9, box=(10, 10, 60, 60))
    sent = replies = 0
    t0 = time.monotonic()
    try:
        for i, msg in enumerate(bad_messages(n, seed, for_control=True)):
            sock.send_multipart([b"", *msg])
            sent += 1
            if i % 10 == 0:
                sock.send_multipart([b"", *box_change])  # a flood of real changes: "busy", the stream goes on
                sent += 1
            if i % 200 == 0:
                replies += _drain(sock)
        deadline = time.monotonic() + 30
        while replies < sent and time.monotonic() < deadline:
            if sock.poll(200):
                replies += _drain(sock)
    finally:
        sock.close()
        ctx.term()
    return {"sent": sent, "replies": replies, "seconds": round(time.monotonic() - t0, 1)}


def fuzz_link(endpoint: str, n: int, seed: int = 0) -> dict:
    """`n` bad messages pushed into an internal link (PUSH, as its stages are)."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 2000)
    sock.connect(endpoint)
    t0 = time.monotonic()
    try:
        for msg in bad_messages(n, seed):
            sock.send_multipart(msg)
    finally:
        sock.close()
        ctx.term()
    return {"sent": n, "seconds": round(time.monotonic() - t0, 1)}


def _mask_rate(publish: str, seconds: float) -> float:
    with MaskSubscriber(publish) as sub:
        sub.recv(timeout=30)
        n, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < seconds:
            sub.recv(timeout=30)
            n += 1
        return n / (time.monotonic() - t0)


def flood_control(run: "LiveRun", clients: int = 8, seconds: float = 5.0) -> dict:
    """`clients` clients each looping a target change (request, reply, again) for `seconds`: the stream's
    mask rate before and during the flood, and how long `stats` takes meanwhile."""
    import threading

    from rtvos.client import ControlClient

    endpoint = run.control()
    fps_before = _mask_rate(run.publish, seconds / 2)
    stop = threading.Event()
    sent = [0] * clients
    change = messages.encode_control("add_object", object_id=9, box=(10, 10, 60, 60))

    def flood(i):
        ctx = zmq.Context()
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
        while not stop.is_set():
            sock.send_multipart(change)
            if not sock.poll(10_000):
                break
            sock.recv_multipart()
            sent[i] += 1
        sock.close()
        ctx.term()

    threads = [threading.Thread(target=flood, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    stats_ms = []
    with ControlClient(endpoint, timeout=30) as ctl:
        t0 = time.monotonic()
        fps_during = _mask_rate(run.publish, seconds)
        while time.monotonic() - t0 < seconds + 2:
            t = time.monotonic()
            ctl.stats()
            stats_ms.append(1000 * (time.monotonic() - t))
            time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join(timeout=15)
    return {"clients": clients, "requests": sum(sent), "fps_before": round(fps_before, 1),
            "fps_during": round(fps_during, 1), "stats_ms_max": round(max(stats_ms), 1)}


# ------------------------------------------------------------------------------------------ faults
def seconds_to_target_after_kill(run: LiveRun, stage: str, timeout: float = 60.0) -> float:
    """SIGKILL `stage`, then the seconds until the mask of a frame captured after the kill arrives with
    the target in it (the stage restarted, the target kept)."""
    with MaskSubscriber(run.publish) as sub:
        sub.recv(timeout=30)
        os.kill(run.stages()[stage], signal.SIGKILL)
        t_kill, t_kill_ns = time.monotonic(), time.monotonic_ns()
        deadline = t_kill + timeout
        while time.monotonic() < deadline:
            try:
                msg = sub.recv(timeout=max(0.1, deadline - time.monotonic()))
            except SubscriberTimeout:
                break
            if msg.header["t_capture_ns"] > t_kill_ns and any(o["area"] for o in msg.objects):
                return round(time.monotonic() - t_kill, 2)
    raise TimeoutError(f"no mask with the target within {timeout:.0f} s of killing {stage}")


def seconds_to_no_stage_after_supervisor_killed(wait_s: float = 1.0, timeout: float = 10.0) -> tuple[float, int]:
    """Start a run, SIGKILL the supervisor `wait_s` later (the model is still starting), and time until no
    stage of that run is left; (seconds, the dead supervisor's pid)."""
    port = free_port()
    proc = subprocess.Popen(RTVOS + ["run", "--source", "synthetic:320x240", "--bind", f"tcp://127.0.0.1:{port}",
                                     *SMALL_MODEL], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(wait_s)
    assert running_stages(str(port)), "no stage started"
    proc.kill()
    proc.wait()
    t0 = time.monotonic()
    while running_stages(str(port)):
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"stages still running {timeout:.0f} s after the supervisor died")
        time.sleep(0.05)
    return round(time.monotonic() - t0, 2), proc.pid


def other_user_reaches_control(run: LiveRun, uid: int = 65534) -> str:
    """As another user (needs root to become one), connect to the run's control socket: the outcome in
    words. The default control socket is a Unix socket in the run's 0700 directory, so the operating
    system refuses the connection itself ("refused: PermissionError") before any message is read. The
    other user runs the system's python3, which needs nothing of this project."""
    endpoint = run.control()
    if not endpoint.startswith("ipc://"):
        return f"not an ipc endpoint: {endpoint}"
    code = ("import socket, sys\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "try:\n    s.connect(sys.argv[1]); print('connected')\n"
            "except OSError as e:\n    print('refused: ' + type(e).__name__)\n")
    out = subprocess.run(["/usr/bin/python3", "-c", code, endpoint[len("ipc://"):]], capture_output=True, text=True,
                         timeout=60, user=uid, env={"PATH": "/usr/bin:/bin"}, cwd="/")
    return out.stdout.strip() or (out.stderr.strip().splitlines() or ["nothing"])[-1]


# -------------------------------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=10_000, help="bad messages per socket")
    ap.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "reliability.json"))
    args = ap.parse_args()
    rows = []

    run = LiveRun()
    run.first_mask()
    pids = run.stages()
    before = {s: rss_mb(p) for s, p in pids.items()}
    fuzz = {"control": fuzz_control(run.control(), args.messages)}
    for link, endpoint in run.links.items():
        fuzz[link] = fuzz_link(endpoint, args.messages, seed=hash(link) % 1000)
    time.sleep(2)
    after = {s: rss_mb(p) for s, p in run.stages().items()}
    flood = flood_control(run)
    survived = run.stages() == pids  # no stage died (or was restarted) under the fuzz and the flood
    recover = {}
    for stage in ("infer", "publish", "capture"):
        recover[stage] = seconds_to_target_after_kill(run, stage)
    other = other_user_reaches_control(run) if os.geteuid() == 0 else "skipped (not root)"
    code, stats, _ = run.stop()
    for sock, f in fuzz.items():
        rows.append({"socket": sock, "messages": f["sent"], "seconds": f["seconds"],
                     "replies": f.get("replies"), "stage": {"control": "infer", "frames": "infer",
                                                            "results": "publish", "stats": "supervisor"}[sock]})
    orphan_s, _ = seconds_to_no_stage_after_supervisor_killed()
    summary = {"stages_survived_fuzz_and_flood": survived, "exit_code": code, "restarts_after_kills": stats.get("restarts"), "frames_lost": stats.get("frames_lost"),
               "messages_rejected": stats.get("messages_rejected"), "reports_rejected": stats.get("reports_rejected"),
               "control": stats.get("control"), "books_balance": stats.get("books_balance"),
               "flood": flood, "rss_mb_before": before, "rss_mb_after": after, "seconds_to_target_after_kill": recover,
               "seconds_to_no_stage_after_supervisor_killed": orphan_s, "other_user": other,
               "target_resumed": stats.get("target_resumed")}
    print(f"{'socket':10s} {'stage':>11s} {'messages':>9s} {'seconds':>8s} {'replies':>8s}")
    for r in rows:
        print(f"{r['socket']:10s} {r['stage']:>11s} {r['messages']:9d} {r['seconds']:8.1f} {str(r['replies'] or '-'):>8s}")
    print(json.dumps(summary, indent=1))
    write_results(args.json, {"messages_per_socket": args.messages, "sockets": rows, "summary": summary})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
