"""Head-to-head rounds against the peer: our best INT8 backend and NNCF, timed alternately.

The table times each backend once, one after the other, so on a shared or
thermally drifting machine the peer (timed last) can meet a faster or slower
machine than we did; a few percent of drift then decides a "ratio <= 1" target.
Here the two runners take turns in rounds (ours, peer, then peer, ours, ...),
each round activating a runner, warming it up, timing it and releasing it, so
no idle runner's threads compete with the timed one. Every round yields one
ratio; the median over rounds is the figure, and the min-max and the count of
rounds we won show whether it is a win, a loss or a tie within the noise.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from resnet_deploy.bench.timing import TimingPlan, make_input, time_calls
from resnet_deploy.runtime.base import Runner


@dataclass
class PairedMetric:
    """One metric over rounds; ``ratio`` = ours / peer, better_when says which side wins."""

    name: str  # "p50_ms" (batch 1) or "throughput" (images/s)
    batch: int
    better_when: str  # "lower" or "higher": for the ratio
    ours: list[float] = field(default_factory=list)
    peer: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.ours, self.peer, strict=True) if b > 0]

    def summary(self) -> dict[str, Any]:
        r = self.ratios
        won = sum(1 for v in r if (v < 1.0 if self.better_when == "lower" else v > 1.0))
        return dict(asdict(self), rounds=len(r), ratio=statistics.median(r) if r else None,
                    ratio_min=min(r, default=None), ratio_max=max(r, default=None), rounds_won=won)


def measure(runner: Runner, shape: Sequence[int], batches: Sequence[int], plan: TimingPlan) -> dict[int, float]:
    """Activate, time every batch size, release: batch 1 -> p50 ms, larger -> images/s."""
    out: dict[int, float] = {}
    runner.activate()
    try:
        for bs in batches:
            ms = time_calls(runner, make_input(shape, bs), plan) / 1e6
            out[bs] = float(np.median(ms)) if bs == 1 else float(bs * 1000.0 / np.mean(ms))
    finally:
        runner.deactivate()
    return out


Measure = Callable[[list[int]], dict[int, float]]  # batches -> batch 1: p50 ms, larger: images/s


def paired_rounds(
    measure_ours: Measure,
    measure_peer: Measure,
    batches: Sequence[int],
    rounds: int,
    on_round: Callable[[], None] | None = None,
    before_side: Callable[[], None] | None = None,
) -> dict[str, PairedMetric]:
    """Alternate ours and the peer for ``rounds`` rounds at ``batches`` (1 = latency, else throughput).

    ``before_side`` runs before each side of each round (``retime.settle_side``: wait for a host
    that flips in and out of its slow state every few seconds to be fast, so both sides meet it so).

    Each ``measure_*`` call activates, times and releases one runner; ``run_bench``
    passes ones that do it in a fresh process each time (``bench.isolated``).
    """
    metrics = {bs: PairedMetric("p50_ms" if bs == 1 else "throughput", bs, "lower" if bs == 1 else "higher")
               for bs in sorted(set(int(b) for b in batches))}
    for i in range(rounds):
        order = [("ours", measure_ours), ("peer", measure_peer)]
        if i % 2:
            order.reverse()
        got = {}
        for side, fn in order:
            if before_side is not None:
                before_side()
            got[side] = fn(list(metrics))
        for bs, metric in metrics.items():
            metric.ours.append(got["ours"][bs])
            metric.peer.append(got["peer"][bs])
        if on_round is not None:
            on_round()
    return {("latency" if bs == 1 else "throughput"): m for bs, m in metrics.items()}


def paired_vs_peer(
    comparison: dict[str, Any],
    measures: dict[str, Measure],
    measure_peer: Measure,
    plan: TimingPlan,
    rounds: int,
    on_round: Callable[[], None] | None = None,
    before_side: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Head-to-head rounds for the backends ``comparison`` (``peer_comparison``) named as our best.

    The best batch-1 backend and the best throughput backend may differ; each is
    paired with the peer at its own batch size. ``measures`` maps spec -> measure function.
    """
    jobs: dict[str, list[int]] = {}
    for key in ("latency", "throughput"):
        part = comparison.get(key)
        if part and part.get("backend") in measures:
            jobs.setdefault(part["backend"], []).append(int(part["batch"]))
    out: dict[str, Any] = {"rounds": rounds, "timing": plan.describe(),
                           "order": "alternating: ours first in odd rounds, the peer first in even ones"}
    for spec, batches in jobs.items():
        for key, metric in paired_rounds(measures[spec], measure_peer, batches, rounds, on_round, before_side).items():
            out[key] = dict(metric.summary(), backend=spec)
    same = _same_runtime_job(comparison, measures, jobs)
    if same is not None:  # our OpenVINO form vs the peer on one runtime, when it is not the headline row
        spec, batches = same
        metrics = paired_rounds(measures[spec], measure_peer, batches, rounds, on_round, before_side)
        out["same_runtime"] = {key: dict(m.summary(), backend=spec) for key, m in metrics.items()}
    return out


def _same_runtime_job(comparison: dict[str, Any], measures: dict[str, Measure],
                      jobs: dict[str, list[int]]) -> tuple[str, list[int]] | None:
    """(spec, batches) of ``comparison["same_runtime"]`` when it needs rounds of its own."""
    same = comparison.get("same_runtime") or {}
    spec = same.get("backend")
    if spec is None or spec not in measures or spec in jobs:
        return None
    batches = [int(same[k]["batch"]) for k in ("latency", "throughput") if k in same]
    return (spec, batches) if batches else None


def jobs_count(comparison: dict[str, Any]) -> int:
    """How many runner pairings ``paired_vs_peer`` will do (for a progress total)."""
    heads = {(comparison.get(k) or {}).get("backend") for k in ("latency", "throughput")} - {None}
    same = (comparison.get("same_runtime") or {}).get("backend")
    return len(heads) + int(same is not None and same not in heads)
