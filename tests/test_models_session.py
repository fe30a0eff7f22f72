"""One stream's objects over one segmenter (rtvos/models/session.py): start, step, add, remove, reset."""

import numpy as np
import pytest

from rtvos.models import create_segmenter
from rtvos.models.session import StreamSession
from rtvos.models.target import Target, TargetError

H, W = 40, 60


def _frame():
    return np.zeros((H, W, 3), np.uint8)


def _object(k, y, x):
    m = np.zeros((H, W), np.uint8)
    m[y:y + 8, x:x + 8] = k
    return m


def test_nothing_is_followed_until_a_target_comes():
    session = StreamSession(create_segmenter("static"))
    assert not session.following and session.objects == []
    r = session.step(_frame())
    assert not r.mask.any() and r.objects == []
    with pytest.raises(TargetError, match="nothing"):
        session.remove(_frame(), 1)


def test_changes_apply_to_the_stream_and_steps_follow_them():
    session = StreamSession(create_segmenter("static"))
    session.start(_frame(), _object(1, 5, 5))
    assert session.objects == [1]
    r = session.add(_frame(), 2, _object(1, 20, 30))
    assert session.objects == [1, 2] and np.array_equal(session.current, r.mask)
    assert [o.id for o in session.step(_frame()).objects] == [1, 2]
    session.remove(_frame(), 1)
    assert session.objects == [2]
    assert not (session.step(_frame()).mask == 1).any()


def test_a_reset_forgets_everything_and_the_next_object_is_all_there_is():
    session = StreamSession(create_segmenter("static"))
    session.start(_frame(), _object(1, 5, 5) + _object(3, 20, 30))
    assert not session.reset(_frame()).mask.any()
    assert session.objects == [] and session.current is None
    assert not session.step(_frame()).mask.any()
    r = session.add(_frame(), 4, Target.from_boxes({4: (10, 10, 30, 30)}))
    assert session.objects == [4] and [o.id for o in r.objects] == [4]


def test_a_refused_change_keeps_what_is_followed():
    session = StreamSession(create_segmenter("static"))
    session.start(_frame(), _object(1, 5, 5))
    with pytest.raises(TargetError):
        session.add(_frame(), 2, np.zeros((H, W), np.uint8))
    with pytest.raises(TargetError, match="last one"):
        session.remove(_frame(), 1)
    assert session.objects == [1] and session.following
