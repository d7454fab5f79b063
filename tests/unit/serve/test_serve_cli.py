"""``resnet-deploy serve`` / ``triton-repo``: bad input is one ``error:`` line and exit 2.

The console entry point (``resnet_deploy.cli.main``) runs in-process with a
patched ``sys.argv``; the serving integration test runs it as a real process.
"""

from __future__ import annotations

import json
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from resnet_deploy.cli import main


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture()
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    def _run(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["resnet-deploy", *args])
        with pytest.raises(SystemExit) as info:
            main()
        captured = capsys.readouterr()
        return Result(int(info.value.code or 0), captured.out, captured.err)

    return _run


def assert_one_line_error(res: Result, *words: str) -> None:
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_serve_missing_artifact(run, tmp_path: Path) -> None:
    assert_one_line_error(run("serve", str(tmp_path / "nope")), "does not exist")


@pytest.mark.parametrize("value", ["0", "-4", "abc", "100000"])
def test_serve_bad_max_batch(run, toy_artifact: Path, value: str) -> None:
    assert_one_line_error(run("serve", str(toy_artifact), "--max-batch", value), "--max-batch")


def test_serve_port_in_use(run, toy_artifact: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = run("serve", str(toy_artifact), "--http-port", str(port), "--grpc-port", "0", "--metrics-port", "0")
    assert_one_line_error(res, str(port), "already in use", "--http-port")


def test_serve_unknown_backend(run, toy_artifact: Path) -> None:
    res = run("serve", str(toy_artifact), "--backend", "warp-drive", "--http-port", "0",
              "--grpc-port", "0", "--metrics-port", "0")
    assert_one_line_error(res, "warp-drive")


@pytest.mark.parametrize("command", ["serve", "triton-repo"])
def test_help_has_an_example(run, command: str) -> None:
    res = run(command, "--help")
    assert res.returncode == 0 and "Example:" in res.stdout


def test_triton_repo_cli_writes_and_reports_json(run, toy_artifact: Path, tmp_path: Path) -> None:
    out = tmp_path / "model_repository"
    res = run("triton-repo", str(toy_artifact), "--out", str(out), "--precision", "int8", "--kind", "gpu",
              "--max-batch", "8", "--instances", "2", "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["source"] == "model.int8-tensorrt.onnx" and summary["max_batch"] == 8
    assert set(summary["models"]) == {"resnet", "resnet_preprocess", "resnet_ensemble"}
    assert (out / "resnet" / "1" / "model.onnx").is_file()
    again = run("triton-repo", str(toy_artifact), "--out", str(out))
    assert_one_line_error(again, "--force")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--backend", "caffe"], ["caffe"]),
        (["--precision", "int2"], ["int2"]),
        (["--kind", "tpu"], ["tpu"]),
        (["--max-batch", "0"], ["--max-batch"]),
        (["--instances", "x"], ["--instances"]),
    ],
)
def test_triton_repo_bad_options(run, toy_artifact: Path, tmp_path: Path, args: list[str], words: list[str]) -> None:
    assert_one_line_error(run("triton-repo", str(toy_artifact), "--out", str(tmp_path / "r"), *args), *words)
    assert not (tmp_path / "r").exists()
