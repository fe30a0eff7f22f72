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

# how lse.pt was made (lse.json): on a lent H100, from the compact copy of the data the first command makes
# (--device cpu trains the same on a CPU, about 50 times slower)
TRAIN_COMMAND = ("python -m rtvos.training.bundle --out .gpu/data --frame-step 3 --quality 75 && "
                 "rtvos train lse --split all --no-dev --steps 5600 --minutes 3.9 --device cuda --threads 4 "
                 "--backend torch --davis-root .gpu/data/davis2016-train --ecssd-root .gpu/data/ecssd "
                 "--davis-samples 3500 --ecssd-samples 3500")

SPECS = (
    ModelSpec("lse", "LSE: from a box or a mask, zoomed in on each object; location-sensitive embeddings fused "
                     "with a foreground branch, fine-tuned on the first frame",
              package=__name__, segmenter="rtvos.models.lse.segmenter:LSESegmenter",
              trainer="rtvos.models.lse.train", checkpoint="lse.pt"),
)
SPEC = SPECS[0]
