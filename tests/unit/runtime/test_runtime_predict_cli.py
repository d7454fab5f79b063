"""``resnet-deploy predict``: tables, --json, folders, and one-line errors with exit 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from resnet_deploy.cli import main


def _run(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setattr(sys, "argv", ["resnet-deploy", *args])
    with pytest.raises(SystemExit) as info:
        main()
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_predict_json_for_files_and_folders(artifact_dir, image_files, monkeypatch, capsys) -> None:
    args = ["predict", str(artifact_dir), str(image_files[0]), str(image_files[0].parent),
            "--json", "--top-k", "2", "--backend", "onnxruntime:fp32", "--threads", "1"]
    code, out, err = _run(args, monkeypatch, capsys)
    assert code == 0, err
    rows = json.loads(out)
    assert [r["file"] for r in rows] == [str(image_files[0])] + sorted(str(p) for p in image_files)
    for r in rows:
        assert r["backend"] == "onnxruntime:fp32"
        assert len(r["indices"]) == len(r["labels"]) == len(r["probabilities"]) == 2
    assert rows[0]["indices"] == rows[1]["indices"]


def test_predict_table(artifact_dir, image_files, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RESNET_DEPLOY_AUTO_PROBE", "0")  # auto without a timed probe: the fixed order
    code, out, err = _run(["predict", str(artifact_dir), str(image_files[1])], monkeypatch, capsys)
    assert code == 0, err
    assert "backend: onnxruntime:int8-cpu" in err  # auto on a CPU-only machine, probe off
    assert image_files[1].name in err and "probability" in err and "class_" in err


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--top-k", "0"], "--top-k must be a positive integer"),
        (["--threads", "x"], "--threads must be a positive integer"),
        (["--backend", "nope"], "unknown backend 'nope'"),
    ],
)
def test_predict_bad_options(artifact_dir, image_files, monkeypatch, capsys, extra, match) -> None:
    code, out, err = _run(["predict", str(artifact_dir), str(image_files[0]), *extra], monkeypatch, capsys)
    assert code == 2 and match in err and err.count("\n") == 1 and err.startswith("error: ")


def test_predict_bad_image_and_artifact(artifact_dir, tmp_path: Path, image_files, monkeypatch, capsys) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    code, _, err = _run(["predict", str(artifact_dir), str(image_files[0]), str(bad)], monkeypatch, capsys)
    assert code == 2 and "broken.jpg' cannot be decoded" in err and err.count("\n") == 1
    code, _, err = _run(["predict", str(tmp_path / "none"), str(image_files[0])], monkeypatch, capsys)
    assert code == 2 and "does not exist" in err and err.count("\n") == 1


def test_predict_help_has_example(monkeypatch, capsys) -> None:
    code, out, _ = _run(["predict", "--help"], monkeypatch, capsys)
    assert code == 0 and "Example:" in out and "--backend" in out


def test_predict_exact_decode_flag(artifact_dir, tmp_path, monkeypatch, capsys) -> None:
    from runtime_helpers import encode_image

    from resnet_deploy.runtime import load

    big = tmp_path / "big.jpg"
    big.write_bytes(encode_image(seed=3, size=(1200, 900), fmt="JPEG"))
    got = {}
    for flag in ([], ["--exact-decode"]):
        args = ["predict", str(artifact_dir), str(big), "--json", "--backend", "onnxruntime:fp32", *flag]
        code, out, err = _run(args, monkeypatch, capsys)
        assert code == 0, err
        got[bool(flag)] = json.loads(out)[0]["probabilities"]
    for exact in (False, True):
        with load(artifact_dir, backend="onnxruntime:fp32", exact_decode=exact) as p:
            want = p.predict(str(big))[0].probabilities
        assert got[exact] == pytest.approx(want, rel=1e-5)
    assert got[True] != pytest.approx(got[False], rel=1e-6)  # the flag changes the decode
