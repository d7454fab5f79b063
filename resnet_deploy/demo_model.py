"""The built-in trained model: a ResNet trained once on the sample set, then cached.

The quickstart and the tests need a model whose accuracy means something (so
INT8 drift is measurable) without downloading weights. ``ensure_demo_model``
trains one with a fixed seed on the sample "train" split, measures top-1 on the
held-out "eval" split and caches checkpoint + meta under
``$RESNET_DEPLOY_CACHE`` (or ~/.cache/resnet-deploy). Concurrent callers wait
on a file lock instead of training twice; the cache is written to a temp dir
and renamed, and a checkpoint whose sha256 no longer matches is retrained.

Training is short by design (CPU, ~30 s for "tiny", ~2 min for "quickstart" on 2
cores): one-cycle AdamW, no extra augmentation (the set's own renderings vary
enough; measured as good and 3x cheaper). "tiny" starts at 24 px and ends at its
32 px input so BatchNorm statistics match; resnet18 lost accuracy that way, so
"quickstart" trains at 64 px throughout.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from resnet_deploy.artifact import Preprocessing, sha256_file
from resnet_deploy.atomic import staging_dir, write_text_atomic
from resnet_deploy.data.sample import SAMPLE_CLASSES
from resnet_deploy.data.sample import VERSION as DATA_VERSION
from resnet_deploy.errors import ResNetDeployError
from resnet_deploy.reporter import Reporter, as_reporter

log = logging.getLogger(__name__)

CACHE_VERSION = 1


@dataclass(frozen=True)
class Preset:
    """How one demo model is trained. ``schedule``: (image size, fraction of the train split) per epoch."""

    name: str
    arch: str
    input_size: int
    schedule: tuple[tuple[int, float], ...]
    batch_size: int = 64
    lr: float = 0.1
    weight_decay: float = 5e-4
    optimizer: str = "sgd"  # "sgd" (nesterov) or "adamw"
    augment: bool = True  # light random affine on top of the set's own variety
    seed: int = 0
    description: str = ""


PRESETS: dict[str, Preset] = {
    "quickstart": Preset(
        "quickstart", "resnet18", 64,
        schedule=((64, 1.0), (64, 1.0)),
        batch_size=64, lr=3e-3, weight_decay=0.05, optimizer="adamw", augment=False,
        description="ResNet-18 at 64 px (the quickstart's model)",
    ),
    "resnet50": Preset(
        "resnet50", "resnet50", 64,
        schedule=((64, 1.0), (64, 1.0)),
        batch_size=64, lr=3e-3, weight_decay=0.05, optimizer="adamw", augment=False,
        description="ResNet-50 at 64 px (the quickstart on the bottleneck family; ~3x the training time)",
    ),
    "tiny": Preset(
        "tiny", "resnet20", 32,
        schedule=((24, 1.0), (32, 0.5)),
        batch_size=32, lr=3e-3, weight_decay=0.05, optimizer="adamw", augment=False,
        description="CIFAR ResNet-20 at 32 px (fast, for tests)",
    ),
}


@dataclass
class DemoModel:
    """A trained, cached demo model and what the pipeline needs to know about it."""

    preset: str
    checkpoint: Path
    arch: str
    num_classes: int
    input_size: int
    preprocessing: Preprocessing
    labels: list[str]
    accuracy: float  # top-1 on the held-out sample "eval" split
    seed: int = 0
    train_seconds: float = 0.0
    sha256: str = ""
    cached: bool = False  # True when loaded from the cache, False when trained by this call
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return self.checkpoint.parent

    def export_config(self, out: str | os.PathLike[str], formats: Any = ("onnx",), **extra: Any) -> Any:
        """The ``ExportConfig`` that exports this model as trained: its weights, classes, input size,
        preprocessing and labels (``extra`` adds or overrides fields, e.g. ``force=True``)."""
        from resnet_deploy.export.config import ExportConfig

        fields: dict[str, Any] = dict(
            arch=self.arch, weights=self.checkpoint, num_classes=self.num_classes, input_size=self.input_size,
            preprocessing=self.preprocessing, labels=list(self.labels), formats=formats, out=Path(out),
        )
        return ExportConfig(**{**fields, **extra})

    def load_model(self) -> Any:
        """The network with these weights (strict load), in eval mode."""
        import torch

        from resnet_deploy.models import create_model

        model = create_model(self.arch, num_classes=self.num_classes)
        state = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
        return model.eval()


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where demo models live: ``cache_dir``, else $RESNET_DEPLOY_CACHE, else ~/.cache/resnet-deploy."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("RESNET_DEPLOY_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "resnet-deploy"


def _get_preset(preset: str) -> Preset:
    if preset not in PRESETS:
        raise ResNetDeployError(f"unknown demo-model preset '{preset}'; choose one of: {', '.join(PRESETS)}")
    return PRESETS[preset]


def ensure_demo_model(
    preset: str = "quickstart",
    cache_dir: str | os.PathLike[str] | None = None,
    reporter: Reporter | Callable[[str], None] | None = None,
    *,
    force: bool = False,
) -> DemoModel:
    """Return the cached demo model for ``preset``, training it first if needed (or ``force``)."""
    p = _get_preset(preset)
    root = cache_root(cache_dir)
    final = root / f"sample-{p.name}-v{CACHE_VERSION}"
    if not force and (found := _read_cache(final, p)) is not None:
        return found
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResNetDeployError(
            f"cannot create the cache directory '{root}' ({exc.strerror}); set RESNET_DEPLOY_CACHE or --cache-dir"
        ) from exc
    with _locked(root / f".{final.name}.lock"):
        # another process may have finished training while we waited for the lock
        if not force and (found := _read_cache(final, p)) is not None:
            return found
        with staging_dir(final, force=True) as tmp:  # a half-trained cache is never visible
            meta = _train_into(p, tmp, as_reporter(reporter))
    return _from_meta(final, meta, cached=False)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (fcntl) so concurrent callers train only once."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX: no locking
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _read_cache(d: Path, p: Preset) -> DemoModel | None:
    """The cached model if complete and intact, else None (and why, in the log)."""
    meta_path, ckpt = d / "meta.json", d / "checkpoint.pth"
    if not d.is_dir():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        ok = (
            meta.get("cache_version") == CACHE_VERSION
            and meta.get("data_version") == DATA_VERSION
            and meta.get("preset") == p.name
            and meta.get("arch") == p.arch
            and meta.get("recipe") == _recipe(p)
            and ckpt.is_file()
            and sha256_file(ckpt) == meta.get("sha256")
        )
        if ok:
            return _from_meta(d, meta, cached=True)
    except (OSError, ValueError, TypeError, KeyError):
        pass
    log.warning("demo model cache '%s' is stale (older recipe), incomplete or corrupt; retraining", d)
    return None


def _recipe(p: Preset) -> str:
    """The training recipe as a string: a cache trained with another recipe is stale."""
    return json.dumps({k: v for k, v in asdict(p).items() if k != "description"}, sort_keys=True)


def _from_meta(d: Path, meta: dict[str, Any], cached: bool) -> DemoModel:
    return DemoModel(
        preset=meta["preset"],
        checkpoint=d / "checkpoint.pth",
        arch=meta["arch"],
        num_classes=int(meta["num_classes"]),
        input_size=int(meta["input_size"]),
        preprocessing=Preprocessing(**meta["preprocessing"]),
        labels=list(meta["labels"]),
        accuracy=float(meta["accuracy"]),
        seed=int(meta["seed"]),
        train_seconds=float(meta["train_seconds"]),
        sha256=meta["sha256"],
        cached=cached,
        extra={k: meta[k] for k in ("eval_images", "train_images", "torch", "threads") if k in meta},
    )


def _train_into(p: Preset, d: Path, reporter: Reporter) -> dict[str, Any]:
    """Train, evaluate and write checkpoint.pth + meta.json into ``d``; return the meta."""
    import torch

    pre = Preprocessing.for_input_size(p.input_size)
    t0 = time.perf_counter()
    state, stats = train_demo_model(p, pre, reporter)
    seconds = time.perf_counter() - t0
    ckpt = d / "checkpoint.pth"
    torch.save(state, ckpt)
    meta = {
        "cache_version": CACHE_VERSION,
        "data_version": DATA_VERSION,
        "preset": p.name,
        "arch": p.arch,
        "num_classes": len(SAMPLE_CLASSES),
        "input_size": p.input_size,
        "preprocessing": asdict(pre),
        "labels": list(SAMPLE_CLASSES),
        "accuracy": stats["accuracy"],
        "eval_images": stats["eval_images"],
        "train_images": stats["train_images"],
        "seed": p.seed,
        "recipe": _recipe(p),
        "train_seconds": round(seconds, 2),
        "threads": stats["threads"],
        "torch": torch.__version__,
        "sha256": sha256_file(ckpt),
    }
    write_text_atomic(d / "meta.json", json.dumps(meta, indent=2) + "\n")
    return meta


def train_demo_model(
    p: Preset, pre: Preprocessing, reporter: Reporter | None = None, threads: int | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train ``p`` from scratch on the sample train split; (state_dict, stats incl. held-out accuracy)."""
    import torch
    import torch.nn.functional as F

    from resnet_deploy.data import open_source
    from resnet_deploy.models import create_model

    threads_before = torch.get_num_threads()
    threads = threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(p.seed)
        gen = torch.Generator().manual_seed(p.seed)
        x_np, y_np = open_source("sample", pre, split="train").arrays()
        x_all, y_all = torch.from_numpy(x_np), torch.from_numpy(y_np)
        n = len(x_all)
        model = create_model(p.arch, num_classes=len(SAMPLE_CLASSES))
        steps = [math.ceil(frac * n / p.batch_size) for _, frac in p.schedule]
        if p.optimizer == "adamw":
            opt: Any = torch.optim.AdamW(model.parameters(), lr=p.lr, weight_decay=p.weight_decay)
        else:
            opt = torch.optim.SGD(
                model.parameters(), lr=p.lr, momentum=0.9, nesterov=True, weight_decay=p.weight_decay
            )
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=p.lr, total_steps=sum(steps), pct_start=0.25
        )
        model.train()
        for epoch, ((size, _), n_steps) in enumerate(zip(p.schedule, steps, strict=True), start=1):
            order = torch.randperm(n, generator=gen)
            total_loss, correct, seen = 0.0, 0, 0
            for s in range(n_steps):
                idx = order[s * p.batch_size : (s + 1) * p.batch_size]
                xb = _augment(x_all[idx], size, gen) if p.augment else _resize(x_all[idx], size)
                yb = y_all[idx]
                logits = model(xb)
                loss = F.cross_entropy(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total_loss += loss.item() * len(yb)
                correct += int((logits.argmax(1) == yb).sum())
                seen += len(yb)
            if reporter is not None:
                reporter.info(f"epoch {epoch}/{len(p.schedule)}: loss {total_loss / seen:.3f}, "
                              f"train accuracy {100 * correct / seen:.1f}%")
        accuracy, n_eval = evaluate(model, pre)
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        stats = {"accuracy": accuracy, "eval_images": n_eval, "train_images": n, "threads": threads}
        return state, stats
    finally:
        torch.set_num_threads(threads_before)


def _augment(xb: Any, size: int, gen: Any) -> Any:
    """Light random affine (scale, rotation, shift) and resize to ``size``, in one grid_sample."""
    import torch
    import torch.nn.functional as F

    b = xb.shape[0]
    scale = 1.0 + (torch.rand(b, generator=gen) - 0.5) * 0.2  # 0.9 .. 1.1
    angle = (torch.rand(b, generator=gen) - 0.5) * (math.pi / 9)  # +-10 degrees
    shift = (torch.rand(b, 2, generator=gen) - 0.5) * 0.2  # +-5% of the image
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, [b, xb.shape[1], size, size], align_corners=False)
    return F.grid_sample(xb, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _resize(xb: Any, size: int) -> Any:
    import torch.nn.functional as F

    if xb.shape[-1] == size:
        return xb
    return F.interpolate(xb, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def evaluate(model: Any, pre: Preprocessing, batch_size: int = 200) -> tuple[float, int]:
    """Top-1 accuracy of ``model`` on the held-out sample eval split (eval mode)."""
    import torch

    from resnet_deploy.data import open_source

    model.eval()
    correct = total = 0
    with torch.inference_mode():
        for x, y in open_source("sample", pre, split="eval").batches(batch_size):
            pred = model(torch.from_numpy(x)).argmax(1).numpy()
            correct += int((pred == y).sum())
            total += len(y)
    return correct / total, total
