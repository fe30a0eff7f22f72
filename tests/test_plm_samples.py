"""PLM's training pairs (rtvos/models/plm/samples.py)."""

import numpy as np

from rtvos.models.plm.net import CROP, MAP
from rtvos.models.plm.samples import query_crop, sample_search_box, search_sample
from rtvos.models.shared.crops import overlap


# ------------------------------------------------------------------------------- training samples
def iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


def test_search_boxes_keep_at_least_half_the_target():
    rng = np.random.default_rng(0)
    obj = (200.0, 100.0, 260.0, 220.0)
    for _ in range(200):
        assert overlap(obj, sample_search_box(obj, rng)) >= 0.5


def test_samples_have_network_sizes_and_label_the_object():
    rng = np.random.default_rng(1)
    image = np.full((120, 160, 3), 40, np.uint8)
    mask = np.zeros((120, 160), bool)
    mask[40:80, 60:100] = True
    image[mask] = 220
    q = query_crop(image, mask, CROP)
    assert q.shape == (CROP, CROP, 3) and q.dtype == np.uint8
    x, y = search_sample(image, mask, rng, CROP, MAP, max_angle=0.0, flip=False)
    assert x.shape == (CROP, CROP, 3) and y.shape == (MAP, MAP)
    # Label and crop agree: bright pixels of the crop are the labelled ones.
    bright = cv_resize_mean(x[..., 0] > 130)
    assert iou(bright > 0.5, y > 0.5) > 0.8


def cv_resize_mean(b):
    import cv2

    return cv2.resize(b.astype(np.float32), (MAP, MAP), interpolation=cv2.INTER_AREA)
