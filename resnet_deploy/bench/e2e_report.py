"""Targets and the Markdown of ``benchmarks/end_to_end.py`` (issue 15, point 5), from its JSON.

The JSON the script gathers is the record; everything here is a rendering of it.
A figure whose timing windows saw other processes use more than
``noise.NOISY_CORES`` of a core, or that was timed while the host itself was slow
(the parent's cross-core probe, ``bench.hostprobe``), is shown with its value but
NOISY instead of PASS/FAIL (with what it would have read and why), as ``bench`` does.
"""

from __future__ import annotations

import math
from typing import Any

from resnet_deploy.bench.machine import cpu_flags
from resnet_deploy.bench.suite import Target

ROUNDS_WON_SHARE = 5 / 6  # win at least 5 of 6 rounds (scaled to the rounds run)
LATENCY_RATIO_MAX = 0.97  # ours / peer batch-1 p50
THROUGHPUT_RATIO_MIN = 1.03  # ours / peer batch-16 images/s
E2E_THROUGHPUT_MIN = 2.0  # Predictor.predict images/s vs the baseline's
E2E_LATENCY_MAX = 0.6  # Predictor.predict batch-1 p50 vs the baseline's
SERVE_SHARE_MIN = 0.8  # serve over HTTP vs Predictor.predict images/s
CEILING_SHARE_MIN = 0.90  # INT8 floor latency / our batch-1 p50


def host_class() -> str:
    """The INT8 class of this CPU, from its flags (the issue asks for it beside the ceiling)."""
    flags = cpu_flags()
    classes = (("amx_int8", "AMX"), ("avx512_vnni", "AVX-512 VNNI"), ("avx_vnni", "AVX-VNNI"),
               ("avx2", "AVX2 without VNNI"), ("asimddp", "Arm dot-product"))
    return next((f"host class {name}" for flag, name in classes if flag in flags), "host class: no INT8 SIMD flags")


def _ok(value: float, bound: float, op: str) -> bool:
    return value <= bound if op == "<=" else value >= bound


def judge(name: str, value: float | None, bound: float, op: str, detail: str, noisy: bool | str,
          extra_ok: bool = True) -> Target:
    """PASS/FAIL on ``value op bound`` (and ``extra_ok``); NOISY when a window was busy or the host slow
    (``noisy`` True, or the reason as text); SKIP without a value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Target(name, None, bound, op, "SKIP", detail or "not measured")
    ok = _ok(value, bound, op) and extra_ok
    if noisy:
        why = noisy if isinstance(noisy, str) else "other processes used the CPU"
        return Target(name, value, bound, op, "NOISY", f"{detail}; not judged (would {'pass' if ok else 'fail'}): {why}")
    return Target(name, value, bound, op, "PASS" if ok else "FAIL", detail)


def worst_noise(noises: list[dict[str, Any]]) -> tuple[float | None, str]:
    """The largest others' CPU use (cores) over windows, and why the first noisy window was ('' if none)."""
    from resnet_deploy.bench.hostprobe import describe

    vals = [n["others_cores"] for n in noises if n and n.get("others_cores") is not None]
    why = next((describe(n) for n in noises if n and n.get("noisy")), "")
    return (max(vals) if vals else None), why


def inference_targets(results: dict[str, Any]) -> list[Target]:
    out = []
    for arch, part in (results.get("inference") or {}).items():
        batch = part.get("batch") or results.get("config", {}).get("batch")
        for key, bound, op, what in (("latency", LATENCY_RATIO_MAX, "<=", "batch-1 p50"),
                                     ("throughput", THROUGHPUT_RATIO_MIN, ">=", f"batch-{batch} images/s")):
            m = part.get(key)
            name = f"{arch} INT8 {what}, {part.get('ours_spec')} / OpenVINO+NNCF"
            if not m:
                out.append(judge(name, None, bound, op, part.get("error", ""), False))
                continue
            need = math.ceil(m["rounds"] * ROUNDS_WON_SHARE - 1e-9)
            detail = (f"median of {m['rounds']} rounds, range {m['ratio_min']:.3f}-{m['ratio_max']:.3f}, "
                      f"won {m['rounds_won']} of {m['rounds']} (need {need})")
            out.append(judge(name, m["ratio"], bound, op, detail, worst_noise(m["noise"])[1],
                             extra_ok=m["rounds_won"] >= need))
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


NOT_RUN = {"error": "not run (not in --parts)"}


def _part(results: dict[str, Any], key: str) -> dict[str, Any]:
    return results[key] or {} if key in results else NOT_RUN


def e2e_targets(results: dict[str, Any]) -> list[Target]:
    e2e = _part(results, "e2e")
    ours, base = e2e.get("ours") or {}, e2e.get("baseline") or {}
    arch = e2e.get("arch") or results.get("config", {}).get("main_model", "?")
    out = []
    for key, metric, bound, op, what in (("throughput", "images_per_s", E2E_THROUGHPUT_MIN, ">=",
                                          f"batch-{e2e.get('batch') or results.get('config', {}).get('batch')} images/s"),
                                         ("latency", "p50_ms", E2E_LATENCY_MAX, "<=", "batch-1 p50")):
        a, b = (ours.get(key) or {}), (base.get(key) or {})
        value = _ratio(a.get(metric), b.get(metric))
        detail = (f"ours {a.get(metric, float('nan')):.2f} vs baseline {b.get(metric, float('nan')):.2f} "
                  f"{'images/s' if metric == 'images_per_s' else 'ms'}") if value is not None \
            else e2e.get("error", "")
        noisy = worst_noise([a.get("noise") or {}, b.get("noise") or {}])[1]
        out.append(judge(f"{arch} INT8 JPEG->top-5 {what}, Predictor.predict / PIL+numpy+OpenVINO+NNCF",
                         value, bound, op, detail, noisy))
    serve = _part(results, "serve")
    ours_tp = (ours.get("throughput") or {}).get("images_per_s")
    value = _ratio(serve.get("images_per_s"), ours_tp)
    detail = (f"serve {serve['images_per_s']:.2f} images/s over HTTP, {serve['clients']} clients, "
              f"{serve['errors']} errors, vs Predictor.predict {ours_tp:.2f}{_batches_note(serve)}") \
        if value is not None else serve.get("error", "")
    noisy = worst_noise([serve.get("noise") or {}, (ours.get("throughput") or {}).get("noise") or {}])[1]
    out.append(judge(f"{arch} INT8 JPEG->top-5 via serve (HTTP) / Predictor.predict images/s", value,
                     SERVE_SHARE_MIN, ">=", detail, noisy, extra_ok=not serve.get("errors")))
    return out


def _batches_note(serve: dict[str, Any]) -> str:
    """What the server's image callable did (its stop line): where a serve shortfall sits."""
    b = serve.get("batches") or {}
    if not b.get("batches") or b.get("busy_share") is None:
        return ""
    return (f"; server: {b['batches']} batches of {b['mean_batch']:.2f} images on average, callable busy "
            f"{100 * b['busy_share']:.0f} % of the time, {b['mean_gap_ms']:.1f} ms between batches")


def ceiling_target(results: dict[str, Any]) -> Target:
    c = _part(results, "ceiling")
    share, detail = c.get("share"), c.get("error", "")
    arch = c.get("arch") or results.get("config", {}).get("main_model", "?")
    if share is not None:
        rounds = (f"median of {c['rounds']} rounds timing both ({c['share_min']:.3f}-{c['share_max']:.3f}, "
                  f"{c['rounds_at_target']} at or above {CEILING_SHARE_MIN:.2f}); " if c.get("rounds") else "")
        bound = (f"; the kernels' own bound (each conv class at its kind's best chain rate in the round, nothing "
                 f"else running) allows at most {c['max_share']:.3f} (best round {c['max_share_max']:.3f})"
                 if c.get("max_share") is not None else "")
        detail = (f"{rounds}floor {c['floor_ms']:.2f} ms ({c['gmacs']} GMACs at {c['rate_gmacs']:.0f} GMAC/s, best "
                  f"of {c['runtime']}) vs our p50 {c['p50_ms']:.2f} ms{bound}; {c.get('host_class', '')}")
    return judge(f"{arch} INT8 batch-1 share of the host's INT8 ceiling", share,
                 CEILING_SHARE_MIN, ">=", detail, worst_noise(c.get("noise") or [])[1])


def all_targets(results: dict[str, Any]) -> list[Target]:
    return [*inference_targets(results), *e2e_targets(results), ceiling_target(results)]


def _noise_cell(noises: list[dict[str, Any]]) -> str:
    worst, noisy = worst_noise(noises)
    if worst is None:
        return "n/a"
    return f"{worst:.2f}{' NOISY' if noisy else ''}"


def figure_noises(results: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The noise windows behind each target, in ``all_targets`` order."""
    out: list[list[dict[str, Any]]] = []
    for part in (results.get("inference") or {}).values():
        for key in ("latency", "throughput"):
            out.append(list((part.get(key) or {}).get("noise") or []))
    e2e = results.get("e2e") or {}
    for key in ("throughput", "latency"):
        out.append([((e2e.get(side) or {}).get(key) or {}).get("noise") or {} for side in ("ours", "baseline")])
    out.append([(results.get("serve") or {}).get("noise") or {},
                ((e2e.get("ours") or {}).get("throughput") or {}).get("noise") or {}])
    out.append(list((results.get("ceiling") or {}).get("noise") or []))
    return out


def profile_lines(e2e: dict[str, Any]) -> list[str]:
    """Where the end-to-end time goes per side (one untimed pass after the windows; ``stage_profile``)."""
    rows = []
    for side, name in (("ours", "Predictor.predict (its stages: draft decode, raw twin)"), ("baseline", "PIL+numpy+OpenVINO+NNCF")):
        d = e2e.get(side) or {}
        prof, tput = d.get("profile") or {}, d.get("throughput") or {}
        if "infer_ms_per_batch" not in prof or "mean_ms" not in tput:
            continue
        rows.append(f"| {name} | {tput['mean_ms']:.1f} | {prof['decode_preprocess_ms_per_image']:.2f} "
                    f"| {prof['infer_ms_per_batch']:.1f} |")
    if not rows:
        return []
    return ["", f"Where the end-to-end time goes (batch {e2e.get('batch')}; stages from one untimed pass after "
            "the timed windows, decode+preprocess serial):", "",
            "| side | per batch, timed (ms) | decode+preprocess per image (ms) | inference per batch (ms) |",
            "|---|---:|---:|---:|", *rows]


def render_markdown(results: dict[str, Any], targets: list[Target]) -> str:
    """The committed result page: host line, every figure with its target, verdict and noise."""
    cfg = results.get("config", {})
    lines = ["# End to end: resnet-deploy vs OpenVINO+NNCF (issue 15, point 5)", "",
             f"- host: {results.get('machine_line', '?')}",
             f"- command: `{results.get('command', '?')}`",
             f"- date: {results.get('date', '?')}; threads {cfg.get('threads')}; {cfg.get('rounds')} paired rounds "
             f"({cfg.get('timing')}); end-to-end windows {cfg.get('seconds')} s on {cfg.get('images')} JPEGs "
             f"({cfg.get('image_sizes', '?')})",
             "- every figure is timed alone in a fresh spawned process; 'others' = cores other processes used "
             "during its timing windows (worst window), NOISY above 0.10 or when the host was slow "
             "(cross-core probe before and after each process)", "",
             "| # | figure | measured | target | result | others (cores) | detail |",
             "|---:|---|---:|---|---|---:|---|"]
    for i, (t, noises) in enumerate(zip(targets, figure_noises(results), strict=False), 1):
        shown = "n/a" if t.value is None else f"{t.value:.3f}"
        lines.append(f"| {i} | {t.name} | {shown} | {t.op} {t.bound:g} | {t.status} | {_noise_cell(noises)} "
                     f"| {t.detail} |")
    lines += profile_lines(results.get("e2e") or {})
    lines += ["", "Where each side ran (every process spawned fresh for its unit):", ""]
    for unit in results.get("isolation", []):
        pids = unit["pids"]
        lines.append(f"- {unit['unit']}: {len(pids)} process{'es' if len(pids) > 1 else ''} "
                     f"(pid {', '.join(str(p) for p in pids)}), heavy runtimes loaded: "
                     f"{', '.join(unit['runtimes_loaded']) or 'none'}")
    notes = results.get("notes") or []
    if notes:
        lines += ["", "Notes:", "", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"
