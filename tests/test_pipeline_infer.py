"""The infer stage's logic (rtvos/pipeline/infer.py): latest frame wins, counted failures, target changes."""

import numpy as np

from rtvos import messages
from rtvos.pipeline.infer import InferLoop
from rtvos.models import create_segmenter


def _frame_msg(seq, target=None):
    img = np.full((32, 48, 3), seq % 255, np.uint8)
    parts = messages.encode_frame(img, seq, 1000 + seq, target=target)
    return messages.decode_frame([bytes(memoryview(p)) for p in parts])


def test_latest_frame_wins_and_target_frames_are_never_dropped():
    loop = InferLoop(create_segmenter("static"), "static")
    batch = [_frame_msg(i) for i in range(5)]
    assert [m.seq for m in loop.select(batch)] == [4]
    assert loop.counts.dropped == 4
    target = np.zeros((32, 48), np.uint8)
    target[5:10, 5:10] = 1
    batch = [_frame_msg(5), _frame_msg(6, target), _frame_msg(7), _frame_msg(8)]
    kept = loop.select(batch)
    assert [m.seq for m in kept] == [6, 8] and kept[0].has_target
    assert loop.counts.dropped == 4 + 2


def test_infer_loop_counts_bad_targets_and_frames_before_a_target():
    loop = InferLoop(create_segmenter("static"), "static")
    parts = loop.process(_frame_msg(0), 0)  # no target yet: an empty mask, counted
    assert loop.counts.no_target == 1 and len(parts) == 2
    assert not messages.decode_mask(parts).mask.any()
    assert loop.process(_frame_msg(1, np.zeros((32, 48), np.uint8)), 0) is None  # empty target
    assert loop.counts.failed == 1


def test_add_after_reset_follows_only_the_new_object():
    loop = InferLoop(create_segmenter("online", height=64, augmentations=0), "online")
    target = np.zeros((32, 48), np.uint8)
    target[5:15, 5:15] = 1
    loop.process(_frame_msg(0, target), 0)
    loop.pending = messages.ControlRequest(op="reset")
    loop.process(_frame_msg(1), 0)
    assert loop.reply.ok and loop.reply.objects == []
    new = np.zeros((32, 48), np.uint8)
    new[20:30, 30:40] = 1
    loop.pending = messages.ControlRequest(op="add_object", object_id=4, mask=new)
    loop.process(_frame_msg(2), 0)
    assert loop.reply.ok and loop.reply.objects == [4]  # object 1 is gone for good


def test_a_change_the_model_cannot_make_is_answered_with_why_and_the_stream_goes_on():
    loop = InferLoop(create_segmenter("static"), "static", box_init="lse:/nonexistent/lse.pt")
    target = np.zeros((32, 48), np.uint8)
    target[5:15, 5:15] = 1
    loop.process(_frame_msg(0, target), 0)
    loop.pending = messages.ControlRequest(op="add_object", object_id=2, box=(20, 5, 40, 25))
    parts = loop.process(_frame_msg(1), 0)
    assert not loop.reply.ok and "no LSE network weights at /nonexistent/lse.pt" in loop.reply.error
    assert loop.counts.control_failed == 1
    assert [o["id"] for o in messages.decode_mask(parts).objects] == [1]  # the frame is segmented as before
