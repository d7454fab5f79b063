"""Reading, checking, loading and saving ResNet weights (.pth/.pt and .safetensors).

Real checkpoints come in many wrappers (``{"state_dict": ...}``, DDP's ``module.``
prefix, ``torch.compile``'s ``_orig_mod.``) and fail in many ways (truncated,
not a checkpoint, another architecture). Every failure here is a one-line
``CheckpointError`` that says what differs and what to do, never torch's
multi-hundred-line ``load_state_dict`` message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnet_deploy.artifact import sha256_file
from resnet_deploy.atomic import replacing
from resnet_deploy.errors import CheckpointError

# Wrapper keys used by common training scripts, tried in this order.
NESTED_KEYS = ("state_dict", "model_state_dict", "model_state", "model", "net")
PREFIXES = ("module.", "_orig_mod.")
HEAD_PREFIX = "fc."
SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
_SHOW = 3  # keys shown per category in an error line


@dataclass
class LoadReport:
    """What happened when a file was loaded into a model (JSON-friendly via ``to_dict``)."""

    path: str
    sha256: str
    tensors: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    # (key, shape in file, shape in model)
    shape_mismatch: list[tuple[str, list[int], list[int]]] = field(default_factory=list)
    reinitialised_head: bool = False

    @property
    def exact(self) -> bool:
        """True when every key and shape matched."""
        return not (self.missing or self.unexpected or self.shape_mismatch)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(f"weights file '{path}' does not exist; check the path")
    if path.is_dir():
        raise CheckpointError(f"weights path '{path}' is a directory; pass the .pth or .safetensors file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"weights file '{path}' is empty (0 bytes); re-download or re-save it")


def _looks_like_safetensors(path: Path) -> bool:
    """safetensors = 8-byte little-endian header length, then a JSON header."""
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(
            f"cannot read '{path}' as safetensors ({detail[:120]}); the file is corrupt or truncated"
        ) from exc


def _sniff_torch(path: Path) -> None:
    """torch.save writes a zip ("PK") or, legacy, a pickle (0x80); anything else is not ours."""
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:2] != b"PK" and head[:1] != b"\x80":
        kind = "text/JSON" if head[:1] in (b"{", b"[") else "unknown"
        raise CheckpointError(
            f"'{path}' is not a PyTorch checkpoint ({kind} content); "
            "pass a .pth/.pt state_dict or a .safetensors file"
        )


def _load_torch(path: Path) -> Any:
    _sniff_torch(path)
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        text = str(exc)
        found = re.search(r"GLOBAL ([\w.]+)", text)
        if "Weights only load failed" in text and found:
            raise CheckpointError(
                f"'{path}' holds a pickled Python object ({found.group(1).rsplit('.', 1)[-1]}), "
                "not plain weights; save model.state_dict() instead and load that"
            ) from exc
        if isinstance(exc, EOFError) or "Weights only load failed" in text:
            raise CheckpointError(
                f"'{path}' is not a readable PyTorch checkpoint (truncated or foreign pickle); "
                "pass a .pth/.pt state_dict or a .safetensors file"
            ) from exc
        first = re.split(r"(?<=[.:])\s", text.strip().splitlines()[0])[0] if text else type(exc).__name__
        raise CheckpointError(
            f"cannot read checkpoint '{path}' ({first[:100].rstrip('.:')}); the file is corrupt or truncated"
        ) from exc


def _unwrap(obj: Any, path: Path) -> Mapping[str, Any]:
    """Find the state_dict inside common training-script wrappers."""
    for _ in range(3):
        if not isinstance(obj, Mapping):
            break
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
        inner = next((obj[k] for k in NESTED_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if isinstance(obj, Mapping) and any(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    if isinstance(obj, Mapping):
        keys = ", ".join(map(str, list(obj)[:5])) or "nothing"
        raise CheckpointError(
            f"'{path}' is a dict ({keys}) without a state_dict; expected tensors by name, or one "
            f"of the keys {', '.join(NESTED_KEYS)}"
        )
    raise CheckpointError(
        f"'{path}' contains a {type(obj).__name__}, not a state_dict; "
        "save model.state_dict() (a dict of tensors by name)"
    )


def _strip_prefixes(key: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in PREFIXES:
            if key.startswith(p):
                key, changed = key[len(p):], True
    return key


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors by torchvision-style name from a .pth/.pt/.safetensors file (CPU, unwrapped)."""
    p = Path(path).expanduser()
    _check_file(p)
    if p.suffix.lower() in SAFETENSORS_SUFFIXES or (
        p.suffix.lower() not in TORCH_SUFFIXES and _looks_like_safetensors(p)
    ):
        raw: Any = _load_safetensors(p)
    else:
        raw = _load_torch(p)
    sd = _unwrap(raw, p)
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            continue  # stray metadata (epoch counters, strings) inside a state_dict
        out[_strip_prefixes(str(k))] = v
    if not out:
        raise CheckpointError(f"'{p}' contains no tensors; it is not a weights file")
    return out


def _shape(t: torch.Tensor) -> list[int]:
    return [int(s) for s in t.shape]


def _fmt_keys(keys: list[str]) -> str:
    more = ", ..." if len(keys) > _SHOW else ""
    return ", ".join(keys[:_SHOW]) + more


def _fmt_shape(s: list[int]) -> str:
    return "[" + ",".join(map(str, s)) + "]"


def _model_name(model: nn.Module) -> str:
    spec = getattr(model, "arch_spec", None)
    return getattr(spec, "name", type(model).__name__)


def _stage_depths(keys: list[str]) -> tuple[int, ...]:
    """Blocks per stage read from key names: layer1.0..layer1.2 -> 3."""
    blocks: dict[int, set[str]] = {}
    for k in keys:
        m = re.match(r"layer(\d+)\.(\d+)\.", k)
        if m:
            blocks.setdefault(int(m.group(1)), set()).add(m.group(2))
    return tuple(len(blocks[i]) for i in sorted(blocks))


def guess_arch(sd: Mapping[str, torch.Tensor]) -> str | None:
    """Which table architecture (ignoring the head) the tensors fit, e.g. 'resnet18, 10 classes'."""
    from resnet_deploy.models.archs import ARCHS
    from resnet_deploy.models.registry import create_model

    body = {k: _shape(v) for k, v in sd.items()
            if not k.startswith(HEAD_PREFIX) and not k.endswith("num_batches_tracked")}
    depths = _stage_depths(list(body))
    fc = sd.get("fc.weight")
    in_chans = int(sd["conv1.weight"].shape[1]) if "conv1.weight" in sd else 3
    for name, spec in ARCHS.items():
        if spec.layers != depths:  # cheap filter before building anything
            continue
        try:
            with torch.device("meta"):
                m = create_model(name, num_classes=1, in_chans=in_chans)
        except Exception:  # an odd in_chans etc.: just no guess
            return None
        ref = {k: _shape(v) for k, v in m.state_dict().items()
               if not k.startswith(HEAD_PREFIX) and not k.endswith("num_batches_tracked")}
        if ref == body:
            return f"{name}, {int(fc.shape[0])} classes" if fc is not None and fc.dim() == 2 else name
    return None


def diff_state_dict(
    model: nn.Module, sd: Mapping[str, torch.Tensor]
) -> tuple[list[str], list[str], list[tuple[str, list[int], list[int]]]]:
    """(missing, unexpected, shape_mismatch) of ``sd`` against the model's own state_dict.

    A missing ``num_batches_tracked`` is not counted: old checkpoints lack it and
    it does not change inference.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in sd and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in sd if k not in own]
    mismatch = [
        (k, _shape(sd[k]), _shape(own[k]))
        for k in own
        if k in sd and _shape(sd[k]) != _shape(own[k])
    ]
    return missing, unexpected, mismatch


def _mismatch_message(
    model: nn.Module,
    path: Path,
    sd: Mapping[str, torch.Tensor],
    missing: list[str],
    unexpected: list[str],
    mismatch: list[tuple[str, list[int], list[int]]],
) -> str:
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({_fmt_keys(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected ({_fmt_keys(unexpected)})")
    if mismatch:
        shown = ", ".join(f"{k}: file {_fmt_shape(a)} vs model {_fmt_shape(b)}"
                          for k, a, b in mismatch[:2])
        parts.append(f"{len(mismatch)} wrong shape ({shown}{', ...' if len(mismatch) > 2 else ''})")
    head_only = (
        not unexpected
        and all(k.startswith(HEAD_PREFIX) for k in missing)
        and all(k.startswith(HEAD_PREFIX) for k, _, _ in mismatch)
    )
    if head_only and "fc.weight" in sd and sd["fc.weight"].dim() == 2:
        hint = (f"the file has a {int(sd['fc.weight'].shape[0])}-class head: pass --num-classes "
                f"{int(sd['fc.weight'].shape[0])}, or --new-head to re-initialise the classifier")
    elif head_only:
        hint = "pass --new-head to re-initialise the classifier"
    else:
        guess = guess_arch(sd)
        hint = (f"the file looks like {guess}; choose the matching --arch" if guess
                else "choose the matching --arch (and --num-classes), or the right file")
    return f"weights in '{path.name}' do not match {_model_name(model)}: {', '.join(parts)}; {hint}"


def load_weights(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    new_head: bool = False,
    strict: bool = True,
) -> LoadReport:
    """Load a checkpoint into ``model`` in place and say exactly what matched.

    ``new_head=True`` (transfer learning) tolerates a classifier (``fc.*``) that is
    missing or has another shape: the model's freshly initialised head is kept
    and everything else must still match. ``strict=False`` tolerates missing and
    unexpected keys but never a wrong shape.
    """
    p = Path(path).expanduser()
    sd = read_state_dict(p)
    return apply_state_dict(model, sd, source=p, sha256=sha256_file(p), new_head=new_head, strict=strict)


def apply_state_dict(
    model: nn.Module,
    sd: Mapping[str, torch.Tensor],
    *,
    source: str | os.PathLike[str] = "<state_dict>",
    sha256: str = "",
    new_head: bool = False,
    strict: bool = True,
) -> LoadReport:
    """``load_weights`` for tensors already read (e.g. to peek at the head size first)."""
    p = Path(source)
    missing, unexpected, mismatch = diff_state_dict(model, sd)
    report = LoadReport(path=str(p), sha256=sha256, tensors=len(sd),
                        missing=missing, unexpected=unexpected, shape_mismatch=mismatch)

    skip: set[str] = set()
    if new_head:
        head_missing = [k for k in missing if k.startswith(HEAD_PREFIX)]
        head_bad = [k for k, _, _ in mismatch if k.startswith(HEAD_PREFIX)]
        if head_missing or head_bad:
            report.reinitialised_head = True
            skip = {k for k in sd if k.startswith(HEAD_PREFIX)}
            missing = [k for k in missing if k not in head_missing]
            mismatch = [m for m in mismatch if m[0] not in head_bad]
    fatal = bool(mismatch) or (strict and bool(missing or unexpected))
    if fatal:
        raise CheckpointError(_mismatch_message(model, p, sd, missing, unexpected, mismatch))

    own = model.state_dict()
    to_load = {k: v for k, v in sd.items() if k in own and k not in skip}
    for k, v in own.items():  # old checkpoints without num_batches_tracked
        if k not in to_load and k.endswith("num_batches_tracked"):
            to_load[k] = torch.zeros_like(v)
    try:
        model.load_state_dict(to_load, strict=False)
    except RuntimeError as exc:  # dtype trouble etc.: still one line
        first = str(exc).splitlines()[0]
        raise CheckpointError(
            f"cannot load '{p.name}' into {_model_name(model)}: {first[:160]}; "
            "pass a checkpoint saved from this architecture"
        ) from exc
    return report


def head_shape(sd: Mapping[str, torch.Tensor]) -> tuple[int | None, int | None]:
    """(num_classes, in_chans) a state_dict was trained with, None where it does not say."""
    fc, conv = sd.get("fc.weight"), sd.get("conv1.weight")
    classes = int(fc.shape[0]) if fc is not None and fc.dim() == 2 else None
    chans = int(conv.shape[1]) if conv is not None and conv.dim() == 4 else None
    return classes, chans


def freeze_backbone(model: nn.Module) -> nn.Module:
    """Only the classifier (``fc``) stays trainable: fine-tune the head on a frozen backbone.

    BatchNorm running statistics still update in train mode; call ``model.eval()``
    on the backbone too if they must stay fixed.
    """
    for name, param in model.named_parameters():
        param.requires_grad = name.startswith(HEAD_PREFIX)
    return model


def save_weights(model: nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write the state_dict (.pth/.pt via torch.save, .safetensors) atomically; returns the path."""
    p = Path(path).expanduser()
    suffix = p.suffix.lower()
    if suffix not in TORCH_SUFFIXES + SAFETENSORS_SUFFIXES:
        raise CheckpointError(f"cannot save weights as '{p.name}'; use a .pth, .pt or .safetensors name")
    if p.is_dir():
        raise CheckpointError(f"'{p}' is a directory; pass a file name ending in .pth or .safetensors")
    p.parent.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with replacing(p, suffix=suffix) as tmp:
        if suffix in SAFETENSORS_SUFFIXES:
            from safetensors.torch import save_file

            save_file(sd, str(tmp), metadata={"format": "pt"})
        else:
            torch.save(sd, str(tmp))
    return p
