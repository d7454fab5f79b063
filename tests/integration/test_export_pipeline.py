"""A real export (resnet20 CIFAR at 32 px, all three formats) through the CLI, then every file checked.

One module-scoped export keeps this fast: weights with random BatchNorm statistics
(so folding really changes the convs), a 7-class head (num_classes inferred from
the checkpoint), labels and extra parity images from a .npy file.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from resnet_deploy.artifact import Manifest, Preprocessing, load_manifest, sha256_file
from resnet_deploy.errors import ArtifactError
from resnet_deploy.models import create_model
from resnet_deploy.models.complexity import count_params
from resnet_deploy.models.weights import save_weights

SIZE, CLASSES = 32, 7
EXPECTED = {"manifest.json", "model.fp32.onnx", "model.fp32-raw.onnx", "model.torchscript.pt", "model.pt2",
            "labels.txt"}


def trained_like_resnet20(num_classes: int = CLASSES) -> torch.nn.Module:
    """resnet20 whose BatchNorm layers carry non-trivial statistics, in eval mode."""
    torch.manual_seed(0)
    m = create_model("resnet20", num_classes=num_classes)
    with torch.no_grad():
        for bn in (x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    return m.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    from resnet_deploy.cli import cli

    d = tmp_path_factory.mktemp("export")
    model = trained_like_resnet20()
    weights = save_weights(model, d / "r20.pth")
    labels = d / "labels.txt"
    labels.write_text("\n".join(f"class {i}" for i in range(CLASSES)) + "\n")
    images = np.random.default_rng(3).standard_normal((5, 3, SIZE, SIZE)).astype(np.float32)
    np.save(d / "eval.npy", images)
    out = d / "art"
    res = CliRunner().invoke(cli, [
        "export", "--arch", "resnet20", "--weights", str(weights), "--labels", str(labels),
        "--eval-data", str(d / "eval.npy"), "--out", str(out), "--json",
    ])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return SimpleNamespace(dir=out, summary=json.loads(res.stdout), model=model, weights=weights)


def test_cli_json_summary(exported: SimpleNamespace) -> None:
    s = exported.summary
    assert s["arch"] == "resnet20" and s["num_classes"] == CLASSES  # from the checkpoint's head
    assert s["input_shape"] == [-1, 3, SIZE, SIZE]
    assert {f["path"] for f in s["files"]} == EXPECTED - {"manifest.json"}
    assert set(s["parity"]) == {"onnx:fp32", "torchscript:fp32", "exported-program:fp32", "onnx:fp32-raw"}
    raw = s["parity"].pop("onnx:fp32-raw")  # against the float ONNX, on 8 random uint8 images
    assert raw["passed"] and raw["n"] == 8 and raw["rel_to_range"] <= 1e-4
    for p in s["parity"].values():
        assert p["passed"] and p["n"] == 8 + 5 and p["top1_agreement"] == 1.0
        assert 0 < p["rel_to_range"] <= 1e-3  # non-zero: BN folding changes rounding


def test_exactly_the_expected_files_and_no_leftovers(exported: SimpleNamespace) -> None:
    assert {p.name for p in exported.dir.iterdir()} == EXPECTED
    hidden = [p.name for p in exported.dir.parent.iterdir() if p.name.startswith(".")]
    assert hidden == []


def test_artifact_is_readable_by_other_users(exported: SimpleNamespace) -> None:
    """A serving process (e.g. Triton in a container) often runs as another user."""
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(exported.dir.stat().st_mode) == 0o777 & ~mask
    for p in exported.dir.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask, p.name


def _ref(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def _batches() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    return [rng.standard_normal((b, 3, SIZE, SIZE)).astype(np.float32) for b in (1, 7)]


def test_onnx_contract_and_dynamic_batch(exported: SimpleNamespace) -> None:
    import onnx
    import onnxruntime as ort
    from onnx.external_data_helper import uses_external_data

    path = exported.dir / "model.fp32.onnx"
    onnx.checker.check_model(str(path), full_check=True)
    m = onnx.load(str(path))
    assert not any(uses_external_data(t) for t in m.graph.initializer)
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa: E731
    assert [v.name for v in m.graph.input] == ["input"] and dims(m.graph.input[0]) == ["batch", 3, SIZE, SIZE]
    assert [v.name for v in m.graph.output] == ["logits"] and dims(m.graph.output[0]) == ["batch", CLASSES]
    assert not any(n.op_type == "BatchNormalization" for n in m.graph.node)
    opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    assert opset >= 18 and opset == load_manifest(exported.dir).file("onnx").extra["opset"]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for x in _batches():
        y = sess.run(["logits"], {"input": x})[0]
        assert y.shape == (len(x), CLASSES)
        np.testing.assert_allclose(y, _ref(exported.model, x), atol=1e-4, rtol=1e-4)


def test_torchscript_round_trip(exported: SimpleNamespace) -> None:
    from resnet_deploy.export.torchscript import load_torchscript

    ts = load_torchscript(exported.dir / "model.torchscript.pt")
    for x in _batches():
        with torch.no_grad():
            y = ts(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(y, _ref(exported.model, x), atol=1e-4, rtol=1e-4)


def test_exported_program_round_trip_dynamic_batch(exported: SimpleNamespace) -> None:
    mod = torch.export.load(str(exported.dir / "model.pt2")).module()
    for x in _batches():
        with torch.no_grad():
            y = mod(torch.from_numpy(x)).numpy()
        assert y.shape == (len(x), CLASSES)
        np.testing.assert_allclose(y, _ref(exported.model, x), atol=1e-4, rtol=1e-4)


def test_manifest_describes_the_artifact(exported: SimpleNamespace) -> None:
    m = load_manifest(exported.dir)  # verifies every file's size and sha256
    assert m.model.arch == "resnet20" and m.model.num_classes == CLASSES and m.model.variant == "v1.5"
    assert m.model.params == count_params(exported.model) and 0.03 < m.model.gmacs < 0.05
    assert m.model.checkpoint_sha256 == sha256_file(exported.weights)
    assert m.model.labels == [f"class {i}" for i in range(CLASSES)]
    assert m.input.name == "input" and m.input.output_name == "logits" and m.input.shape == [-1, 3, SIZE, SIZE]
    assert m.preprocessing == Preprocessing.for_input_size(SIZE)
    assert {(f.path, f.format, f.precision) for f in m.files} == {
        ("model.fp32.onnx", "onnx", "fp32"), ("model.torchscript.pt", "torchscript", "fp32"),
        ("model.pt2", "exported-program", "fp32"), ("labels.txt", "labels", "fp32"),
        ("model.fp32-raw.onnx", "onnx", "fp32")}
    raw = m.file("onnx", "fp32", raw=True)  # the raw-pixel twin: uint8 NHWC, parity-gated against the float file
    assert raw.key == "fp32-raw" and raw.input.shape == [-1, SIZE, SIZE, 3] and raw.input.dtype == "uint8"
    for f in m.files:
        assert f.size == (exported.dir / f.path).stat().st_size and len(f.sha256) == 64
    assert set(m.parity) == {"onnx:fp32", "torchscript:fp32", "exported-program:fp32", "onnx:fp32-raw"}
    assert m.parity["onnx:fp32-raw"].rel_to_range <= 1e-4
    assert "torch" in m.toolchain and "onnx" in m.toolchain
    assert Manifest.from_dict(json.loads((exported.dir / "manifest.json").read_text())).to_dict() == m.to_dict()


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
@pytest.mark.parametrize("name", ["model.fp32.onnx", "model.pt2"])
def test_tampering_is_detected(exported: SimpleNamespace, tmp_path: Path, damage: str, name: str) -> None:
    d = Path(shutil.copytree(exported.dir, tmp_path / "copy"))
    f = d / name
    if damage == "flip":
        with open(f, "r+b") as fh:
            fh.seek(os.path.getsize(f) // 2)
            b = fh.read(1)
            fh.seek(-1, os.SEEK_CUR)
            fh.write(bytes([b[0] ^ 0xFF]))
    elif damage == "truncate":
        with open(f, "r+b") as fh:
            fh.truncate(os.path.getsize(f) - 1)
    else:
        f.unlink()
    with pytest.raises(ArtifactError, match=name.replace(".", r"\.")) as exc:
        load_manifest(d)
    assert "\n" not in str(exc.value)
