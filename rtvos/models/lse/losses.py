"""LSE's losses (the paper, eqs. 1-3): pairwise embedding loss, location (offset) loss, foreground loss."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rtvos.models.lse.geometry import IGNORE
from rtvos.models.lse.net import LSENetwork

PIXELS_PER_INSTANCE = 24  # the paper's K pixels drawn per instance (the background counts as one)


def embedding_loss(embedding: torch.Tensor, instances: torch.Tensor, generator: torch.Generator,
                   per_instance: int = PIXELS_PER_INSTANCE) -> torch.Tensor:
    """Eq. 1 over K pixels drawn per instance of each image (B x C x h x w, B x h x w long): pairs of one
    instance pulled to similarity 1, of two instances pushed to 0. Drawing the same number per instance
    weighs small instances like large ones (the paper's omega). The pixels are drawn on the CPU (the
    generator's device) and go to the embeddings' device in one copy: on a GPU, no round trip per
    instance."""
    kept, drawn, labels = [], [], []
    for i, inst in enumerate(instances.cpu()):
        ids = inst.flatten()
        present = torch.unique(ids)
        rows = []
        for k in present:  # drawn for every image, one instance or more: the generator's stream stays the same
            where = torch.nonzero(ids == k)[:, 0]
            rows.append(where[torch.randint(len(where), (per_instance,), generator=generator)])
        if len(present) > 1:  # one instance only: nothing to push apart
            kept.append(i)
            drawn.append(torch.cat(rows))
            labels.append(present.repeat_interleave(per_instance))
    if not kept:
        return embedding.sum() * 0.0
    sizes = [len(d) for d in drawn]
    picks = torch.cat(drawn).to(embedding.device, non_blocking=True).split(sizes)
    labs = torch.cat(labels).to(embedding.device, non_blocking=True).split(sizes)
    losses = []
    for i, pick, lab in zip(kept, picks, labs):
        e = embedding[i].flatten(1)[:, pick].T
        d2 = torch.cdist(e, e).pow(2)
        same = (lab[:, None] == lab[None, :]).float()
        log_s = math.log(2.0) + F.logsigmoid(-d2)                          # log(2 / (1 + e^d2))
        log_1ms = torch.log(torch.tanh(d2.clamp(min=1e-6) / 2))               # log(1 - s)
        off_diagonal = 1.0 - torch.eye(len(lab), device=e.device)
        pair = -(same * log_s + (1 - same) * log_1ms) * off_diagonal
        losses.append(pair.sum() / off_diagonal.sum())
    return torch.stack(losses).mean()


def offset_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Eq. 2: the mean over images of the mean Euclidean error over each image's object pixels (images
    without any left out; 0 when no image has any)."""
    err = (pred - target).pow(2).sum(1).clamp(min=1e-12).sqrt()  # B x h x w
    v = valid.flatten(1).to(err.dtype)
    count = v.sum(1)
    per_image = (err.flatten(1) * v).sum(1) / count.clamp(min=1)
    has = (count > 0).to(err.dtype)
    return (per_image * has).sum() / has.sum().clamp(min=1)


def dice_loss(prob: torch.Tensor, target: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """1 - soft Dice per image (over its labelled pixels), averaged: overlap, whatever the object's share."""
    p, t, k = prob.flatten(1), target.flatten(1), keep.flatten(1).float()
    inter = (p * t * k).sum(1)
    return (1 - (2 * inter + 1) / ((p * k).sum(1) + (t * k).sum(1) + 1)).mean()


def foreground_loss(fg_logit: torch.Tensor, fused: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 3 plus a soft Dice term, on the foreground branch and on the fused probability (the fusion
    trains end to end); `labels` (B x h x w) 1 / 0, or IGNORE where a pixel has no label. Cross-entropy
    alone leaves a small object's pixels under 0.5 (most of a crop is background); Dice does not care.
    The cross-entropies are means over the labelled pixels (0, not NaN, when there are none)."""
    keep = labels != IGNORE
    weight = keep.to(fused.dtype)
    labelled = weight.sum().clamp(min=1)
    target = labels.clamp(min=0)
    fg = torch.sigmoid(fg_logit[:, 0])
    branch = (F.binary_cross_entropy_with_logits(fg_logit[:, 0], target, weight=weight, reduction="sum") / labelled
              + dice_loss(fg, target, keep))
    fused_c = fused.clamp(1e-6, 1 - 1e-6)
    return (branch + F.binary_cross_entropy(fused_c, target, weight=weight, reduction="sum") / labelled
            + dice_loss(fused_c, target, keep))


def stage_loss(stage: int, network: LSENetwork, outputs, instances4: torch.Tensor, instances8: torch.Tensor,
               offsets: torch.Tensor, valid: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The loss of training stage 1 (L_ae + L_le), 2 (L_lse) or 3 (all, L_fg on the target, instance 1).
    Instance maps at the foreground branch's stride 4 and the embeddings' stride 8; offsets at stride 8."""
    fg_logit, appearance, offset_pred, lse = outputs
    if stage == 1:
        return embedding_loss(appearance, instances8, generator) + offset_loss(offset_pred, offsets, valid)
    if stage == 2:
        return embedding_loss(lse, instances8, generator)
    fused = network.fused(fg_logit, lse)
    return (embedding_loss(appearance, instances8, generator) + offset_loss(offset_pred, offsets, valid)
            + embedding_loss(lse, instances8, generator) + foreground_loss(fg_logit, fused, (instances4 == 1).float()))
