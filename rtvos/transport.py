"""ZeroMQ plumbing shared by the stages: endpoints, sockets, and the latest-frame-wins drain.

Transports never know what a model is.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import tempfile
from pathlib import Path

import zmq

from rtvos.messages import MAX_BUFFER_BYTES

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


class EndpointError(ValueError):
    pass


def _tcp_host(endpoint: str) -> str:
    scheme, _, rest = endpoint.partition("://")
    if scheme != "tcp" or not rest:
        raise EndpointError(f"endpoint {endpoint!r}: use tcp://HOST:PORT or ipc:///path")
    host, _, port = rest.rpartition(":")
    if not port.isdigit():
        raise EndpointError(f"endpoint {endpoint!r} has no numeric port")
    return host


def is_local(endpoint: str) -> bool:
    """True for ipc/inproc endpoints and TCP on a loopback address (nothing off this host can connect)."""
    if endpoint.partition("://")[0] in ("ipc", "inproc"):
        return True
    host = _tcp_host(endpoint)
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_endpoint(endpoint: str, allow_remote: bool = False) -> str:
    """Refuse to bind to a non-loopback address unless `allow_remote` is set (a deliberate choice)."""
    if allow_remote or is_local(endpoint):
        return endpoint
    raise EndpointError(
        f"refusing to bind {endpoint!r}: rtvos binds to loopback unless told otherwise; "
        "set `allow_remote = true` under [endpoints] in the launch file (or pass --allow-remote) "
        "to publish on other interfaces"
    )


def listen_address(text: str, allow_remote: bool = False, what: str = "server") -> tuple[str, int]:
    """(host, port) from "[HOST:]PORT" for the HTTP and WebSocket servers (Foxglove, metrics, the web
    view): loopback unless HOST is given, and a non-loopback HOST only with `allow_remote`."""
    host, _, port = str(text).strip().rpartition(":")
    host = host or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise EndpointError(f"{what}: expected [HOST:]PORT, e.g. 8080 or 127.0.0.1:8080; got {text!r}")
    if not (allow_remote or is_local(f"tcp://{host}:{port}")):
        raise EndpointError(f"{what}: refusing to listen on {host}: rtvos serves loopback unless told otherwise; "
                            "pass --allow-remote (or allow_remote = true under [endpoints]) to serve other hosts")
    return host, int(port)


PRIVATE_PREFIX = "rtvos-"


def private_ipc_dir() -> str:
    """A per-run directory (mode 0700: only this user reaches what is in it) for the internal ipc://
    endpoints, the control socket and the kept target; the supervisor removes it at exit. Directories
    left by killed runs of this user are removed first."""
    remove_stale_private_dirs()
    return tempfile.mkdtemp(prefix=f"{PRIVATE_PREFIX}{os.getpid()}-")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_private_dirs(root: str | None = None) -> list[str]:
    """Private directories of this user's runs whose supervisor is no longer alive; removed."""
    root = root or tempfile.gettempdir()
    removed = []
    for entry in os.scandir(root):
        name = entry.name
        if not (name.startswith(PRIVATE_PREFIX) and entry.is_dir(follow_symlinks=False)):
            continue
        pid = name[len(PRIVATE_PREFIX):].partition("-")[0]
        if pid.isdigit() and entry.stat(follow_symlinks=False).st_uid == os.getuid() and not _alive(int(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed


def runs_dir() -> Path:
    """Where a running pipeline leaves its run file ($XDG_RUNTIME_DIR/rtvos, else ~/.cache/rtvos/runs),
    private to this user."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    path = Path(base) / "rtvos" if base else Path.home() / ".cache" / "rtvos" / "runs"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def run_file(publish: str) -> Path:
    """The run file of the pipeline publishing on `publish`: how `rtvos ctl` finds its control socket."""
    return runs_dir() / (re.sub(r"[^A-Za-z0-9.]+", "_", publish).strip("_") + ".json")


def make_socket(ctx: zmq.Context, kind: int, *, hwm: int | None = None, linger_ms: int = 0) -> zmq.Socket:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, linger_ms)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_BUFFER_BYTES + 1024 * 1024)
    if hwm is not None:
        sock.setsockopt(zmq.SNDHWM, hwm)
        sock.setsockopt(zmq.RCVHWM, hwm)
    return sock


def recv_all_nowait(sock: zmq.Socket, limit: int = 1000, copy: bool = False) -> list[list]:
    """Every multipart message waiting on `sock`, oldest first, without blocking (zmq.Frames, or bytes
    with `copy`).

    Used for latest-frame-wins: the caller keeps the newest and counts the rest as dropped.  (CONFLATE
    does not support multipart, and a small HWM alone leaves messages queued in socket buffers.)
    """
    out = []
    while len(out) < limit:
        try:
            out.append(sock.recv_multipart(flags=zmq.NOBLOCK, copy=copy))
        except zmq.Again:
            break
    return out
