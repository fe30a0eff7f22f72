"""ZeroMQ plumbing shared by the stages: endpoints, sockets, and the latest-frame-wins drain.

Transports never know what a model is.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile

import zmq

from rtvos.messages import MAX_BUFFER_BYTES

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


class EndpointError(ValueError):
    pass


def check_endpoint(endpoint: str, allow_remote: bool = False) -> str:
    """Refuse to bind to a non-loopback address unless `allow_remote` is set (a deliberate choice)."""
    scheme, _, rest = endpoint.partition("://")
    if scheme in ("ipc", "inproc"):
        return endpoint
    if scheme != "tcp" or not rest:
        raise EndpointError(f"endpoint {endpoint!r}: use tcp://HOST:PORT or ipc:///path")
    host = rest.rsplit(":", 1)[0]
    if not rest.rsplit(":", 1)[-1].isdigit():
        raise EndpointError(f"endpoint {endpoint!r} has no numeric port")
    if allow_remote:
        return endpoint
    if host in LOOPBACK_HOSTS:
        return endpoint
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return endpoint
    except ValueError:
        pass
    raise EndpointError(
        f"refusing to bind {endpoint!r}: rtvos binds to loopback unless told otherwise; "
        "set `allow_remote = true` under [endpoints] in the launch file (or pass --allow-remote) "
        "to publish on other interfaces"
    )


def private_ipc_dir() -> str:
    """A per-run directory for the internal ipc:// endpoints (removed by the supervisor)."""
    return tempfile.mkdtemp(prefix=f"rtvos-{os.getpid()}-")


def make_socket(ctx: zmq.Context, kind: int, *, hwm: int | None = None, linger_ms: int = 0) -> zmq.Socket:
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, linger_ms)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_BUFFER_BYTES + 1024 * 1024)
    if hwm is not None:
        sock.setsockopt(zmq.SNDHWM, hwm)
        sock.setsockopt(zmq.RCVHWM, hwm)
    return sock


def recv_all_nowait(sock: zmq.Socket, limit: int = 1000) -> list[list[zmq.Frame]]:
    """Every multipart message waiting on `sock`, oldest first, without blocking.

    Used for latest-frame-wins: the caller keeps the newest and counts the rest as dropped.  (CONFLATE
    does not support multipart, and a small HWM alone leaves messages queued in socket buffers.)
    """
    out = []
    while len(out) < limit:
        try:
            out.append(sock.recv_multipart(flags=zmq.NOBLOCK, copy=False))
        except zmq.Again:
            break
    return out
