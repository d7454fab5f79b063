"""A tiny real artifact (resnet20 CIFAR at 32 px) with every file format the runtime runs.

Built once per session with the real exporters (torch.onnx, torch.export,
torch.jit.trace) and onnxruntime's static quantizer, so every runner is tested
on real files. The export/quantize stages of the package produce the same file
names and manifest entries; this fixture keeps the runtime tests independent of
them.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest

from resnet_deploy.artifact import (
    InputSpec,
    Manifest,
    ModelInfo,
    Preprocessing,
    make_entry,
    save_manifest,
)

SIZE = 32
from runtime_helpers import LABELS, NUM_CLASSES, encode_image  # noqa: E402,F401

_PROTOS = np.random.default_rng(42).standard_normal((NUM_CLASSES, 3, 3))


def _images(params: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Image-like inputs: per-image colour offset and x/y gradients (params [n, 3, 3]) + noise."""
    yy, xx = np.meshgrid(np.linspace(-1, 1, SIZE), np.linspace(-1, 1, SIZE), indexing="ij")
    x = params[:, :, 0, None, None] + params[:, :, 1, None, None] * yy + params[:, :, 2, None, None] * xx
    return (x + noise * rng.standard_normal(x.shape)).astype(np.float32)


def _random_batch(n: int, seed: int = 0) -> np.ndarray:
    """Noisy variations of the class prototypes (so each class appears and top-1 is clear)."""
    rng = np.random.default_rng(seed)
    classes = np.arange(n) % NUM_CLASSES
    return _images(_PROTOS[classes] + 0.2 * rng.standard_normal((n, 3, 3)), 0.2, rng)


class _Reader:
    """onnxruntime CalibrationDataReader over a few random batches."""

    def __init__(self) -> None:
        self._it = iter([{"input": _random_batch(8, seed=s)} for s in range(4)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def _quantize(src: Path, dst: Path, activation_signed: bool) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    quantize_static(
        str(src),
        str(dst),
        _Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QInt8 if activation_signed else QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
    )


def _prototype_head(torch, model) -> None:
    """Give a random network a nearest-class-mean head, so top-1 depends on the input.

    A randomly initialised ResNet sends almost every input to one class, which
    would let top-1 agreement tests pass trivially. With the head set to a
    (diagonal-covariance) nearest-centroid classifier over the features of ten
    prototype images, noisy copies of the prototypes fall into their own
    classes with margins larger than INT8 rounding.
    """
    feats: list = []
    hook = model.fc.register_forward_hook(lambda mod, inp, out: feats.append(inp[0]))
    rng = np.random.default_rng(0)
    with torch.no_grad():
        model(torch.from_numpy(_images(_PROTOS, 0.0, rng)))
        model(torch.from_numpy(_random_batch(200, seed=999)))
        hook.remove()
        centres, spread = feats[0].double(), feats[1].double().std(0) + 1e-6
        w = centres / spread**2
        temperature = 50.0  # keeps softmax probabilities away from exactly 0/1
        model.fc.weight.copy_((w / temperature).float())
        model.fc.bias.copy_((-0.5 * (centres * w).sum(1) / temperature).float())


def _write_models(torch, model, x, out: Path) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    torch.onnx.export(
        model, (x,), str(out / "model.fp32.onnx"), input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False,
    )
    batch = torch.export.Dim("batch", min=1, max=1024)
    ep = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
    torch.export.save(ep, str(out / "model.pt2"))
    torch.jit.trace(model, x).save(str(out / "model.torchscript.pt"))
    _quantize(out / "model.fp32.onnx", out / "model.int8-cpu.onnx", activation_signed=False)
    _quantize(out / "model.fp32.onnx", out / "model.int8-tensorrt.onnx", activation_signed=True)
    fp16 = convert_float_to_float16(onnx.load(str(out / "model.fp32.onnx")), keep_io_types=True)
    onnx.save(fp16, str(out / "model.fp16.onnx"))


def build_artifact(out: Path) -> Path:
    """Write a complete artifact directory to ``out`` and return it."""
    import torch

    from resnet_deploy.models import create_model

    torch.manual_seed(0)
    model = create_model("resnet20", num_classes=NUM_CLASSES).eval()
    _prototype_head(torch, model)
    out.mkdir(parents=True, exist_ok=True)
    x = torch.from_numpy(_random_batch(2))
    root, level = logging.getLogger(), logging.getLogger().level
    with warnings.catch_warnings():  # the legacy exporter and ORT's quantizer are chatty
        warnings.simplefilter("ignore")
        root.setLevel(logging.ERROR)
        try:
            _write_models(torch, model, x, out)
        finally:
            root.setLevel(level)
    (out / "labels.txt").write_text("\n".join(LABELS) + "\n")

    files = [
        make_entry(out, "model.fp32.onnx", "onnx"),
        make_entry(out, "model.torchscript.pt", "torchscript"),
        make_entry(out, "model.pt2", "exported-program"),
        make_entry(out, "model.int8-cpu.onnx", "onnx", "int8", "cpu"),
        make_entry(out, "model.int8-tensorrt.onnx", "onnx", "int8", "tensorrt"),
        make_entry(out, "model.fp16.onnx", "onnx", "fp16"),
        make_entry(out, "labels.txt", "labels"),
    ]
    manifest = Manifest(
        model=ModelInfo(arch="resnet20", num_classes=NUM_CLASSES, labels=list(LABELS)),
        input=InputSpec(shape=[-1, 3, SIZE, SIZE]),
        preprocessing=Preprocessing.for_input_size(SIZE),
        files=files,
    )
    save_manifest(manifest, out)
    return out


@pytest.fixture(scope="session")
def artifact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_artifact(tmp_path_factory.mktemp("runtime") / "artifact")


@pytest.fixture(scope="session")
def test_batch() -> np.ndarray:
    return _random_batch(16, seed=123)


@pytest.fixture(scope="session")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("images")
    paths = []
    for i, fmt in enumerate(["PNG", "JPEG", "PNG"]):
        p = d / f"img{i}.{fmt.lower().replace('jpeg', 'jpg')}"
        p.write_bytes(encode_image(seed=i, fmt=fmt))
        paths.append(p)
    return paths


def add_raw_twins(art: Path, keys: tuple[str, ...] = ("fp32", "int8-cpu")) -> Path:
    """Give an artifact raw-pixel twins (``raw_input.write_raw``) of the files with these keys."""
    from resnet_deploy.artifact import read_manifest
    from resnet_deploy.raw_input import raw_file_name, raw_input_spec, write_raw

    m = read_manifest(art)
    for e in [e for e in m.files if e.format == "onnx" and e.key in keys]:
        name = raw_file_name(e.path)
        write_raw(art / e.path, art / name, m.input, m.preprocessing, float_model=art / "model.fp32.onnx")
        entry = make_entry(art, name, "onnx", e.precision, e.target)
        entry.input = raw_input_spec(m.input)
        m.replace_file(entry)
    save_manifest(m, art)
    return art


@pytest.fixture(scope="session")
def raw_artifact_dir(artifact_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runtime artifact plus model.fp32-raw.onnx and model.int8-cpu-raw.onnx."""
    import shutil

    dst = tmp_path_factory.mktemp("runtime-raw") / "artifact"
    shutil.copytree(artifact_dir, dst)
    return add_raw_twins(dst)
