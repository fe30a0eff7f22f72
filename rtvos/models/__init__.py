"""Every model by name: the one registry that `run`, `eval`, `bench`, `export`, `train` and `models` read.

Adding a model is adding a package here (`net.py`, `segmenter.py`, `train.py`, and an `__init__` with
its `SPECS`) and one entry in `PACKAGES`.  The pipeline, evaluation and benchmarks only ever call
`create_segmenter` and the `Segmenter` protocol (rtvos.models.protocol).
"""

from __future__ import annotations

from rtvos.models import crvos, frtm, lse, plm, static
from rtvos.models.spec import ModelSpec

PACKAGES = (frtm, crvos, plm, lse, static)

MODELS: dict[str, ModelSpec] = {spec.name: spec for package in PACKAGES for spec in package.SPECS}


class UnknownModel(ValueError):
    pass


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise UnknownModel(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    return MODELS[name]


def create_segmenter(name: str, threads: int | None = None, **options):
    """A new segmenter for model `name` (see `ModelSpec.create`)."""
    return get_spec(name).create(threads=threads, **options)


def trainable() -> dict[str, ModelSpec]:
    """The models with something to train, by the name `rtvos train` takes."""
    return {name: spec for name, spec in MODELS.items() if spec.trainer}


__all__ = ["MODELS", "ModelSpec", "UnknownModel", "create_segmenter", "get_spec", "trainable"]
