"""Time one backend (or one side of a head-to-head round) in its own fresh process.

The parent of ``run_bench`` only orchestrates: it plans the rows, loads the eval
images once (saved to a ``.npy`` the children memory-map), quantises the NNCF
peer (saved as OpenVINO IR so a child can load it), and hands each timed unit
to ``bench.worker.in_fresh_process``. A child loads the manifest, builds just
its runner, runs the usual ``bench_runner`` (memory, sweep, noise, then the eval
outputs after timing) and returns the filled row. Rows record the child's pid
and which heavy runtimes it had loaded (``row.isolation``), so a report shows
that nothing else lived in the timed process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.bench.worker import WorkerCrashed, in_fresh_process


@dataclass(frozen=True)
class EvalRef:
    """Eval inputs saved once by the parent; children memory-map them instead of re-decoding."""

    path: str
    mode: str
    name: str

    def load(self) -> Any:
        from resnet_deploy.data.evalset import EvalSet

        x = np.load(self.path, mmap_mode="c")  # copy-on-write: writable, as torch.from_numpy wants
        return EvalSet(x=x, labels=None, name=self.name, mode=self.mode)


def save_eval(evalset: Any, folder: Path) -> EvalRef:
    path = folder / "eval_inputs.npy"
    np.save(path, np.ascontiguousarray(evalset.x))
    return EvalRef(path=str(path), mode=evalset.mode, name=evalset.name)


def save_peer(peer: Any, folder: Path) -> Any:
    """The peer's in-memory OpenVINO model as IR on disk, so a child process can compile it."""
    import openvino as ov

    from resnet_deploy.bench.peer import PeerModel

    xml = folder / "peer_int8.xml"
    ov.save_model(peer.model, str(xml), compress_to_fp16=False)
    return PeerModel(model=str(xml), info=peer.info)


def _make_factory(art: str, spec: str, threads: int | None, peer: Any) -> Any:
    """Child side: the runner maker for ``spec`` (or the peer), from the artifact on disk."""
    from resnet_deploy.artifact import load_manifest
    from resnet_deploy.runtime.resolve import candidates, make_runner, parse_spec

    manifest = load_manifest(art, verify=False)  # the parent verified every file
    if peer is not None:
        from resnet_deploy.bench.peer import PeerRunner

        return lambda: PeerRunner(art, manifest, peer, threads=threads)
    backend, _ = parse_spec(spec)
    cand = next(c for c in candidates(manifest, [spec]) if c.spec == spec or (c.backend == backend and ":" not in spec))
    return lambda: make_runner(art, manifest, cand, threads=threads)


def _time_row(art: str, row: Any, cfg: Any, shape: tuple[int, ...], eval_ref: EvalRef | None,
              peer: Any) -> tuple[Any, np.ndarray | None]:
    """Child side of ``time_row``."""
    from resnet_deploy.bench.run import bench_runner
    from resnet_deploy.reporter import NullReporter

    make = _make_factory(art, row.spec, row.threads, peer)
    evalset = eval_ref.load() if eval_ref is not None else None
    out = bench_runner(make, row, cfg, shape, evalset, NullReporter())
    return row, out


def time_row(art: Path, row: Any, cfg: Any, shape: tuple[int, ...], eval_ref: EvalRef | None = None,
             peer: Any = None) -> tuple[Any, np.ndarray | None]:
    """Fill ``row`` in a fresh process; returns the filled row (a new object) and the eval outputs."""
    try:
        res = in_fresh_process(_time_row, str(art), row, cfg, shape, eval_ref, peer)
    except WorkerCrashed as exc:
        row.status, row.reason = "failed", str(exc)
        return row, None
    new_row, out = res.value
    new_row.isolation = {"pid": res.pid, "runtimes_loaded": res.modules, "start_method": "spawn"}
    return new_row, out


def _measure_side(art: str, spec: str, threads: int | None, peer: Any, shape: Sequence[int],
                  batches: list[int], plan: Any) -> dict[int, float]:
    """Child side of one head-to-head measurement."""
    from resnet_deploy.bench.paired import measure

    return measure(_make_factory(art, spec, threads, peer)(), shape, batches, plan)


def measure_side(art: Path, spec: str, threads: int | None, shape: Sequence[int], batches: list[int],
                 plan: Any, peer: Any = None) -> dict[int, float]:
    """One side of one paired round, timed in a fresh process."""
    return in_fresh_process(_measure_side, str(art), spec, threads, peer, shape, batches, plan).value
