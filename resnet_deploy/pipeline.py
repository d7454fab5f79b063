"""The build side as one unit: export -> INT8/FP16 -> TensorRT engines, published atomically.

``resnet-deploy export --int8 --tensorrt`` must not leave an FP32-only artifact
behind when calibration or an engine build fails, so every stage works on a
hidden directory beside the target and the finished artifact is renamed into
place at the end (``artifact.publish_dir``). Each stage is still usable alone
(``export_artifact``, ``quantize_artifact``, ``build_engine``).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet_deploy.artifact import MANIFEST_NAME, Selection, load_manifest
from resnet_deploy.atomic import check_output_dir, make_parent_dir, publish_dir
from resnet_deploy.errors import ConfigError
from resnet_deploy.reporter import Reporter

if TYPE_CHECKING:
    from resnet_deploy.engines.build import EngineConfig, EngineResult
    from resnet_deploy.export.config import ExportConfig, ExportResult
    from resnet_deploy.quantize.config import QuantizeConfig, QuantizeResult


@dataclass
class PipelineConfig:
    """What to build: ``export`` always; ``quantize`` and ``engines`` when asked for.

    ``select``: after quantizing, time the CPU INT8 backends (a few seconds) and
    record the fastest for ``backend="auto"`` (``bench.autoselect``); the CLI turns it on.
    """

    export: ExportConfig
    quantize: QuantizeConfig | None = None
    engines: list[EngineConfig] = field(default_factory=list)
    select: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Each stage's config is the real type (each validated itself when it was built)."""
        from resnet_deploy.engines.build import EngineConfig
        from resnet_deploy.export.config import ExportConfig
        from resnet_deploy.quantize.config import QuantizeConfig

        if not isinstance(self.export, ExportConfig):
            raise ConfigError(f"export must be an ExportConfig, got {type(self.export).__name__}; build one first")
        if self.quantize is not None and not isinstance(self.quantize, QuantizeConfig):
            raise ConfigError(
                f"quantize must be a QuantizeConfig or None, got {type(self.quantize).__name__}; build one first"
            )
        if not isinstance(self.engines, list) or not all(isinstance(e, EngineConfig) for e in self.engines):
            raise ConfigError("engines must be a list of EngineConfig; build one per engine")
        if not isinstance(self.select, bool):
            raise ConfigError(f"select must be True or False, got {self.select!r}; pass select=True or False")


@dataclass
class PipelineResult:
    """What was built, per stage, and where it ended up."""

    out_dir: Path
    export: ExportResult
    quantize: QuantizeResult | None = None
    engines: list[EngineResult] = field(default_factory=list)
    seconds: float = 0.0
    selection: Selection | None = None  # what the auto probe recorded (``PipelineConfig.select``)

    def to_dict(self) -> dict[str, Any]:
        m = load_manifest(self.out_dir, verify=False)
        d: dict[str, Any] = self.export.to_dict()
        d["out_dir"] = str(self.out_dir)
        d["files"] = [dataclasses.asdict(f) for f in m.files]
        if self.quantize is not None:
            d["quantize"] = self.quantize.to_dict()
        d["engines"] = [e.to_dict() for e in m.engines]
        if self.selection is not None:
            d["auto_selection"] = self.selection.to_dict()
        d["seconds"] = round(self.seconds, 2)
        return d


def default_out(arch: str) -> Path:
    """``artifacts/<arch>`` under the current directory (the export command's default)."""
    from resnet_deploy.models.registry import canonical_name

    return Path("artifacts") / canonical_name(arch)


def run_pipeline(
    config: PipelineConfig, reporter: Reporter | Callable[[str], None] | None = None
) -> PipelineResult:
    """Export, then quantize and build engines in the same hidden directory, then publish.

    ``reporter`` is handed to every stage (plain-text progress; None says nothing).
    """
    from resnet_deploy.export.pipeline import export_artifact

    t0 = time.perf_counter()
    exp_cfg = config.export
    out = Path(exp_cfg.out) if exp_cfg.out else default_out(exp_cfg.arch)
    if config.quantize is None and not config.engines:
        res = export_artifact(dataclasses.replace(exp_cfg, out=out), reporter)
        return PipelineResult(out_dir=out, export=res, seconds=time.perf_counter() - t0)

    check_output_dir(out, exp_cfg.force, marker=MANIFEST_NAME)  # fail before any work
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.pipeline-", dir=make_parent_dir(out)))
    try:
        inner = work / out.name
        res = export_artifact(dataclasses.replace(exp_cfg, out=inner, force=False), reporter)
        qres = None
        if config.quantize is not None:
            from resnet_deploy.quantize.pipeline import quantize_artifact

            qres = quantize_artifact(inner, config.quantize, reporter)
        eres: list[EngineResult] = []
        for ecfg in config.engines:
            from resnet_deploy.engines.build import build_engine

            eres.append(build_engine(inner, ecfg, reporter))
        sel = None
        if config.select and config.quantize is not None:
            from resnet_deploy.bench.autoselect import record_auto_selection

            sel = record_auto_selection(inner, reporter)  # recorded before publishing: part of the atomic run
        publish_dir(inner, out, exp_cfg.force)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res.out_dir = out
    if qres is not None:
        qres = qres.relocated(out)  # report the published paths, not the hidden staging ones
    return PipelineResult(out_dir=out, export=res, quantize=qres, engines=eres,
                          seconds=time.perf_counter() - t0, selection=sel)
