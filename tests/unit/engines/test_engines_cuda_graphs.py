"""The TensorRT runner's CUDA-graph bookkeeping across shape changes (8 -> 4 -> 8), without a GPU.

A graph records the kernels the execution context chose for one input shape, so
after ``set_input_shape`` it must be re-captured (TensorRT guide, "CUDA Graphs").
No GPU here, so the CUDA runtime and the execution context are stand-ins that
record what the runner asks of them; tests/gpu/test_gpu_engines.py checks the
outputs on a real GPU.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from resnet_deploy.artifact import read_manifest
from resnet_deploy.runtime.tensorrt import TensorRTRunner, _Binding

OK = "ok"


class FakeRt:
    """cuda.bindings.runtime stand-in: every call returns (cudaSuccess, value) and is logged."""

    cudaError_t = SimpleNamespace(cudaSuccess=OK)
    cudaMemcpyKind = SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2)
    cudaStreamCaptureMode = SimpleNamespace(cudaStreamCaptureModeThreadLocal=0)

    def __init__(self, ctx: FakeContext) -> None:
        self.ctx, self.log, self.graphs = ctx, [], 0

    def __getattr__(self, name):
        def call(*args):
            self.log.append((name, self.ctx.shape))
            if name == "cudaStreamBeginCapture":
                self.ctx.capturing = True
            if name == "cudaStreamEndCapture":
                self.ctx.capturing = False
            if name == "cudaGraphInstantiateWithFlags":
                self.graphs += 1
                return OK, ("graph", self.graphs, self.ctx.epoch)
            if name == "cudaGraphLaunch":  # stale: the context's shape was set again since the capture
                assert args[0][2] == self.ctx.epoch, "replayed a graph captured before the last set_input_shape"
            return OK, None
        return call


class FakeContext:
    def __init__(self) -> None:
        self.shape, self.capturing, self.executed, self.epoch = None, False, [], 0

    def set_input_shape(self, name, shape):
        self.shape, self.epoch = tuple(shape), self.epoch + 1
        return True

    def execute_async_v3(self, stream):
        self.executed.append((self.shape, self.capturing))
        return True

    def get_tensor_shape(self, name):
        return (self.shape[0], 4)


def fake_runner(root) -> tuple[TensorRTRunner, FakeContext, FakeRt]:
    m = read_manifest(root)
    r = TensorRTRunner(root, m, m.files[0], cuda_graph=True)
    ctx = FakeContext()
    rt = FakeRt(ctx)
    r.cuda = type("Checked", (), {"rt": rt, "__call__": lambda self, res, what: res[1]})()
    r.family, r.context, r.stream, r.entry = "tensorrt", ctx, 7, m.files[0]
    r.input_name, r.chw, r.min_n, r.max_n, r._n = "input", (3, 8, 8), 1, 16, 16
    r.cuda_graph, r._manual_graphs, r._graph, r._warm, r.graphs_captured, r.captures_replayed, r.notes = True, True, None, False, 0, 0, []
    r._bindings = [_Binding("input", True, np.dtype(np.float32), 1, 2, np.zeros(16 * 3 * 64, np.float32)),
                   _Binding("logits", False, np.dtype(np.float32), 3, 4, np.zeros(16 * 4, np.float32))]
    r._out = r._bindings[1]
    r._graphs, r._runs = {}, {}  # what the per-batch-size-graph runner (before the fix) kept
    return r, ctx, rt


def test_graph_is_recaptured_after_each_shape_change(make_engine_artifact):
    r, ctx, rt = fake_runner(make_engine_artifact())
    for n in (8, 8, 8, 4, 4, 4, 8, 8, 8):
        assert r._infer(np.zeros((n, 3, 8, 8), np.float32)).shape == (n, 4)
    launches = [shape[0] for name, shape in rt.log if name == "cudaGraphLaunch"]
    assert launches == [8, 8, 4, 4, 8, 8]  # every replay ran the graph of the shape set at that time
    assert r.graphs_captured == 3 and r.captures_replayed == 6
    destroyed = [shape[0] for name, shape in rt.log if name == "cudaGraphExecDestroy"]
    assert destroyed == [4, 8]  # the old graph is dropped when the shape changes (logged after the new shape)
    plain = [shape[0] for shape, capturing in ctx.executed if not capturing]
    assert plain == [8, 4, 8]  # one plain run per new shape before its capture
    assert r.cuda_graph_mode == "re-captured on each batch-size change"
