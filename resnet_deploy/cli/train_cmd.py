"""``resnet-deploy train-sample``: train (or reuse) the built-in demo model."""

from __future__ import annotations

from pathlib import Path

import click

from resnet_deploy.cli._common import Output, output_options


@click.command("train-sample")
@click.option("--preset", type=click.Choice(["quickstart", "resnet50", "tiny"]), default="quickstart",
              show_default=True, help="quickstart: ResNet-18 at 64 px; resnet50: ResNet-50 at 64 px; "
                                      "tiny: CIFAR ResNet-20 at 32 px (seconds, for tests).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Cache root (default: $RESNET_DEPLOY_CACHE or ~/.cache/resnet-deploy).")
@click.option("--force", is_flag=True, help="Retrain even if a valid cached model exists.")
@output_options
def train_sample(preset: str, cache_dir: Path | None, force: bool, out: Output) -> None:
    """Train the built-in demo model on the offline digit set and cache it.

    Trains once with a fixed seed (CPU, about a minute or two for quickstart),
    reports top-1 on the held-out "eval" split, and reuses the cached
    checkpoint on later calls. The checkpoint is a plain state_dict.

    \b
    Example:
      resnet-deploy train-sample
      resnet-deploy train-sample --preset tiny --json
    """
    from resnet_deploy.demo_model import ensure_demo_model

    with out.status(f"demo model '{preset}' (trained once, a few seconds to ~2 min; then cached)"):
        sm = ensure_demo_model(preset, cache_dir=cache_dir, reporter=out, force=force)

    data = {
        "preset": sm.preset,
        "checkpoint": str(sm.checkpoint),
        "arch": sm.arch,
        "num_classes": sm.num_classes,
        "input_size": sm.input_size,
        "accuracy": sm.accuracy,
        "train_seconds": sm.train_seconds,
        "cached": sm.cached,
        "sha256": sm.sha256,
    }

    def human() -> None:
        how = "cached" if sm.cached else f"trained in {sm.train_seconds:.0f} s"
        out.info(f"{sm.arch} ({sm.input_size} px, {how}): held-out top-1 {sm.accuracy:.1%}")
        click.echo(str(sm.checkpoint))

    out.result(data, human)
    if out.quiet and not out.as_json:
        click.echo(str(sm.checkpoint))
