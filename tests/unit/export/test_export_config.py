"""Option checks that run before any work: one-line errors, exit 2, nothing created."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from resnet_deploy.errors import ModelError, ResNetDeployError, WorkFailedError
from resnet_deploy.export import ExportConfig, export_artifact
from resnet_deploy.export.config import check_input_size, parse_formats, read_labels
from resnet_deploy.export.onnx import check_opset, quiet_torch_export, supported_opsets


def test_parse_formats_accepts_aliases_and_dedupes() -> None:
    assert parse_formats(None) == ("onnx", "torchscript", "exported-program")
    assert parse_formats("ONNX, pt2,onnx") == ("onnx", "exported-program")
    assert parse_formats(["ts"]) == ("torchscript",)
    with pytest.raises(ResNetDeployError, match="unknown export format 'tflite'"):
        parse_formats("onnx,tflite")
    with pytest.raises(ResNetDeployError, match="no export format"):
        parse_formats(" , ")


def test_opset_range_is_what_the_dynamo_exporter_writes() -> None:
    ok = supported_opsets()
    assert ok.start == 18 and ok.stop - 1 >= 20
    assert check_opset(None) is None and check_opset(18) == 18
    for bad in (17, ok.stop, True):
        with pytest.raises(ResNetDeployError, match="opset"):
            check_opset(bad)


@pytest.mark.parametrize("size", [31, 0, -5, "abc", 2.5, True, 10_000])
def test_bad_input_sizes(size: object) -> None:
    with pytest.raises(ResNetDeployError, match="input size"):
        check_input_size(size, 224)


def test_input_size_default_and_string() -> None:
    assert check_input_size(None, 224) == 224
    assert check_input_size("64", 224) == 64


def test_read_labels(tmp_path: Path) -> None:
    f = tmp_path / "labels.txt"
    f.write_text("cat\ndog\n\n")
    assert read_labels(f) == ["cat", "dog"]
    assert read_labels(["a", "b"]) == ["a", "b"]
    f.write_text("cat\n\ndog\n")
    with pytest.raises(ResNetDeployError, match="blank lines"):
        read_labels(f)
    with pytest.raises(ResNetDeployError, match="does not exist"):
        read_labels(tmp_path / "nope.txt")


def _bad(tmp_path: Path, **kw: object) -> ResNetDeployError:
    out = tmp_path / "work" / "art"
    kw.setdefault("out", out)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ResNetDeployError) as exc:
        export_artifact(ExportConfig(**{"arch": "resnet20", **kw}))  # type: ignore[arg-type]
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before, "something was left behind"
    err = exc.value
    assert "\n" not in str(err) and err.exit_code == 2 and not isinstance(err, WorkFailedError)
    return err


def test_unknown_arch(tmp_path: Path) -> None:
    err = _bad(tmp_path, arch="resnet51")
    assert isinstance(err, ModelError) and "resnet51" in str(err)


def test_unknown_format(tmp_path: Path) -> None:
    assert "tflite" in str(_bad(tmp_path, formats="onnx,tflite"))


def test_unsupported_opset(tmp_path: Path) -> None:
    assert "opset 11" in str(_bad(tmp_path, opset=11))


@pytest.mark.parametrize("size", [16, "abc"])
def test_bad_input_size(tmp_path: Path, size: object) -> None:
    assert "input size" in str(_bad(tmp_path, input_size=size))


def test_unknown_variant(tmp_path: Path) -> None:
    assert "v2" in str(_bad(tmp_path, variant="v2"))


def test_existing_dir_without_force(tmp_path: Path) -> None:
    (tmp_path / "art").mkdir()
    (tmp_path / "art" / "keep.txt").write_text("mine")
    with pytest.raises(ResNetDeployError, match="--force"):
        export_artifact(ExportConfig(arch="resnet20", out=tmp_path / "art"))
    assert (tmp_path / "art" / "keep.txt").read_text() == "mine"


def test_force_never_replaces_a_directory_that_is_not_an_artifact(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "thesis.tex").write_text("years of work")
    with pytest.raises(ResNetDeployError, match="not a resnet-deploy artifact"):
        export_artifact(ExportConfig(arch="resnet20", out=tmp_path / "home", force=True))
    assert (tmp_path / "home" / "thesis.tex").read_text() == "years of work"


def test_output_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    assert "afile" in str(_bad(tmp_path, out=tmp_path / "afile" / "art"))


def test_missing_weights_and_new_head_without_weights(tmp_path: Path) -> None:
    assert "does not exist" in str(_bad(tmp_path, weights=tmp_path / "missing.pth"))
    assert "--new-head needs --weights" in str(_bad(tmp_path, new_head=True, num_classes=3))


def test_labels_must_match_class_count(tmp_path: Path) -> None:
    assert "3 names" in str(_bad(tmp_path, labels=["a", "b", "c"], num_classes=10))


def test_quiet_torch_export_restores_logging() -> None:
    lg = logging.getLogger("torch.onnx")
    before = lg.level
    with quiet_torch_export():
        assert lg.level == logging.ERROR
    assert lg.level == before
