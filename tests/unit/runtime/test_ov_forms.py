"""OpenVINO's compiled forms (runtime.ov_forms): which form each batch size runs, and that every form
computes what the single dynamic-batch model computes, on a real (tiny) model in the real CPU plugin."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import openvino as ov
import pytest
from tiny_onnx_artifact import write_tiny_onnx

from resnet_deploy.runtime import ov_forms
from resnet_deploy.runtime.ov_forms import FormKey, Forms


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_onnx(tmp_path_factory.mktemp("ovforms") / "tiny.onnx")


def make_forms(path: Path, threads: int, specialize: bool = True) -> Forms:
    core = ov.Core()
    cfg = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
    return Forms(ov, core, core.read_model(str(path)), cfg, specialize)


def batch(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 8, 8)).astype(np.float32)


def test_plan_per_batch_size(model_path: Path) -> None:
    two = make_forms(model_path, threads=2)
    assert two.plan(1) == (FormKey(False, 1), 1)  # latency, static batch 1
    assert two.plan(2) == (FormKey(True, 1), 2)  # two one-thread streams, one row each
    assert two.plan(16) == (FormKey(True, 8), 2)
    assert two.plan(3) == (FormKey(False, None), 1)  # no uneven split: the threads share the dynamic form
    one = make_forms(model_path, threads=1)
    assert one.plan(4) == (FormKey(False, 4), 1)  # nothing to split over: a static latency form
    off = make_forms(model_path, threads=2, specialize=False)
    assert off.plan(1) == off.plan(16) == (FormKey(False, None), 1)


def test_start_compiles_dynamic_and_batch_one_only(model_path: Path) -> None:
    assert make_forms(model_path, 2).compiled_keys() == [FormKey(False, None), FormKey(False, 1)]
    assert make_forms(model_path, 2, specialize=False).compiled_keys() == [FormKey(False, None)]


def test_streams_form_is_one_thread_per_stream(model_path: Path) -> None:
    forms = make_forms(model_path, threads=2)
    forms.prepare([4])
    compiled = forms._get(FormKey(True, 2))
    assert int(compiled.get_property("NUM_STREAMS")) == 2
    assert int(compiled.get_property("INFERENCE_NUM_THREADS")) == 2  # two streams x one thread
    assert compiled.get_property("ENABLE_CPU_PINNING") is False
    assert forms.config(FormKey(False, 1))["PERFORMANCE_HINT"] == "LATENCY"
    assert "PERFORMANCE_HINT" not in forms.config(FormKey(True, 2))  # the latency hint would force one stream


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 16])
def test_every_form_matches_the_dynamic_model(model_path: Path, n: int) -> None:
    x = batch(n, seed=n)
    want = make_forms(model_path, 2, specialize=False).infer(x)
    got = make_forms(model_path, 2).infer(x)
    assert got.shape == want.shape == (n, 4) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert len(set(np.round(got[:, 0], 4).tolist())) == n  # rows differ: a row mix-up would show


def test_prepare_compiles_ahead(model_path: Path) -> None:
    forms = make_forms(model_path, threads=2)
    keys = forms.prepare(range(1, 7))
    assert set(keys) == {FormKey(False, 1), FormKey(True, 1), FormKey(False, None), FormKey(True, 2), FormKey(True, 3)}
    before = forms.compiled_keys()
    for n in range(1, 7):
        forms.infer(batch(n))
    assert forms.compiled_keys() == before  # no call had to compile


def test_static_forms_are_capped(model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ov_forms, "MAX_FORMS", 2)
    forms = make_forms(model_path, threads=2)  # batch 1 is the first static form
    x = batch(10)
    for n in (2, 4, 6, 10):
        np.testing.assert_allclose(forms.infer(x[:n]), make_forms(model_path, 2, False).infer(x[:n]), rtol=1e-5,
                                   atol=1e-6)
    static = [k for k in forms.compiled_keys() if k.batch is not None]
    assert static == [FormKey(False, 1), FormKey(True, 1)]  # later sizes ran the dynamic streams form
    assert FormKey(True, None) in forms.compiled_keys()


def test_concurrent_callers_get_their_own_rows(model_path: Path) -> None:
    forms = make_forms(model_path, threads=2)
    ref = make_forms(model_path, 2, specialize=False)
    inputs = {n: batch(n, seed=100 + n) for n in (1, 2, 3, 4)}
    want = {n: ref.infer(x) for n, x in inputs.items()}
    errors: list[str] = []

    def worker(n: int) -> None:
        for _ in range(20):
            got = forms.infer(inputs[n])
            if not np.allclose(got, want[n], rtol=1e-5, atol=1e-6):
                errors.append(f"batch {n}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in inputs for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
