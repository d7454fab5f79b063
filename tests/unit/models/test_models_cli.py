"""`models` and `info` commands: output, JSON, and one-line errors (exit 2, no traceback)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_deploy.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch) -> tuple[int, str, str]:
    """Call the console-script entry point in-process, exactly as `resnet-deploy ...` would."""
    monkeypatch.setattr(sys, "argv", ["resnet-deploy", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_models_json_lists_every_architecture(capsys, monkeypatch) -> None:
    from resnet_deploy.models import list_models

    code, out, _ = run(["models", "--json"], capsys, monkeypatch)
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["models"]}
    assert list(rows) == list_models()
    assert rows["resnet50"]["params"] == 25_557_032 and rows["resnet50"]["input_size"] == 224
    assert abs(rows["resnet50"]["gmacs"] - 4.09) < 0.01
    assert rows["resnet20"]["input_size"] == 32


def test_models_table_says_which_input_size(capsys, monkeypatch) -> None:
    code, _, err = run(["models"], capsys, monkeypatch)
    assert code == 0
    assert "resnext101_64x4d" in err and "32² (CIFAR)" in err and "224²" in err


def test_info_with_weights_reports_sha_and_strict_load(weights_dir, capsys, monkeypatch) -> None:
    from resnet_deploy.artifact import sha256_file

    path = weights_dir / "r20.safetensors"
    code, out, _ = run(["info", "--arch", "resnet20", "--weights", str(path), "--json"],
                       capsys, monkeypatch)
    assert code == 0
    data = json.loads(out)
    assert data["num_classes"] == 10  # read from the checkpoint's fc.weight
    assert data["weights"]["sha256"] == sha256_file(path)
    assert data["weights"]["missing"] == [] and not data["weights"]["reinitialised_head"]


def test_info_new_head(weights_dir, capsys, monkeypatch) -> None:
    code, out, _ = run(["info", "-a", "resnet20", "-w", str(weights_dir / "r20.pth"),
                        "--num-classes", "4", "--new-head", "--json"], capsys, monkeypatch)
    assert code == 0
    data = json.loads(out)
    assert data["num_classes"] == 4 and data["weights"]["reinitialised_head"]


def test_info_human_output_and_v1(capsys, monkeypatch) -> None:
    code, _, err = run(["info", "--arch", "ResNet_50", "--variant", "v1"], capsys, monkeypatch)
    assert code == 0
    assert "25,557,032" in err and "3-4-6-3" in err and "v1" in err


def _bad_cases(tmp: Path, weights_dir: Path) -> dict[str, list[str]]:
    (tmp / "config.json").write_text('{"a": 1}')
    (tmp / "empty.pth").write_bytes(b"")
    good = (weights_dir / "r20.pth").read_bytes()
    (tmp / "cut.pth").write_bytes(good[:1000])
    w = str(weights_dir / "r20.pth")
    return {
        "unknown arch": ["info", "--arch", "resnet999"],
        "missing file": ["info", "--arch", "resnet20", "--weights", str(tmp / "nope.pth")],
        "directory": ["info", "--arch", "resnet20", "--weights", str(tmp)],
        "json file": ["info", "--arch", "resnet20", "--weights", str(tmp / "config.json")],
        "empty file": ["info", "--arch", "resnet20", "--weights", str(tmp / "empty.pth")],
        "truncated": ["info", "--arch", "resnet20", "--weights", str(tmp / "cut.pth")],
        "wrong arch": ["info", "--arch", "resnet32", "--weights", w],
        "wrong head": ["info", "--arch", "resnet20", "--weights", w, "--num-classes", "3"],
        "classes 0": ["info", "--arch", "resnet20", "--num-classes", "0"],
        "classes -3": ["info", "--arch", "resnet20", "--num-classes", "-3"],
        "classes abc": ["info", "--arch", "resnet20", "--num-classes", "abc"],
        "bad variant": ["info", "--arch", "resnet50", "--variant", "v2"],
        "bad size": ["info", "--arch", "resnet50", "--input-size", "x"],
    }


# What each error line must say: the bad value (or file) and what to do about it.
EXPECTED = {
    "unknown arch": r"unknown architecture 'resnet999'.*resnet-deploy models",
    "missing file": r"'[^']*nope\.pth' does not exist",
    "directory": r"is a directory; pass the \.pth or \.safetensors file",
    "json file": r"'[^']*config\.json' is not a PyTorch checkpoint",
    "empty file": r"'[^']*empty\.pth' is empty \(0 bytes\)",
    "truncated": r"'[^']*cut\.pth'.*corrupt or truncated",
    "wrong arch": r"do not match resnet32.*looks like resnet20.*--arch",
    "wrong head": r"10-class head: pass --num-classes 10, or --new-head",
    "classes 0": r"--num-classes must be a positive integer, got 0; pass e.g.",
    "classes -3": r"--num-classes must be a positive integer, got -3; pass e.g.",
    "classes abc": r"--num-classes must be a positive integer.*'abc'",
    "bad variant": r"'v2'.*v1\.5.*v1",
    "bad size": r"--input-size must be a positive integer.*'x'",
}


@pytest.mark.parametrize("case", list(EXPECTED))
def test_bad_input_is_one_error_line_exit_2(case, tmp_path, weights_dir, capsys, monkeypatch):
    cases = _bad_cases(tmp_path, weights_dir)
    assert cases.keys() == EXPECTED.keys()  # every case has its expected message
    code, out, err = run(cases[case], capsys, monkeypatch)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.search(EXPECTED[case], lines[0]), lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize("case", ["wrong head", "classes abc"])
def test_console_script_prints_no_traceback(case, tmp_path, weights_dir) -> None:
    exe = Path(sys.executable).with_name("resnet-deploy")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from resnet_deploy.cli import main; main()"]
    res = subprocess.run(cmd + _bad_cases(tmp_path, weights_dir)[case], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.stderr


def test_help_has_examples(capsys, monkeypatch) -> None:
    for cmd in ("models", "info"):
        code, out, _ = run([cmd, "--help"], capsys, monkeypatch)
        assert code == 0 and "Example:" in out and "resnet-deploy " + cmd in out
