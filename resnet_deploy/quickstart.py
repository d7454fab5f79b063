"""The main job on built-in defaults, offline: demo model -> export --int8 -> benchmark.

This is what the README's first command runs. It uses only what the project
ships or makes (the demo model is trained on scikit-learn's digits plus a
generated harder set, and cached), so it works on a fresh machine without
any download. Every step is the same library call a user would make by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet_deploy._optional import try_import
from resnet_deploy.checks import check_bool, check_choice, check_int, check_int_list, check_number
from resnet_deploy.reporter import Reporter, as_reporter

if TYPE_CHECKING:
    from resnet_deploy.bench.config import BenchConfig
    from resnet_deploy.pipeline import PipelineConfig, PipelineResult

# torch.compile's first compile costs about a minute on 2 cores and helps little at
# this size; it stays available through `resnet-deploy bench --backends torch-compile`.
DEFAULT_SKIP = ("torch-compile",)


@dataclass
class QuickstartConfig:
    """Knobs of the end-to-end run; defaults finish in a few minutes on 2 cores."""

    out: Path = Path("artifacts/quickstart")
    preset: str = "quickstart"
    calib_size: int = 512
    max_drop: float = 0.5
    batch_sizes: tuple[int, ...] = (1, 16)
    time_budget: float = 1.0
    threads: int | None = None
    peer: bool = True
    engines: bool = True  # build TensorRT/TensorRT-RTX engines when such a module is installed
    cache_dir: Path | None = None
    argv: list[str] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.batch_sizes, list):
            self.batch_sizes = tuple(self.batch_sizes)
        self.validate()

    def validate(self) -> None:
        """One-line ConfigError before the sample model is trained (minutes) for nothing."""
        from resnet_deploy.demo_model import PRESETS

        check_choice(self.preset, "sample preset (--preset)", PRESETS)
        check_int(self.calib_size, "--calib-size", hint="pass e.g. 512")
        check_number(self.max_drop, "--max-drop (top-1 percentage points)", minimum=0.0, maximum=100.0,
                     hint="pass e.g. 0.5")
        check_int_list(self.batch_sizes, "--batch-sizes")
        check_number(self.time_budget, "--time-budget (seconds)", minimum=0, exclusive_minimum=True,
                     hint="pass e.g. 1.0")
        check_int(self.threads, "--threads", allow_none=True, hint="pass e.g. 4, or leave it out")
        for flag in ("peer", "engines"):
            check_bool(getattr(self, flag), flag)


@dataclass
class QuickstartResult:
    sample: Any  # resnet_deploy.demo_model.DemoModel
    pipeline: Any  # resnet_deploy.pipeline.PipelineResult
    bench: Any  # resnet_deploy.bench.report.BenchReport
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)

    @property
    def out_dir(self) -> Path:
        return self.pipeline.out_dir

    @property
    def html_report(self) -> str | None:
        return self.bench.files.get("html")

    def to_dict(self) -> dict[str, Any]:
        s = self.sample
        return {
            "artifact": str(self.out_dir),
            "sample_model": {"arch": s.arch, "input_size": s.input_size, "checkpoint": str(s.checkpoint),
                             "heldout_top1": s.accuracy, "cached": s.cached},
            "quantization_drift": {
                target: t.get("drift") for target, t in self.pipeline.quantize.to_dict()["targets"].items()
            } if self.pipeline.quantize is not None else None,
            "bench": self.bench.summary(),
            "selection": self.bench.selection,
            "reports": dict(self.bench.files),
            "steps_seconds": {k: round(v, 1) for k, v in self.steps.items()},
            "seconds": round(self.seconds, 1),
        }


def tensorrt_family() -> str | None:
    """The engine family the quickstart can build here, if any."""
    if try_import("tensorrt") is not None:  # importable, not just installed
        return "tensorrt"
    if try_import("tensorrt_rtx") is not None:
        return "tensorrt-rtx"
    return None


def run_quickstart(
    cfg: QuickstartConfig, reporter: Reporter | Callable[[str], None] | None = None
) -> QuickstartResult:
    """Train (or reuse) the demo model, export it with INT8, benchmark every CPU backend.

    ``reporter`` hears every step of every stage in plain text (None says nothing).
    """
    from resnet_deploy.bench.run import run_bench
    from resnet_deploy.bench.worker import in_fresh_process
    from resnet_deploy.demo_model import ensure_demo_model

    t0 = time.perf_counter()
    steps: dict[str, float] = {}
    rep = as_reporter(reporter)
    sub = rep if reporter is not None else None  # stages keep their "no reporter" defaults

    rep.info(f"1/3 demo model ({cfg.preset} preset): trained once on the built-in data, then cached")
    t = time.perf_counter()
    sample = ensure_demo_model(cfg.preset, cache_dir=cfg.cache_dir, reporter=sub)
    steps["sample_model"] = time.perf_counter() - t
    how = "from cache" if sample.cached else f"trained in {sample.train_seconds:.0f} s"
    rep.info(f"  {sample.arch} at {sample.input_size}px, held-out top-1 {100 * sample.accuracy:.1f}% ({how})")

    family = tensorrt_family() if cfg.engines else None
    rep.info("2/3 export + INT8 (calibration on the built-in sample set; targets cpu, openvino, tensorrt)"
             + (f" + {family} engine" if family else " (no TensorRT module installed: no engines)"))
    t = time.perf_counter()
    # in a spawned child, like the suite's builds: the process that then orchestrates the timing never
    # holds the export/calibration state (in-process, the table read 10-20 % slower than `bench`)
    loud = sub is not None and not getattr(sub, "quiet", False)
    pipeline = in_fresh_process(build_in_child, _pipeline_config(cfg, sample, family), loud).value
    steps["export_int8"] = time.perf_counter() - t

    rep.info("3/3 benchmark: every CPU backend + the OpenVINO+NNCF INT8 peer, accuracy on held-out data")
    t = time.perf_counter()
    report = run_bench(pipeline.out_dir, _bench_config(cfg), sub)
    steps["bench"] = time.perf_counter() - t
    return QuickstartResult(sample=sample, pipeline=pipeline, bench=report,
                            seconds=time.perf_counter() - t0, steps=steps)


def build_in_child(config: PipelineConfig, loud: bool) -> PipelineResult:
    """Child side of step 2: export + INT8 (+ engines); its messages go to stderr as plain lines."""
    import sys

    from resnet_deploy.pipeline import run_pipeline
    from resnet_deploy.reporter import CallbackReporter, NullReporter

    rep = CallbackReporter(lambda m: print(m, file=sys.stderr, flush=True)) if loud else NullReporter()
    return run_pipeline(config, rep)


def _pipeline_config(cfg: QuickstartConfig, sample: Any, family: str | None) -> PipelineConfig:
    """Export every format of the demo model, INT8 for cpu, openvino and tensorrt, and an engine when ``family``."""
    from resnet_deploy.pipeline import PipelineConfig
    from resnet_deploy.quantize.config import QuantizeConfig

    engines = []
    if family is not None:
        from resnet_deploy.engines.build import EngineConfig

        engines = [EngineConfig(precision="int8", family=family, min_batch=1, opt_batch=8, max_batch=32)]
    return PipelineConfig(
        export=sample.export_config(cfg.out, ("onnx", "torchscript", "exported-program"), force=True,
                                    parity_data="sample"),
        quantize=QuantizeConfig(
            calib_data="sample", calib_size=cfg.calib_size, targets=("cpu", "openvino", "tensorrt"),
            max_drop=cfg.max_drop, eval_data="sample",
        ),
        engines=engines,
    )


def _bench_config(cfg: QuickstartConfig) -> BenchConfig:
    """Every registered backend but ``DEFAULT_SKIP``, all scenarios, the peer, min-latency selection.

    Noisy rows are timed again up to twice: right after the export child the host is often
    in its slow state for a minute (``bench.hostprobe``), and the first rows would read it.
    """
    from resnet_deploy.bench.config import BenchConfig
    from resnet_deploy.runtime.registry import backend_names

    backends = [b for b in backend_names() if b not in DEFAULT_SKIP]
    return BenchConfig(
        backends=backends, batch_sizes=list(cfg.batch_sizes), scenarios="all", time_budget=cfg.time_budget,
        threads=cfg.threads, eval_data="sample", calib_data="sample", peer=cfg.peer,
        select="min-latency", max_drop=cfg.max_drop, argv=cfg.argv, retime=2,
    )
