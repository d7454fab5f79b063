"""benchmarks/peer_kernels.py feeds each compiled model an input in its own contract, so a raw-pixel
file (uint8 NHWC) can be profiled beside the float-input files and the peer."""

from __future__ import annotations

import numpy as np
import pytest
from script_loader import load_script

ov = pytest.importorskip("openvino")


def _compiled(dtype: object, shape: list[int]) -> object:
    """A one-op model (x -> x + x) with a dynamic batch axis, compiled for the CPU."""
    param = ov.opset13.parameter(ov.PartialShape([-1, *shape]), dtype, name="x")
    model = ov.Model([ov.opset13.add(param, param)], [param], "double")
    return ov.Core().compile_model(model, "CPU")


@pytest.mark.parametrize(("dtype", "shape", "want"), [
    (ov.Type.u8, [8, 8, 3], np.uint8),
    (ov.Type.f32, [3, 8, 8], np.float32),
])
def test_sample_input_matches_the_models_contract(dtype: object, shape: list[int], want: type) -> None:
    mod = load_script("benchmarks/peer_kernels.py")
    compiled = _compiled(dtype, shape)
    x = mod.sample_input(compiled, np.random.default_rng(0))
    assert x.dtype == want and list(x.shape) == [1, *shape]
    compiled.create_infer_request().infer({0: x})  # accepted as is: the profile would run it
    if want is np.uint8:
        assert x.min() >= 0 and x.max() <= 255 and len(np.unique(x)) > 1
