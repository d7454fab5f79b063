"""load() / Predictor: input kinds, chunking, auto selection, explain, threads, lifetime."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from runtime_helpers import LABELS, encode_image

from resnet_deploy.artifact import Selection, update_manifest
from resnet_deploy.errors import (
    ArtifactError,
    BackendUnavailableError,
    InvalidInputError,
    ResNetDeployError,
)
from resnet_deploy.metrics import softmax
from resnet_deploy.preprocess import preprocess_image
from resnet_deploy.runtime import AUTO_ORDER, Prediction, load


@pytest.fixture(scope="module")
def ort_fp32(artifact_dir: Path):
    with load(artifact_dir, backend="onnxruntime:fp32", threads=1) as p:
        yield p


def test_facts(ort_fp32) -> None:
    p = ort_fp32
    assert p.backend == "onnxruntime:fp32" and p.model_file == "model.fp32.onnx"
    assert p.labels == LABELS
    assert p.input_shape == (-1, 3, 32, 32)
    assert p.preprocessing.crop == 32
    assert "requested 'onnxruntime:fp32'" in p.explain()


def test_every_input_kind_gives_the_same_prediction(ort_fp32, image_files: list[Path]) -> None:
    from PIL import Image

    path = image_files[0]
    data = path.read_bytes()
    pil = Image.open(path)
    arr_u8 = np.asarray(pil.convert("RGB"))
    chw = preprocess_image(path, ort_fp32.preprocessing)
    kinds = [str(path), path, data, bytearray(data), pil, arr_u8, chw, chw[None]]
    preds = [ort_fp32.predict(k, top_k=3) for k in kinds]
    for pr in preds:
        assert len(pr) == 1
        assert pr[0].indices == preds[0][0].indices
        np.testing.assert_allclose(pr[0].probabilities, preds[0][0].probabilities, rtol=1e-5)
    assert preds[0][0].source == str(path) and preds[2][0].source is None


def test_prediction_content_matches_logits(ort_fp32, test_batch: np.ndarray) -> None:
    logits = ort_fp32.infer(test_batch)
    preds = ort_fp32.predict_batch(test_batch, top_k=3)
    probs = softmax(logits)
    assert len(preds) == len(test_batch)
    for row, pr in zip(probs, preds, strict=True):
        assert isinstance(pr, Prediction)
        assert pr.indices == np.argsort(-row)[:3].tolist()
        assert pr.labels == [LABELS[i] for i in pr.indices]
        np.testing.assert_allclose(pr.probabilities, row[pr.indices], rtol=1e-6)
        assert pr.probabilities == sorted(pr.probabilities, reverse=True)
        json.dumps(pr.to_dict())
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    assert len(ort_fp32.predict(test_batch, top_k=100)[0].indices) == 10  # clipped to num_classes


def test_list_of_mixed_items(ort_fp32, image_files, test_batch) -> None:
    preds = ort_fp32.predict([image_files[0], encode_image(5, fmt="JPEG"), test_batch[:2], test_batch[2]])
    assert len(preds) == 5
    assert [p.indices[0] for p in preds[2:]] == [p.indices[0] for p in ort_fp32.predict_batch(test_batch[:3])]


def test_large_batches_are_chunked(artifact_dir: Path, ort_fp32, test_batch) -> None:
    with load(artifact_dir, backend="onnxruntime:fp32", max_batch=3) as small:
        calls: list[int] = []
        real = small.runner.infer
        small.runner.infer = lambda x: (calls.append(len(x)), real(x))[1]  # type: ignore[method-assign]
        y = small.infer(test_batch)
    assert calls == [3, 3, 3, 3, 3, 1]
    np.testing.assert_allclose(y, ort_fp32.infer(test_batch), rtol=1e-5, atol=1e-6)


def test_max_items_refuses_big_requests(artifact_dir: Path, test_batch) -> None:
    with load(artifact_dir, backend="onnxruntime:fp32", max_items=4) as p, pytest.raises(
        InvalidInputError, match="above the limit of 4"
    ):
        p.predict_batch(test_batch)


@pytest.mark.parametrize("spec", ["onnxruntime:fp32", "openvino:fp32", "torch"])
def test_shared_predictor_is_thread_safe(artifact_dir: Path, test_batch, spec: str) -> None:
    with load(artifact_dir, backend=spec, threads=1) as p:
        expected = [p.infer(test_batch[i : i + 2 + i % 3]) for i in range(8)]
        results: dict[int, list[np.ndarray]] = {}
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def work(t: int) -> None:
            try:
                barrier.wait()
                results[t] = [p.infer(test_batch[i : i + 2 + i % 3]) for i in range(8)]
            except BaseException as exc:  # re-raised in the main thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert not errors
    for t in range(8):
        for got, want in zip(results[t], expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_auto_uses_fixed_preference(artifact_dir: Path, gpu_missing: str | None) -> None:
    with load(artifact_dir, probe=False) as p:  # the probe's own tests: test_runtime_auto.py
        if gpu_missing is not None:  # the conftest probe says no GPU: CPU INT8 comes first
            assert p.backend == "onnxruntime:int8-cpu"
        else:  # a GPU backend (earlier in AUTO_ORDER) may win; never anything after CPU INT8
            assert p.backend == "onnxruntime:int8-cpu" or p.backend.split(":")[0] in AUTO_ORDER[:3], p.backend
        text = p.explain()
    assert "fixed preference order" in text
    assert "skipped tensorrt" in text  # GPU backends are listed with their reason
    assert AUTO_ORDER.index("onnxruntime:int8-cpu") < AUTO_ORDER.index("onnxruntime:fp32")


@pytest.fixture()
def artifact_copy(artifact_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(artifact_dir, tmp_path / "a"))


def test_auto_honours_manifest_selection(artifact_copy: Path) -> None:
    update_manifest(artifact_copy, lambda m: setattr(m, "selection", Selection(backend="openvino", file="model.fp32.onnx")))
    with load(artifact_copy) as p:
        assert p.backend == "openvino:fp32"
        assert "benchmark's selection" in p.explain()


def test_unusable_selection_falls_back_with_a_note(artifact_copy: Path) -> None:
    update_manifest(artifact_copy, lambda m: setattr(m, "selection", Selection(backend="tensorrt:int8-tensorrt")))
    with load(artifact_copy, probe=False) as p:
        assert p.backend == "onnxruntime:int8-cpu"
        assert "selection 'tensorrt:int8-tensorrt' is not usable here" in p.explain()


def test_auto_skips_a_backend_that_fails_to_start(artifact_copy: Path) -> None:
    # a file the manifest lists correctly but onnxruntime cannot parse
    def corrupt(m) -> None:
        (artifact_copy / "model.int8-cpu.onnx").write_bytes(b"not a model")
        entry = next(e for e in m.files if e.key == "int8-cpu")
        from resnet_deploy.artifact import make_entry

        m.replace_file(make_entry(artifact_copy, entry.path, "onnx", "int8", "cpu"))

    update_manifest(artifact_copy, corrupt)
    with load(artifact_copy, probe=False) as p:
        # int8-cpu fails on ORT and OpenVINO; what follows in AUTO_ORDER runs
        assert p.backend in ("openvino:int8-tensorrt", "onnxruntime:fp32")
        assert "onnxruntime:int8-cpu: failed to start" in p.explain()


def test_tampered_artifact_is_refused(artifact_copy: Path) -> None:
    with open(artifact_copy / "model.fp32.onnx", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00\x01\x02")
    with pytest.raises(ArtifactError, match="sha256"):
        load(artifact_copy, backend="onnxruntime:fp32")


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"backend": "nope"}, ResNetDeployError, "unknown backend"),
        ({"backend": "onnxruntime:int4"}, ResNetDeployError, "it has:"),
        ({"device": "tpu"}, ResNetDeployError, "unknown device"),
        ({"device": "cuda"}, BackendUnavailableError, "no backend can run"),
        ({"backend": "onnxruntime", "device": "cuda"}, ResNetDeployError, "runs on cpu"),
        ({"threads": 0}, ResNetDeployError, "threads must be a positive integer"),
    ],
)
def test_load_errors_are_one_line(artifact_dir: Path, kwargs, exc, match) -> None:
    with pytest.raises(exc, match=match) as info:
        load(artifact_dir, **kwargs)
    assert "\n" not in str(info.value)


def test_close_deactivates(artifact_dir: Path) -> None:
    p = load(artifact_dir, backend="onnxruntime:fp32")
    assert p.runner.is_active
    p.close()
    assert not p.runner.is_active


def test_max_batch_becomes_a_min_opt_max_profile_for_every_runner(artifact_dir: Path, test_batch: np.ndarray) -> None:
    """GPU runners (TensorRT EP, Torch-TensorRT) unpack ``batch`` as (MIN, OPT, MAX): never a bare int."""
    from resnet_deploy.runtime.torch_tensorrt import TorchTensorRTRunner

    with load(artifact_dir, backend="onnxruntime:fp32", max_batch=4) as p:
        assert p.runner.options["batch"] == (1, 4, 4)
        assert p.infer(test_batch[:9]).shape[0] == 9  # chunked by max_batch
        trt_like = TorchTensorRTRunner.__new__(TorchTensorRTRunner)
        trt_like.options = p.runner.options
        assert trt_like.profile == (1, 4, 4) and trt_like.max_batch == 4


def test_prepare_builds_openvino_forms_for_every_batch_up_to_max(artifact_dir: Path, test_batch: np.ndarray) -> None:
    """A service calls prepare() before it reports ready: afterwards no batch size up to max_batch compiles."""
    with load(artifact_dir, backend="openvino:fp32", threads=2, max_batch=4) as p:
        p.prepare()
        forms = p.runner.forms
        before = forms.compiled_keys()
        assert {forms.plan(n)[0] for n in range(1, 5)} <= set(before)
        with load(artifact_dir, backend="openvino:fp32", threads=2, specialize=False) as plain:
            for n in range(1, 5):
                np.testing.assert_allclose(p.infer(test_batch[:n]), plain.infer(test_batch[:n]), rtol=1e-4, atol=1e-5)
        assert forms.compiled_keys() == before
