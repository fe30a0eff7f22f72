"""Engines (rtvos/engines/): cache keys, backends, INT8, and the TensorRT backend's behaviour where it cannot
run (no CUDA here)."""

import pytest
import torch

from rtvos.engines import EngineError, load_engine
from rtvos.engines.base import module_checksum
from rtvos.engines.tensorrt_engine import engine_path


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return (torch.relu(self.conv(x)),)


def test_checksum_follows_the_weights():
    a, b = Tiny(), Tiny()
    assert module_checksum(a) != module_checksum(b)
    b.load_state_dict(a.state_dict())
    assert module_checksum(a) == module_checksum(b)


def test_checksum_tells_apart_configurations_with_the_same_weights():
    from rtvos.models.shared.backbone import Backbone

    assert module_checksum(Backbone(taps=(10,))) != module_checksum(Backbone(taps=(2, 4, 10)))


def test_tensorrt_cache_key_names_shape_precision_version_and_device():
    m = Tiny()
    p = engine_path(m, [(1, 3, 32, 32)], "2.9.0", "NVIDIA H100 80GB HBM3")
    assert "1x3x32x32" in p.name and "fp16" in p.name and "trt2.9.0" in p.name and "H100" in p.name
    assert p != engine_path(m, [(1, 3, 64, 64)], "2.9.0", "NVIDIA H100 80GB HBM3")
    assert p != engine_path(m, [(1, 3, 32, 32)], "2.9.0", "NVIDIA H200")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error path")
def test_tensorrt_without_cuda_says_what_to_use_instead():
    with pytest.raises(EngineError, match="onnxruntime"):
        load_engine(Tiny(), (1, 3, 32, 32), backend="tensorrt")


def test_unknown_backend():
    with pytest.raises(EngineError, match="choose one of"):
        load_engine(Tiny(), (1, 3, 32, 32), backend="tpu")


def test_onnxruntime_matches_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("RTVOS_CACHE", str(tmp_path))
    m = Tiny().eval()
    x = torch.rand(1, 3, 32, 32)
    ref = load_engine(m, tuple(x.shape), "torch")(x)[0]
    out = load_engine(m, tuple(x.shape), "onnxruntime")(x)[0]
    assert (ref - out).abs().max() < 1e-5
    assert list((tmp_path / "engines").glob("*.onnx"))


def _calibration(n=8, shape=(1, 3, 32, 32), key="test-v1"):
    import numpy as np

    from rtvos.engines import Calibration

    rng = np.random.default_rng(0)
    return Calibration(key=key, samples=lambda shapes: [(rng.random(shape).astype(np.float32),) for _ in range(n)])


def test_int8_engine_is_quantised_once_and_stays_close_to_fp32(tmp_path, monkeypatch):
    monkeypatch.setenv("RTVOS_CACHE", str(tmp_path))
    m = Tiny().eval()
    x = torch.rand(1, 3, 32, 32)
    ref = load_engine(m, tuple(x.shape), "torch")(x)[0]
    engine = load_engine(m, tuple(x.shape), "onnxruntime", int8=_calibration())
    assert engine.precision == "int8" and "-int8-test-v1" in engine.path.name
    out = engine(x)[0]
    scale = float(ref.abs().max())
    assert 0 < float((out - ref).abs().max()) < 0.05 * scale  # quantised: close, not identical
    stamp = engine.path.stat().st_mtime_ns
    again = load_engine(m, tuple(x.shape), "onnxruntime", int8=_calibration(n=0))  # cached: no calibration needed
    assert again.path == engine.path and again.path.stat().st_mtime_ns == stamp
    assert load_engine(m, tuple(x.shape), "torch", int8=_calibration()).__class__.__name__ == "TorchEngine"


@pytest.mark.parametrize("int8", [False, True])
def test_an_engine_not_kept_leaves_nothing_on_disk_and_runs_the_same_graph(tmp_path, monkeypatch, int8):
    monkeypatch.setenv("RTVOS_CACHE", str(tmp_path))
    m = Tiny().eval()
    x = torch.rand(1, 3, 32, 32)
    calibration = _calibration() if int8 else None
    transient = load_engine(m, tuple(x.shape), "onnxruntime", int8=calibration, keep=False)
    assert transient.path is None and not any((tmp_path / "engines").iterdir())
    out = transient(x)[0]
    kept = load_engine(m, tuple(x.shape), "onnxruntime", int8=_calibration() if int8 else None)
    assert kept.path.is_file() and torch.equal(out, kept(x)[0])


def test_calibration_of_the_wrong_shape_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RTVOS_CACHE", str(tmp_path))
    with pytest.raises(EngineError, match="calibration"):
        load_engine(Tiny().eval(), (1, 3, 32, 32), "onnxruntime", int8=_calibration(shape=(1, 3, 16, 16)))
