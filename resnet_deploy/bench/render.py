"""Renderings of a BenchReport: rich table, CSV, Markdown, and the table cells they share.

Every rendering reads the same ``table_rows`` so the terminal, CSV, Markdown
and HTML (``bench/html.py``, which imports this module) always agree. Writing
the files is ``bench/files.py``. Tables list the rows that ran first, fastest
batch-1 p50 first, then failed ones; skipped rows (a missing GPU, package or
file) follow as one compact list, grouped by reason (``skipped_lines``). A row
timed while other processes used the CPU is marked ``NOISY`` in its note.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from resnet_deploy.bench import hostprobe
from resnet_deploy.bench.report import BackendRow, BenchReport

COLUMNS = (
    ("backend", "backend"), ("status", "status"), ("device", "device"), ("p50_ms", "b1 p50 ms"),
    ("p90_ms", "b1 p90 ms"), ("p99_ms", "b1 p99 ms"), ("best_tput", "best img/s"),
    ("best_batch", "@batch"), ("top1", "top-1"), ("agreement", "agree"), ("max_abs", "max abs Δ"),
    ("cosine", "cos"), ("server_qps", "server qps"), ("rss_mb", "RSS MB"), ("others_cpu", "others %core"),
    ("note", "note"),
)


def _f(v: Any, digits: int = 3) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def row_values(r: BackendRow) -> dict[str, Any]:
    """One row's cells as raw values (None = not measured)."""
    b1, best, d = r.at(1), r.best, r.drift or {}
    server = r.scenarios.get("server") or {}
    noise = r.noise or {}
    return {
        "backend": r.spec, "status": r.status, "device": r.device,
        "p50_ms": b1.latency.p50 if b1 else None, "p90_ms": b1.latency.p90 if b1 else None,
        "p99_ms": b1.latency.p99 if b1 else None,
        "best_tput": best.throughput if best else None, "best_batch": best.batch if best else None,
        "top1": d.get("top1"), "agreement": d.get("agreement"), "max_abs": d.get("max_abs"),
        "cosine": d.get("cosine_mean"), "server_qps": server.get("max_rate_qps") if server else None,
        "rss_mb": (r.memory or {}).get("rss_peak_mb"),
        "others_cpu": None if noise.get("others_cores") is None else 100.0 * noise["others_cores"],
        "note": r.reason if not r.ok else "; ".join(n for n in (
            "peer" if r.peer else "", f"NOISY: {hostprobe.describe(noise)}" if noise.get("noisy") else ""
        ) if n),
    }


def table_order(report: BenchReport) -> list[BackendRow]:
    """Rows that ran, fastest batch-1 p50 first (rows without one after), then failed ones."""
    ran = sorted((r for r in report.rows if r.ok),
                 key=lambda r: (r.p50_ms is None, r.p50_ms or 0.0, r.spec))
    return ran + [r for r in report.rows if r.status == "failed"]


def skipped_lines(report: BenchReport) -> list[str]:
    """Skipped rows as one line per reason: "reason: spec, spec"."""
    by_reason: dict[str, list[str]] = {}
    for r in report.rows:
        if r.status == "skipped":
            by_reason.setdefault(r.reason or "no reason given", []).append(r.spec)
    return [f"{', '.join(specs)}: {reason}" for reason, specs in by_reason.items()]


NOISY_WHY = ("other processes used more than a tenth of a core, or the host was slow (a cross-core probe "
             f"read 1.2x its best in this run, or two threads ran under {hostprobe.MIN_EFFICIENCY:.2f} "
             "efficient), while they were timed, "
             "and re-timing did not clear it")


def noisy_rows(report: BenchReport) -> list[BackendRow]:
    """Rows timed while others used the CPU (``bench.noise``) or the host was slow (``bench.hostprobe``)."""
    return [r for r in report.rows if r.ok and (r.noise or {}).get("noisy")]


def table_rows(report: BenchReport) -> list[list[str]]:
    """Formatted cells, header excluded, in ``table_order``."""
    digits = {"best_tput": 1, "best_batch": 0, "rss_mb": 0, "server_qps": 1, "cosine": 5, "top1": 4,
              "agreement": 4, "max_abs": 4, "others_cpu": 0}
    out = []
    for r in table_order(report):
        v = row_values(r)
        out.append([_f(v[k], digits.get(k, 3)) for k, _ in COLUMNS])
    return out


def headers() -> list[str]:
    return [h for _, h in COLUMNS]


def to_csv(report: BenchReport) -> str:
    """Raw values (full precision), one line per backend and batch size."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["backend", "status", "precision", "device", "threads", "batch", "p50_ms", "p90_ms",
                "p95_ms", "p99_ms", "mean_ms", "std_ms", "min_ms", "max_ms", "n", "images_per_s",
                "spread_pct", "top1", "top5", "agreement", "max_abs", "mean_abs", "cosine_mean",
                "rss_peak_mb", "reason"])
    for r in report.rows:
        d = r.drift or {}
        common_tail = [d.get("top1"), d.get("top5"), d.get("agreement"), d.get("max_abs"),
                       d.get("mean_abs"), d.get("cosine_mean"), (r.memory or {}).get("rss_peak_mb")]
        if not r.batches:
            w.writerow([r.spec, r.status, r.precision, r.device, r.threads] + [""] * 12
                       + common_tail + [r.reason or ""])
            continue
        for b in r.batches:
            s = b.latency
            w.writerow([r.spec, r.status, r.precision, r.device, r.threads, b.batch, s.p50, s.p90,
                        s.p95, s.p99, s.mean, s.std, s.min, s.max, s.n, b.throughput, b.spread_pct]
                       + common_tail + [r.reason or ""])
    return buf.getvalue()


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    esc = [[c.replace("|", "\\|") for c in row] for row in rows]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in esc]
    return "\n".join(lines)


def peer_lines(report: BenchReport) -> list[str]:
    pc = report.peer_comparison
    if not pc:
        return []
    out = []
    if "latency" in pc:
        lat = pc["latency"]
        out.append(f"batch-1 p50: {lat['backend']} {lat['ours_p50_ms']:.3f} ms vs {pc['peer']} "
                   f"{lat['peer_p50_ms']:.3f} ms -> ratio {lat['ratio']:.3f} (<= 1.0 means we are faster)")
    if "throughput" in pc:
        t = pc["throughput"]
        out.append(f"batch-{t['batch']} throughput: {t['backend']} {t['ours']:.1f} img/s vs {pc['peer']} "
                   f"{t['peer']:.1f} img/s -> ratio {t['ratio']:.3f} (>= 1.0 means we are faster)")
    same = pc.get("same_runtime") or {}
    for part in ("latency", "throughput"):
        if part in same and same[part].get("ratio") is not None:
            v = same[part]
            a, b = (v["ours_p50_ms"], v["peer_p50_ms"]) if part == "latency" else (v["ours"], v["peer"])
            unit = "ms p50" if part == "latency" else "img/s"
            out.append(f"same runtime, batch {v['batch']}: {same['backend']} {a:.3f} vs {pc['peer']} {b:.3f} "
                       f"{unit} -> ratio {v['ratio']:.3f}")
    if pc.get("paired"):
        out += paired_lines(pc["paired"])
    elif out:
        # ours and the peer compile to the same kernels on OpenVINO; one pass each is not a verdict
        out.append("these ratios are one timed pass each and move by several percent from run to run on a "
                   f"shared host; for a verdict: resnet-deploy bench {report.artifact} --paired-rounds 6")
    return out


def live_server_lines(report: BenchReport) -> list[str]:
    """One line per protocol: the live max rate within the bound beside the simulation's prediction."""
    live = report.live_server
    if not live:
        return []
    sim = live.get("simulated_max_rate_qps")
    sim_text = f"; the simulation predicted {sim:.1f} req/s" if sim else ""
    out = []
    for proto, best in (live.get("max_rate_qps") or {}).items():
        shown = "none of the offered rates" if best is None else f"{best:g} req/s"
        out.append(f"live Server scenario ({live['backend']}, {proto}): highest offered rate with p99 <= "
                   f"{live['bound_ms']:g} ms and no errors: {shown}{sim_text}")
    return out


def _live_server_md(report: BenchReport) -> list[str]:
    live = report.live_server
    if not live:
        return []
    rows = [[proto, _f(r["offered_rps"], 1), _f(r["achieved_rps"], 1), _f(r["p50_ms"]), _f(r["p90_ms"]),
             _f(r["p99_ms"]), str(r["errors"]), str(r["late_sends"])]
            for proto, curve in live.get("rates", {}).items() for r in curve]
    return (["## Server scenario, live (open-loop Poisson load on a real server)", "", live.get("method", ""), ""]
            + [f"- {t}" for t in live_server_lines(report)] + [""]
            + [_md_table(["protocol", "offered req/s", "achieved req/s", "p50 ms", "p90 ms", "p99 ms", "errors",
                          "late sends"], rows), ""])


def paired_lines(paired: dict[str, Any] | None) -> list[str]:
    """The head-to-head rounds (``bench.paired``): median ratio, its range, rounds won."""
    if not paired:
        return []
    out = []
    for key, what in (("latency", "batch-1 p50"), ("throughput", "throughput")):
        m = paired.get(key)
        if not m or m.get("ratio") is None:
            continue
        label = what if key == "latency" else f"batch-{m['batch']} {what}"
        out.append(f"head-to-head {label} ({m['backend']}, {m['rounds']} alternating rounds): median ratio "
                   f"{m['ratio']:.3f}, range {m['ratio_min']:.3f}-{m['ratio_max']:.3f}, "
                   f"we were faster in {m['rounds_won']} of {m['rounds']}")
    for m in (paired.get("same_runtime") or {}).values():
        if m.get("ratio") is not None:
            out.append(f"head-to-head same runtime, batch {m['batch']} ({m['backend']}, {m['rounds']} rounds): "
                       f"median ratio {m['ratio']:.3f}, range {m['ratio_min']:.3f}-{m['ratio_max']:.3f}, "
                       f"we were faster in {m['rounds_won']} of {m['rounds']}")
    return out


def to_markdown(report: BenchReport, plots: dict[str, str] | None = None) -> str:
    """A Markdown report: machine, table, batch sweep, scenarios, peer, selection, notes."""
    m = report.machine
    lines = [f"# Benchmark: {report.model.get('arch')} ({report.artifact})", "",
             f"- date: {report.created_at}; took {report.seconds:.1f} s",
             f"- machine: {m.get('cpu_model')} — {m.get('cores_usable')} usable cores, "
             f"flags: {', '.join(m.get('cpu_flags') or []) or 'none of note'}; GPUs: {', '.join(m.get('gpus') or []) or 'none'}",
             f"- threads: {report.config.get('threads')}; timing: {report.config.get('timing')}; "
             f"repeats: {report.config.get('repeats')}",
             f"- reference for drift: {report.reference}; eval data: {report.config.get('eval_data')} "
             f"({report.config.get('eval_mode')})",
             f"- command: `{' '.join(m.get('command') or [])}`", "",
             _md_table(headers(), table_rows(report)), ""]
    if noisy_rows(report):
        lines += [f"**Noisy rows** ({NOISY_WHY}; do not act on their figures): "
                  f"{', '.join(r.spec for r in noisy_rows(report))}", ""]
    if skipped_lines(report):
        lines += ["Skipped here:", ""] + [f"- {t}" for t in skipped_lines(report)] + [""]
    sweep = [r for r in report.rows if r.batches]
    if sweep:
        sizes = sorted({b.batch for r in sweep for b in r.batches})
        lines += ["## Throughput by batch size (images/s)", ""]
        rows = [[r.spec] + [_f(r.at(bs).throughput, 1) if r.at(bs) else "" for bs in sizes] for r in sweep]
        lines += [_md_table(["backend"] + [str(s) for s in sizes], rows), ""]
    scen = [r for r in report.rows if r.scenarios]
    if scen:
        lines += ["## Scenarios", "", "Server: " + _server_method(scen), ""]
        rows = []
        for r in scen:
            ss, off, sv = (r.scenarios.get(k) or {} for k in ("single-stream", "offline", "server"))
            rows.append([r.spec, _f(ss.get("p90_ms")), _f(off.get("throughput"), 1), _f(off.get("batch"), 0),
                         _f(sv.get("max_rate_qps"), 1), _f(sv.get("p99_at_max_ms")), sv.get("note", "")])
        lines += [_md_table(["backend", "SingleStream p90 ms", "Offline img/s", "@batch",
                             f"Server max qps (p99 <= {report.config.get('server_bound_ms')} ms)",
                             "p99 at max", "note"], rows), ""]
    lines += _live_server_md(report)
    if report.peer_comparison:
        lines += ["## Versus OpenVINO + NNCF INT8 (same run, same threads)", ""]
        lines += [f"- {t}" for t in peer_lines(report)] + [""]
    if report.harness:
        h = report.harness
        pct = h.get("overhead_pct")
        lines += [f"Harness overhead: {h['null_runner_ms']['mean'] * 1000:.2f} µs per call"
                  + (f" = {pct:.3f} % of the fastest batch-1 p50" if pct is not None else ""), ""]
    if report.selection:
        s = report.selection
        lines += ["## Selection", "", f"`{s['backend']}` ({s['strategy']}): {s['reason']}", ""]
    if report.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in report.notes] + [""]
    for name, path in (plots or {}).items():
        lines += [f"![{name}]({path})", ""]
    return "\n".join(lines)


def _server_method(rows: list[BackendRow]) -> str:
    for r in rows:
        if "server" in r.scenarios:
            return r.scenarios["server"].get("method", "")
    return "not run"


def rich_table(report: BenchReport) -> Any:
    """A rich Table for the terminal."""
    from rich.table import Table

    t = Table(title=f"{report.model.get('arch')} — threads {report.config.get('threads')}")
    for h in headers():
        t.add_column(h, overflow="fold", justify="left" if h in ("backend", "status", "note", "device") else "right")
    for r, cells in zip(table_order(report), table_rows(report), strict=True):
        style = None if r.ok and not (r.noise or {}).get("noisy") else "dim"
        t.add_row(*cells, style=style)
    return t
