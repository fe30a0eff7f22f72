"""Which sequences a run trains on and which it is scored on, named the same way by `rtvos train` and
`rtvos eval` (`--split`):

    dev        the 7-sequence dev split of DAVIS 2016 train (DEV_SEQUENCES) held out, the rest trained on
    fold:I/K   cross-validation: the sequences dealt into K folds (a fixed shuffle), fold I held out
    all        every sequence trained on, none held out (the packaged checkpoints, once chosen)

For `rtvos eval` a split names the sequences scored: its held-out ones, or every sequence for `all`;
`train` scores the training side of the dev split.
"""

from __future__ import annotations

import numpy as np

# Held out of the trainers' default runs; the older numbers in benchmarks/RESULTS.md are on these.
DEV_SEQUENCES = ("bear", "bmx-bumps", "car-turn", "dance-jump", "hike", "motocross-bumps", "soccerball")
FOLD_SEED = 0


class SplitError(ValueError):
    pass


def folds(names: list[str], k: int) -> list[list[str]]:
    """`names` dealt into `k` folds of near-equal size after a fixed shuffle (the same every time)."""
    if not 2 <= k <= len(names):
        raise SplitError(f"cross-validation needs 2..{len(names)} folds, got {k}")
    order = [sorted(names)[i] for i in np.random.default_rng(FOLD_SEED).permutation(len(names))]
    return [sorted(order[i::k]) for i in range(k)]


def parse_fold(split: str) -> tuple[int, int] | None:
    """(I, K) of "fold:I/K" (I from 1), None for another split."""
    if not split.startswith("fold:"):
        return None
    try:
        i, k = (int(v) for v in split[len("fold:"):].split("/"))
    except ValueError:
        raise SplitError(f"a fold is fold:I/K, e.g. fold:1/3; got {split!r}") from None
    if not 1 <= i <= k:
        raise SplitError(f"fold {i} of {k} does not exist")
    return i, k


def split(names: list[str], name: str) -> tuple[list[str], list[str]]:
    """(trained on, held out) for the split `name` of these sequences."""
    fold = parse_fold(name)
    if fold is not None:
        i, k = fold
        held = folds(names, k)[i - 1]
        return [s for s in names if s not in held], held
    if name == "dev":
        return [s for s in names if s not in DEV_SEQUENCES], [s for s in DEV_SEQUENCES if s in names]
    if name == "all":
        return list(names), []
    raise SplitError(f"unknown split {name!r}: dev, all or fold:I/K")


def scored(names: list[str], name: str) -> list[str]:
    """The sequences `rtvos eval --split name` scores."""
    if name == "all":
        return list(names)
    if name == "train":
        return split(names, "dev")[0]
    return split(names, name)[1]
