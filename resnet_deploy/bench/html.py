"""A self-contained HTML report: inline CSS, PNG plots embedded as base64, no external files."""

from __future__ import annotations

import base64
import html
import json

from resnet_deploy.bench.render import (
    NOISY_WHY,
    headers,
    live_server_lines,
    noisy_rows,
    peer_lines,
    skipped_lines,
    table_order,
    table_rows,
)
from resnet_deploy.bench.report import BenchReport

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#222;max-width:1400px}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem} th,td{border:1px solid #ccc;padding:.25rem .5rem}
th{background:#f0f0f0} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.skipped td,tr.failed td{color:#888} tr.peer td{background:#fff8e6} tr.noisy td{background:#fdecea}
.meta{color:#555;font-size:.9rem} img{max-width:100%;border:1px solid #eee;margin:.5rem 0}
code{background:#f4f4f4;padding:0 .2rem}
"""

TEXT_COLUMNS = {"backend", "status", "device", "note"}


def _e(v: object) -> str:
    return html.escape(str(v))


def _table(report: BenchReport) -> str:
    head = headers()
    out = ['<table id="results"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for r, cells in zip(table_order(report), table_rows(report), strict=True):
        cls = r.status + (" peer" if r.peer else "") + (" noisy" if (r.noise or {}).get("noisy") else "")
        tds = "".join(
            f'<td{"" if h in TEXT_COLUMNS else " class=num"}>{_e(c)}</td>' for h, c in zip(head, cells, strict=True)
        )
        out.append(f'<tr class="{cls}">{tds}</tr>')
    out.append("</tbody></table>")
    return "\n".join(out)


def to_html(report: BenchReport, pngs: dict[str, bytes] | None = None) -> str:
    """The whole report as one HTML string."""
    m = report.machine
    meta = [
        f"date {report.created_at}, took {report.seconds:.1f} s",
        f"{m.get('cpu_model')} — {m.get('cores_usable')} usable cores; flags: "
        f"{', '.join(m.get('cpu_flags') or []) or 'none of note'}; GPUs: {', '.join(m.get('gpus') or []) or 'none'}",
        f"threads {report.config.get('threads')}; timing {report.config.get('timing')}; "
        f"repeats {report.config.get('repeats')}",
        f"drift reference {report.reference}; eval data {report.config.get('eval_data')} "
        f"({report.config.get('eval_mode')})",
        f"command <code>{_e(' '.join(m.get('command') or []))}</code>",
    ]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>resnet-deploy bench: {_e(report.model.get('arch'))}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Benchmark: {_e(report.model.get('arch'))} <small>({_e(report.artifact)})</small></h1>",
        '<div class="meta">' + "<br>".join(x if x.startswith("command") else _e(x) for x in meta) + "</div>",
        "<h2>Results</h2>", _table(report),
    ]
    if noisy_rows(report):
        parts.append(f"<p><b>Noisy rows</b> ({_e(NOISY_WHY)}; do not act on their figures): "
                     f"{_e(', '.join(r.spec for r in noisy_rows(report)))}</p>")
    if skipped_lines(report):
        parts += ['<p>Skipped here:</p><ul class="skipped">'] + [f"<li>{_e(t)}</li>" for t in skipped_lines(report)]
        parts.append("</ul>")
    live = live_server_lines(report)
    if live:
        parts += ["<h2>Server scenario, live</h2><ul>"] + [f"<li>{_e(t)}</li>" for t in live] + ["</ul>"]
    lines = peer_lines(report)
    if lines:
        parts += ["<h2>Versus OpenVINO + NNCF INT8</h2><ul>"] + [f"<li>{_e(t)}</li>" for t in lines] + ["</ul>"]
    if report.selection:
        s = report.selection
        parts.append(f"<h2>Selection</h2><p><code>{_e(s['backend'])}</code> ({_e(s['strategy'])}): {_e(s['reason'])}</p>")
    if report.notes:
        parts += ["<h2>Notes</h2><ul>"] + [f"<li>{_e(n)}</li>" for n in report.notes] + ["</ul>"]
    for name, data in (pngs or {}).items():
        b64 = base64.b64encode(data).decode("ascii")
        parts.append(f'<h2>{_e(name.capitalize())}</h2><img alt="{_e(name)}" src="data:image/png;base64,{b64}">')
    machine = json.dumps(m.get("libraries", {}), indent=1)
    parts += [f"<h2>Libraries</h2><pre>{_e(machine)}</pre>", "</body></html>"]
    return "\n".join(parts)
