"""ONNX Runtime on the CPU: the module is exported once per (weights, input shape, versions) and the
.onnx file cached on disk, so later starts only load it."""

from __future__ import annotations

import logging
import os
import tempfile
import warnings

import numpy as np
import onnxruntime as ort
import torch

from rtvos.engines.base import Engine, EngineError, cache_dir, module_checksum

log = logging.getLogger("rtvos.engines")
OPSET = 17


def onnx_path(module: torch.nn.Module, input_shape: tuple[int, ...]):
    shape = "x".join(str(d) for d in input_shape)
    key = f"{type(module).__name__}-{module_checksum(module)}-{shape}-torch{torch.__version__}-ort{ort.__version__}"
    return cache_dir() / f"{key.replace('+', '_')}.onnx"


def export_onnx(module: torch.nn.Module, input_shape: tuple[int, ...], path) -> None:
    """Export with the TorchScript-based exporter (the dynamo exporter needs onnxscript), atomically."""
    module = module.eval()
    x = torch.zeros(input_shape)
    with torch.no_grad():
        n_out = len(module(x)) if isinstance(module(x), tuple) else 1
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (x,), tmp, input_names=["input"],
                              output_names=[f"out{i}" for i in range(n_out)], opset_version=OPSET,
                              dynamo=False)
        os.replace(tmp, path)
    except Exception as exc:
        os.unlink(tmp)
        raise EngineError(f"ONNX export of {type(module).__name__} failed: {exc}") from exc


class OnnxRuntimeEngine(Engine):
    backend = "onnxruntime"

    def __init__(self, module: torch.nn.Module, input_shape: tuple[int, ...], threads: int | None = None):
        self.input_shape = tuple(input_shape)
        self.path = onnx_path(module, self.input_shape)
        if not self.path.exists():
            log.info("exporting %s for %s to %s", type(module).__name__, self.input_shape, self.path)
            export_onnx(module, self.input_shape, self.path)
        opts = ort.SessionOptions()
        # ORT's default thread count ignores CPU affinity and oversubscribes small machines.
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        # No busy-waiting between runs: the GN/CG step and the other stages need those cores.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if tuple(x.shape) != self.input_shape:
            raise EngineError(f"engine built for input {self.input_shape}, got {tuple(x.shape)}")
        outs = self.session.run(None, {"input": np.ascontiguousarray(x.detach().numpy(), dtype=np.float32)})
        return tuple(torch.from_numpy(o) for o in outs)
