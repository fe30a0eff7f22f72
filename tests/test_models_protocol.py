"""The segmenter protocol's checks (rtvos/models/protocol.py), the same for every model."""

import numpy as np
import pytest

from rtvos.models import create_segmenter
from rtvos.models.protocol import Segmenter
from rtvos.models.target import Target, TargetError


def test_bad_targets_get_clear_errors():
    seg = create_segmenter("online", augmentations=0)
    frame = np.zeros((64, 96, 3), np.uint8)
    with pytest.raises(TargetError, match="empty"):
        seg.start(frame, np.zeros((64, 96), np.uint8))
    with pytest.raises(TargetError, match="96x64"):
        seg.start(frame, np.ones((10, 10), np.uint8))
    with pytest.raises(TargetError, match="degenerate"):
        seg.start(frame, Target.from_boxes({1: (5, 5, 6, 6)}))
    with pytest.raises(RuntimeError, match="start"):
        seg.step(frame)
    with pytest.raises(ValueError, match="unknown option"):
        create_segmenter("online", hieght=256)


class Scripted(Segmenter):
    """A model whose `_step` returns whatever the test sets: the protocol must check it."""

    name = "scripted"

    def _start(self, frame, label):
        self.next = label.copy()

    def _step(self, frame):
        return self.next, {k: 1.0 for k in self.ids}


def _frame(h=32, w=48):
    return np.zeros((h, w, 3), np.uint8)


def _square(h=32, w=48, k=1):
    m = np.zeros((h, w), np.uint8)
    m[8:16, 10:20] = k
    return m


def test_start_declares_the_stream_state():
    seg = Scripted()
    assert (seg.started, seg.ids, seg.frame_hw) == (False, [], None)
    label = _square()
    label[20:28, 30:40] = 3
    r = seg.start(_frame(), label)
    assert seg.started and seg.ids == [1, 3] and seg.frame_hw == (32, 48)
    assert [o.id for o in r.objects] == [1, 3] and all(o.score == 1.0 for o in r.objects)


def test_step_checks_what_the_model_returns():
    seg = Scripted()
    seg.start(_frame(), _square())
    seg.next = np.zeros((10, 10), np.uint8)
    with pytest.raises(RuntimeError, match="scripted.*mask"):
        seg.step(_frame())
    seg.next = _square().astype(np.int32)
    with pytest.raises(RuntimeError, match="scripted"):
        seg.step(_frame())
    seg.next = _square(k=7)
    with pytest.raises(RuntimeError, match=r"objects \[7\]"):
        seg.step(_frame())
    seg.next = _square()
    assert [o.area for o in seg.step(_frame()).objects] == [80]


def test_frames_must_be_rgb_uint8_of_the_stream_size():
    seg = Scripted()
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        seg.start(np.zeros((32, 48), np.uint8), _square())
    seg.start(_frame(), _square())
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        seg.step(np.zeros((32, 48, 3), np.float32))
    with pytest.raises(ValueError, match="restart"):
        seg.step(_frame(40, 48))


def test_a_refused_target_leaves_the_stream_as_it_was():
    seg = Scripted()
    seg.start(_frame(), _square())
    with pytest.raises(TargetError):
        seg.start(_frame(), np.zeros((32, 48), np.uint8))
    assert seg.started and seg.ids == [1]
    assert [o.id for o in seg.step(_frame()).objects] == [1]


def test_options_are_checked_against_the_model():
    with pytest.raises(ValueError, match="takes no options"):
        Scripted(height=3)
    assert create_segmenter("frtm-fast").name == "frtm-fast"  # a preset carries its own name


def test_default_add_and_remove_restart_with_the_new_label_mask():
    seg = Scripted()
    current = seg.start(_frame(), _square()).mask
    box = Target.from_boxes({2: (30, 18, 44, 30)}, "grabcut")
    r = seg.add_object(_frame(), 2, box, current)
    assert seg.ids == [1, 2] and [o.id for o in r.objects] == [1, 2] and (r.mask == 2).any()
    assert np.array_equal(seg.step(_frame()).mask, r.mask)
    with pytest.raises(TargetError, match="out of range"):
        seg.add_object(_frame(), 256, box, r.mask)
    r = seg.remove_object(_frame(), 1, r.mask)
    assert seg.ids == [2] and not (r.mask == 1).any()
    with pytest.raises(TargetError, match="last one"):
        seg.remove_object(_frame(), 2, r.mask)
    with pytest.raises(TargetError, match="no object 5"):
        seg.remove_object(_frame(), 5, r.mask)
