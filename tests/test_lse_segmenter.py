"""`lse` (rtvos/models/lse/segmenter.py) with the packaged network: from a box and from a mask, zoomed crops,
an object found again after it left its crop, objects added and removed, box starts for other models, and
two passes over a recording."""

import numpy as np
import pytest
import torch
from helpers import striped_disc_scene

from rtvos.evaluation.metrics import iou
from rtvos.models import create_segmenter
from rtvos.models.lse import SPEC
from rtvos.models.lse.geometry import IGNORE
from rtvos.models.target import Target, boxes_of

needs_checkpoint = pytest.mark.skipif(not SPEC.checkpoint_path.is_file(), reason=f"no trained network at "
                                                                                 f"{SPEC.checkpoint_path}")


def lse(**options):
    """`lse` whose first-frame fine-tuning runs its steps whatever the machine's load (its time budget
    would otherwise cut it short on a busy machine, and the test would depend on the load)."""
    return create_segmenter("lse", progress=False, finetune_seconds=600, **options)


@needs_checkpoint
def test_from_a_box_it_segments_and_follows_the_object_and_finds_it_again_after_it_left_the_crop():
    frames = striped_disc_scene([(150 + 6 * i, 180) for i in range(4)] + [(500 + 6 * i, 180) for i in range(8)])
    seg = lse()
    first = seg.start(frames[0][0], Target.from_boxes(boxes_of(frames[0][1])))
    assert iou(first.mask > 0, frames[0][1] > 0) > 0.7  # the box became the object's mask
    assert seg.objects[1].report["from_box"]
    ious = [iou(seg.step(f).mask > 0, m > 0) for f, m in frames[1:]]
    assert min(ious[:3]) > 0.6, ious                  # followed
    assert ious[3] < 0.1                               # jumped out of its crop: lost ...
    assert max(ious[4:]) > 0.6, ious                  # ... the crop widens until it is found again


@needs_checkpoint
def test_objects_come_and_go_and_each_has_its_own_crop():
    frames = striped_disc_scene([(150, 120), (150, 124)])
    image, mask = frames[0]
    label = mask.copy()
    label[250:320, 450:560] = 2                       # a second object: a patch of background
    seg = lse()
    seg.start(image, label)
    assert sorted(seg.objects) == [1, 2]
    r = seg.step(frames[1][0])
    assert set(np.unique(r.mask)) <= {0, 1, 2} and iou(r.mask == 1, frames[1][1] > 0) > 0.6
    seg.remove_object(frames[1][0], 2, r.mask)
    assert sorted(seg.objects) == [1] and seg.ids == [1]


@needs_checkpoint
def test_a_box_start_for_a_model_that_starts_from_masks_goes_through_lse_when_asked():
    frames = striped_disc_scene([(200, 180)])
    boxes = boxes_of(frames[0][1])
    lse_start = create_segmenter("static").start(frames[0][0], Target.from_boxes(boxes, "lse")).mask
    checkpoint = create_segmenter("static").start(frames[0][0], Target.from_boxes(boxes, f"lse:{SPEC.checkpoint_path}"))
    assert iou(lse_start > 0, frames[0][1] > 0) > 0.7
    assert np.array_equal(checkpoint.mask, lse_start)  # lse:PATH names the network: here the packaged one


@needs_checkpoint
def test_grabcut_started_from_the_network_keeps_the_object_the_network_names(davis_frames):
    """On a real frame, the box of the bear: GrabCut from the box alone, the network alone, and GrabCut
    started from the network's probabilities (`lse+grabcut`), which follows the bear's outline."""
    frame, gt = davis_frames("bear", [0])[0]
    box = boxes_of(gt)[1]
    masks = {way: create_segmenter("static").start(frame, Target.from_boxes({1: box}, way)).mask > 0
             for way in ("grabcut", "lse", "lse+grabcut", f"lse+grabcut:{SPEC.checkpoint_path}")}
    scores = {way: iou(m, gt > 0) for way, m in masks.items()}
    assert scores["lse+grabcut"] > 0.8 and scores["lse+grabcut"] >= scores["lse"] - 0.02
    assert np.array_equal(masks["lse+grabcut"], masks[f"lse+grabcut:{SPEC.checkpoint_path}"])


@needs_checkpoint
def test_its_own_box_start_follows_box_init_with_its_own_network():
    """`lse` from a box: the first mask is box_init's (as for every model), by lse's own network where the
    way is LSE's; a box_labels it does not know is an error."""
    frames = striped_disc_scene([(200, 180)])
    image, mask = frames[0]
    boxes = {1: boxes_of(mask)[1], 2: (420.0, 60.0, 520.0, 150.0)}
    for way in ("grabcut", "lse", "lse+grabcut"):
        seg = lse(finetune_steps=1)
        first = seg.start(image, Target.from_boxes(boxes, way)).mask
        static = create_segmenter("static").start(image, Target.from_boxes(boxes, f"{way}:{SPEC.checkpoint_path}"
                                                                          if way != "grabcut" else way)).mask
        assert np.array_equal(first, static)
        assert seg.objects[2].report["from_box"]
    with pytest.raises(ValueError, match="box_labels"):
        lse(box_labels="everything")
    with pytest.raises(ValueError, match="snap_eps"):
        lse(snap_eps=0)


@needs_checkpoint
def test_the_first_frame_fine_tuning_also_learns_from_augmented_copies_labelled_as_the_frame_is():
    """Each augmented copy of the first frame adds a crop. From a box, its labels are the box's: the
    confident part foreground, the rest of the box unlabelled, outside it background; so are the copies'."""
    frames = striped_disc_scene([(200, 180)])
    image, mask = frames[0]
    for target, unlabelled in ((mask, False), (Target.from_boxes(boxes_of(mask)), True)):
        seg = lse(finetune_steps=2, finetune_augment=5)
        seg.start(image, target)
        ob = seg.objects[1]
        assert len(ob.images) == len(ob.labels) == ob.report["crops"] == seg.cfg.finetune_crops + 5
        for labels in ob.labels[seg.cfg.finetune_crops:]:
            assert (labels == 1).any() and (labels == 0).any()
            assert (labels == IGNORE).any() == unlabelled
        assert not any(np.array_equal(ob.images[0], copy) for copy in ob.images[seg.cfg.finetune_crops:])


@needs_checkpoint
def test_two_passes_adapt_the_head_once_on_a_sample_of_the_first_pass_and_restart_from_it():
    frames = striped_disc_scene([(150 + 8 * i, 180 + 2 * i) for i in range(10)])
    target = Target.from_boxes(boxes_of(frames[0][1]))
    seg = lse(adapt_frames=4, adapt_steps=5)
    seg.start(frames[0][0], target)
    first_head = [p.detach().clone() for p in seg.objects[1].net.foreground.parameters()]
    first_crops = seg.objects[1].first
    for f, _ in frames[1:]:
        seg.scan(f)
    kept = seg.objects[1]
    assert kept.scanned == 9 and len(kept.images) == len(kept.labels) == first_crops + 4  # a sample, not all
    assert all(lab.shape == kept.labels[0].shape for lab in kept.labels)
    seg.adapt()
    seg.start(frames[0][0], target)                                # the second pass begins ...
    report = seg.objects[1].report
    assert report["adapted"]["steps"] == 5 and report["adapted"]["scanned"] == 9  # ... from the adapted head
    assert any(not torch.equal(a, b) for a, b in zip(first_head, seg.objects[1].net.foreground.parameters()))
    assert min(iou(seg.step(f).mask > 0, m > 0) for f, m in frames[1:4]) > 0.6
    seg.start(frames[0][0], target)                                # used once: a later start fine-tunes anew
    assert "adapted" not in seg.objects[1].report


@needs_checkpoint
def test_what_was_adapted_serves_only_the_same_start_and_an_object_never_found_is_not_adapted():
    frames = striped_disc_scene([(150, 180), (158, 182)])
    seg = lse(adapt_steps=5)
    seg.start(frames[0][0], frames[0][1])
    seg.adapt()                                                    # nothing scanned: the head stays
    crops = seg.cfg.finetune_crops + seg.cfg.finetune_augment
    assert seg.adapted[1].report["adapted"] == {"steps": 0, "why": "not found in the first pass", "crops": crops,
                                                "scanned": 0}
    seg.start(frames[1][0], frames[1][1])                          # another first frame: fine-tuned anew
    assert "adapted" not in seg.objects[1].report


def test_a_model_that_does_not_adapt_says_so():
    seg = create_segmenter("static")
    frames = striped_disc_scene([(150, 180)])
    seg.start(frames[0][0], frames[0][1])
    with pytest.raises(ValueError, match="does not adapt"):
        seg.adapt()


@needs_checkpoint
def test_with_lost_share_an_object_shrunk_to_a_speck_counts_as_lost_and_its_crop_widens():
    """A disc hidden but for a sliver (here: drawn much smaller) keeps a few pixels: over min_pixels, so
    by default the crop stays where it is; with `lost_share` it is under that share of the disc's usual
    area, so it is lost and the search widens."""
    big = striped_disc_scene([(200, 180)] * 3)
    speck = striped_disc_scene([(200, 180)], r=6)[0][0]
    margins = {}
    for share in (0.0, 0.3):
        seg = lse(lost_share=share)
        seg.start(big[0][0], big[0][1])
        for f, _ in big[1:]:
            seg.step(f)
        usual = seg.objects[1].area
        r = seg.step(speck)
        assert 16 <= np.count_nonzero(r.mask) < 0.3 * usual  # a speck: over min_pixels, under the share
        margins[share] = seg.objects[1].margin
    assert margins[0.0] == seg.cfg.margin and margins[0.3] > seg.cfg.margin
