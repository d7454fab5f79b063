"""CalibrationReader against ONNX Runtime's real calibration protocol."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

from resnet_deploy.data import CalibrationReader, open_source
from resnet_deploy.errors import DataError


@pytest.fixture
def source(tmp_path, pre32, rng):
    x = rng.standard_normal((10, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    return open_source(tmp_path / "x.npy", pre32), x


def _drain(reader):
    out = []
    while (feed := reader.get_next()) is not None:
        out.append(feed)
    return out


def test_yields_exactly_the_data_then_none_and_rewinds(source):
    src, x = source
    reader = CalibrationReader(src, input_name="images", batch_size=4)
    assert isinstance(reader, CalibrationDataReader)
    feeds = _drain(reader)
    assert [list(f) for f in feeds] == [["images"]] * 3
    assert [len(f["images"]) for f in feeds] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([f["images"] for f in feeds]), x)
    assert reader.get_next() is None  # stays exhausted
    reader.rewind()
    again = _drain(reader)
    np.testing.assert_array_equal(np.concatenate([f["images"] for f in again]), x)
    assert len(reader) == 3


def test_limit_and_set_range(source):
    src, x = source
    reader = CalibrationReader(src, batch_size=3, limit=7)
    feeds = _drain(reader)
    assert [len(f["input"]) for f in feeds] == [3, 3, 1] and len(reader) == 3
    np.testing.assert_array_equal(np.concatenate([f["input"] for f in feeds]), x[:7])
    reader.set_range(1, 2)
    (only,) = _drain(reader)
    np.testing.assert_array_equal(only["input"], x[3:6])
    with pytest.raises(DataError):
        CalibrationReader(src, batch_size=0)


def test_drives_onnxruntime_quantize_static(tmp_path, source):
    """The reader feeds ORT's calibrator end to end on a one-conv model."""
    src, _ = source
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], np.full(108, 0.1, np.float32))
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["logits"], pads=[1, 1, 1, 1])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 4, 32, 32])],
        initializer=[w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, tmp_path / "m.onnx")
    quantize_static(str(tmp_path / "m.onnx"), str(tmp_path / "q.onnx"),
                    CalibrationReader(src, batch_size=4), quant_format=QuantFormat.QDQ)
    ops = {n.op_type for n in onnx.load(tmp_path / "q.onnx").graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
