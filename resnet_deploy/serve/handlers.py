"""The two inference paths a server exposes, as PyTriton inference callables.

* tensor model ``<name>``: preprocessed float32 NCHW in (the manifest's input
  name, e.g. ``input``), for clients that already preprocess;
* image model ``<name>_image``: encoded image bytes in (``image``, one per batch
  item), decoded (JPEG at the draft scale, on the Predictor's decode pool) and
  preprocessed as the manifest says, like ``Predictor.predict``; when the
  Predictor has a raw-pixel twin, only resized and cropped here (uint8 NHWC) and
  normalised inside the model.

Both return the same outputs, so clients can switch paths freely: ``logits``,
``probabilities`` (softmax), and the top-k as ``topk_indices`` (INT64),
``topk_scores`` (probabilities) and ``topk_labels`` (BYTES). Triton's dynamic
batcher hands each callable a list of requests; ``batched`` joins them into one
array and splits the answers back, so one Predictor call serves every request
in the batch.

Each request gets only the outputs it asked for (Triton names them all when the
client names none). Triton would drop the others anyway, but only after PyTriton
had copied each one through shared memory and freed its block with one call to
its block manager process: for a client that asks for ``topk_indices`` alone,
the other four outputs cost about 1 ms between batches (7.4 -> 6.5 ms on the
AVX-512 VNNI host), time in which the server's CPU sat idle (docs/serving.md).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from resnet_deploy.errors import InvalidInputError, ResNetDeployError
from resnet_deploy.metrics import softmax, topk_indices
from resnet_deploy.preprocess import crop_image, preprocess_image
from resnet_deploy.serve.batch_stats import BatchStats

IMAGE_INPUT = "image"
OUTPUTS = ("logits", "probabilities", "topk_indices", "topk_scores", "topk_labels")


@dataclass(frozen=True)
class ModelSpec:
    """What both paths need to know about the network (from the Predictor/manifest)."""

    input_name: str
    channels: int
    size: int
    num_classes: int
    top_k: int
    labels: tuple[str, ...]


def postprocess(logits: np.ndarray, spec: ModelSpec, wanted: Collection[str] = OUTPUTS) -> dict[str, np.ndarray]:
    """Logits [N, C] -> the outputs named in ``wanted`` (default all five); top-k by descending probability."""
    logits = np.asarray(logits, dtype=np.float32)
    probs = softmax(logits)
    idx = topk_indices(probs, spec.top_k)
    out = {"logits": logits, "probabilities": probs, "topk_indices": idx}
    if "topk_scores" in wanted:
        out["topk_scores"] = np.take_along_axis(probs, idx, axis=1).astype(np.float32)
    if "topk_labels" in wanted:
        out["topk_labels"] = np.array(
            [[_label(spec.labels, int(i)).encode("utf-8") for i in row] for row in idx], dtype=object
        ).reshape(idx.shape)
    return {name: out[name] for name in OUTPUTS if name in wanted}


def requested_outputs(request: Any) -> tuple[str, ...]:
    """The outputs a PyTriton request asked for, in OUTPUTS order (all when it names none)."""
    names = getattr(request, "requested_output_names", None)
    return tuple(n for n in OUTPUTS if n in names) if names else OUTPUTS


Batched = Callable[[np.ndarray, Collection[str]], dict[str, np.ndarray]]


def batched(input_name: str, fn: Batched) -> Callable[[list[Any]], list[dict[str, np.ndarray]]]:
    """A PyTriton inference callable from ``fn(batch, wanted) -> outputs``: one call per Triton batch.

    The requests' ``input_name`` arrays are joined on the batch axis, ``fn`` computes
    the outputs any request wants, and each request gets its own rows of the outputs
    it asked for.
    """

    def infer(requests: list[Any]) -> list[dict[str, np.ndarray]]:
        parts = [np.asarray(r[input_name]) for r in requests]
        wants = [requested_outputs(r) for r in requests]
        outputs = fn(parts[0] if len(parts) == 1 else np.concatenate(parts), {n for w in wants for n in w})
        bounds = np.cumsum([len(p) for p in parts])[:-1]
        split = {name: np.split(value, bounds) for name, value in outputs.items()}
        return [{name: split[name][i] for name in want if name in split} for i, want in enumerate(wants)]

    return infer


def _label(labels: Sequence[str], i: int) -> str:
    return labels[i] if 0 <= i < len(labels) else str(i)


def encoded_items(images: np.ndarray) -> list[bytes]:
    """An object array of encoded images (any shape) -> one bytes object per image."""
    flat = images.reshape(-1)
    if flat.size == 0:
        raise InvalidInputError("no images in the request; send one encoded image per batch item")
    return [item if isinstance(item, bytes) else bytes(item) for item in flat]


def decode_images(images: np.ndarray, pre: Any, max_pixels: int | None = None, raw: bool = False) -> np.ndarray:
    """An object array of encoded images -> float32 NCHW, per the manifest, decoded exactly
    (``raw``: uint8 NHWC centre crops, for a raw-pixel model that normalises inside)."""
    convert = crop_image if raw else preprocess_image
    return np.stack([convert(data, pre, max_pixels) for data in encoded_items(images)])


class RequestError(Exception):
    """A request the server refuses (undecodable image, bad input), as its one-line reason.

    PyTriton sends a failed callable's formatted traceback to the client as the error
    text; for the client's own mistake that is our file paths and frames around one
    useful line. This exception reports no traceback to Python code (the server log
    still gets the real one through ``sys.exc_info``), so the client reads
    ``RequestError: <reason>``.
    """

    @property  # type: ignore[override]
    def __traceback__(self) -> None:
        return None

    @__traceback__.setter
    def __traceback__(self, _tb: Any) -> None:
        pass


def _client_errors(fn: Batched) -> Batched:
    """Re-raise our one-line errors (bad bytes, wrong shapes) as RequestError; bugs keep their traceback."""

    def wrapped(x: np.ndarray, wanted: Collection[str]) -> dict[str, np.ndarray]:
        try:
            return fn(x, wanted)
        except ResNetDeployError as exc:
            raise RequestError(str(exc)) from None

    return wrapped


def make_infer_functions(predictor: Any, spec: ModelSpec,
                         stats: BatchStats | None = None) -> tuple[Callable, Callable]:
    """(tensor callable, image callable) bound to one Predictor, ready for ``Triton.bind``.

    The image model goes through ``Predictor.infer_images``, the same path as
    ``predict``: draft JPEG decode on the decode pool, overlapped with inference,
    and the raw-pixel twin when the artifact has one. ``stats`` tallies its batches.
    """
    tally = stats if stats is not None else BatchStats()

    @_client_errors
    def infer_tensor(x: np.ndarray, wanted: Collection[str]) -> dict[str, np.ndarray]:
        return postprocess(predictor.infer(np.ascontiguousarray(x, dtype=np.float32)), spec, wanted)

    @_client_errors
    def infer_image(images: np.ndarray, wanted: Collection[str]) -> dict[str, np.ndarray]:
        with tally.timed(len(images)):
            return postprocess(predictor.infer_images(encoded_items(images)), spec, wanted)

    return batched(spec.input_name, infer_tensor), batched(IMAGE_INPUT, infer_image)


def output_tensors(spec: ModelSpec) -> list[Any]:
    """PyTriton output definitions (shapes without the batch dimension)."""
    from pytriton.model_config import Tensor

    return [
        Tensor(name="logits", dtype=np.float32, shape=(spec.num_classes,)),
        Tensor(name="probabilities", dtype=np.float32, shape=(spec.num_classes,)),
        Tensor(name="topk_indices", dtype=np.int64, shape=(spec.top_k,)),
        Tensor(name="topk_scores", dtype=np.float32, shape=(spec.top_k,)),
        Tensor(name="topk_labels", dtype=object, shape=(spec.top_k,)),
    ]


def tensor_inputs(spec: ModelSpec) -> list[Any]:
    from pytriton.model_config import Tensor

    return [Tensor(name=spec.input_name, dtype=np.float32, shape=(spec.channels, spec.size, spec.size))]


def image_inputs() -> list[Any]:
    from pytriton.model_config import Tensor

    return [Tensor(name=IMAGE_INPUT, dtype=object, shape=(1,))]
