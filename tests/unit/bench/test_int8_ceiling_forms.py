"""benchmarks/int8_ceiling.py's GEMM form of a 1x1 chain computes what the Conv form computes, so its
rate compares kernels, not different work."""

from __future__ import annotations

import numpy as np
import pytest
from script_loader import load_script

ort = pytest.importorskip("onnxruntime")


def _script():
    return load_script("benchmarks/int8_ceiling.py")


def _run(model, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


@pytest.mark.parametrize("int8", [False, True])
def test_matmul_form_matches_the_conv_form(int8: bool) -> None:
    mod = _script()
    c, hw = 16, 5
    x = np.random.default_rng(3).random((1, c, hw, hw), dtype=np.float32)
    conv = _run(mod.conv_chain(c, 1, hw, int8, depth=3), x)
    rows = x[0].reshape(c, hw * hw).T.copy()  # NCHW -> [H*W, C]
    mm = _run(mod.conv_chain(c, 1, hw, int8, depth=3, matmul=True), rows)
    assert mm.shape == (hw * hw, c)
    np.testing.assert_allclose(mm, conv[0].reshape(c, hw * hw).T, rtol=1e-5, atol=1e-5)
    assert np.abs(conv).max() > 0  # a chain that died to zeros would match trivially


def test_matmul_form_refuses_a_3x3_shape() -> None:
    with pytest.raises(ValueError, match="1x1"):
        _script().conv_chain(8, 3, 5, False, matmul=True)
