"""Export failure paths on real (tiny) models: parity gate, atomicity, bad weights, --new-head, CLI errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from resnet_deploy.artifact import load_manifest
from resnet_deploy.errors import CheckpointError, ParityError, WorkFailedError
from resnet_deploy.export import ExportConfig, export_artifact
from resnet_deploy.models import create_model
from resnet_deploy.models.weights import save_weights

CONSOLE = Path(sys.executable).with_name("resnet-deploy")


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ckpts")
    torch.manual_seed(0)
    r20 = create_model("resnet20", num_classes=7)
    with torch.no_grad():
        for bn in (m for m in r20.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.running_var.uniform_(0.5, 2.0)
    return {
        "r20": save_weights(r20, d / "r20_7cls.pth"),
        "r18": save_weights(create_model("resnet18", num_classes=7), d / "r18.pth"),
    }


def _nothing_left(parent: Path, out: Path) -> None:
    assert not out.exists()
    assert [p.name for p in parent.iterdir() if p.name.startswith(".")] == [], "hidden temp dirs remain"


def test_parity_failure_leaves_nothing(tmp_path: Path, ckpts: dict[str, Path]) -> None:
    out = tmp_path / "art"
    with pytest.raises(ParityError) as exc:
        export_artifact(ExportConfig(arch="resnet20", weights=ckpts["r20"], formats=("torchscript",),
                                     out=out, parity_rel_tol=0.0))
    msg = str(exc.value)
    assert exc.value.exit_code == 1 and "\n" not in msg
    assert "torchscript:fp32" in msg and "max_abs" in msg and "top-1 agreement" in msg
    _nothing_left(tmp_path, out)


def test_failed_forced_export_keeps_the_old_artifact(tmp_path: Path, ckpts: dict[str, Path]) -> None:
    out = tmp_path / "art"
    out.mkdir()
    (out / "manifest.json").write_text("{}")  # --force only replaces artifacts
    with pytest.raises(ParityError):
        export_artifact(ExportConfig(arch="resnet20", weights=ckpts["r20"], formats="torchscript",
                                     out=out, force=True, parity_rel_tol=0.0))
    assert [p.name for p in out.iterdir()] == ["manifest.json"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_weights_for_another_arch_are_refused(tmp_path: Path, ckpts: dict[str, Path]) -> None:
    out = tmp_path / "art"
    with pytest.raises(CheckpointError) as exc:
        export_artifact(ExportConfig(arch="resnet20", weights=ckpts["r18"], num_classes=7, out=out))
    assert exc.value.exit_code == 2 and "\n" not in str(exc.value) and "resnet18" in str(exc.value)
    _nothing_left(tmp_path, out)


def test_exporter_crash_is_one_line_and_leaves_nothing(
    tmp_path: Path, ckpts: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import resnet_deploy.export.torchscript as ts

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("tracer exploded\nwith a long second line")

    monkeypatch.setattr(ts, "export_torchscript", boom)
    out = tmp_path / "art"
    with pytest.raises(WorkFailedError) as exc:
        export_artifact(ExportConfig(arch="resnet20", formats="exported-program,torchscript", out=out))
    assert "\n" not in str(exc.value) and "exporting torchscript failed" in str(exc.value)
    _nothing_left(tmp_path, out)


def test_new_head_opset_progress_and_summary(
    tmp_path: Path, ckpts: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    steps: list[str] = []  # a plain callback as the reporter: plain text only, warnings included
    few = tmp_path / "few.npy"  # 3 preprocessed images where 32 are asked for: a data warning
    np.save(few, np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32))
    res = export_artifact(ExportConfig(arch="resnet20", weights=ckpts["r20"], new_head=True, num_classes=3,
                                       formats=["exported-program", "onnx"], opset=18, parity_data=str(few),
                                       out=tmp_path / "art"), reporter=steps.append)
    assert "Loading parity data" in steps and any(s.startswith("warning: requested 32") for s in steps)
    assert [s for s in steps if "[yellow]" in s or "[bold]" in s or "[/" in s] == []
    assert {"data", "build", "export:onnx", "parity:onnx"} <= res.timings.keys()  # step timings kept
    m = load_manifest(res.out_dir)
    assert m.model.num_classes == 3 and res.load_report and res.load_report["reinitialised_head"]
    assert [f.path for f in m.files] == ["model.pt2", "model.fp32.onnx", "model.fp32-raw.onnx"]  # + its raw-pixel twin
    assert m.parity["exported-program:fp32"].passed and m.parity["onnx:fp32"].passed
    assert m.file("onnx").extra["opset"] == 18  # an explicit opset is honoured and recorded
    assert any(s.startswith("Exporting exported-program") for s in steps)
    assert any(s.startswith("Parity exported-program:fp32") for s in steps)

    from resnet_deploy.cli._common import Output
    from resnet_deploy.cli.export_cmd import render_export_summary

    capsys.readouterr()
    render_export_summary(Output(quiet=True), res)
    assert capsys.readouterr() == ("", "")
    render_export_summary(Output(), res)
    human = capsys.readouterr()
    assert human.out == "" and "model.pt2" in human.err and "3 classes" in human.err
    render_export_summary(Output(as_json=True), res, extra={"int8": {"ok": True}})
    data = json.loads(capsys.readouterr().out)
    assert data["num_classes"] == 3 and data["int8"] == {"ok": True}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CONSOLE), "export", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--arch", "resnet20", "--formats", "onnx,tflite"], "unknown export format 'tflite'"),
        (["--arch", "resnet20", "--opset", "13"], "opset 13"),
        (["--arch", "resnet20", "--input-size", "abc"], "--input-size must be an integer"),
        (["--arch", "resnet20", "--input-size", "16"], "input size must be an integer from 32"),
        (["--arch", "resnet_9000"], "unknown architecture"),
        (["--arch", "resnet20", "--out", "exists"], "--force"),
        (["--arch", "resnet20", "--out", "afile/art"], "afile"),
        (["--arch", "resnet20", "--weights", "{r18}", "--num-classes", "7"], "do not match resnet20"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, ckpts: dict[str, Path], args: list[str], needle: str) -> None:
    (tmp_path / "exists").mkdir()
    (tmp_path / "afile").write_text("x")
    before = sorted(p.name for p in tmp_path.iterdir())
    res = _cli(*[a.format(r18=ckpts["r18"]) for a in args], cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stdout == ""
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert res.stderr.startswith("error: ") and needle in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing created (no artifacts/)
