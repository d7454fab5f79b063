"""Export -> runtime: an artifact written by ``export_artifact`` runs on every CPU backend.

The run side reads only the artifact (manifest + files), so this checks the
contract between the two halves: file names, formats, input spec and
preprocessing, and that ``resnet-deploy predict`` works on the result.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.artifact import load_manifest
from resnet_deploy.runtime import candidates, load

LABELS = [f"thing{i}" for i in range(10)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from resnet_deploy.export.pipeline import ExportConfig, export_artifact

    out = tmp_path_factory.mktemp("rt_pipeline") / "artifact"
    export_artifact(
        ExportConfig(arch="resnet20", num_classes=10, input_size=32, out=out, labels=LABELS,
                     formats=("onnx", "torchscript", "exported-program"))
    )
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    d = tmp_path_factory.mktemp("rt_pipeline_images")
    rng = np.random.default_rng(0)
    for i in range(3):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)).save(buf, format="PNG")
        (d / f"im{i}.png").write_bytes(buf.getvalue())
    return d


@pytest.mark.slow
def test_exported_artifact_runs_on_every_cpu_backend(exported: Path, images: Path) -> None:
    manifest = load_manifest(exported)
    runnable = [c.spec for c in candidates(manifest) if c.runnable and c.backend != "torch-compile"]
    assert {"onnxruntime:fp32", "openvino:fp32", "torchscript:fp32", "torch:fp32"} <= set(runnable)
    files = sorted(images.iterdir())
    with load(exported, backend="onnxruntime:fp32") as ref:
        x = np.stack([_chw(ref, f) for f in files])
        want = ref.infer(x)
        assert ref.labels == LABELS
    for spec in runnable:
        with load(exported, backend=spec, threads=1) as p:
            got = p.infer(x)
            preds = p.predict([str(f) for f in files], top_k=3)
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4, err_msg=spec)
        assert [q.indices[0] for q in preds] == want.argmax(1).tolist(), spec
        assert all(q.labels and q.labels[0] == LABELS[q.indices[0]] for q in preds)


def _chw(pred, path: Path) -> np.ndarray:
    from resnet_deploy.preprocess import preprocess_image

    return preprocess_image(path, pred.preprocessing)


@pytest.mark.slow
def test_predict_cli_on_exported_artifact(exported: Path, images: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-c", "from resnet_deploy.cli import main; main()",
         "predict", str(exported), str(images), "--json", "--top-k", "2"],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stderr[-1500:]
    rows = json.loads(res.stdout)
    # auto: the only float ONNX file; images go to its raw-pixel twin, which export writes beside it
    assert len(rows) == 3 and rows[0]["backend"] == "onnxruntime:fp32-raw"
    assert all(r["labels"][0] in LABELS for r in rows)
