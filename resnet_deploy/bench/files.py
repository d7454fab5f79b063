"""Writing a BenchReport's files: report.json, results.csv, report.md, report.html, plots.

Kept apart from the renderings so the import direction is one way
(files -> render, html; html -> render). Files are written into a temp
directory and swapped in at the end (``artifact.staging_dir``), so a failed run
leaves the previous report intact.
"""

from __future__ import annotations

import os
from pathlib import Path

from resnet_deploy.artifact import staging_dir
from resnet_deploy.bench.html import to_html
from resnet_deploy.bench.render import to_csv, to_markdown
from resnet_deploy.bench.report import BenchReport


def write_report_files(
    report: BenchReport, out_dir: str | os.PathLike[str], artifact_dir: Path | None = None,
    plots: bool = True,
) -> dict[str, str]:
    """report.json, results.csv, report.md, report.html and plots/*.png, swapped in atomically."""
    out = Path(out_dir)

    def shown(name: str) -> str:
        p = out / name
        if artifact_dir is not None:
            try:
                return str(p.resolve().relative_to(Path(artifact_dir).resolve()))
            except ValueError:
                pass
        return str(p)

    pngs: dict[str, bytes] = {}
    if plots:
        from resnet_deploy.bench.plots import make_plots

        pngs = make_plots(report)
    report.files = {"json": shown("report.json"), "csv": shown("results.csv"),
                    "markdown": shown("report.md"), "html": shown("report.html")}
    report.files.update({f"plot:{k}": shown(f"plots/{k}.png") for k in pngs})
    with staging_dir(out, force=True) as tmp:
        (tmp / "report.json").write_text(report.to_json() + "\n")
        (tmp / "results.csv").write_text(to_csv(report))
        (tmp / "report.md").write_text(to_markdown(report, {k: f"plots/{k}.png" for k in pngs}))
        (tmp / "report.html").write_text(to_html(report, pngs))
        if pngs:
            (tmp / "plots").mkdir()
            for k, data in pngs.items():
                (tmp / "plots" / f"{k}.png").write_bytes(data)
    return report.files
