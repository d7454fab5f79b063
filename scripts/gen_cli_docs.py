"""Write docs/cli.md from the commands' own --help, so the CLI reference cannot drift.

Run: python scripts/gen_cli_docs.py        (tests/unit/cli/test_cli_docs.py fails if it is stale)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def render() -> str:
    """The Markdown CLI reference: the group's help, then each command's."""
    sys.path.insert(0, str(ROOT))
    from resnet_deploy.cli import cli

    # make_context applies the group's context_settings (e.g. -h), as a real invocation does
    ctx = cli.make_context("resnet-deploy", [], resilient_parsing=True, terminal_width=100,
                           max_content_width=100)
    parts = [
        "# CLI reference",
        "",
        "Generated from `--help` by `python scripts/gen_cli_docs.py`; a test fails if it is stale.",
        "",
        "Exit codes: `0` success; `1` the work ran but failed its bar (parity gate, accuracy budget,",
        "a benchmark target); `2` bad input or usage (unknown option or architecture, missing or",
        "corrupt file, missing optional dependency); `130` interrupted. Errors are one line on stderr,",
        "`error: <what was wrong>; <what to do>`, never a traceback.",
        "",
        "## resnet-deploy",
        "",
        "```",
        cli.get_help(ctx),
        "```",
    ]
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        if cmd is None:
            continue
        sub = cmd.make_context(f"resnet-deploy {name}", [], parent=ctx, resilient_parsing=True)
        parts += ["", f"## resnet-deploy {name}", "", "```", cmd.get_help(sub), "```"]
    return "\n".join(parts) + "\n"


def main() -> None:
    (ROOT / "docs" / "cli.md").write_text(render())
    print("wrote docs/cli.md")


if __name__ == "__main__":
    main()
