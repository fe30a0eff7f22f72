"""`static`: the trivial baseline, the first mask repeated on every frame."""

from rtvos.models.spec import ModelSpec

SPECS = (
    ModelSpec("static", "baseline: repeats the first mask on every frame (the trivial lower bound)",
              package=__name__, segmenter="rtvos.models.static.segmenter:StaticSegmenter"),
)
