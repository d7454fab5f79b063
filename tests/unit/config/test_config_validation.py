"""Every config validates itself one way: on construction, with checks.py, one ConfigError line.

For each config class: a bool where an int is expected, zero and a negative
number are refused when the object is built (so no invalid config exists), the
message names the field and says what to do, and ``validate()`` returns nothing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from resnet_deploy.bench.config import BenchConfig
from resnet_deploy.engines.build import EngineConfig
from resnet_deploy.errors import ConfigError, ResNetDeployError
from resnet_deploy.export.config import ExportConfig, ExportPlan
from resnet_deploy.pipeline import PipelineConfig
from resnet_deploy.quantize.config import QuantizeConfig
from resnet_deploy.quickstart import QuickstartConfig
from resnet_deploy.serve.pytriton_server import ServeConfig
from resnet_deploy.serve.triton_repo import RepoConfig

# (config class, extra required kwargs, int field, smallest valid value, words the message names)
INT_FIELDS: list[tuple[type, dict[str, Any], str, int, str]] = [
    (QuantizeConfig, {}, "calib_size", 1, "--calib-size"),
    (QuantizeConfig, {}, "batch_size", 1, "batch size"),
    (QuantizeConfig, {}, "eval_size", 1, "eval size"),
    (QuantizeConfig, {}, "report_size", 1, "report size"),
    (QuantizeConfig, {}, "max_rounds", 1, "max rounds"),
    (BenchConfig, {}, "max_batch", 1, "--max-batch"),
    (BenchConfig, {}, "repeats", 1, "--repeats"),
    (BenchConfig, {}, "eval_batch", 1, "eval batch size"),
    (BenchConfig, {}, "threads", 1, "--threads"),
    (BenchConfig, {}, "iterations", 1, "--iterations"),
    (BenchConfig, {}, "eval_size", 1, "--eval-size"),
    (BenchConfig, {}, "calib_size", 1, "--calib-size"),
    (BenchConfig, {}, "warmup", 0, "--warmup"),
    (BenchConfig, {}, "paired_rounds", 0, "--paired-rounds"),
    (EngineConfig, {"opt_batch": 1, "max_batch": 1}, "min_batch", 1, "--batch MIN"),
    (EngineConfig, {"min_batch": 1, "opt_batch": 1}, "max_batch", 1, "--batch MAX"),
    (EngineConfig, {}, "workspace_mib", 1, "--workspace"),
    (EngineConfig, {}, "opt_level", 0, "--opt-level"),
    (ServeConfig, {}, "max_batch", 1, "--max-batch"),
    (ServeConfig, {}, "instances", 1, "--instances"),
    (ServeConfig, {}, "top_k", 1, "--top-k"),
    (ServeConfig, {}, "threads", 1, "--threads"),
    (ServeConfig, {}, "http_port", 0, "--http-port"),
    (ServeConfig, {}, "max_queue_delay_us", 0, "--max-queue-delay-us"),
    (RepoConfig, {}, "max_batch", 1, "--max-batch"),
    (RepoConfig, {}, "instances", 1, "--instances"),
    (RepoConfig, {}, "max_queue_delay_us", 0, "--max-queue-delay-us"),
    (ExportConfig, {"arch": "resnet20"}, "num_classes", 1, "num_classes"),
    (ExportConfig, {"arch": "resnet20"}, "parity_limit", 1, "parity_limit"),
    (ExportConfig, {"arch": "resnet20"}, "input_size", 32, "input size"),
    (QuickstartConfig, {}, "calib_size", 1, "--calib-size"),
    (QuickstartConfig, {}, "threads", 1, "--threads"),
]
IDS = [f"{cls.__name__}.{name}" for cls, _, name, _, _ in INT_FIELDS]


def _refused(cls: type, kwargs: dict[str, Any], words: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    err = info.value
    text = str(err)
    assert words in text, text
    assert "\n" not in text and "; " in text, f"not one 'what was wrong; what to do' line: {text}"
    assert err.exit_code == 2
    return err


@pytest.mark.parametrize(("cls", "extra", "name", "lowest", "words"), INT_FIELDS, ids=IDS)
def test_a_bool_is_not_an_int(cls: type, extra: dict, name: str, lowest: int, words: str) -> None:
    # True == 1 and False == 0 pass a bare range check; the config must still refuse them
    for flag in (True, False):
        err = _refused(cls, {**extra, name: flag}, words)
        assert repr(flag) in str(err)


@pytest.mark.parametrize(("cls", "extra", "name", "lowest", "words"), INT_FIELDS, ids=IDS)
def test_below_the_minimum_is_refused(cls: type, extra: dict, name: str, lowest: int, words: str) -> None:
    for bad in {lowest - 1, -1, -1000}:
        _refused(cls, {**extra, name: bad}, words)
    ok = cls(**{**extra, name: lowest})  # the boundary itself is valid
    assert getattr(ok, name) == lowest


@pytest.mark.parametrize(("cls", "extra", "name", "lowest", "words"), INT_FIELDS, ids=IDS)
def test_a_float_or_text_is_not_an_int(cls: type, extra: dict, name: str, lowest: int, words: str) -> None:
    _refused(cls, {**extra, name: lowest + 0.5}, words)
    _refused(cls, {**extra, name: "8x"}, words)


@pytest.mark.parametrize(
    ("cls", "extra"),
    [(QuantizeConfig, {}), (BenchConfig, {}), (EngineConfig, {}), (ServeConfig, {}), (RepoConfig, {}),
     (ExportConfig, {"arch": "resnet20"}), (QuickstartConfig, {})],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_validate_returns_nothing_and_catches_later_changes(cls: type, extra: dict) -> None:
    cfg = cls(**extra)
    assert cfg.validate() is None
    field = next(f.name for f in dataclasses.fields(cfg)
                 if f.name in ("batch_size", "max_batch", "instances", "calib_size", "parity_limit"))
    setattr(cfg, field, 0)  # a caller may change a field after construction
    with pytest.raises(ConfigError):
        cfg.validate()


def test_list_fields_refuse_bools_and_zero() -> None:
    for bad in ([True, 8], [0, 8], [-4], []):
        with pytest.raises(ConfigError, match="batch sizes must be positive integers"):
            BenchConfig(batch_sizes=bad)
        with pytest.raises(ConfigError, match="--batch-sizes must be positive integers"):
            QuickstartConfig(batch_sizes=tuple(bad))


def test_numbers_refuse_bools_and_out_of_range() -> None:
    for kw in ({"max_drop": True}, {"max_drop": -0.5}, {"max_drop": float("nan")}, {"percentile": 50},
               {"percentile": False}):
        with pytest.raises(ConfigError, match="must be a number"):
            QuantizeConfig(**kw)
    for kw in ({"time_budget": 0.0}, {"time_budget": True}, {"server_bound_ms": -1.0}):
        with pytest.raises(ConfigError, match="must be a positive number"):
            BenchConfig(**kw)


def test_normalisation_happens_before_validation() -> None:
    q = QuantizeConfig(targets="tensorrt, cpu,tensorrt")
    assert q.targets == ("tensorrt", "cpu")
    b = BenchConfig(batch_sizes=[8, 1, 8], backends=[" onnxruntime ", ""], scenarios="offline")
    assert (b.batch_sizes, b.backends, b.scenarios) == ([1, 8], ["onnxruntime"], ("offline",))


def test_repo_config_cross_field_rules_are_checked_on_construction() -> None:
    with pytest.raises(ConfigError, match="GPUs only"):
        RepoConfig(backend="tensorrt", kind="cpu")
    assert RepoConfig(backend="tensorrt").resolved_kind == "gpu"
    assert RepoConfig().resolved_kind == "cpu" and RepoConfig().kind is None


def test_pipeline_config_takes_only_the_real_stage_configs() -> None:
    export = ExportConfig(arch="resnet20")
    PipelineConfig(export=export, quantize=QuantizeConfig(), engines=[EngineConfig()])
    with pytest.raises(ConfigError, match="export must be an ExportConfig"):
        PipelineConfig(export={"arch": "resnet20"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="quantize must be a QuantizeConfig"):
        PipelineConfig(export=export, quantize={"targets": "cpu"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="engines must be a list of EngineConfig"):
        PipelineConfig(export=export, engines=[{"precision": "int8"}])  # type: ignore[list-item]


def test_export_config_resolves_to_a_typed_frozen_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    labels = [f"c{i}" for i in range(4)]
    out = tmp_path / "deeper" / "art"
    plan = ExportConfig(arch="ResNet-20", formats="onnx,ts", labels=labels, out=out).resolve()
    assert isinstance(plan, ExportPlan)
    assert plan == ExportPlan(arch="resnet20", formats=("onnx", "torchscript"), opset=None, size=32,
                              labels=tuple(labels), num_classes=None, weights=None, out=out)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.size = 64  # type: ignore[misc]
    assert not (tmp_path / "deeper").exists(), "resolving must not create anything"
    default = ExportConfig(arch="resnet18").resolve()
    assert default.out == Path("artifacts") / "resnet18" and default.size == 224


def test_export_plan_checks_files_only_when_resolved(tmp_path: Path) -> None:
    cfg = ExportConfig(arch="resnet20", weights=tmp_path / "missing.pth", out=tmp_path / "a")  # values fine
    with pytest.raises(ResNetDeployError, match="does not exist"):
        cfg.resolve()
