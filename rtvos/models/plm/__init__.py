"""PLM: pixel-level matching (papers/plm-pixel-level-matching.txt), and its thermal drivable-road mode.

net.py        the matching network (compressors, FC matching table, decoding convs, any fine-tuned extractor
              blocks) and the frozen extractor
geometry.py   candidate boxes, square crops, maps accumulated back in the frame, the weighted median
samples.py    query and search crops with labels, for pre-training and first-frame fine-tuning alike
segmenter.py  `plm` / `plm-p` behind the protocol: fine-tuned on the first frame, nine candidates a frame
train.py      `rtvos train plm`: pre-training on DAVIS pairs (and synthetic clips, if asked)
plm.pt        the packaged pre-trained network (and plm.json, how it was trained)
"""

from rtvos.models.spec import ModelSpec

TRAIN_COMMAND = "rtvos train plm --split all --no-dev --steps 7500 --backbone lite2 --seed 1"  # how plm.pt was made (plm.json)

SPECS = (
    ModelSpec("plm", "PLM: Siamese pixel-level matching, fine-tuned on the first frame, nine candidates per object",
              package=__name__, segmenter="rtvos.models.plm.segmenter:PLMSegmenter",
              trainer="rtvos.models.plm.train", checkpoint="plm.pt"),
    ModelSpec("plm-p", "PLM_P: PLM + the weighted-median post-process (5x5, 3 passes)",
              package=__name__, segmenter="rtvos.models.plm.segmenter:PLMSegmenter", defaults={"postprocess": True},
              checkpoint="plm.pt"),
)
SPEC = SPECS[0]
