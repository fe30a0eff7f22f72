"""The subscriber and control clients a robotics stack imports (rtvos/client.py), against real sockets."""

import json
import time

import numpy as np
import pytest
import zmq

from rtvos import messages
from rtvos.client import ControlClient, ControlError, MaskSubscriber
from rtvos.transport import run_file


def _publish_masks(pub, seqs):
    for seq in seqs:
        parts = messages.encode_mask(np.zeros((4, 4), np.uint8), seq, time.monotonic_ns(), camera_id="c", model="m",
                                     objects=[], stamps={})
        pub.send_multipart([messages.TOPIC_MASK, *parts])


@pytest.fixture
def publisher(free_port):
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(f"tcp://127.0.0.1:{free_port}")
    yield pub, f"tcp://127.0.0.1:{free_port}"
    pub.close()
    ctx.term()


def _connected(sub, pub):
    """Publish until the subscription has reached the publisher (PUB drops what comes before)."""
    for seq in range(100):
        _publish_masks(pub, [10_000 + seq])
        try:
            return sub.recv(timeout=0.05)
        except Exception:
            continue
    raise AssertionError("the subscriber never connected")


def test_latest_only_hands_out_the_newest_mask(publisher):
    pub, endpoint = publisher
    with MaskSubscriber(endpoint, latest_only=True) as sub:
        _connected(sub, pub)
        _publish_masks(pub, range(20))
        time.sleep(0.3)  # a slow consumer: twenty masks wait
        assert sub.recv(timeout=5).seq == 19 and sub.skipped >= 19
    with MaskSubscriber(endpoint) as sub:  # the default hands out every mask in order
        _connected(sub, pub)
        _publish_masks(pub, range(5))
        time.sleep(0.2)
        seqs = []
        while 4 not in seqs:
            seq = sub.recv(timeout=5).seq
            if seq < 10_000:  # not one of the connection probes
                seqs.append(seq)
        assert seqs == list(range(5)) and sub.skipped == 0


def test_malformed_publications_are_counted_and_skipped(publisher):
    pub, endpoint = publisher
    with MaskSubscriber(endpoint) as sub:
        _connected(sub, pub)
        pub.send_multipart([messages.TOPIC_MASK, b"\xc1"])
        pub.send_multipart([messages.TOPIC_MASK, messages.pack_header({"v": 1, "kind": "mask", "seq": "x"}), b""])
        _publish_masks(pub, [7])
        assert sub.recv(timeout=5).seq == 7 and sub.rejected == 2


def test_the_control_client_finds_a_run_by_its_topic_and_says_when_there_is_none(free_port, tmp_path):
    topic = f"tcp://127.0.0.1:{free_port}"
    with pytest.raises(ControlError, match="is `rtvos run` running"):
        ControlClient(topic=topic)
    path = run_file(topic)
    path.write_text(json.dumps({"publish": topic, "control": "ipc:///nowhere", "pid": 2 ** 22 + 12345}))
    try:
        with pytest.raises(ControlError, match="has ended"):
            ControlClient(topic=topic)
    finally:
        path.unlink()


def test_busy_replies_are_retried_until_the_change_goes_through(tmp_path):
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    endpoint = f"ipc://{tmp_path}/control.sock"
    router.bind(endpoint)
    with ControlClient(endpoint, timeout=5) as ctl:
        import threading

        def serve():
            for reply in (messages.ControlReply(False, op="reset", error="busy", retry_after_ms=100),
                          messages.ControlReply(True, op="reset", seq=42)):
                client, empty, _ = router.recv_multipart()
                router.send_multipart([client, empty, messages.encode_reply(reply)])

        t = threading.Thread(target=serve)
        t.start()
        assert ctl.reset()["seq"] == 42
        t.join()
    router.close()
    ctx.term()
