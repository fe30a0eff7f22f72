"""The live topics over the Foxglove WebSocket protocol (rtvos/ros/foxglove_live.py), to a real client."""

import asyncio
import json

import numpy as np
import websockets

from rtvos.ros.foxglove_live import FoxgloveLive, annotations, outlines


def test_a_mask_becomes_outlines_and_labels():
    mask = np.zeros((40, 60), np.uint8)
    mask[5:15, 5:20] = 1
    mask[25:35, 30:50] = 2
    objects = [{"id": 1, "score": 0.9, "bbox": [5, 5, 20, 15], "area": 150},
               {"id": 2, "score": 0.7, "bbox": [30, 25, 50, 35], "area": 200}]
    polygons, labels = outlines(mask, objects)
    assert [k for k, _ in polygons] == [1, 2]
    xs = [x for x, _ in polygons[0][1]]
    assert (min(xs), max(xs)) == (5, 19)
    assert labels[1] == (2, (30.0, 21.0), "#2 0.70")
    assert len(annotations(mask, objects, 3_000_000_007).encode()) > 0


def test_a_foxglove_client_is_offered_the_run_topics():
    live = FoxgloveLive("127.0.0.1", 0)
    try:
        header = {"camera_id": "cam0", "frame_id": "cam0", "stamp": 5,
                  "objects": [{"id": 1, "score": 1.0, "bbox": [1, 1, 3, 3], "area": 4}]}
        mask = np.zeros((4, 4), np.uint8)
        mask[1:3, 1:3] = 1
        live.mask(header, mask, np.zeros((4, 4, 3), np.uint8))
        live.stats({"fps": 1.0})

        async def advertised():
            topics = set()
            async with websockets.connect(f"ws://127.0.0.1:{live.port}", subprotocols=["foxglove.sdk.v1"]) as ws:
                while not {"/rtvos/cam0/image", "/rtvos/cam0/annotations", "/rtvos/stats"} <= topics:
                    message = await asyncio.wait_for(ws.recv(), 5)
                    if isinstance(message, str) and json.loads(message).get("op") == "advertise":
                        topics |= {c["topic"] for c in json.loads(message)["channels"]}
            return topics

        assert "/rtvos/cam0/mask" in asyncio.run(advertised())
    finally:
        live.close()
