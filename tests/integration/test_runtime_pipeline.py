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


# -- fast (draft) JPEG decode vs the exact path, on the trained 64 px demo model ----------------


@pytest.fixture(scope="module")
def demo64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained quickstart demo model (ResNet-18, 64 px, resize 73) exported to ONNX."""
    from resnet_deploy.demo_model import ensure_demo_model
    from resnet_deploy.export.pipeline import ExportConfig, export_artifact

    sm = ensure_demo_model("quickstart")
    out = tmp_path_factory.mktemp("decode") / "demo64"
    export_artifact(ExportConfig(arch=sm.arch, weights=sm.checkpoint, num_classes=sm.num_classes,
                                 input_size=sm.input_size, preprocessing=sm.preprocessing, out=out))
    return out


def _both_paths(pred, items: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Logits of the exact and the fast decode, through the same pipeline and model."""
    out = []
    for exact in (True, False):
        pred.exact_decode = exact
        out.append(pred.infer_images(items))
    return out[0], out[1]


def _top5_overlap(a: np.ndarray, b: np.ndarray) -> float:
    from resnet_deploy.metrics import topk_indices

    ta, tb = topk_indices(a, 5), topk_indices(b, 5)
    return float(np.mean([len(set(x) & set(y)) / 5 for x, y in zip(ta, tb, strict=True)]))


@pytest.mark.slow
def test_fast_decode_agrees_with_exact_on_sample_images(demo64: Path) -> None:
    from resnet_deploy.data.photos import sample_jpegs
    from resnet_deploy.metrics import agreement
    from resnet_deploy.preprocess import crop_image

    jpgs, labels = sample_jpegs("eval", 250)
    items = [j.data for j in jpgs]
    with load(demo64, backend="onnxruntime:fp32", max_batch=16) as p:
        assert not p.exact_decode  # fast is predict's default
        exact, fast = _both_paths(p, items)
        pre = p.preprocessing
    # the draft really ran: the crops differ a little (bit-equal would mean no reduced decode)
    diffs = [np.abs(crop_image(b, pre).astype(int) - crop_image(b, pre, fast=True)).mean() for b in items[:10]]
    assert 0.05 < np.mean(diffs) < 3.0, diffs
    assert agreement(exact, fast) >= 0.99
    assert _top5_overlap(exact, fast) >= 0.95
    acc_exact, acc_fast = np.mean(exact.argmax(1) == labels), np.mean(fast.argmax(1) == labels)
    assert acc_exact > 0.8 and acc_fast >= acc_exact - 0.01, (acc_exact, acc_fast)


@pytest.mark.slow
def test_fast_decode_agrees_with_exact_on_real_photographs(demo64: Path) -> None:
    """scikit-image's photographs at camera sizes up to 1920 px (the full 640-4000 px set of 210,
    measured by scripts/decode_agreement.py, takes minutes)."""
    from resnet_deploy.data import photos
    from resnet_deploy.metrics import agreement

    sizes = tuple(s for s in photos.CAMERA_SIZES if max(s) <= 1920)
    jpgs = photos.camera_jpegs(2 * len(photos.PHOTO_NAMES), sizes=sizes)
    with load(demo64, backend="onnxruntime:fp32", max_batch=8) as p:
        exact, fast = _both_paths(p, [j.data for j in jpgs])
    assert agreement(exact, fast) >= 0.99, [j.filename for j, a, b in zip(jpgs, exact, fast, strict=True)
                                            if a.argmax() != b.argmax()]
    assert _top5_overlap(exact, fast) >= 0.95
