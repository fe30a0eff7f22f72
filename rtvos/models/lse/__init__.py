"""LSE: video object segmentation from a box, with location-sensitive embeddings
(papers/lse-location-sensitive-embeddings.txt).

net.py        the network: trunk, foreground / appearance / offset heads, centre map, LSE head, the fusion
geometry.py   the zoomed-in crop, the offsets' targets, the first frame's pseudo-labels from a box
losses.py     the pairwise embedding loss, the location loss, the foreground loss; the three stages'
samples.py    training crops of composites with several instances and look-alikes, and their cache
box.py        a box to a first mask with the pre-trained network (every model's box start)
segmenter.py  `lse` behind the protocol: fine-tuned on the first frame, zooming in on each object
train.py      `rtvos train lse`: the paper's three stages on DAVIS and ECSSD composites
lse.pt        the packaged pre-trained network (and lse.json, how it was trained)
"""

from rtvos.models.spec import ModelSpec

TRAIN_COMMAND = "rtvos train lse --split all --no-dev --steps 400"  # how lse.pt was made (lse.json)

SPECS = (
    ModelSpec("lse", "LSE: from a box or a mask, zoomed in on each object; location-sensitive embeddings fused "
                     "with a foreground branch, fine-tuned on the first frame",
              package=__name__, segmenter="rtvos.models.lse.segmenter:LSESegmenter",
              trainer="rtvos.models.lse.train", checkpoint="lse.pt"),
)
SPEC = SPECS[0]
