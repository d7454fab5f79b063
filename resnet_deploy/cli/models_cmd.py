"""``resnet-deploy models`` (the zoo table) and ``resnet-deploy info`` (one architecture)."""

from __future__ import annotations

from typing import Any

import click

from resnet_deploy.cli._common import Output, output_options
from resnet_deploy.errors import ModelError


def _positive_int(value: str | None, what: str) -> int | None:
    """Parse here (not with click's int type) so bad values give one 'error:' line, exit 2."""
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        raise ModelError(f"{what} must be a positive integer, got '{value}'; pass e.g. 10") from None
    if number < 1:
        raise ModelError(f"{what} must be a positive integer, got '{value}'; pass e.g. 10")
    return number


def _fmt_params(n: int) -> str:
    return f"{n / 1e6:.2f}M"


def _fmt_input(size: int, family: str) -> str:
    return f"{size}²" + (" (CIFAR)" if family.startswith("cifar") else "")


@click.command("models")
@output_options
def models(out: Output) -> None:
    """List every architecture with parameters and GMACs (measured at its default input size).

    ImageNet nets are measured at 224x224, the CIFAR nets (resnet20...resnet110)
    at their 32x32 default (see the "input" column).

    \b
    Example:
      resnet-deploy models
      resnet-deploy models --json
    """
    from resnet_deploy.models.info import zoo_summaries

    rows = zoo_summaries()

    def human() -> None:
        from rich.table import Table

        table = Table(title="ResNet model zoo (GMACs per image at the input size shown)")
        table.add_column("name", no_wrap=True)
        table.add_column("params", justify="right")
        table.add_column("GMACs", justify="right")
        table.add_column("input", no_wrap=True)
        table.add_column("block")
        table.add_column("layers", no_wrap=True)
        for r in rows:
            table.add_row(r["name"], _fmt_params(r["params"]), f"{r['gmacs']:.2f}",
                          _fmt_input(r["input_size"], r["family"]), r["block"],
                          "-".join(map(str, r["layers"])))
        out.table(table)

    out.result({"models": rows}, human)


@click.command("info")
@click.option("--arch", "-a", required=True, help="Architecture name, e.g. resnet50 (see 'models').")
@click.option("--weights", "-w", default=None, metavar="FILE",
              help="A .pth/.pt/.safetensors state_dict to load strictly and fingerprint.")
@click.option("--num-classes", default=None, metavar="N",
              help="Classifier size (default: from --weights, else 1000; CIFAR nets 10).")
@click.option("--variant", "version", default="v1.5", show_default=True, metavar="v1.5|v1",
              help="Where bottlenecks put the stride: v1.5 (torchvision, 3x3) or v1 (paper, 1x1).")
@click.option("--new-head", is_flag=True,
              help="Accept a checkpoint whose classifier (fc) differs; keep a fresh head.")
@click.option("--input-size", default=None, metavar="S",
              help="Measure GMACs at SxS (default: the architecture's own, 224 or 32).")
@output_options
def info(
    out: Output,
    arch: str,
    weights: str | None,
    num_classes: str | None,
    version: str,
    new_head: bool,
    input_size: str | None,
) -> None:
    """Show one architecture: parameters, GMACs, layers; with --weights, check a checkpoint.

    With --weights the file is loaded strictly; any missing, unexpected or
    wrong-shape tensor is reported in one line (exit 2).

    \b
    Example:
      resnet-deploy info --arch resnet50
      resnet-deploy info --arch resnet18 --weights model.pth --num-classes 10
      resnet-deploy info --arch resnet50 --variant v1 --json
    """
    classes = _positive_int(num_classes, "--num-classes")  # before importing torch: fast errors
    size = _positive_int(input_size, "--input-size")
    from resnet_deploy.models.info import describe_model

    data = describe_model(arch, weights=weights, num_classes=classes, version=version,
                          new_head=new_head, input_size=size)
    out.result(data, lambda: _print_info(out, data))


def _print_info(out: Output, d: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"{d['name']} ({d['description']})", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    rows = [
        ("version", d["version"]),
        ("family", d["family"]),
        ("block", d["block"]),
        ("layers", "-".join(map(str, d["layers"]))),
        ("num_classes", str(d["num_classes"])),
        ("params", f"{d['params']:,} ({_fmt_params(d['params'])})"),
        ("GMACs", f"{d['gmacs']:.3f} at {d['input_size']}x{d['input_size']}"),
        ("default input", f"{d['default_input_size']}x{d['default_input_size']}"),
    ]
    w = d.get("weights")
    if w:
        status = ("classifier re-initialised (--new-head), the rest matched"
                  if w["reinitialised_head"] else "all tensors matched (strict)")
        rows += [
            ("weights", w["path"]),
            ("sha256", w["sha256"]),
            ("tensors", str(w["tensors"])),
            ("load", status),
        ]
    for k, v in rows:
        table.add_row(k, v)
    out.table(table)
