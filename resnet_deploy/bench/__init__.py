"""Benchmarks: latency/throughput harness, MLPerf-style scenarios, drift, peer, reports.

``run_bench(artifact_dir, BenchConfig(...)) -> BenchReport`` is the entry point;
``compare_backends`` gives the drift between two backend specs. Names are
resolved lazily so importing the package stays cheap.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "BenchConfig": "resnet_deploy.bench.config",
    "BenchReport": "resnet_deploy.bench.report",
    "BackendRow": "resnet_deploy.bench.report",
    "load_report": "resnet_deploy.bench.report",
    "run_bench": "resnet_deploy.bench.run",
    "compare_backends": "resnet_deploy.bench.compare",
    "select_backend": "resnet_deploy.bench.select",
    "record_auto_selection": "resnet_deploy.bench.autoselect",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'resnet_deploy.bench' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
