"""Run a segmenter over DAVIS sequences and score the results with the official semi-supervised protocol.

Protocol (as `davis2017-evaluation`'s semi-supervised task): the segmenter is started on frame 0 with
its annotation and stepped through the following frames; every frame's mask is written in the DAVIS
results layout (frame 0 = the given annotation).  Scoring leaves out the first and the last frame of
each sequence, computes J and F per object and frame, and reduces each object's per-frame values to
mean, recall and decay (`metrics.seq_stats`).

Summary dict (fractions in 0..1)::

    {"J", "F", "JF", "J_recall", "F_recall", "J_decay", "F_decay", ["fps",] "frames",
     "sequences": {name: {"J", "F", "J_recall", "F_recall", "J_decay", "F_decay", "frames"}}}

Global values are the mean over objects, as in the official code; with one object per sequence
(DAVIS 2016) that is the mean over sequences of the per-sequence values.  A sequence's values are the
mean over its objects.  "frames" counts the frames scored (first and last of each sequence left out);
"fps" (only from `evaluate`) is frames stepped per second of time spent inside `step` (with two passes:
the first pass and the adaptation count too, over the frames of one pass).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rtvos.evaluation.davis import DavisDataset, DavisSequence, read_label_png, result_path, write_result
from rtvos.evaluation.metrics import boundary_f, iou, seq_stats
from rtvos.models.protocol import Segmenter
from rtvos.models.session import StreamSession
from rtvos.models.target import Target

VOID_LABEL = 255
_STATS = ("J", "F", "J_recall", "F_recall", "J_decay", "F_decay")


@dataclass
class SequenceScore:
    """Per-object statistics of one sequence: stats[key] holds one value per object."""

    name: str
    frames: int
    stats: dict[str, list[float]]


def _object_ids(first_mask: np.ndarray, name: str) -> list[int]:
    """Objects to score: 1..max label of the first annotation (void excluded), as the official code."""
    labels = first_mask[first_mask != VOID_LABEL]
    top = int(labels.max(initial=0))
    if top == 0:
        raise ValueError(f"the first annotation of {name} has no object to score")
    return list(range(1, top + 1))


def score_sequence(results_dir: str | Path, sequence: DavisSequence, max_frames: int | None = None) -> SequenceScore:
    """Score the results of one sequence (its first `max_frames` frames, when given)."""
    n = len(sequence) if max_frames is None else min(len(sequence), max_frames)
    if n < 3:
        raise ValueError(
            f"{sequence.name}: {n} frame(s) to score, need at least 3 (the first and last are left out)"
        )
    ids = _object_ids(sequence.load_mask(0), sequence.name)
    single = ids == [1]
    j_values = np.zeros((len(ids), n - 2))
    f_values = np.zeros((len(ids), n - 2))
    for col, i in enumerate(range(1, n - 1)):
        gt = sequence.load_mask(i)
        path = result_path(results_dir, sequence.name, sequence.frame_names[i])
        if not path.is_file():
            raise FileNotFoundError(f"missing result for {sequence.name} frame {sequence.frame_names[i]}: {path}")
        pred = read_label_png(path)
        if pred.shape != gt.shape:
            raise ValueError(f"{path} is {pred.shape[1]}x{pred.shape[0]} but the annotation is {gt.shape[1]}x{gt.shape[0]}")
        void = gt == VOID_LABEL
        for row, k in enumerate(ids):
            # one object: any nonzero result pixel is the object (DAVIS 2016); several: pixels labelled k
            pred_k = pred > 0 if single else pred == k
            j_values[row, col] = iou(pred_k, gt == k, void)
            f_values[row, col] = boundary_f(pred_k, gt == k, void=void)
    stats: dict[str, list[float]] = {key: [] for key in _STATS}
    for row in range(len(ids)):
        for letter, values in (("J", j_values[row]), ("F", f_values[row])):
            s = seq_stats(values)
            stats[letter].append(s["mean"])
            stats[f"{letter}_recall"].append(s["recall"])
            stats[f"{letter}_decay"].append(s["decay"])
    return SequenceScore(name=sequence.name, frames=n - 2, stats=stats)


def summarize(scores: list[SequenceScore]) -> dict:
    """The summary dict (without fps) from per-sequence scores."""
    if not scores:
        raise ValueError("no sequences to summarize")
    sequences = {}
    for sc in scores:
        entry = {key: float(np.mean(sc.stats[key])) for key in _STATS}
        entry["frames"] = sc.frames
        sequences[sc.name] = entry
    pooled = {key: float(np.mean([v for sc in scores for v in sc.stats[key]])) for key in _STATS}
    return {
        "J": pooled["J"],
        "F": pooled["F"],
        "JF": (pooled["J"] + pooled["F"]) / 2,
        "J_recall": pooled["J_recall"],
        "F_recall": pooled["F_recall"],
        "J_decay": pooled["J_decay"],
        "F_decay": pooled["F_decay"],
        "frames": int(sum(sc.frames for sc in scores)),
        "sequences": sequences,
    }


def _open_sequences(root: str | Path, sequences: list[str] | None) -> list[DavisSequence]:
    dataset = DavisDataset(root)
    names = dataset.sequence_names() if sequences is None else list(sequences)
    if not names:
        raise ValueError(f"no sequences to evaluate in {root}")
    return [dataset.sequence(name) for name in names]


def score_results(
    results_dir: str | Path,
    root: str | Path,
    sequences: list[str] | None = None,
    max_frames: int | None = None,
    progress: bool = False,
) -> dict:
    """Score a results folder (``<results>/<seq>/<frame>.png``, written by anything) against the
    annotations of a DAVIS root.  `sequences=None` scores every sequence of the root."""
    seqs = _open_sequences(root, sequences)
    scores = [score_sequence(results_dir, seq, max_frames) for seq in tqdm(seqs, disable=not progress, unit="seq")]
    return summarize(scores)


def _running_j(scores: list[SequenceScore]) -> str:
    """Mean J over the objects of the sequences finished so far, for the progress bar."""
    values = [v for sc in scores for v in sc.stats["J"]]
    return f"{np.mean(values):.3f}" if values else "-"


def _frames(seq: DavisSequence, start: int, stop: int, bar: tqdm) -> Iterator[np.ndarray]:
    """Frames start..stop-1 of `seq`, the bar counting them."""
    for i in range(start, stop):
        yield seq.load_frame(i)
        bar.update(1)


def evaluate(
    make_segmenter: Callable[[], Segmenter],
    root: str | Path,
    out_dir: str | Path,
    sequences: list[str] | None = None,
    progress: bool = True,
    max_frames: int | None = None,
    init: Callable[[np.ndarray], Target | np.ndarray] | None = None,
    two_pass: bool = False,
) -> dict:
    """Run a fresh segmenter on each sequence, write its masks to `out_dir`, score them.

    Only `step` calls are timed for fps.  With `max_frames`, only the first N frames of each
    sequence are run and scored (the last of those N is left out of the score).  `init` turns the
    first annotation into the target the segmenter starts from (None: the annotation itself; e.g. the
    boxes of its objects, `rtvos eval --init box`); frame 0's result is the annotation either way, and
    it is not scored. `two_pass`: each sequence is scanned once, the model adapts to it
    (Segmenter.adapt), and the second pass's masks are scored.
    The progress bar's postfix shows the sequence being run and J so far over finished sequences.
    """
    if max_frames is not None and max_frames < 3:
        raise ValueError("max_frames must be at least 3: the first and last frames are not scored")
    seqs = _open_sequences(root, sequences)
    lengths = [len(s) if max_frames is None else min(len(s), max_frames) for s in seqs]
    step_seconds, steps = 0.0, 0
    scores: list[SequenceScore] = []
    scanned = sum(n - 1 for n in lengths) if two_pass else 0  # the first passes' frames (their start apart)
    with tqdm(total=sum(lengths) + scanned, disable=not progress, unit="frame") as bar:
        for seq, n in zip(seqs, lengths):
            bar.set_postfix(seq=seq.name, J=_running_j(scores))
            session = StreamSession(make_segmenter())
            first = seq.load_mask(0)
            frame0, target = seq.load_frame(0), first if init is None else init(first)
            session.start(frame0, target)
            if two_pass:
                step_seconds += session.first_pass(_frames(seq, 1, n, bar))
                session.start(frame0, target)
            write_result(out_dir, seq.name, seq.frame_names[0], first)
            bar.update(1)
            for i in range(1, n):
                frame = seq.load_frame(i)
                t0 = time.perf_counter()
                result = session.step(frame)
                step_seconds += time.perf_counter() - t0
                steps += 1
                write_result(out_dir, seq.name, seq.frame_names[i], result.mask)
                bar.update(1)
            scores.append(score_sequence(out_dir, seq, n))
        bar.set_postfix(seq="done", J=_running_j(scores))
    summary = summarize(scores)
    fps = steps / step_seconds if step_seconds > 0 else 0.0
    ordered = {k: v for k, v in summary.items() if k not in ("frames", "sequences")}
    ordered["fps"] = float(fps)
    ordered["frames"] = summary["frames"]
    ordered["sequences"] = summary["sequences"]
    return ordered


def format_table(summary: dict) -> str:
    """A per-sequence table (values in %) with the global row, and fps when present."""
    cols = ("J&F", "J", "F", "J-rec", "F-rec", "J-dec", "F-dec")
    names = list(summary["sequences"])
    width = max([len("Sequence"), len("Global")] + [len(n) for n in names])

    def row(label: str, d: dict) -> str:
        vals = ((d["J"] + d["F"]) / 2, d["J"], d["F"], d["J_recall"], d["F_recall"], d["J_decay"], d["F_decay"])
        return f"{label:<{width}}" + "".join(f"{100 * v:>8.1f}" for v in vals) + f"{d['frames']:>8d}"

    header = f"{'Sequence':<{width}}" + "".join(f"{c:>8}" for c in cols) + f"{'frames':>8}"
    rule = "-" * len(header)
    lines = [header, rule] + [row(n, summary["sequences"][n]) for n in names] + [rule, row("Global", summary)]
    if "fps" in summary:
        lines.append(f"fps (step only): {summary['fps']:.2f}")
    return "\n".join(lines)
