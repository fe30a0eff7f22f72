"""LSE's training samples (rtvos/models/lse/samples.py): composites with look-alikes, the crop around the target."""

import numpy as np

from rtvos.models.lse.samples import composite, cutout, training_crop


def _scene():
    image = np.full((120, 160, 3), 40, np.uint8)
    mask = np.zeros((120, 160), bool)
    mask[40:80, 60:100] = True
    image[mask] = (220, 30, 30)
    return image, mask


def test_pasted_objects_are_new_instances_and_the_target_stays_instance_one():
    image, mask = _scene()
    rng = np.random.default_rng(0)
    made = None
    while made is None:  # a paste that hides too much of the target is refused
        made = composite(image, mask, [cutout(image, mask)], rng)
    out, inst = made
    assert set(np.unique(inst)) <= {0, 1, 2} and (inst == 1).sum() >= 0.5 * mask.sum()
    assert (inst == 2).any()                                         # the look-alike ...
    red = out[..., 0].astype(int) - out[..., 1].astype(int) > 100  # (colour-jittered)
    assert red[inst == 2].mean() > 0.9 and not red[inst == 0].any()  # ... is red too, and is not the target
    assert np.array_equal(image, _scene()[0])                         # the input is untouched


def test_the_training_crop_holds_the_whole_target_with_context():
    image, mask = _scene()
    crop, inst = training_crop(image, mask.astype(np.uint8), np.random.default_rng(1), size=64)
    assert crop.shape == (64, 64, 3) and inst.shape == (64, 64)
    ys, xs = np.nonzero(inst == 1)
    assert 0.05 < (inst == 1).mean() < 0.6                  # context around it
    assert ys.min() > 0 and xs.min() > 0 and ys.max() < 63 and xs.max() < 63  # not cut by the crop's edge
