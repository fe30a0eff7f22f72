"""`crvos`: CRVOS, the Clue-refining real-time decoder (papers/crvos-clue-refining-network.txt).

net.py        the Clue and the decoder (three transposed-convolution refine modules; optionally the
              backbone's last stride-16 blocks, fine-tuned with it)
segmenter.py  the model behind the protocol: backbone + decoder, one decoder call for all objects; a copy
              of the decoder fine-tuned on the first frame at the start
train.py      `rtvos train crvos`: the decoder on recurrent clips of cached backbone features
crvos.pt      the packaged decoder (and crvos.json, how it was trained)
"""

from rtvos.models.spec import ModelSpec

TRAIN_COMMAND = "rtvos train crvos --split all --no-dev --steps 800 --lr 1e-3 --clue-prior --tune-blocks 3 --tune-lr 0.3"  # how crvos.pt was made (crvos.json)

SPECS = (
    ModelSpec("crvos", "CRVOS: Clue (previous mask + coordinates) refined by three deconv refine modules, "
              "the Clue's log-odds added to the logits, the backbone's last 3 stride-16 blocks fine-tuned with it (trained decoder; a copy fine-tuned on the first frame at the start)", package=__name__, segmenter="rtvos.models.crvos.segmenter:CRVOSSegmenter",
              trainer="rtvos.models.crvos.train", checkpoint="crvos.pt"),
)
SPEC = SPECS[0]
