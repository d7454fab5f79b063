"""The committed CLI reference equals what the commands' --help prints now."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_cli_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location("gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    current = (ROOT / "docs" / "cli.md").read_text()
    assert current == mod.render(), "docs/cli.md is stale: run python scripts/gen_cli_docs.py"


def test_every_command_help_has_an_example() -> None:
    import click

    from resnet_deploy.cli import cli

    ctx = click.Context(cli, info_name="resnet-deploy")
    names = cli.list_commands(ctx)
    assert names, "no commands registered"
    for name in names:
        cmd = cli.get_command(ctx, name)
        text = cmd.get_help(click.Context(cmd, info_name=name))
        assert "Example" in text, f"'resnet-deploy {name} --help' has no example"
