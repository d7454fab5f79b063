"""``resnet-deploy build-engine``: parse options, call ``build_engine``, print a summary.

``engine_options`` is the reusable set of engine flags: any command decorated
with it receives ``engine_config: EngineConfig`` (validated, one-line errors
before any work), e.g. ``export --tensorrt`` can build an engine right after
exporting with ``build_engine(result.out_dir, engine_config)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from resnet_deploy.checks import parse_int, parse_int_list
from resnet_deploy.cli._common import Output, output_options
from resnet_deploy.errors import ResNetDeployError

F = TypeVar("F", bound=Callable[..., Any])


def parse_batch(value: str) -> tuple[int, int, int]:
    """'1,8,32' -> (1, 8, 32); a single N means N,N,N (a fixed-batch engine)."""
    items = parse_int_list(value, "--batch")
    if len(items) == 1:
        items = items * 3
    if len(items) != 3:
        raise ResNetDeployError(f"--batch takes MIN,OPT,MAX (or one N), got '{value}'; pass e.g. 1,8,32")
    return items[0], items[1], items[2]


def make_engine_config(
    precision: str, batch: str, workspace: str | None, opt_level: str | None, timing_cache: str | None,
    family: str, hardware_compat: bool, version_compat: bool,
) -> Any:
    """Flags -> a validated EngineConfig (imports only the light engines.build module)."""
    from resnet_deploy.engines.build import EngineConfig

    lo, opt, hi = parse_batch(batch)
    config = EngineConfig(
        precision=precision.strip().lower(),
        family=family.strip().lower(),
        min_batch=lo, opt_batch=opt, max_batch=hi,
        workspace_mib=parse_int(workspace, "--workspace (MiB)", minimum=None),
        opt_level=parse_int(opt_level, "--opt-level", minimum=None),
        timing_cache=Path(timing_cache) if timing_cache else None,
        hardware_compatible=hardware_compat,
        version_compatible=version_compat,
    )
    return config


def engine_options(fn: F) -> F:
    """Adds the engine flags; the command receives ``engine_config`` (an EngineConfig)."""

    @click.option("--precision", default="fp32", show_default=True, metavar="fp32|fp16|int8",
                  help="Picks the ONNX file: model.fp32.onnx, model.fp16.onnx or model.int8-tensorrt.onnx "
                       "(TensorRT is strongly typed: precision comes from the graph).")
    @click.option("--batch", default="1,8,32", show_default=True, metavar="MIN,OPT,MAX",
                  help="Optimisation profile over the batch dimension of input 'input'.")
    @click.option("--workspace", default=None, metavar="MiB", help="Builder workspace limit in MiB.")
    @click.option("--opt-level", default=None, metavar="N", help="Builder optimisation level 0..5 (default 3).")
    @click.option("--timing-cache", default=None, metavar="FILE",
                  help="TensorRT timing cache: loaded if present, saved after the build (reuse across builds). "
                       "TensorRT-RTX has none; its runtime cache is kept by the tensorrt backend.")
    @click.option("--family", default="auto", show_default=True, metavar="auto|tensorrt|tensorrt-rtx",
                  help="auto: TensorRT when installed and a GPU is present, else TensorRT-RTX "
                       "(builds without a GPU; runs on RTX/Ampere+ GPUs).")
    @click.option("--hardware-compat", is_flag=True,
                  help="TensorRT: engine runs on any Ampere or newer GPU (slightly slower).")
    @click.option("--version-compat", is_flag=True,
                  help="TensorRT: engine runs on later TensorRT versions of the same major.")
    @functools.wraps(fn)
    def wrapper(*args: Any, precision: str, batch: str, workspace: str | None, opt_level: str | None,
                timing_cache: str | None, family: str, hardware_compat: bool, version_compat: bool,
                **kwargs: Any) -> Any:
        config = make_engine_config(precision, batch, workspace, opt_level, timing_cache, family,
                                    hardware_compat, version_compat)
        return fn(*args, engine_config=config, **kwargs)

    return wrapper  # type: ignore[return-value]


def render_engine_summary(out: Output, result: Any) -> None:
    """JSON on stdout with --json, else a short table and any notes."""

    def human() -> None:
        from rich.table import Table

        m = result.meta
        prof = next(iter(m["profile"].values()))
        table = Table(title=f"Engine {result.entry.path}")
        table.add_column("field")
        table.add_column("value")
        rows = [
            ("library", f"{m['family']} {m['library_version']}"),
            ("precision", f"{m['precision']} (from {m['source']})"),
            ("profile", f"batch {prof['min'][0]} / {prof['opt'][0]} / {prof['max'][0]} at {prof['max'][1:]}"),
            ("GPU", f"{m['gpu_name']}" + (f" (compute capability {m['compute_capability']})"
                                                 if m.get("compute_capability") else "")),
            ("size", f"{result.entry.size / 1e6:.1f} MB"),
            ("build", f"{m['build_seconds']:.1f} s"),
        ]
        for k, v in rows:
            table.add_row(k, v)
        out.table(table)
        for note in result.notes:
            out.note(note)
        art = result.path.parent.parent
        out.info(f"Next: resnet-deploy bench {art}   (runs on a GPU host with the tensorrt backend)")

    out.result(result.to_dict(), human)


@click.command("build-engine")
@click.argument("artifact", metavar="ARTIFACT")
@engine_options
@output_options
def build_engine(out: Output, artifact: str, engine_config: Any) -> None:
    """Build a TensorRT engine from an artifact's ONNX and record it in the manifest.

    The engine is written to ARTIFACT/engines/model.<key>.<family>.plan with a
    build record (library version, GPU and compute capability, profile) that the
    tensorrt backend checks before loading it. INT8 needs 'resnet-deploy quantize
    ARTIFACT --targets tensorrt' first, FP16 needs 'resnet-deploy quantize
    ARTIFACT --fp16'. Without a GPU, TensorRT-RTX still builds the engine.

    \b
    Example:
      resnet-deploy build-engine artifacts/r50 --precision int8 --batch 1,8,32
      resnet-deploy build-engine artifacts/r50 --precision fp16 --timing-cache ~/.cache/trt.cache
      resnet-deploy build-engine artifacts/r50 --family tensorrt-rtx --json
    """
    from resnet_deploy.engines.build import build_engine as build

    result = build(artifact, engine_config, reporter=None if out.quiet else out)
    render_engine_summary(out, result)
