"""On a GPU host: engines, ONNX Runtime GPU providers and Torch-TensorRT against CPU references.

Run with ``pytest -m "gpu or tensorrt" tests/gpu`` (scripts/gpu_check.sh does);
skipped by tests/conftest.py where there is no GPU.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from resnet_deploy.artifact import load_manifest, read_manifest, save_manifest
from resnet_deploy.errors import EngineCompatibilityError, InvalidInputError
from resnet_deploy.runtime.gpu import gpu_info
from resnet_deploy.runtime.ort import OrtCpuRunner
from resnet_deploy.runtime.ort_gpu import OrtCudaRunner, OrtTensorRTRunner
from resnet_deploy.runtime.tensorrt import TensorRTRunner
from resnet_deploy.runtime.torch_tensorrt import TorchTensorRTRunner

pytestmark = pytest.mark.gpu


def _entry(art, fmt: str, key: str):
    m = load_manifest(art)
    return m, next(f for f in m.files if f.format == fmt and f.key == key)


def _engine(art, key: str, **options) -> TensorRTRunner:
    m, e = _entry(art, "tensorrt-engine", key)
    return TensorRTRunner(art, m, e, **options)


def _onnx_logits(art, key: str, x: np.ndarray) -> np.ndarray:
    m, e = _entry(art, "onnx", key)
    with OrtCpuRunner(art, m, e) as r:
        return r.infer(x)


def _batch(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 32, 32)).astype(np.float32)


def _rel(out: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(out - ref)) / (np.ptp(ref) + 1e-12))


def test_gpu_probe_reports_this_gpu():
    info = gpu_info()
    assert info is not None and info.name and info.memory_mib > 0
    assert re.fullmatch(r"\d+\.\d+", info.compute_capability)


@pytest.mark.tensorrt
def test_fp32_engine_matches_onnxruntime(gpu_artifact, gpu_engines):
    x = _batch(8)
    ref = _onnx_logits(gpu_artifact, "fp32", x)
    with _engine(gpu_artifact, "fp32") as r:
        assert TensorRTRunner.entry_reason(r.manifest, r.entry) is None
        out = r.infer(x)
    assert out.shape == ref.shape and out.dtype == np.float32
    assert _rel(out, ref) < 1e-2  # TF32 convolutions are allowed by default on Ampere+
    assert (out.argmax(1) == ref.argmax(1)).mean() >= 0.875


@pytest.mark.tensorrt
@pytest.mark.parametrize(("key", "tol"), [("fp16", 5e-2), ("int8-tensorrt", 0.1)])
def test_reduced_precision_engines_follow_their_graph(gpu_artifact, gpu_engines, key, tol):
    """Strong typing: the engine computes what its ONNX says (ORT CPU runs the same file as reference)."""
    x = _batch(16, seed=1)
    ref = _onnx_logits(gpu_artifact, key, x)
    with _engine(gpu_artifact, key) as r:
        out = r.infer(x)
    assert _rel(out, ref) < tol


@pytest.mark.tensorrt
def test_dynamic_batch_inside_profile_only(gpu_artifact, gpu_engines):
    x = _batch(32, seed=2)
    with _engine(gpu_artifact, "fp32") as r:
        assert r.max_batch == 32
        full = r.infer(x)
        for n in (1, 3, 32):
            part = r.infer(x[:n])
            assert part.shape == (n, full.shape[1]) and _rel(part, full[:n]) < 1e-3
        with pytest.raises(InvalidInputError, match="batch of 33 is outside"):
            r.infer(_batch(33))
        with pytest.raises(InvalidInputError, match=r"\[N, 3, 32, 32\]"):
            r.infer(np.zeros((2, 3, 64, 64), np.float32))
        r.synchronize()


@pytest.mark.tensorrt
def test_cuda_graph_path(gpu_artifact, gpu_engines):
    """Graphs replayed across a shape change (8 -> 4 -> 8) give the plain runs' outputs."""
    x = _batch(8, seed=3)
    with _engine(gpu_artifact, "fp32") as plain:
        ref = {8: plain.infer(x), 4: plain.infer(x[:4])}
    with _engine(gpu_artifact, "fp32", cuda_graph=True) as r:
        outs = [(n, r.infer(x[:n])) for n in (8, 8, 8, 4, 4, 4, 8, 8, 8)]  # plain, capture+replay, replay
        if r.family == "tensorrt":
            assert r.cuda_graph_mode == "re-captured on each batch-size change"
            assert r.graphs_captured == 3 and r.captures_replayed == 6
        else:
            assert r.cuda_graph_mode == "TensorRT-RTX built-in"
    for n, out in outs:
        assert _rel(out, ref[n]) < 1e-3, n
    np.testing.assert_allclose(outs[-1][1], outs[1][1], rtol=0, atol=1e-6)  # replay after 4 == before


@pytest.mark.tensorrt
def test_engine_for_another_gpu_is_refused_before_loading(gpu_artifact, gpu_engines, tmp_path):
    art = tmp_path / "art"
    shutil.copytree(gpu_artifact, art)
    m = read_manifest(art)
    for meta in m.engines:
        meta.compute_capability = "1.0"
        meta.target_compute_capabilities = ["1.0"]
    save_manifest(m, art)
    r = _engine(art, "fp32")
    with pytest.raises(EngineCompatibilityError, match="compute capability 1.0"):
        r.activate()


@pytest.mark.tensorrt
def test_rtx_runtime_cache_is_kept(gpu_artifact, gpu_engines):
    if gpu_engines["fp32"].family != "tensorrt-rtx":
        pytest.skip("the runtime cache belongs to TensorRT-RTX engines")
    with _engine(gpu_artifact, "fp32") as r:
        r.infer(_batch(2))
    caches = list((gpu_artifact / "trt_runtime_cache").glob("*.rtxcache"))
    assert caches and caches[0].stat().st_size > 0


def test_onnxruntime_cuda_provider(gpu_artifact):
    if (reason := OrtCudaRunner.probe()) is not None:
        pytest.skip(reason)
    x = _batch(8, seed=4)
    ref = _onnx_logits(gpu_artifact, "fp32", x)
    m, e = _entry(gpu_artifact, "onnx", "fp32")
    with OrtCudaRunner(gpu_artifact, m, e) as r:
        assert r.session.get_providers()[0] == "CUDAExecutionProvider"
        out = r.infer(x)
    assert _rel(out, ref) < 1e-2


def test_onnxruntime_tensorrt_provider(gpu_artifact):
    if (reason := OrtTensorRTRunner.probe()) is not None:
        pytest.skip(reason)
    x = _batch(8, seed=5)
    ref = _onnx_logits(gpu_artifact, "fp32", x)
    m, e = _entry(gpu_artifact, "onnx", "fp32")
    with OrtTensorRTRunner(gpu_artifact, m, e) as r:
        assert r.session.get_providers()[0] == "TensorrtExecutionProvider"
        out = r.infer(x)
    assert _rel(out, ref) < 1e-2
    assert any((gpu_artifact / "ort_trt_cache").iterdir())  # engine/timing cache inside the artifact


def test_torch_tensorrt(gpu_artifact):
    if (reason := TorchTensorRTRunner.probe()) is not None:
        pytest.skip(reason)
    from resnet_deploy.runtime.torch_eager import TorchRunner

    x = _batch(8, seed=6)
    m, e = _entry(gpu_artifact, "exported-program", "fp32")
    with TorchRunner(gpu_artifact, m, e) as eager:
        ref = eager.infer(x)
    with TorchTensorRTRunner(gpu_artifact, m, e) as r:
        out = r.infer(x)
    assert _rel(out, ref) < 1e-2
    with TorchTensorRTRunner(gpu_artifact, m, e) as again:  # second start reloads the saved program
        assert any("loaded compiled module" in n for n in again.notes)
        assert _rel(again.infer(x), ref) < 1e-2
