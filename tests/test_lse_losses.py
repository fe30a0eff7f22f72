"""LSE's losses (rtvos/models/lse/losses.py)."""

import torch

from rtvos.models.lse.geometry import IGNORE
from rtvos.models.lse.losses import embedding_loss, foreground_loss, offset_loss


def _two_instances(separation: float):
    inst = torch.zeros(1, 4, 4, dtype=torch.long)
    inst[0, :, 2:] = 1
    emb = torch.zeros(1, 2, 4, 4)
    emb[0, 0][inst[0] == 1] = separation
    return emb, inst


def test_embeddings_of_one_instance_together_and_of_two_apart_cost_least():
    g = torch.Generator().manual_seed(0)
    apart = embedding_loss(*_two_instances(3.0), g)
    together = embedding_loss(*_two_instances(0.0), g)
    assert float(apart) < 0.01 < float(together)
    one = torch.zeros(1, 4, 4, dtype=torch.long)
    assert float(embedding_loss(torch.zeros(1, 2, 4, 4), one, g)) == 0.0  # one instance: nothing to push apart


def test_offset_loss_is_the_mean_error_over_object_pixels():
    target = torch.zeros(1, 2, 2, 2)
    pred = torch.zeros(1, 2, 2, 2)
    pred[0, 0, 0, 0] = 3.0
    pred[0, 1, 0, 0] = 4.0                       # error 5 at one object pixel
    valid = torch.tensor([[[True, True], [False, False]]])
    pred[0, 0, 1, 1] = 100.0                     # background errors do not count
    assert abs(float(offset_loss(pred, target, valid)) - 2.5) < 1e-5


def test_foreground_loss_leaves_unlabelled_pixels_out():
    labels = torch.tensor([[[1.0, 0.0, IGNORE]]])
    logit = torch.tensor([[[[10.0, -10.0, -10.0]]]])
    fused = torch.tensor([[[0.999, 0.001, 0.001]]])
    assert float(foreground_loss(logit, fused, labels)) < 0.01  # the wrong third pixel is not labelled


def test_a_small_object_missed_costs_as_much_as_a_large_one():
    """The Dice term: predicting "background" everywhere is not cheap when the object is small."""
    small = torch.zeros(1, 1, 10, 10)
    small[0, 0, 0, 0] = 1.0
    large = torch.zeros(1, 1, 10, 10)
    large[0, 0, :5] = 1.0
    nothing_logit = torch.full((1, 1, 10, 10), -10.0)
    nothing = torch.sigmoid(nothing_logit[:, 0])
    miss_small = float(foreground_loss(nothing_logit, nothing, small[:, 0]))
    miss_large = float(foreground_loss(nothing_logit, nothing, large[:, 0]))
    assert miss_small > 1.9 and miss_large > 1.9  # the two Dice terms alone are ~1 each
