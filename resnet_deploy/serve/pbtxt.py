"""A small writer for protobuf text format, enough for Triton's ``config.pbtxt``.

Triton reads model configs as text-format ``inference.ModelConfig`` messages.
Why not ``google.protobuf.text_format`` over Triton's ``model_config_pb2``
(decided in issue 16, kept): that class ships only in ``tritonclient.grpc``,
i.e. the ``serve`` extra with grpcio, while ``triton-repo`` is a file writer
that works on a plain install (a Triton repository is usually written on a
build host and served elsewhere). The generated module also refuses to import
on a protobuf runtime older than the one it was generated with (tritonclient
2.73: gencode 6.33.5, checked by ``ValidateProtobufRuntimeVersion``), which
would couple our protobuf floor to tritonclient's. The price is this ~130-line
writer, and the schema check stays where it is cheap: the tests parse every
generated file back with ``tritonclient.grpc.model_config_pb2`` to prove it is
valid, so a field typo fails there and not in a Triton container.

Mapping: ``dict`` -> message ``{ ... }``; ``list`` of dicts -> repeated message
``[ {..}, {..} ]``; ``list`` of scalars -> ``[ 1, 2 ]``; ``str`` -> quoted
string; ``Enum("KIND_GPU")`` -> bare enum identifier; ``bool`` -> true/false.
Map fields (``parameters``, ``input_map``) are written from a ``dict`` wrapped
in ``Map`` as repeated ``{ key: .. value: .. }`` entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_INDENT = "  "


@dataclass(frozen=True)
class Enum:
    """An enum value written bare (``TYPE_FP32``), not as a quoted string."""

    name: str

    def __post_init__(self) -> None:
        if not self.name.replace("_", "").isalnum():
            raise ValueError(f"not an enum identifier: {self.name!r}")


@dataclass(frozen=True)
class Map:
    """A protobuf map field: written as repeated ``{ key: k value: v }`` entries."""

    items: dict[str, Any]


def quote(text: str) -> str:
    """A text-format string literal (C-style escapes, UTF-8 kept)."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _scalar(value: Any) -> str:
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    raise TypeError(f"cannot write {type(value).__name__} into a pbtxt scalar")


def _is_message(value: Any) -> bool:
    return isinstance(value, (dict, Map))


def _message_body(fields: dict[str, Any] | Map, depth: int) -> list[str]:
    if isinstance(fields, Map):  # a single map entry is itself a tiny message
        raise TypeError("Map must be the value of a field, not a message body")
    lines: list[str] = []
    pad = _INDENT * depth
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, Map):
            for key, item in value.items.items():
                entry = {"key": key, "value": item}
                lines.append(f"{pad}{name} {{")
                lines.extend(_message_body(entry, depth + 1))
                lines.append(f"{pad}}}")
        elif isinstance(value, dict):
            lines.append(f"{pad}{name} {{")
            lines.extend(_message_body(value, depth + 1))
            lines.append(f"{pad}}}")
        elif isinstance(value, (list, tuple)):
            if not value:
                continue
            if all(_is_message(v) for v in value):
                lines.append(f"{pad}{name} [")
                for i, item in enumerate(value):
                    lines.append(f"{pad}{_INDENT}{{")
                    lines.extend(_message_body(item, depth + 2))
                    lines.append(f"{pad}{_INDENT}}}" + ("," if i < len(value) - 1 else ""))
                lines.append(f"{pad}]")
            else:
                lines.append(f"{pad}{name}: [ " + ", ".join(_scalar(v) for v in value) + " ]")
        else:
            lines.append(f"{pad}{name}: {_scalar(value)}")
    return lines


def dumps(config: dict[str, Any]) -> str:
    """Render a config dict as protobuf text format (ends with a newline)."""
    return "\n".join(_message_body(config, 0)) + "\n"


def string_parameters(values: dict[str, Any]) -> Map:
    """Triton's ``parameters`` map: every value becomes ``{ string_value: "..." }``."""
    return Map({k: {"string_value": str(v)} for k, v in values.items()})
