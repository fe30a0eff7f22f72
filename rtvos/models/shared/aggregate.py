"""Merging per-object foreground probabilities into one label mask (shared by the segmenters).

One object: threshold.  Several: soft aggregation -- each pixel goes to the hypothesis (background or
object k) with the highest odds, where background's probability is prod_k (1 - p_k); an object also
needs p_k > threshold / 2 to win a pixel.
"""

from __future__ import annotations

import numpy as np


def merge_probabilities(probs: list[np.ndarray], ids: list[int],
                        threshold: float = 0.5) -> tuple[np.ndarray, dict[int, float]]:
    """(HxW uint8 label mask, {object id: mean probability over the pixels it won, 0 if none}).

    `probs[i]` is object `ids[i]`'s HxW foreground probability (float, 0..1).
    """
    if len(probs) != len(ids) or not probs:
        raise ValueError(f"need one probability map per object id, got {len(probs)} maps for ids {ids}")
    if len(probs) == 1:
        fg = probs[0] > threshold
        label = fg.astype(np.uint8) * np.uint8(ids[0])
        winners = [fg]
    else:
        p = np.clip(np.stack(probs), 1e-4, 1 - 1e-4)
        background = np.prod(1 - p, axis=0, keepdims=True)
        odds = np.concatenate([background, p]) / np.concatenate([1 - background, 1 - p])
        best = np.argmax(odds, axis=0)
        label = np.zeros(best.shape, np.uint8)
        winners = []
        for i, k in enumerate(ids):
            win = (best == i + 1) & (p[i] > threshold * 0.5)
            label[win] = k
            winners.append(win)
    scores = {k: float(pr[win].mean()) if win.any() else 0.0 for k, pr, win in zip(ids, probs, winners)}
    return label, scores
