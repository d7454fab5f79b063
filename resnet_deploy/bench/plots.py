"""PNG plots of a BenchReport (matplotlib, Agg canvas, no pyplot global state).

* latency: distribution of batch-1 latencies per backend (box plot, log scale);
* throughput: images/s vs batch size per backend;
* pareto: accuracy (top-1, or agreement with the reference without labels) vs
  batch-1 p50 latency, with the Pareto front (faster AND at least as accurate).
"""

from __future__ import annotations

import io

from resnet_deploy.bench.report import BackendRow, BenchReport


def _figure(width: float = 8.0, height: float = 4.5):  # -> (Figure, Axes)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _horizontal() -> dict[str, object]:
    """matplotlib >= 3.10 spells a horizontal box plot ``orientation=``; older ones ``vert=False``."""
    import matplotlib

    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def latency_plot(rows: list[BackendRow]) -> bytes | None:
    have = [r for r in rows if r.samples_ms]
    if not have:
        return None
    fig, ax = _figure(8.0, 0.5 + 0.45 * len(have) + 1.5)
    ax.boxplot([r.samples_ms for r in have], whis=(1, 99), showfliers=False, **_horizontal())
    ax.set_yticks(range(1, len(have) + 1), [r.spec for r in have])
    ax.set_xscale("log")
    ax.set_xlabel("batch-1 latency (ms, log scale; whiskers p1-p99)")
    ax.set_title("Latency distribution")
    ax.grid(True, axis="x", alpha=0.3)
    return _png(fig)


def throughput_plot(rows: list[BackendRow]) -> bytes | None:
    have = [r for r in rows if len(r.batches) >= 1]
    if not have:
        return None
    fig, ax = _figure()
    for r in have:
        xs = [b.batch for b in r.batches]
        ys = [b.throughput for b in r.batches]
        ax.plot(xs, ys, marker="o", linestyle="--" if r.peer else "-", label=r.spec)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size")
    ax.set_ylabel("images/s")
    ax.set_title("Throughput vs batch size")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _png(fig)


def pareto_points(rows: list[BackendRow]) -> tuple[str, list[tuple[str, float, float]]]:
    """(accuracy metric name, [(spec, p50 ms, accuracy)]) for rows with both numbers."""
    labelled = any(r.drift and r.drift.get("top1") is not None for r in rows)
    key = "top1" if labelled else "agreement"
    pts = [(r.spec, r.p50_ms, r.drift[key]) for r in rows
           if r.ok and r.drift and r.drift.get(key) is not None and r.p50_ms is not None]
    return key, pts  # type: ignore[return-value]


def pareto_front(points: list[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """Points no other point beats on both latency (lower) and accuracy (higher)."""
    front, best = [], -1.0
    for p in sorted(points, key=lambda p: (p[1], -p[2])):
        if p[2] > best:
            front.append(p)
            best = p[2]
    return front


def pareto_plot(rows: list[BackendRow]) -> bytes | None:
    key, pts = pareto_points(rows)
    if not pts:
        return None
    fig, ax = _figure()
    markers = "osD^vP*Xh<>"
    for i, (spec, x, y) in enumerate(pts):
        ax.scatter([x], [y * 100], marker=markers[i % len(markers)], s=50, label=spec)
    front = pareto_front(pts)
    ax.plot([p[1] for p in front], [p[2] * 100 for p in front], color="grey", linestyle=":", label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("batch-1 p50 latency (ms, log scale)")
    ax.set_ylabel("top-1 (%)" if key == "top1" else "top-1 agreement with reference (%)")
    ax.set_title("Accuracy vs latency")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


def make_plots(report: BenchReport) -> dict[str, bytes]:
    """name -> PNG bytes for every plot that has data."""
    out = {}
    for name, fn in (("latency", latency_plot), ("throughput", throughput_plot), ("pareto", pareto_plot)):
        data = fn(report.rows)
        if data:
            out[name] = data
    return out
