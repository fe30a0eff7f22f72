"""Which sequences a run trains on and which it is scored on (rtvos/evaluation/splits.py)."""

import pytest

from rtvos.evaluation.splits import DEV_SEQUENCES, SplitError, folds, scored, split

NAMES = [f"seq{i:02d}" for i in range(30)] + list(DEV_SEQUENCES)


def test_folds_cover_every_sequence_once_and_never_change():
    three = folds(NAMES, 3)
    assert sorted(s for f in three for s in f) == sorted(NAMES)
    assert [len(f) for f in three] == [13, 12, 12]
    assert folds(list(reversed(NAMES)), 3) == three  # the order names come in does not matter


def test_a_fold_is_held_out_and_the_rest_trained_on():
    train, held = split(NAMES, "fold:2/3")
    assert held == folds(NAMES, 3)[1] and not set(train) & set(held) and len(train) + len(held) == len(NAMES)
    train, held = split(NAMES, "dev")
    assert held == list(DEV_SEQUENCES) and len(train) == 30
    assert split(NAMES, "all") == (NAMES, [])


def test_eval_scores_a_split_held_out_side():
    assert scored(NAMES, "fold:1/3") == folds(NAMES, 3)[0]
    assert scored(NAMES, "train") == [n for n in NAMES if n not in DEV_SEQUENCES]
    assert scored(NAMES, "all") == NAMES


@pytest.mark.parametrize("name, match", [("fold:4/3", "does not exist"), ("fold:a", "fold:I/K"),
                                         ("fold:1/1", "2.."), ("train-all", "unknown split")])
def test_bad_splits_say_what_is_expected(name, match):
    with pytest.raises(SplitError, match=match):
        split(NAMES, name)
