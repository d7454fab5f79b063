"""The timed units of ``benchmarks/end_to_end.py``; each one runs alone in a fresh spawned process.

The parent (the script) only plans and renders. Every function here is what one
child does (``bench.worker.in_fresh_process``): one side of an inference-only
round, the NNCF peer's quantisation, ``Predictor.predict`` on JPEG bytes, the
baseline an OpenVINO+NNCF user would write, or ``serve`` under HTTP load. Each
timed window is wrapped in ``NoiseProbe`` so every figure carries what other
processes used meanwhile; where the timed work spans processes we started (the
server under load), their CPU is counted as ours, not as noise.
"""

from __future__ import annotations

import dataclasses
import io
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from resnet_deploy.bench.noise import Noise, NoiseProbe
from resnet_deploy.bench.stats import LatencyStats
from resnet_deploy.bench.timing import TimingPlan, make_input, time_calls

TOP_K = 5


def noise_records(obj: Any) -> list[dict[str, Any]]:
    """Every noise record (a ``Noise.to_dict``) inside a unit's result or the whole results tree."""
    if isinstance(obj, dict):
        if "others_cores" in obj and "threshold_cores" in obj:
            return [obj]
        return [n for v in obj.values() for n in noise_records(v)]
    if isinstance(obj, (list, tuple)):
        return [n for v in obj for n in noise_records(v)]
    return []


class Isolation:
    """Which processes ran each unit and what heavy runtimes they held (grouped by unit)."""

    def __init__(self) -> None:
        self.units: dict[str, dict[str, Any]] = {}

    def run(self, unit: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` alone in a fresh process, the host probe timed around it by this parent.

        The probe goes into every noise record of the result, so ``hostprobe.mark`` can
        later tell a figure timed while the host was slow (see ``bench.hostprobe``).
        """
        from resnet_deploy.bench.hostprobe import probed, record
        from resnet_deploy.bench.worker import in_fresh_process

        res, probe = probed(lambda: in_fresh_process(fn, *args))
        for n in noise_records(res.value):
            record(n, probe)
        return self.add(unit, res)

    def add(self, unit: str, res: Any) -> Any:
        u = self.units.setdefault(unit, {"unit": unit, "pids": [], "runtimes_loaded": []})
        u["pids"].append(res.pid)
        u["runtimes_loaded"] = sorted(set(u["runtimes_loaded"]) | set(res.modules))
        return res.value

    def to_list(self) -> list[dict[str, Any]]:
        return list(self.units.values())


def guarded(what: str, fn: Callable[[], dict[str, Any]], notes: list[str]) -> dict[str, Any]:
    """A part that fails is recorded (its targets read SKIP with the reason); the others still run."""
    try:
        return fn()
    except Exception as exc:  # a crashed runtime or server must not lose the other figures
        line = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:300]}"
        notes.append(f"{what} failed: {line}")
        return {"error": line}


def openvino_int8_spec(manifest: Any) -> str | None:
    """Our best OpenVINO INT8 file that takes float NCHW input, in the runner's own preference order.

    Whatever per-runtime key the artifact carries (``int8-openvino``, ``int8-cpu``...) wins in the
    order ``OpenVINORunner.preferred_keys`` gives; raw-pixel variants (``*-raw``) take other input.
    """
    from resnet_deploy.runtime.resolve import candidates

    for c in candidates(manifest, ["openvino"]):
        if c.runnable and c.entry is not None and c.entry.precision == "int8" and not c.spec.endswith("-raw"):
            return c.spec
    return None


def peer_ir(art: str, folder: str) -> Any:
    """Child: NNCF-quantise the artifact's FP32 ONNX on our calibration data, saved as IR in ``folder``."""
    from resnet_deploy.artifact import load_manifest
    from resnet_deploy.bench.isolated import save_peer
    from resnet_deploy.bench.peer import quantize_peer

    manifest = load_manifest(art, verify=False)
    return save_peer(quantize_peer(art, manifest), Path(folder))


def infer_side(art: str, spec: str | None, peer: Any, threads: int, batches: Sequence[int],
               plan: TimingPlan) -> dict[int, tuple[float, dict[str, Any]]]:
    """Child: one side of one inference-only round. Batch 1 -> p50 ms, larger -> images/s, each with its noise."""
    from resnet_deploy.artifact import load_manifest

    manifest = load_manifest(art, verify=False)
    if peer is not None:
        from resnet_deploy.bench.peer import PeerRunner

        runner: Any = PeerRunner(art, manifest, peer, threads=threads)
    else:
        from resnet_deploy.runtime.resolve import make_runner, resolve

        runner = make_runner(art, manifest, resolve(manifest, str(spec)), threads=threads)
    shape = tuple(int(v) for v in manifest.input.shape[1:])
    out: dict[int, tuple[float, dict[str, Any]]] = {}
    runner.activate()
    try:
        for bs in batches:
            x = make_input(shape, bs)
            with NoiseProbe() as probe:
                ms = time_calls(runner, x, plan) / 1e6
            value = float(np.median(ms)) if bs == 1 else float(bs * 1000.0 / np.mean(ms))
            out[bs] = (value, probe.result.to_dict() if probe.result else {})
    finally:
        runner.deactivate()
    return out


def read_images(paths: Sequence[str]) -> list[bytes]:
    """The encoded files, read before timing: the figure is JPEG bytes -> top-5, not disk reads."""
    return [Path(p).read_bytes() for p in paths]


def _chunks(items: list[bytes], batch: int) -> Callable[[], list[bytes]]:
    """Endless chunks of ``batch`` items, cycling through ``items`` so every image is used as often."""
    state = {"i": 0}

    def nxt() -> list[bytes]:
        i, n = state["i"], len(items)
        state["i"] = (i + batch) % n
        return [items[(i + k) % n] for k in range(batch)]

    return nxt


def timed_window(call: Callable[[list[bytes]], Any], images: list[bytes], batch: int, seconds: float,
                 min_calls: int = 3) -> dict[str, Any]:
    """One warm-up pass over the set, then calls of ``batch`` images for ``seconds``; stats + noise."""
    nxt = _chunks(images, batch)
    for _ in range(max(1, -(-len(images) // batch))):
        call(nxt())
    samples: list[int] = []
    clock = time.perf_counter_ns
    with NoiseProbe() as probe:
        deadline = clock() + int(seconds * 1e9)
        while len(samples) < min_calls or clock() < deadline:
            chunk = nxt()
            t0 = clock()
            call(chunk)
            samples.append(clock() - t0)
    stats = LatencyStats.from_ns(samples)
    return {"batch": batch, "calls": len(samples), "images_per_s": batch * 1000.0 / stats.mean,
            "p50_ms": stats.p50, "p90_ms": stats.p90, "mean_ms": stats.mean,
            "noise": probe.result.to_dict() if probe.result else {}}


def e2e_windows(call: Callable[[list[bytes]], Any], images: list[bytes], batch: int,
                seconds: float) -> dict[str, Any]:
    """Throughput at ``batch`` and latency at batch 1, each in its own timed window."""
    return {"throughput": timed_window(call, images, batch, seconds),
            "latency": timed_window(call, images, 1, seconds)}


def predictor_side(art: str, backend: str, threads: int, paths: Sequence[str], batch: int,
                   seconds: float) -> dict[str, Any]:
    """Child: ``Predictor.predict`` on JPEG bytes -> top-5, as a user of resnet-deploy calls it."""
    from resnet_deploy.runtime.predictor import load

    images = read_images(paths)
    with load(art, backend=backend, threads=threads) as predictor:
        out = e2e_windows(lambda chunk: predictor.predict(chunk, top_k=TOP_K), images, batch, seconds)
        out.update(backend=predictor.backend, model_file=predictor.model_file)
        # the stages predict runs (draft decode, the raw-pixel twin when there is one), here one after the other
        raw = predictor.raw_runner is not None
        convert = predictor.item_converter(raw)
        out["profile"] = stage_profile(lambda chunk: np.concatenate([convert(c) for c in chunk]),
                                       predictor.infer_pixels if raw else predictor.infer, images, batch)
    return out


def stage_profile(preprocess: Callable[[list[bytes]], np.ndarray], infer: Callable[[np.ndarray], Any],
                  images: list[bytes], batch: int) -> dict[str, Any]:
    """After the timed windows: one pass split into decode+preprocess (serial) and inference on the ready
    batch, so a missed end-to-end target shows which stage holds it. Not used for any figure."""
    nxt, chunks = _chunks(images, batch), max(1, -(-len(images) // batch))
    pre_ns = inf_ns = 0
    try:
        for _ in range(chunks):
            t0 = time.perf_counter_ns()
            x = preprocess(nxt())
            t1 = time.perf_counter_ns()
            infer(x)
            pre_ns, inf_ns = pre_ns + t1 - t0, inf_ns + time.perf_counter_ns() - t1
    except Exception as exc:  # a profile that cannot run must not cost the figures
        return {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    return {"batch": batch, "chunks": chunks, "decode_preprocess_ms_per_image": pre_ns / 1e6 / (chunks * batch),
            "infer_ms_per_batch": inf_ns / 1e6 / chunks}


class UserBaseline:
    """What a user of OpenVINO+NNCF writes: PIL + numpy preprocessing, the compiled NNCF model, one thread.

    Deliberately not resnet-deploy's preprocessing: decode with PIL, resize the shorter
    side (bilinear), centre crop, scale, normalise, transpose, stack, infer, softmax, top-5.
    """

    def __init__(self, xml: str, resize: int, crop: int, mean: Sequence[float], std: Sequence[float],
                 threads: int) -> None:
        import openvino as ov

        from resnet_deploy.runtime.openvino import cpu_compile_config

        core = ov.Core()
        model = core.read_model(xml)
        port = model.inputs[0]
        if port.get_partial_shape()[0].is_static:  # a fixed batch in the file: make it dynamic
            model.reshape({port.get_any_name(): ov.PartialShape([-1, 3, crop, crop])})
        self.request = core.compile_model(model, "CPU", cpu_compile_config(threads)).create_infer_request()
        self.resize, self.crop = resize, crop
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)

    def preprocess(self, data: bytes) -> np.ndarray:
        from PIL import Image

        img = Image.open(io.BytesIO(data)).convert("RGB")
        w, h = img.size
        s = self.resize / min(w, h)
        nw, nh = max(self.resize, round(w * s)), max(self.resize, round(h * s))
        img = img.resize((nw, nh), Image.BILINEAR)
        left, top = (nw - self.crop) // 2, (nh - self.crop) // 2
        img = img.crop((left, top, left + self.crop, top + self.crop))
        x = (np.asarray(img, np.float32) / 255.0 - self.mean) / self.std
        return x.transpose(2, 0, 1)

    def batch(self, chunk: list[bytes]) -> np.ndarray:
        return np.ascontiguousarray(np.stack([self.preprocess(b) for b in chunk]))

    def infer(self, x: np.ndarray) -> np.ndarray:
        self.request.infer({0: x})
        return self.request.get_output_tensor(0).data

    def __call__(self, chunk: list[bytes]) -> list[list[int]]:
        logits = self.infer(self.batch(chunk))
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
        return np.argsort(-probs, axis=1)[:, :TOP_K].tolist()


def baseline_side(xml: str, pre: dict[str, Any], threads: int, paths: Sequence[str], batch: int,
                  seconds: float) -> dict[str, Any]:
    """Child: the OpenVINO+NNCF user's pipeline, timed like ``predictor_side``."""
    images = read_images(paths)
    user = UserBaseline(xml, int(pre["resize"]), int(pre["crop"]), pre["mean"], pre["std"], threads)
    out = e2e_windows(user, images, batch, seconds)
    out["profile"] = stage_profile(user.batch, user.infer, images, batch)
    return out


def discounted(noise: Noise, cores: float) -> Noise:
    """``noise`` with ``cores`` of the others' use moved to ours (processes that do the timed work)."""
    if noise.others_cores is None:
        return noise
    others = max(0.0, noise.others_cores - cores)
    return dataclasses.replace(noise, others_cores=round(others, 3), self_cores=round(noise.self_cores + cores, 3),
                               noisy=others > noise.threshold_cores)


def descendants_cpu_s() -> float:
    """CPU seconds used so far by this process's live descendants (the server and its Triton)."""
    import psutil

    total = 0.0
    for p in psutil.Process().children(recursive=True):
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


def serve_side(art: str, backend: str, paths: Sequence[str], clients: int, requests_per_client: int,
               max_batch: int) -> dict[str, Any]:
    """Child: ``serve``'s image model on loopback (its own process), ``clients`` HTTP clients sending JPEGs."""
    from resnet_deploy.bench.live_server import serve_process
    from resnet_deploy.serve.loadgen import RequestInput, run_load

    images = read_images(paths)
    with serve_process(Path(art), backend, max_batch) as info:
        model = next(m for m in info["models"] if m.endswith("_image"))
        name = info["inputs"][model]
        variants = [[RequestInput(name, np.array([[b]], dtype=object), "BYTES")] for b in images]
        address = info["http"].split("://", 1)[1]
        cpu0 = descendants_cpu_s()
        with NoiseProbe() as probe:
            res = run_load(address, model, variants[0], protocol="http", clients=clients,
                           requests_per_client=requests_per_client, outputs=["topk_indices"], cycle=variants,
                           check=lambda r: r.as_numpy("topk_indices") is not None)
        server_cores = (descendants_cpu_s() - cpu0) / max(probe.result.window_s if probe.result else 1.0, 1e-9)
    noise = discounted(probe.result, server_cores) if probe.result else None
    d = res.to_dict()
    batches = (info.get("stopped") or {}).get("image_batches") or {}
    return {"images_per_s": d["throughput_items_s"], "p50_ms": d["p50_ms"], "p99_ms": d["p99_ms"],
            "requests": d["requests"], "errors": d["errors"], "first_error": d["first_error"],
            "clients": clients, "backend": info.get("backend", backend), "server_cores": round(server_cores, 3),
            "batches": batches,
            "noise": noise.to_dict() if noise else {}, "client_pid": os.getpid()}
