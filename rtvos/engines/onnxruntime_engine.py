"""ONNX Runtime on the CPU: the module is exported once per (weights, input shape, versions) and the
.onnx file cached on disk, so later starts only load it -- unless the weights are one stream's own
(`keep=False`: a decoder fine-tuned on its first frame), whose graphs are built in a temporary folder
and deleted once loaded."""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from rtvos.engines.base import Engine, EngineError, cache_dir, input_shapes, module_checksum

log = logging.getLogger("rtvos.engines")
OPSET = 17


def onnx_path(module: torch.nn.Module, input_shape, folder: Path | None = None) -> Path:
    """Where the graph of `module` at `input_shape` is cached (in `folder`, default the engine cache)."""
    shape = "_".join("x".join(str(d) for d in s) for s in input_shapes(input_shape))
    key = f"{type(module).__name__}-{module_checksum(module)}-{shape}-torch{torch.__version__}-ort{ort.__version__}"
    return (folder or cache_dir()) / f"{key.replace('+', '_')}.onnx"


def input_names(n: int) -> list[str]:
    """ONNX input names: "input" for a one-input module (as before), "input0", "input1", ... otherwise."""
    return ["input"] if n == 1 else [f"input{i}" for i in range(n)]


def export_onnx(module: torch.nn.Module, input_shape, path) -> None:
    """Export with the TorchScript-based exporter (the dynamo exporter needs onnxscript), atomically.
    `input_shape`: one shape, or a tuple of shapes for a module with several inputs."""
    module = module.eval()
    shapes = input_shapes(input_shape)
    xs = tuple(torch.zeros(s) for s in shapes)
    with torch.no_grad():
        out = module(*xs)
        n_out = len(out) if isinstance(out, tuple) else 1
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, xs, tmp, input_names=input_names(len(shapes)),
                              output_names=[f"out{i}" for i in range(n_out)], opset_version=OPSET,
                              dynamo=False)
        os.replace(tmp, path)
    except Exception as exc:
        os.unlink(tmp)
        raise EngineError(f"ONNX export of {type(module).__name__} failed: {exc}") from exc


class OnnxRuntimeEngine(Engine):
    backend = "onnxruntime"

    def __init__(self, module: torch.nn.Module, input_shape, threads: int | None = None, int8=None,
                 keep: bool = True):
        """`int8`: a `Calibration` (rtvos.engines.quantize) to run a statically quantised INT8 copy of
        the graph, calibrated on its samples; None runs the fp32 graph. `keep=False`: nothing is
        cached on disk (weights no later start will have)."""
        self.input_shapes = input_shapes(input_shape)
        self.input_shape = self.input_shapes[0] if len(self.input_shapes) == 1 else self.input_shapes
        self.names = input_names(len(self.input_shapes))
        self.precision = "fp32" if int8 is None else "int8"
        if keep:
            self.session = self._session(module, cache_dir(), int8, threads)
        else:
            with tempfile.TemporaryDirectory(dir=cache_dir()) as folder:  # the session holds the graph in memory
                self.session = self._session(module, Path(folder), int8, threads)
            self.path = None  # deleted with its folder

    def _session(self, module: torch.nn.Module, folder: Path, int8, threads: int | None) -> ort.InferenceSession:
        """The graph in `folder` (exported and quantised there if it is not yet), loaded."""
        self.path = onnx_path(module, self.input_shapes, folder)
        if not self.path.exists():
            log.debug("exporting %s for %s to %s", type(module).__name__, self.input_shape, self.path)
            export_onnx(module, self.input_shapes, self.path)
        if int8 is not None:
            from rtvos.engines.quantize import quantized_path  # noqa: PLC0415

            self.path = quantized_path(self.path, self.names, self.input_shapes, int8)
        opts = ort.SessionOptions()
        # ORT's default thread count ignores CPU affinity and oversubscribes small machines.
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        # No busy-waiting between runs: the GN/CG step and the other stages need those cores.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        got = tuple(tuple(x.shape) for x in inputs)
        if got != self.input_shapes:
            expected = self.input_shape if len(self.input_shapes) > 1 else self.input_shapes[0]
            shown = got if len(got) != 1 else got[0]
            raise EngineError(f"engine built for input {expected}, got {shown}")
        feeds = {name: np.ascontiguousarray(x.detach().numpy(), dtype=np.float32) for name, x in zip(self.names, inputs)}
        outs = self.session.run(None, feeds)
        return tuple(torch.from_numpy(o) for o in outs)
