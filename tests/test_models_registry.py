"""The one model registry (rtvos/models/__init__.py, spec.py): what every command reads."""

import importlib
import subprocess
import sys

import pytest

from rtvos.models import MODELS, UnknownModel, create_segmenter, get_spec, trainable
from rtvos.models.frtm import FAST_PRESET


def test_every_model_is_a_package_spec_that_builds():
    assert set(MODELS) == {"static", "online", "crvos", "frtm", "frtm-fast", "plm", "plm-p", "lse"}
    for name, spec in MODELS.items():
        assert spec.name == name and spec.description
        module, _, cls = spec.segmenter.partition(":")
        assert spec.segmenter.startswith(spec.package + ".") and hasattr(importlib.import_module(module), cls)
        if spec.checkpoint is not None:
            assert spec.checkpoint_path.is_file() and spec.checkpoint_path.parent.name == spec.package.rsplit(".")[-1]


def test_trainers_are_found_through_the_registry():
    assert set(trainable()) == {"crvos", "frtm", "plm", "lse"}
    for spec in trainable().values():
        assert callable(importlib.import_module(spec.trainer).main)
    with pytest.raises(ValueError, match="nothing to train"):
        get_spec("static").train([])


def test_presets_are_options_the_user_can_override():
    fast = create_segmenter("frtm-fast")
    assert fast.name == "frtm-fast" and all(getattr(fast.cfg, k) == v for k, v in FAST_PRESET.items())
    assert create_segmenter("frtm-fast", height=192).cfg.height == 192
    assert create_segmenter("plm-p", finetune_steps=0).cfg.postprocess is True


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(UnknownModel, match="available: .*crvos"):
        create_segmenter("nope")


def test_the_registry_loads_no_model_code_and_no_torch():
    """Listing models (what the pipeline's processes and `rtvos models` do) imports nothing heavy."""
    code = ("import sys, rtvos.models; "
            "heavy = [m for m in sys.modules if m == 'torch' or m.endswith(('.segmenter', '.net', '.train'))]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
