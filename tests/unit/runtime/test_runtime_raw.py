"""Raw-pixel twins at run time: specs, runners fed uint8 as-is, Predictor routing, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.artifact import load_manifest, read_manifest, save_manifest
from resnet_deploy.errors import ArtifactError, InvalidInputError
from resnet_deploy.preprocess import crop_image, normalize
from resnet_deploy.runtime import load
from resnet_deploy.runtime.resolve import candidates, make_runner, resolve


def _pixels(image_files: list[Path], pre) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.stack([crop_image(p, pre) for p in image_files])


@pytest.mark.parametrize("spec", ["onnxruntime:int8-cpu-raw", "openvino:fp32-raw", "onnxruntime:fp32-raw"])
def test_raw_specs_resolve_and_feed_uint8(raw_artifact_dir: Path, image_files: list[Path], spec: str) -> None:
    m = load_manifest(raw_artifact_dir)
    cand = resolve(m, spec)
    if not cand.runnable:
        pytest.skip(cand.skip_reason)
    assert cand.entry.raw and cand.entry.input.shape == [-1, 32, 32, 3]
    u8 = _pixels(image_files, m.preprocessing)
    flt = resolve(m, spec.removesuffix("-raw"))
    with make_runner(raw_artifact_dir, m, cand, threads=1) as raw, make_runner(raw_artifact_dir, m, flt, threads=1) as f:
        assert raw.input_dtype == np.uint8
        a = raw.infer(u8)
        b = f.infer(np.stack([normalize(x, m.preprocessing) for x in u8]))
    assert (a.argmax(1) == b.argmax(1)).all()
    if "fp32" in spec:  # exact fold: the float model's numbers
        assert np.abs(a - b).max() <= 1e-4 * (b.max() - b.min())


def test_raw_files_stay_out_of_plain_listings(raw_artifact_dir: Path) -> None:
    m = read_manifest(raw_artifact_dir)
    assert all(not c.key.endswith("-raw") for c in candidates(m) if c.key)  # bench/auto see what they saw before
    assert [c.key for c in candidates(m, ["onnxruntime:int8-cpu-raw"])] == ["int8-cpu-raw"]
    assert m.file("onnx", "fp32").path == "model.fp32.onnx"
    assert m.file("onnx", "fp32", raw=True).path == "model.fp32-raw.onnx"


def test_predictor_sends_images_to_the_raw_twin(raw_artifact_dir: Path, artifact_dir: Path,
                                                image_files: list[Path]) -> None:
    with load(raw_artifact_dir, backend="onnxruntime:int8-cpu", threads=1) as p:
        assert p.raw_backend == "onnxruntime:int8-cpu-raw" and p.backend == "onnxruntime:int8-cpu"
        assert "int8-cpu-raw" in p.explain()
        assert not p.runner.is_active  # the float companion starts on first use
        preds = p.predict([str(f) for f in image_files], top_k=3)
        assert not p.runner.is_active
        x = np.stack([normalize(c, p.preprocessing) for c in _pixels(image_files, p.preprocessing)])
        batch = p.predict_batch(x, top_k=3)  # float NCHW still works, through the float file
        assert p.runner.is_active
    assert [q.indices[0] for q in preds] == [q.indices[0] for q in batch]
    with load(raw_artifact_dir, backend="onnxruntime:int8-cpu", threads=1, raw=False) as p:
        assert p.raw_backend is None and p.runner.is_active
    with load(artifact_dir, backend="onnxruntime:int8-cpu", threads=1) as p:  # no raw files: as before
        assert p.raw_backend is None
        assert len(p.predict(str(image_files[0]))) == 1


def test_explicit_raw_spec_predicts_images(raw_artifact_dir: Path, image_files: list[Path]) -> None:
    with load(raw_artifact_dir, backend="onnxruntime:fp32-raw", threads=1) as p:
        assert p.raw_backend == "onnxruntime:fp32-raw" and p.backend == "onnxruntime:fp32"
        got = p.predict(image_files[0].read_bytes(), top_k=2)
    with load(raw_artifact_dir, backend="onnxruntime:fp32", threads=1, raw=False) as p:
        want = p.predict(image_files[0].read_bytes(), top_k=2)
    assert got[0].indices == want[0].indices
    np.testing.assert_allclose(got[0].probabilities, want[0].probabilities, rtol=1e-4, atol=1e-6)


def test_raw_only_predictor_refuses_float_batches(raw_artifact_dir: Path, tmp_path: Path) -> None:
    art = tmp_path / "art"
    shutil.copytree(raw_artifact_dir, art)
    m = read_manifest(art)
    m.files = [f for f in m.files if f.key != "fp32"]
    save_manifest(m, art)
    with load(art, backend="onnxruntime:fp32-raw", threads=1) as p, pytest.raises(InvalidInputError, match="raw-pixel"):
        p.infer(np.zeros((1, 3, 32, 32), np.float32))


def _edit_raw_entry(art: Path, **changes: object) -> None:
    data = json.loads((art / "manifest.json").read_text())
    data.pop("digest", None)
    entry = next(f for f in data["files"] if f["path"] == "model.int8-cpu-raw.onnx")
    entry["input"].update(changes)
    (art / "manifest.json").write_text(json.dumps(data))


@pytest.mark.parametrize("change", [{"shape": [-1, 3, 32, 32], "layout": "NCHW"}, {"shape": [-1, 31, 31, 3]},
                                    {"dtype": "float32"}])
def test_mismatched_raw_contract_is_refused(raw_artifact_dir: Path, tmp_path: Path, change: dict) -> None:
    art = tmp_path / "art"
    shutil.copytree(raw_artifact_dir, art)
    _edit_raw_entry(art, **change)
    with pytest.raises(ArtifactError) as err:
        load(art, backend="onnxruntime:int8-cpu", threads=1)
    assert "model.int8-cpu-raw.onnx" in str(err.value) and "\n" not in str(err.value)


def test_file_that_breaks_its_recorded_contract_is_refused(raw_artifact_dir: Path, tmp_path: Path) -> None:
    from resnet_deploy.artifact import make_entry

    art = tmp_path / "art"
    shutil.copytree(raw_artifact_dir, art)
    shutil.copy(art / "model.int8-cpu.onnx", art / "model.int8-cpu-raw.onnx")  # a float-input file under a raw entry
    m = read_manifest(art)
    old = m.file("onnx", "int8", "cpu", raw=True)
    entry = make_entry(art, old.path, "onnx", "int8", "cpu")
    entry.input = old.input
    m.replace_file(entry)
    save_manifest(m, art)
    with pytest.raises(ArtifactError, match=r"takes float32 .* manifest records uint8 NHWC"):
        load(art, backend="onnxruntime:int8-cpu", threads=1)


def test_corrupt_raw_file_is_refused(raw_artifact_dir: Path, tmp_path: Path) -> None:
    art = tmp_path / "art"
    shutil.copytree(raw_artifact_dir, art)
    p = art / "model.int8-cpu-raw.onnx"
    p.write_bytes(p.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ArtifactError, match="model.int8-cpu-raw.onnx"):
        load(art, backend="onnxruntime:int8-cpu-raw", threads=1)
