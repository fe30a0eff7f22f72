"""The browser view (rtvos/view/web.py): its HTTP surface, and the page in headless Chromium against a
real run -- the mask tint where the synthetic object is, and a box drawn with the mouse adding an object."""

import json
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest
from browser import Browser, find_chromium
from helpers import FAST_MODEL, RTVOS

from rtvos.sources import open_source
from rtvos.view.overlay import colour
from rtvos.view.web import LiveFeed, Steering, make_server

NO_CHROMIUM = ("Chromium is not installed: setup.sh installs Debian's chromium package when it runs as root or "
               "with sudo (apt-get install chromium)")


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_every_request_needs_the_token_and_bad_requests_are_refused(tmp_path):
    topic = f"ipc://{tmp_path}/nothing"  # nothing publishes there, ever: no picture yet, no run file, no run to steer
    feed, steering = LiveFeed(topic), Steering(topic)
    server = make_server("127.0.0.1", 0, feed, steering, token="secret")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for path in ("/", "/status.json", "/frame.jpg", "/stream.mjpg"):
            assert fetch(f"{base}{path}")[0] == 403
            assert fetch(f"{base}{path}?token=wrong")[0] == 403
        code, page = fetch(f"{base}/?token=secret")
        assert code == 200 and b"rtvos live view" in page
        status = json.loads(fetch(f"{base}/status.json?token=secret")[1])
        assert status["connected"] is False and status["topic"] == topic
        assert fetch(f"{base}/frame.jpg?token=secret")[0] == 503  # no picture yet
        for body in (b"not json", b"[1, 2]", b'{"op": "fly"}', b'{"op": "add", "box": [1, 2]}',
                     b'{"op": "remove", "id": "one"}', b"x" * 5000):
            code, reply = fetch(f"{base}/control?token=secret", body)
            assert code == 400 and json.loads(reply)["ok"] is False, body
        code, reply = fetch(f"{base}/control?token=secret", b'{"op": "reset"}')
        assert code == 409 and "no run publishing" in json.loads(reply)["error"]  # refused with the reason
    finally:
        server.closing = True
        server.shutdown()
        server.server_close()
        feed.close()


def tinted(shot: np.ndarray, raw: np.ndarray, object_id: int, alpha: float = 0.45) -> np.ndarray:
    """Pixels of `shot` nearer the frame tinted in the object's colour (as overlay does) than the bare frame."""
    tint = raw * (1 - alpha) + np.array(colour(object_id), float) * alpha
    shot = shot.astype(float)
    return np.linalg.norm(shot - tint, axis=2) < np.linalg.norm(shot - raw, axis=2)


def test_the_page_shows_the_tinted_object_and_a_drawn_box_adds_an_object(tmp_path):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip(NO_CHROMIUM)
    topic = f"tcp://127.0.0.1:{port()}"
    run = subprocess.Popen(RTVOS + ["run", "--source", "synthetic", "--fps", "10", "--bind", topic,
                                    "--publish-images", *FAST_MODEL], stderr=subprocess.PIPE, text=True)
    view = subprocess.Popen(RTVOS + ["view", "--web", str(port()), "--connect", topic], stderr=subprocess.PIPE,
                            text=True)
    browser = None
    try:
        url = re.search(r"open (http://\S+)", view.stderr.readline()).group(1)
        browser = Browser(chromium)
        browser.call("Page.navigate", url=url)
        browser.wait_for("document.getElementById('video').naturalWidth > 0 && status.connected && "
                         "status.objects.length === 1", timeout=240)
        rect = json.loads(browser.evaluate("JSON.stringify(document.getElementById('video').getBoundingClientRect())"))
        assert (rect["width"], rect["height"]) == (640, 480)  # shown at its own size: page pixels are frame pixels

        # draw a box on the side of the frame away from the object: a second object is followed
        x0, _, x1, _ = browser.evaluate("status.objects[0].bbox")
        bx = 40 if (x0 + x1) / 2 > 320 else 460
        browser.drag(rect["x"] + bx, rect["y"] + 300, rect["x"] + bx + 140, rect["y"] + 440)
        browser.wait_for("status.objects.length === 2", timeout=60)
        assert "following 1, 2" in browser.evaluate("document.getElementById('message').textContent")
        browser.evaluate("document.querySelectorAll('#objects button')[1].click()")  # its remove button
        browser.wait_for("status.objects.length === 1 && status.objects[0].id === 1", timeout=60)

        # stop the run: the page keeps its last picture, and says which frame that is
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=60) == 0
        time.sleep(1.5)  # the page's status poll (every 0.5 s) catches up
        seq = browser.evaluate("status.seq")
        shot = browser.screenshot()[int(rect["y"]):int(rect["y"]) + 480, int(rect["x"]):int(rect["x"]) + 640]
        cv2.imwrite(str(tmp_path / "page.png"), cv2.cvtColor(shot, cv2.COLOR_RGB2BGR))
        with open_source("synthetic", width=640, height=480) as source:
            frame = next(f for f in source.frames(seq))
        red = tinted(shot, frame.image.astype(float), 1)
        truth = frame.gt_mask == 1
        iou = (red & truth).sum() / (red | truth).sum()
        assert iou > 0.5, f"the tint does not cover the object of frame {seq} (IoU {iou:.2f}; see {tmp_path}/page.png)"
    finally:
        if browser is not None:
            browser.close()
        view.terminate()
        view.wait(timeout=30)
        if run.poll() is None:
            run.kill()
            run.wait()
