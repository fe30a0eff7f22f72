"""`rtvos view --web [HOST:]PORT`: the live view in a browser, for headless robots and demos.

One page (page.html): the video with the masks tinted per object, each object's id and score, the
run's fps and latency, and a box drawn with the mouse adds an object (or replaces the target) through
the run's control socket -- so the browser steers only what the user who started the view may steer.

    GET  /?token=T             the page
    GET  /stream.mjpg?token=T  the overlaid video, MJPEG (multipart/x-mixed-replace)
    GET  /frame.jpg?token=T    the latest overlaid picture
    GET  /status.json?token=T  model, fps, latency, the frame shown and its objects
    POST /control?token=T      {"op": "add" | "set" | "remove" | "reset", "box": [x0, y0, x1, y1], "id": k}

Every request needs the random token printed with the address (a page someone else opens cannot
reach it without). Loopback unless `--allow-remote`.
"""

from __future__ import annotations

import hmac
import json
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import cv2

from rtvos.client import ControlClient, ControlError, MaskSubscriber, SubscriberTimeout
from rtvos.transport import EndpointError, listen_address
from rtvos.view.overlay import colour, overlay

MAX_BODY_BYTES = 4096       # a control request is a few numbers
MAX_COORDINATE = 1e5        # box coordinates beyond this are not pixels of any frame
REQUEST_TIMEOUT_S = 30      # a connection that sends nothing for this long is closed
JPEG_QUALITY = 80
STALE_S = 2.0               # no picture for this long: the page says the stream stopped
FPS_WINDOW = 30             # pictures the view's fps is measured over


class LiveFeed:
    """Follows the run's topic in a thread and keeps the latest overlaid picture (JPEG) and what the page
    shows next to it."""

    def __init__(self, connect: str):
        self.connect = connect
        self.changed = threading.Condition()
        self.jpeg: bytes | None = None
        self.seq = -1
        self.status: dict = {"connected": False, "topic": connect, "pictures": 0, "masks_without_frames": 0}
        self._times: list[float] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="rtvos-view-feed", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with MaskSubscriber(self.connect, images=True, stats=True, latest_only=True) as sub:
            while not self._stop.is_set():
                try:
                    msg = sub.recv(timeout=0.5)
                except SubscriberTimeout:
                    continue
                if msg.image is None:  # the run does not publish its frames
                    self.status["masks_without_frames"] += 1
                    continue
                self._show(msg, sub.last_stats or {})

    def _show(self, msg, stats: dict) -> None:
        picture = overlay(msg.image, msg.mask, msg.objects, [])
        ok, jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            return
        now = time.monotonic()
        self._times = (self._times + [now])[-FPS_WINDOW:]
        view_fps = (len(self._times) - 1) / (self._times[-1] - self._times[0]) if len(self._times) > 1 else 0.0
        e2e = stats.get("latency_ms", {}).get("end_to_end", {})
        status = {
            "connected": True, "topic": self.connect, "model": msg.header["model"], "seq": msg.seq,
            "width": int(msg.mask.shape[1]), "height": int(msg.mask.shape[0]), "following": msg.following,
            "objects": [{**o, "colour": "#%02x%02x%02x" % colour(o["id"])} for o in msg.objects],
            "latency_ms": round(msg.latency_ms, 1), "view_fps": round(view_fps, 1),
            "run_fps": stats.get("fps"), "e2e_p50_ms": e2e.get("p50"), "e2e_p95_ms": e2e.get("p95"),
            "pictures": self.status["pictures"] + 1, "masks_without_frames": self.status["masks_without_frames"],
            "t": now,
        }
        with self.changed:
            self.jpeg, self.seq, self.status = jpeg.tobytes(), msg.seq, status
            self.changed.notify_all()

    def snapshot(self) -> dict:
        status = dict(self.status)
        status["connected"] = bool(status.get("t")) and time.monotonic() - status["t"] < STALE_S
        status.pop("t", None)
        return status

    def next_picture(self, after_seq: int, timeout: float) -> tuple[int, bytes | None]:
        """The first picture newer than `after_seq` (waiting up to `timeout`), or (after_seq, None)."""
        with self.changed:
            self.changed.wait_for(lambda: self.seq != after_seq or self._stop.is_set(), timeout)
            return (self.seq, self.jpeg) if self.seq != after_seq else (after_seq, None)

    def close(self) -> None:
        self._stop.set()
        with self.changed:
            self.changed.notify_all()
        self.thread.join(timeout=2)


class Steering:
    """Target changes from the page, through the run's control socket (found by its topic; one request
    at a time)."""

    def __init__(self, topic: str):
        self.topic = topic
        self.lock = threading.Lock()
        self.client: ControlClient | None = None

    def _client(self) -> ControlClient:
        if self.client is None:
            self.client = ControlClient(topic=self.topic)
        return self.client

    def _forget(self) -> None:
        """After a failure: find the run (its control socket moves when it restarts) again next time."""
        if self.client is not None:
            self.client.close()
            self.client = None

    def apply(self, request: dict) -> dict:
        """The control reply as a dict; raises ValueError for a malformed request, ControlError when the
        run refuses or cannot be reached."""
        op = request.get("op")
        if op not in ("add", "set", "remove", "reset"):
            raise ValueError("op must be add, set, remove or reset")
        box = request.get("box")
        if op in ("add", "set"):
            if not (isinstance(box, list) and len(box) == 4 and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < MAX_COORDINATE for v in box)):
                raise ValueError("box must be [x0, y0, x1, y1] in pixels")
            box = [float(v) for v in box]
        object_id = request.get("id")
        if op == "remove" and not (isinstance(object_id, int) and not isinstance(object_id, bool)
                                   and 1 <= object_id <= 255):
            raise ValueError("id must be an object id (1..255)")
        with self.lock:
            try:
                return self._apply(op, box, object_id)
            except ControlError:
                self._forget()  # the run may have restarted (its control socket moved): find it again next time
                raise

    def _apply(self, op: str, box, object_id) -> dict:
        ctl = self._client()
        if op == "add":
            ids = ctl.stats()["objects"]
            return ctl.add_object(max(ids, default=0) + 1, box=box)
        if op == "set":
            return ctl.set_target(boxes={1: box})
        if op == "remove":
            return ctl.remove_object(object_id)
        return ctl.reset()

    def close(self) -> None:
        self._forget()


def make_server(host: str, port: int, feed: LiveFeed, steering: Steering, token: str) -> ThreadingHTTPServer:
    page = resources.files("rtvos.view").joinpath("page.html").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = REQUEST_TIMEOUT_S

        def _authorised(self) -> bool:
            given = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
            if hmac.compare_digest(given.encode(), token.encode()):
                return True
            self._send(403, "text/plain", b"rtvos view: open the address with the token that rtvos view printed\n")
            return False

        def do_GET(self):  # noqa: N802 (http.server's name)
            path = urlsplit(self.path).path
            if not self._authorised():
                return
            if path in ("/", "/index.html"):
                self._send(200, "text/html; charset=utf-8", page)
            elif path == "/status.json":
                self._send(200, "application/json", json.dumps(feed.snapshot()).encode())
            elif path == "/frame.jpg":
                jpeg = feed.jpeg
                if jpeg is None:
                    self._send(503, "text/plain", b"no picture yet\n")
                else:
                    self._send(200, "image/jpeg", jpeg)
            elif path == "/stream.mjpg":
                self._stream()
            else:
                self._send(404, "text/plain", b"not found\n")

        def do_POST(self):  # noqa: N802
            if not self._authorised():
                return
            if urlsplit(self.path).path != "/control":
                self._send(404, "text/plain", b"not found\n")
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 < length <= MAX_BODY_BYTES:
                self._send(400, "application/json", json.dumps({"ok": False, "error": "bad body size"}).encode())
                return
            try:
                request = json.loads(self.rfile.read(length))
                if not isinstance(request, dict):
                    raise ValueError("a control request is a JSON object")
                reply = steering.apply(request)
                code, body = 200, {"ok": True, "reply": reply}
            except ValueError as exc:  # malformed JSON or request
                code, body = 400, {"ok": False, "error": str(exc)}
            except ControlError as exc:
                code, body = 409, {"ok": False, "error": str(exc)}
            except Exception as exc:  # anything else (the run's keys missing, ...): said, never a dropped request
                code, body = 500, {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            self._send(code, "application/json", json.dumps(body).encode())

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            seq = -1
            try:
                while not self.server.closing:
                    seq, jpeg = feed.next_picture(seq, timeout=1.0)
                    if jpeg is None:
                        continue
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                     + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser went away

        def _send(self, code: int, kind: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.closing = False
    return server


def serve(args) -> int:
    """`rtvos view --web [HOST:]PORT`: until Ctrl-C."""
    try:
        host, port = listen_address(args.web, args.allow_remote, "--web")
    except EndpointError as exc:
        print(f"rtvos view: {exc}", file=sys.stderr)
        return 2
    token = secrets.token_urlsafe(16)
    feed, steering = LiveFeed(args.connect), Steering(args.connect)
    try:
        server = make_server(host, port, feed, steering, token)
    except OSError as exc:
        feed.close()
        print(f"rtvos view: cannot serve on {host}:{port}: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"rtvos view: open http://{host}:{server.server_address[1]}/?token={token} (the masks of {args.connect}; "
          "start the run with --publish-images)", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.closing = True
        server.server_close()
        feed.close()
        steering.close()
    return 0
