"""A production process runs ONNX (ORT) and OpenVINO artifacts without torch or TensorRT.

Each check runs in a fresh interpreter where ``sys.modules`` maps torch,
tensorrt and tensorrt_rtx to None, so any attempt to import them raises.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from runtime_helpers import encode_image

SCRIPT = r"""
import json, sys
for name in ("torch", "tensorrt", "tensorrt_rtx"):
    sys.modules[name] = None
from resnet_deploy.runtime import candidates, load
from resnet_deploy.artifact import load_manifest

artifact, image, backend = sys.argv[1], sys.argv[2], sys.argv[3]
with open(image, "rb") as fh:
    data = fh.read()
with load(artifact, backend=backend) as p:
    preds = p.predict([data, image], top_k=3)
    why = p.explain()
    used = p.backend
skipped = {c.backend: c.skip_reason for c in candidates(load_manifest(artifact)) if c.skip_reason}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "tensorrt", "tensorrt_rtx")
               and sys.modules[m] is not None)
print(json.dumps({"backend": used, "top": [p.indices for p in preds], "heavy": heavy,
                  "skipped": skipped, "why": why}))
"""


@pytest.mark.parametrize(
    ("backend", "expected"),
    [
        ("onnxruntime", "onnxruntime:int8-cpu"),
        ("openvino:fp32", "openvino:fp32"),
        ("auto", "onnxruntime:int8-cpu|openvino:int8-cpu"),  # the probe at load picks the faster one here
    ],
)
def test_runtime_without_torch_or_tensorrt(artifact_dir: Path, tmp_path: Path, backend: str, expected: str) -> None:
    image = tmp_path / "x.png"
    image.write_bytes(encode_image(3))
    res = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(artifact_dir), str(image), backend],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["backend"] in expected.split("|")
    assert out["heavy"] == []
    assert len(out["top"]) == 2 and out["top"][0] == out["top"][1]  # bytes and path agree
    assert "not installed" in out["skipped"]["torch"]
