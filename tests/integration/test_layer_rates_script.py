"""benchmarks/layer_rates.py on a small exported model: its convolution MACs add up to the manifest's
GMACs and the profile accounts for the wall time (structure, not speed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("openvino")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "layer_rates.py"


def _exported(tmp_path: Path, arch: str) -> Path:
    """A 64 px, 10-class FP32 export of ``arch`` (random weights): the rewrites' subject."""
    from resnet_deploy.export.config import ExportConfig
    from resnet_deploy.export.pipeline import export_artifact

    art = tmp_path / arch
    export_artifact(ExportConfig(arch=arch, num_classes=10, input_size=64, formats=("onnx",), out=art))
    return art


def _same_logits(src: Path, rewritten: Path) -> None:
    """ONNX Runtime gives the rewritten model the original's FP32 logits (within 1e-4 of their range)."""
    import numpy as np
    import onnx
    import onnxruntime as ort

    name = onnx.load(str(src)).graph.input[0].name
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    ref = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).run(None, {name: x})[0]
    got = ort.InferenceSession(str(rewritten), providers=["CPUExecutionProvider"]).run(None, {name: x})[0]
    assert np.abs(got - ref).max() <= 1e-4 * (ref.max() - ref.min())


def _profile(art: Path, out: Path, *extra: str) -> tuple[str, float]:
    """Run the script on ``art``'s FP32 file (one thread); its Markdown and the GMACs it counted."""
    res = subprocess.run([sys.executable, str(SCRIPT), str(art), "--key", "fp32", "--threads", "1", *extra,
                          "--out", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    return text, float(re.search(r"; ([0-9.]+) GMACs in convolutions", text).group(1))


def test_layer_rates_adds_up(tmp_path: Path) -> None:
    from resnet_deploy.artifact import load_manifest

    art = _exported(tmp_path, "resnet18")
    text, gmacs = _profile(art, tmp_path / "rates.md", "--rounds", "3", "--rates", "3x3=50,1x1=40")
    assert gmacs == pytest.approx(load_manifest(art).model.gmacs, rel=0.02)  # every conv of the model, counted once
    rows = [line for line in text.splitlines() if line.startswith("| 3x3") or line.startswith("| 1x1")]
    assert rows and all(float(r.split("|")[4]) > 0 for r in rows)  # GMACs per class
    wall, profiled = map(float, re.search(r"Wall ([0-9.]+) ms per call; the profile accounts for ([0-9.]+) ms",
                                          text).groups())
    assert 0 < profiled <= wall * 1.5


def test_a_missing_key_is_one_line(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "--key", "int8-openvino"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert res.stderr.strip().startswith("error:") and "--key" in res.stderr


def test_space_to_depth_stem_is_exact(tmp_path: Path) -> None:
    """The rewritten stem gives the same FP32 logits, and its profile counts the 4x4 conv's MACs."""
    import onnx
    from script_loader import load_script

    from resnet_deploy.artifact import load_manifest

    art = _exported(tmp_path, "resnet18")
    src = art / "model.fp32.onnx"
    rewritten = tmp_path / "s2d.onnx"
    onnx.save(load_script("benchmarks/layer_rates.py").space_to_depth_stem(onnx.load(str(src))), str(rewritten))
    assert "SpaceToDepth" in {n.op_type for n in onnx.load(str(rewritten)).graph.node}
    _same_logits(src, rewritten)

    text, gmacs = _profile(art, tmp_path / "s2d.md", "--rounds", "2", "--stem", "s2d")
    assert "| 4x4@32 |" in text and "| 7x7@32 |" not in text
    stem = 64 * 32 * 32 * 3 * 7 * 7  # the stem's multiply-adds as a 7x7 conv; as 4x4 on 12 channels: x 192/147
    assert gmacs * 1e9 == pytest.approx(load_manifest(art).model.gmacs * 1e9 + stem * (192 / 147 - 1), rel=0.02)


def test_s2d_refuses_a_model_without_a_7x7_stem(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper
    from script_loader import load_script

    space_to_depth_stem = load_script("benchmarks/layer_rates.py").space_to_depth_stem
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
    with pytest.raises(SystemExit, match="7x7 stem"):
        space_to_depth_stem(onnx.helper.make_model(g))


def test_pointwise_as_matmul_is_the_same_network(tmp_path: Path) -> None:
    """Every 1x1/s1 conv of a bottleneck model becomes a MatMul; FP32 logits stay the same, and the profile
    counts the MatMuls' MACs as 1x1 work, so the total is the model's GMACs again."""
    import onnx
    from script_loader import load_script

    from resnet_deploy.artifact import load_manifest

    art = _exported(tmp_path, "resnet50")
    src = art / "model.fp32.onnx"
    model = onnx.load(str(src))
    n_pointwise = sum(1 for n in model.graph.node if n.op_type == "Conv"
                      and any(a.name == "kernel_shape" and list(a.ints) == [1, 1] for a in n.attribute)
                      and not any(a.name == "strides" and list(a.ints) == [2, 2] for a in n.attribute))
    rewritten = tmp_path / "mm.onnx"
    onnx.save(load_script("benchmarks/layer_rates.py").pointwise_as_matmul(model), str(rewritten))
    ops = [n.op_type for n in onnx.load(str(rewritten)).graph.node]
    assert n_pointwise > 0 and ops.count("MatMul") == n_pointwise
    _same_logits(src, rewritten)

    text, gmacs = _profile(art, tmp_path / "mm.md", "--rounds", "2", "--pointwise", "matmul")
    assert "1x1 convolutions as MatMul" in text
    assert gmacs == pytest.approx(load_manifest(art).model.gmacs, rel=0.02)
