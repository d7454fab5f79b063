"""The ``resnet-deploy`` command: a lazy click group; each command lives in its own module.

Commands are imported only when invoked (or listed by --help), so
``resnet-deploy predict`` never pays for importing torch.
"""

from __future__ import annotations

import importlib

import click

from resnet_deploy import __version__

# command name -> "module:function" (each module parses, calls ONE library function, prints)
COMMANDS: dict[str, str] = {
    "quickstart": "resnet_deploy.cli.quickstart_cmd:quickstart",
    "models": "resnet_deploy.cli.models_cmd:models",
    "info": "resnet_deploy.cli.models_cmd:info",
    "train-sample": "resnet_deploy.cli.train_cmd:train_sample",
    "export": "resnet_deploy.cli.export_cmd:export",
    "quantize": "resnet_deploy.cli.quantize_cmd:quantize",
    "build-engine": "resnet_deploy.cli.engine_cmd:build_engine",
    "bench": "resnet_deploy.cli.bench_cmd:bench",
    "compare": "resnet_deploy.cli.bench_cmd:compare",
    "predict": "resnet_deploy.cli.predict_cmd:predict",
    "serve": "resnet_deploy.cli.serve_cmd:serve",
    "triton-repo": "resnet_deploy.cli.serve_cmd:triton_repo",
}


class LazyGroup(click.Group):
    """A click group that imports a command's module only when it is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr, None)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="resnet-deploy")
def cli() -> None:
    """Take a ResNet from PyTorch to production: export, INT8, TensorRT, benchmark, serve.

    \b
    Example (the whole pipeline on built-in data, offline):
      resnet-deploy quickstart
    """


def main() -> None:
    """Console-script entry point."""
    import sys

    if sys.argv[1:2] == ["serve"]:  # SIGTERM/SIGINT are handled from the first instant of serve
        from resnet_deploy.serve.signals import EARLY

        EARLY.install()
    from resnet_deploy.cli._common import run_cli

    run_cli(cli)
