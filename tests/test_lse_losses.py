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


def test_a_small_object_missed_costs_about_as_much_as_a_large_one():
    """The Dice term: predicting "background" everywhere is not cheap when the object is small, as it
    is under cross-entropy alone (10 of 100 pixels missed cost a fifth of 50 missed)."""
    from rtvos.models.lse.losses import dice_loss

    small, large = torch.zeros(1, 10, 10), torch.zeros(1, 10, 10)
    small[0, 0] = 1.0
    large[0, :5] = 1.0
    nothing, everywhere = torch.zeros(1, 10, 10), torch.ones(1, 10, 10, dtype=torch.bool)
    assert float(dice_loss(nothing, small, everywhere)) > 0.9 and float(dice_loss(nothing, large, everywhere)) > 0.9
    assert float(dice_loss(small, small, everywhere)) < 0.01
