"""The benchmark suite's targets and summary (the script is ``benchmarks/suite.py``).

Targets, each PASS/FAIL (SKIP when the numbers needed were not measured):
  * main model (ResNet-50): best INT8 backend vs OpenVINO+NNCF INT8, batch-1 p50
    ratio <= 1.0 and batch-16 throughput ratio >= 1.0 (same run, same threads); the
    median of the head-to-head rounds (``bench.paired``) when they ran, else the table's
    single pass; the detail says when the rounds' range straddles 1.0 (a tie within noise);
  * main model: best INT8 batch-1 p50 at least 6x faster than PyTorch eager FP32;
  * harness overhead: the NullRunner's per-call time < 2 % of the small model's
    (ResNet-18) best INT8 batch-1 p50.

A target is never judged on a row that was timed while other processes used the
CPU (``row.noise``, ``bench.noise``): it reads NOISY and names the rows. The suite
re-times noisy rows first (``BenchConfig.retime``, ``bench.retime``) and only then gives up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from resnet_deploy.bench.report import BackendRow, BenchReport

LATENCY_RATIO_MAX = 1.0
THROUGHPUT_RATIO_MIN = 1.0
EAGER_SPEEDUP_MIN = 6.0
OVERHEAD_PCT_MAX = 2.0


@dataclass
class Target:
    """One suite target and whether this run met it."""

    name: str
    value: float | None
    bound: float
    op: str  # "<=", ">=", "<"
    status: str  # PASS | FAIL | SKIP
    detail: str = ""

    def line(self) -> str:
        shown = "n/a" if self.value is None else f"{self.value:.3f}"
        return f"{self.status:4}  {self.name}: {shown} (target {self.op} {self.bound:g}) {self.detail}".rstrip()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _judge(name: str, value: float | None, bound: float, op: str, detail: str,
           noisy: list[str] | None = None) -> Target:
    if noisy:
        return Target(name, value, bound, op, "NOISY",
                      f"not judged: {', '.join(noisy)} timed while other processes used the CPU {detail}".rstrip())
    if value is None:
        return Target(name, None, bound, op, "SKIP", detail or "not measured")
    ok = {"<=": value <= bound, ">=": value >= bound, "<": value < bound}[op]
    return Target(name, value, bound, op, "PASS" if ok else "FAIL", detail)


def best_int8(report: BenchReport) -> BackendRow | None:
    """Our fastest INT8 row at batch 1 (the peer excluded)."""
    rows = [r for r in report.ok_rows if not r.peer and r.precision == "int8" and r.p50_ms]
    return min(rows, key=lambda r: r.p50_ms) if rows else None  # type: ignore[arg-type,return-value]


def _peer_value(single: dict[str, Any] | None, paired: dict[str, Any] | None,
                scope_ok: bool) -> tuple[float | None, str]:
    """The ratio to judge (paired median, else the single pass) and what to add to the detail."""
    if not single or not scope_ok:
        return None, ""
    if not paired or paired.get("ratio") is None:
        return single["ratio"], " in one pass"
    lo, hi = paired["ratio_min"], paired["ratio_max"]
    tie = "; the range straddles 1.0: a tie within the noise" if lo <= 1.0 <= hi else ""
    return paired["ratio"], (f" in the table; head-to-head median of {paired['rounds']} alternating rounds, "
                             f"range {lo:.3f}-{hi:.3f}, faster in {paired['rounds_won']}{tie}")


def _noisy(report: BenchReport | None, *specs: str | None) -> list[str]:
    """Which of ``specs`` were timed while the machine was busy with other work."""
    if report is None:
        return []
    rows = [report.row(s) for s in specs if s]
    return [r.spec for r in rows if r is not None and (r.noise or {}).get("noisy")]


def check_targets(main: BenchReport | None, small: BenchReport | None) -> list[Target]:
    """Evaluate every target on the main (ResNet-50) and small (ResNet-18) reports."""
    out: list[Target] = []
    arch = main.model.get("arch") if main else "main model"
    pc = (main.peer_comparison or {}) if main else {}
    lat, tput = pc.get("latency"), pc.get("throughput")
    scope_ok = pc.get("scope") == "int8"
    paired = pc.get("paired") or {}
    value, detail = _peer_value(lat, paired.get("latency"), scope_ok)
    if lat:
        detail = f"({lat['backend']} {lat['ours_p50_ms']:.3f} ms vs {lat['peer_p50_ms']:.3f} ms{detail})"
    peer = pc.get("peer")
    out.append(_judge(f"{arch} best INT8 / OpenVINO+NNCF INT8, batch-1 p50 ratio", value,
                      LATENCY_RATIO_MAX, "<=", detail, _noisy(main, lat and lat["backend"], peer)))
    tb = tput["batch"] if tput else 16
    value, detail = _peer_value(tput, paired.get("throughput"), scope_ok)
    if tput:
        detail = f"({tput['backend']} {tput['ours']:.1f} vs {tput['peer']:.1f} img/s{detail})"
    out.append(_judge(f"{arch} best INT8 / OpenVINO+NNCF INT8, batch-{tb} throughput ratio", value,
                      THROUGHPUT_RATIO_MIN, ">=", detail, _noisy(main, tput and tput["backend"], peer)))
    speed, detail, noisy = None, "", []
    if main is not None:
        eager, fast = main.row("torch:fp32"), best_int8(main)
        if eager is not None and eager.p50_ms and fast is not None:
            speed = eager.p50_ms / fast.p50_ms  # type: ignore[operator]
            detail = f"({fast.spec} {fast.p50_ms:.3f} ms vs torch:fp32 {eager.p50_ms:.3f} ms)"
            noisy = _noisy(main, eager.spec, fast.spec)
    out.append(_judge(f"{arch} best INT8 speed-up over PyTorch eager FP32 (batch 1)", speed,
                      EAGER_SPEEDUP_MIN, ">=", detail, noisy))
    pct, detail, noisy = None, "", []
    if small is not None:
        fast = best_int8(small)
        null = (small.harness.get("null_runner_ms") or {}).get("mean")
        if fast is not None and null is not None:
            pct = 100.0 * null / fast.p50_ms  # type: ignore[operator]
            detail = f"({null * 1000:.2f} us per call vs {fast.spec} {fast.p50_ms:.3f} ms)"
            noisy = _noisy(small, fast.spec)
        arch_s = small.model.get("arch")
    else:
        arch_s = "small model"
    out.append(_judge(f"harness overhead vs {arch_s} INT8 batch-1 (%)", pct, OVERHEAD_PCT_MAX, "<", detail, noisy))
    return out


def spread_table(report: BenchReport) -> list[str]:
    """Markdown: p50 at batch 1 and best throughput with their min-max over repetitions."""
    lines = ["| backend | b1 p50 ms | p50 min–max over reps | best img/s | img/s min–max | spread % |",
             "|---|---|---|---|---|---|"]
    for r in report.ok_rows:
        b1, best = r.at(1), r.best
        if b1 is None or best is None:
            continue
        lines.append(
            f"| {r.spec} | {b1.latency.p50:.3f} | {min(b1.rep_p50):.3f}–{max(b1.rep_p50):.3f} | "
            f"{best.throughput:.1f} (b{best.batch}) | {min(best.rep_throughput):.1f}–{max(best.rep_throughput):.1f} | "
            f"{b1.spread_pct:.1f} |"
        )
    return lines


def summary_markdown(
    reports: dict[str, BenchReport], targets: list[Target], links: dict[str, str], header: dict[str, Any]
) -> str:
    """The suite's one-page summary: targets first, then each model's table with the spread."""
    from resnet_deploy.bench.render import headers, peer_lines, skipped_lines, table_rows

    lines = [f"# resnet-deploy benchmark suite — {header.get('date')} on {header.get('host')}", ""]
    lines += [f"- {k}: {v}" for k, v in header.items() if k not in ("date", "host")] + [""]
    lines += ["## Targets", "", "```"] + [t.line() for t in targets] + ["```", ""]
    for arch, rep in reports.items():
        m = rep.machine
        lines += [f"## {arch}", "",
                  f"{m.get('cpu_model')}, {rep.config.get('threads')} threads, {rep.config.get('timing')}, "
                  f"{rep.config.get('repeats')} repetition(s). Full report: [{links.get(arch, '')}]({links.get(arch, '')})",
                  ""]
        head = headers()
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join("---" for _ in head) + "|")
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table_rows(rep)]
        lines += [""] + [f"- skipped: {t}" for t in skipped_lines(rep)]
        lines += ["", "Spread over repetitions:", ""] + spread_table(rep) + [""]
        lines += [f"- {t}" for t in peer_lines(rep)] + [""]
        lines += [f"- note: {n}" for n in rep.notes]
        lines.append("")
    return "\n".join(lines)
