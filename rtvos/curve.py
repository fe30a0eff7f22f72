"""CURVE keys for a control socket that other hosts can reach (ZeroMQ's public-key encryption and
client authentication). `rtvos keys DIR` makes them:

    DIR/server.key, DIR/server.key_secret   the pipeline's key pair (give server.key to clients)
    DIR/client.key, DIR/client.key_secret   a client's key pair (give both to the operator)
    DIR/authorized/                         public keys of the clients allowed to connect

A run with `[endpoints] control_keys = "DIR"` serves its control socket with DIR/server.key_secret and
admits only the clients in DIR/authorized; `rtvos ctl --keys DIR` (or `ControlClient(keys=DIR)`)
connects with DIR/client.key_secret and DIR/server.key. Without keys a control socket is only ever
local: ipc in the run's private directory (the default), or TCP on loopback.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

SERVER, CLIENT, AUTHORIZED = "server", "client", "authorized"


class CurveKeyError(ValueError):
    """A key file is missing; the message says how to make it."""


def create_keys(folder: str | Path) -> Path:
    """A server and a client key pair in `folder`, the client authorized. Existing keys are kept."""
    folder = Path(folder)
    (folder / AUTHORIZED).mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in (SERVER, CLIENT):
        if not (folder / f"{name}.key_secret").is_file():
            zmq.auth.create_certificates(str(folder), name)
    shutil.copy(folder / f"{CLIENT}.key", folder / AUTHORIZED / f"{CLIENT}.key")
    for secret in folder.glob("*.key_secret"):
        secret.chmod(0o600)
    return folder


def _load(path: Path) -> tuple[bytes, bytes | None]:
    if not path.is_file():
        raise CurveKeyError(f"no key at {path}: make keys with `rtvos keys {path.parent}`")
    return zmq.auth.load_certificate(str(path))


def serve(sock: zmq.Socket, folder: str | Path, ctx: zmq.Context) -> ThreadAuthenticator:
    """Make `sock` a CURVE server admitting only the authorized clients; returns the authenticator
    (stop it before the context is terminated)."""
    folder = Path(folder)
    public, secret = _load(folder / f"{SERVER}.key_secret")
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(folder / AUTHORIZED))
    sock.curve_publickey, sock.curve_secretkey, sock.curve_server = public, secret, True
    return auth


def connect(sock: zmq.Socket, folder: str | Path) -> None:
    """Make `sock` a CURVE client with the folder's client key pair and the server's public key."""
    folder = Path(folder)
    server_public, _ = _load(folder / f"{SERVER}.key")
    public, secret = _load(folder / f"{CLIENT}.key_secret")
    sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = public, secret, server_public
