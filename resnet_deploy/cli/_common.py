"""Shared CLI plumbing: one-line errors with exit codes, --quiet/--json, progress, output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from resnet_deploy.errors import ResNetDeployError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def run_cli(group: click.Group) -> None:
    """Run the click group; user-facing errors become ``error: ...`` + exit code, no traceback."""
    try:
        group.main(standalone_mode=False, prog_name="resnet-deploy")
    except click.exceptions.Abort:
        click.echo("error: interrupted; nothing was written", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx is not None else "resnet-deploy"
        click.echo(f"error: {exc.format_message()} (see '{cmd} --help')", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except ResNetDeployError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # a full/read-only disk not caught where it was written: still one line
        from resnet_deploy.atomic import write_failure

        err = write_failure(exc, getattr(exc, "filename", None) or ".")
        if err is None:
            raise
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("error: interrupted; nothing was written", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(0)


def escape(text: str) -> str:
    """``text`` with rich markup escaped, so it prints as written (rich is imported lazily)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def output_options(fn: F) -> F:
    """Adds --quiet and --json; the command receives ``out: Output``."""

    @click.option("--quiet", "-q", is_flag=True, help="No progress or tables; only errors.")
    @click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON summary on stdout.")
    @functools.wraps(fn)
    def wrapper(*args: Any, quiet: bool, as_json: bool, **kwargs: Any) -> Any:
        return fn(*args, out=Output(quiet=quiet, as_json=as_json), **kwargs)

    return wrapper  # type: ignore[return-value]


LOG_WIDTH = 1000  # the widest a table may grow when stderr is not a terminal


class Output:
    """Where a command talks: rich on stderr for people, JSON on stdout for machines.

    Implements ``resnet_deploy.reporter.Reporter``: library code sends plain text,
    which is escaped here (a ``[`` in a path is printed, not read as markup) and
    styled by kind. The command's own styled lines go through ``markup``.
    """

    def __init__(self, quiet: bool = False, as_json: bool = False) -> None:
        self.quiet = quiet or as_json
        self.as_json = as_json
        from rich.console import Console

        self.console = Console(stderr=True, quiet=self.quiet, highlight=False)
        if not self.console.is_terminal:
            # A pipe or a file (CI logs, `cmd 2> log.txt`) has no width: rich would squeeze tables
            # to 80 columns ("model.…"). Let tables take their natural width and lines run unwrapped.
            self.console = Console(stderr=True, quiet=self.quiet, highlight=False, width=LOG_WIDTH,
                                   soft_wrap=True)

    def info(self, message: str) -> None:
        self.console.print(escape(message))

    def note(self, message: str) -> None:
        self.console.print(f"[yellow]note:[/yellow] {escape(message)}")

    def warn(self, message: str) -> None:
        self.console.print(f"[bold yellow]warning:[/bold yellow] {escape(message)}")

    def markup(self, text: str) -> None:
        """A line of the command's own rich markup (never library text: that goes to ``info``)."""
        self.console.print(text)

    def table(self, table: Any) -> None:
        self.console.print(table)

    def result(self, data: dict[str, Any], human: Callable[[], None] | None = None) -> None:
        """Emit the final result: JSON on stdout with --json, else the human rendering."""
        if self.as_json:
            click.echo(json.dumps(data, indent=2, default=str))
        elif human is not None and not self.quiet:
            human()

    @contextmanager
    def progress(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        """A rich progress bar (hidden when quiet); yields ``advance(n)``."""
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(), console=self.console, disable=self.quiet, transient=False,
        ) as prog:
            task = prog.add_task(escape(description), total=total)
            yield lambda n=1: prog.advance(task, n)

    @contextmanager
    def status(self, message: str) -> Iterator[None]:
        """A spinner line for a step without a natural count."""
        if self.quiet:
            yield
            return
        with self.console.status(escape(message)):
            yield
        self.console.print(f"[green]✓[/green] {escape(message)}")


def check_out(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """click callback for --out: an empty or blank value is a usage error, not 'the default'."""
    if value is not None and not str(value).strip():
        raise click.BadParameter("is empty; pass a directory path or leave --out out for the default", ctx, param)
    return None if value is None else Path(value)
