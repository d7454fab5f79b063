"""`resnet-deploy quantize` option handling: bad input is one line on stderr and exit 2."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pytest

from resnet_deploy.cli import main
from resnet_deploy.cli.quantize_cmd import INT8_OPTION_NAMES, config_from_options, int8_options
from resnet_deploy.errors import ResNetDeployError
from resnet_deploy.quantize import QuantizeConfig


def _run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["resnet-deploy", "quantize", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return int(exc.value.code), capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--targets", "cpu,gpu"], "unknown INT8 target 'gpu'"),
        (["--calib-method", "kl"], "unknown calibration method 'kl'"),
        (["--calib-size", "0"], "must be a positive integer"),
        (["--calib-size", "lots"], "positive integer or 'all'"),
        (["--percentile", "abc"], "--percentile must be a number"),
        (["--max-drop", "-0.5"], "--max-drop"),
        (["--targets", ""], "nothing to do"),
    ],
)
def test_bad_options_are_one_line_exit_2(monkeypatch, capsys, tmp_path: Path, args, needle) -> None:
    code, err = _run(monkeypatch, capsys, str(tmp_path), *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err


def test_missing_artifact_is_one_line_exit_2(monkeypatch, capsys, tmp_path: Path) -> None:
    code, err = _run(monkeypatch, capsys, str(tmp_path / "nope"))
    assert code == 2
    assert err.strip().splitlines() == [f"error: artifact directory '{tmp_path / 'nope'}' does not exist; "
                                        "run 'resnet-deploy export' first"]


def test_directory_without_manifest_is_one_line_exit_2(monkeypatch, capsys, tmp_path: Path) -> None:
    code, err = _run(monkeypatch, capsys, str(tmp_path))
    assert code == 2 and "not a resnet-deploy artifact" in err and len(err.strip().splitlines()) == 1


def test_int8_options_are_reusable_by_another_command() -> None:
    seen: dict[str, QuantizeConfig] = {}

    @click.command()
    @click.option("--arch")
    @int8_options
    def other(arch: str, **kwargs: object) -> None:
        seen["config"] = config_from_options(kwargs)
        assert not set(INT8_OPTION_NAMES) & set(kwargs)  # popped: nothing leaks to the caller

    other.main(["--arch", "resnet50", "--calib-size", "all", "--targets", "tensorrt", "--calib-method",
                "MinMax", "--max-drop", "0.5", "--fp16"], standalone_mode=False)
    c = seen["config"]
    assert (c.calib_size, c.targets, c.calib_method, c.max_drop, c.fp16) == (None, ("tensorrt",), "minmax", 0.5, True)


def test_defaults_match_the_contract() -> None:
    c = QuantizeConfig()
    assert (c.calib_data, c.calib_size, c.targets, c.fp16, c.max_drop) == ("sample", 512, ("cpu", "tensorrt", "openvino"), False, None)
    with pytest.raises(ResNetDeployError, match="batch size"):
        QuantizeConfig(batch_size=0)
