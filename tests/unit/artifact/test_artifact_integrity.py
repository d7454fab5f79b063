"""Bad manifests are refused on load with one ArtifactError line naming the field (issue 13, items 1 and 5).

Each case edits a valid manifest's JSON; unless the case is about the digest, the digest is
recomputed after the edit, so the field check itself (not the digest) must catch it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_onnx_artifact import write_tiny_manifest, write_tiny_onnx

from resnet_deploy.artifact import (
    EngineRecord,
    Selection,
    load_manifest,
    make_entry,
    manifest_digest,
    sha256_file,
    update_manifest,
)
from resnet_deploy.errors import ArtifactError

Edit = Callable[[dict[str, Any], Path], None]
PROFILE = {"input": {"min": [1, 3, 8, 8], "opt": [1, 3, 8, 8], "max": [4, 3, 8, 8]}}


@pytest.fixture()
def art(tmp_path: Path) -> Path:
    """A valid tiny artifact with a selection and an engine record, plus a file outside it."""
    root = tmp_path / "art"
    root.mkdir()
    write_tiny_onnx(root / "model.fp32.onnx")
    engine = EngineRecord("engines/model.fp32.tensorrt.plan", "tensorrt", "10.3.0", "fp32", "fp32",
                          "model.fp32.onnx", "", PROFILE, 1.0)
    write_tiny_manifest(root, [make_entry(root, "model.fp32.onnx", "onnx")], engines=[engine])
    update_manifest(root, lambda m: setattr(m, "selection", Selection("onnxruntime:fp32", "min-latency")))
    (tmp_path / "outside").mkdir()
    write_tiny_onnx(tmp_path / "outside" / "model.fp32.onnx")
    return root


def _point_at(rel: str) -> Edit:
    """Make files[0] name ``rel`` with the real size and sha256 of what it resolves to."""
    def edit(d: dict[str, Any], root: Path) -> None:
        target = root / rel if not os.path.isabs(rel) else Path(rel)
        d["files"][0].update(path=rel, size=target.stat().st_size, sha256=sha256_file(target))
    return edit


def _symlink_out(d: dict[str, Any], root: Path) -> None:
    (root / "link.onnx").symlink_to(root.parent / "outside" / "model.fp32.onnx")
    _point_at("link.onnx")(d, root)


def _set(path: str, value: Any) -> Edit:
    """Set a dotted path ('preprocessing.crop', 'files.0.size') in the manifest JSON."""
    def edit(d: dict[str, Any], root: Path) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return edit


def _delete(path: str) -> Edit:
    def edit(d: dict[str, Any], root: Path) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        del node[last]
    return edit


DRIFT = {"n": 10, "labelled": False, "agreement": 0.9, "max_abs": 0.1, "cosine_mean": 0.99}

# (id, edit, re-sign the digest after the edit, text the one-line message must contain)
CASES: list[tuple[str, Edit, bool, str]] = [
    ("path-traversal", _point_at("../outside/model.fp32.onnx"), True, "files[0].path"),
    ("etc-passwd", _set("files.0.path", "../../../../etc/passwd"), True, "files[0].path"),
    ("absolute-path", _point_at("/etc/hostname" if Path("/etc/hostname").is_file() else "/etc/passwd"), True,
     "files[0].path"),
    ("symlink-out", _symlink_out, True, "files[0].path"),
    ("digest-mismatch", _set("model.arch", "resnet50"), False, "digest"),
    ("digest-not-a-string", _set("digest", 5), False, "digest"),
    ("schema-2", _set("schema_version", 2), True, "schema_version"),
    ("schema-string", _set("schema_version", "1"), True, "schema_version"),
    ("schema-missing", _delete("schema_version"), True, "schema_version"),
    ("model-missing", _delete("model"), True, "manifest field model is missing"),
    ("num-classes-ten", _set("model.num_classes", "ten"), True, "model.num_classes"),
    ("num-classes-zero", _set("model.num_classes", 0), True, "model.num_classes"),
    ("num-classes-bool", _set("model.num_classes", True), True, "model.num_classes"),
    ("labels-not-strings", _set("model.labels", [1, 2, 3, 4]), True, "model.labels[0]"),
    ("crop-negative", _set("preprocessing.crop", -5), True, "preprocessing.crop must be a positive integer, got -5"),
    ("resize-string", _set("preprocessing.resize", "256"), True, "preprocessing.resize"),
    ("mean-two-elements", _set("preprocessing.mean", [0.5, 0.5]), True, "preprocessing.mean must be a list of 3"),
    ("std-zeros", _set("preprocessing.std", [0, 0, 0]), True, "preprocessing.std[0] must be a positive number"),
    ("std-string", _set("preprocessing.std", ["a", 1, 1]), True, "preprocessing.std[0]"),
    ("scale-zero", _set("preprocessing.scale", 0), True, "preprocessing.scale"),
    ("interpolation-unknown", _set("preprocessing.interpolation", "magic"), True, "preprocessing.interpolation"),
    ("channel-order-unknown", _set("preprocessing.channel_order", "GBR"), True, "preprocessing.channel_order"),
    ("shape-three-dims", _set("input.shape", [-1, 3, 8]), True, "input.shape"),
    ("shape-dynamic-height", _set("input.shape", [-1, 3, -1, 8]), True, "input.shape"),
    ("input-name-empty", _set("input.name", ""), True, "input.name"),
    ("file-size-negative", _set("files.0.size", -1), True, "files[0].size"),
    ("file-sha-garbage", _set("files.0.sha256", "xyz"), True, "files[0].sha256"),
    ("file-format-unknown", _set("files.0.format", "exe"), True, "files[0].format"),
    ("file-precision-unknown", _set("files.0.precision", "int4"), True, "files[0].precision"),
    ("file-path-missing", _delete("files.0.path"), True, "files[0].path is missing"),
    ("files-not-a-list", _set("files", {"a": 1}), True, "manifest field files must be a list"),
    ("parity-passed-string", _set("parity.onnx:fp32", {"max_abs": 0, "max_rel": 0, "rel_to_range": 0,
                                                       "top1_agreement": 1, "n": 4, "passed": "yes"}),
     True, "parity.onnx:fp32.passed"),
    ("calibration-count-string", _set("calibration", {"method": "minmax", "count": "64", "dataset": "d",
                                                      "dataset_sha256": ""}), True, "calibration.count"),
    ("calibration-method-unknown", _set("calibration", {"method": "magic", "count": 4, "dataset": "d",
                                                        "dataset_sha256": ""}), True, "calibration.method"),
    ("drift-agreement-above-one", _set("quantization.drift", {"int8-cpu": dict(DRIFT, agreement=2)}), True,
     "quantization.drift.int8-cpu.agreement"),
    ("drift-legacy-top1-string", _set("quantization.drift", {"int8-cpu": dict(DRIFT, top1_fp32="x")}), True,
     "quantization.drift.int8-cpu.ref_top1"),
    ("quant-target-file-outside", _set("quantization.targets", {"cpu": {"file": "../x.onnx"}}), True,
     "quantization.targets.cpu.file"),
    ("excluded-nodes-not-a-list", _set("quantization.excluded_nodes", {"cpu": "all"}), True,
     "quantization.excluded_nodes.cpu"),
    ("engine-profile-short", _set("engines.0.profile", {"input": {"min": [1], "opt": [1], "max": [1]}}), True,
     "engines[0].profile.input.min"),
    ("engine-version-compatible-string", _set("engines.0.version_compatible", "yes"), True,
     "engines[0].version_compatible"),
    ("engine-family-missing", _delete("engines.0.family"), True, "engines[0].family"),
    ("selection-backend-number", _set("selection.backend", 5), True, "selection.backend"),
    ("selection-file-absolute", _set("selection.file", "/etc/passwd"), True, "selection.file"),
    ("bench-row-status", _set("bench", {"rows": {"onnxruntime:fp32": {"status": "maybe"}}}), True,
     "bench.rows.onnxruntime:fp32.status"),
    ("toolchain-number", _set("toolchain.python", 3.11), True, "toolchain.python"),
]


def _damage(root: Path, edit: Edit, resign: bool) -> None:
    path = root / "manifest.json"
    d = json.loads(path.read_text())
    edit(d, root)
    if resign and "digest" in d:
        d["digest"] = manifest_digest(d)
    path.write_text(json.dumps(d))


@pytest.mark.parametrize(("edit", "resign", "names"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_manifest_is_refused_naming_the_field(art: Path, edit: Edit, resign: bool, names: str) -> None:
    load_manifest(art)  # valid before the edit
    _damage(art, edit, resign)
    with pytest.raises(ArtifactError) as info:
        load_manifest(art, verify=False)
    msg = str(info.value)
    assert names in msg and "\n" not in msg
    assert msg.endswith("re-export the artifact"), msg


def test_runtime_load_refuses_a_model_outside_the_artifact(art: Path) -> None:
    from resnet_deploy import runtime

    _damage(art, _point_at("../outside/model.fp32.onnx"), True)
    with pytest.raises(ArtifactError, match=r"files\[0\]\.path"):
        runtime.load(art, backend="onnxruntime:fp32")


@pytest.mark.parametrize("edit", [_set("preprocessing.crop", -5), _point_at("../outside/model.fp32.onnx")],
                         ids=["crop-negative", "path-traversal"])
def test_predict_on_a_bad_manifest_is_one_error_line_exit_2(
    art: Path, tmp_path: Path, edit: Edit, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    from resnet_deploy.cli import main

    img = tmp_path / "x.png"
    Image.fromarray(np.full((8, 8, 3), 128, np.uint8)).save(img)
    _damage(art, edit, True)
    monkeypatch.setattr(sys, "argv", ["resnet-deploy", "predict", str(art), str(img)])
    with pytest.raises(SystemExit) as info:
        main()
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "preprocessing.crop" in err or "files[0].path" in err
