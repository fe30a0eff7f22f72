"""FRTM (papers/frtm-discriminative-online-learning.txt) and `online`, its target model alone.

optimizer.py     Gauss-Newton with conjugate gradient, for any least-squares problem
target_model.py  D(x) = w2 * (w1 * x), its loss and exact Jacobian products, fitted by optimizer.py
memory.py        the bounded, weighted sample memory D is updated from
net.py           the refinement network R (offline-trained, target-agnostic)
segmenter.py     `online` (D alone) and `frtm` (D + R) behind the protocol
train.py         `rtvos train frtm`: R, with D fitted inside every step
refiner.pt       the packaged R (and refiner.json, how it was trained)
"""

from rtvos.models.spec import ModelSpec

TRAIN_COMMAND = "rtvos train frtm --split all --no-dev --steps 2700 --ecssd-clips 300 --tune-blocks 3 --tune-lr 0.3"  # how refiner.pt was made (refiner.json)
REFINER_CHECKPOINT = "refiner.pt"
# The paper's fast preset (section 4), plus fewer first-frame augmentations and a smaller processing size;
# no snapping to edges (69.7 -> 69.9 J&F cross-validated with snap=0.5, one fold worse: not worth its time).
FAST_PRESET = {"channels": 32, "update_every": 16, "gn_steps": 4, "cg_first": 5, "cg_iterations": 5,
               "update_cg": 5, "augmentations": 5, "height": 256, "snap": 0.0}

SPECS = (
    ModelSpec("online", "FRTM's online target model D (Gauss-Newton/CG) on EfficientNet-Lite0 features (Lite2: "
                        "backbone=lite2), zoomed in on each object", package=__name__, segmenter="rtvos.models.frtm.segmenter:OnlineSegmenter"),
    ModelSpec("frtm", "FRTM: the online target model + the offline-trained refinement network R, a copy of it "
                      "fine-tuned on the first frame (accurate preset)",
              package=__name__, segmenter="rtvos.models.frtm.segmenter:FRTMSegmenter",
              trainer="rtvos.models.frtm.train", checkpoint=REFINER_CHECKPOINT),
    ModelSpec("frtm-fast", "FRTM fast preset: c=32, t_s=16, 4 GN steps, 5 CG per update, 256-px processing",
              package=__name__, segmenter="rtvos.models.frtm.segmenter:FRTMSegmenter", defaults=FAST_PRESET,
              checkpoint=REFINER_CHECKPOINT),
)
FRTM_SPEC = SPECS[1]
