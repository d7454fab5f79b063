"""The ``Manifest`` record: one typed section per stage, plus its own digest.

``Manifest.from_dict`` is the only way a manifest enters the program: it
checks the schema version, the digest (sha256 over the canonical JSON of
everything but the ``digest`` field, written on every save; manifests written
before it existed have none and are accepted), then each section's field types
and ranges, and raises one ``ArtifactError`` line naming the first bad field.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from resnet_deploy.artifact.core import FileEntry, InputSpec, ModelInfo, Preprocessing, now_iso
from resnet_deploy.artifact.fields import FIX, Fields, a_str, field_error, reader
from resnet_deploy.artifact.records import Calibration, ParityRecord, Quantization
from resnet_deploy.artifact.runs import BenchSummary, EngineRecord, Selection
from resnet_deploy.errors import ArtifactError

SCHEMA_VERSION = 1
DIGEST_FIELD = "digest"
DIGEST_PREFIX = "sha256:"


@dataclass
class Manifest:
    """The artifact's description; later stages fill the optional sections."""

    model: ModelInfo
    input: InputSpec = field(default_factory=InputSpec)
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    files: list[FileEntry] = field(default_factory=list)
    parity: dict[str, ParityRecord] = field(default_factory=dict)  # "format:key" -> metrics
    calibration: Calibration | None = None
    quantization: Quantization = field(default_factory=Quantization)
    engines: list[EngineRecord] = field(default_factory=list)
    bench: BenchSummary | None = None
    selection: Selection | None = None
    toolchain: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=now_iso)
    schema_version: int = SCHEMA_VERSION

    # -- queries ---------------------------------------------------------
    def file(
        self, format: str, precision: str = "fp32", target: str | None = None, raw: bool = False
    ) -> FileEntry | None:
        """The single entry for (format, precision, target), or None.

        Raw-pixel files (uint8 NHWC input) share those three with their float-input
        twin; they are returned only with ``raw=True``.
        """
        for f in self.files:
            if f.format == format and f.precision == precision and f.target == target and f.raw == raw:
                return f
        return None

    def replace_file(self, entry: FileEntry) -> None:
        """Add ``entry``, dropping any previous entry with the same path."""
        self.files = [f for f in self.files if f.path != entry.path] + [entry]

    def engine(self, path: str) -> EngineRecord | None:
        """The build record of the engine file at ``path``, or None."""
        return next((e for e in self.engines if e.path == path), None)

    def replace_engine(self, record: EngineRecord) -> None:
        """Add ``record``, dropping any previous record for the same path."""
        self.engines = [e for e in self.engines if e.path != record.path] + [record]

    # -- (de)serialisation ----------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (no digest: ``save_manifest`` adds it)."""
        return {
            "schema_version": self.schema_version,
            "model": self.model.to_dict(),
            "input": self.input.to_dict(),
            "preprocessing": self.preprocessing.to_dict(),
            "files": [f.to_dict() for f in self.files],
            "parity": {k: p.to_dict() for k, p in self.parity.items()},
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "quantization": self.quantization.to_dict(),
            "engines": [e.to_dict() for e in self.engines],
            "bench": self.bench.to_dict() if self.bench else None,
            "selection": self.selection.to_dict() if self.selection else None,
            "toolchain": dict(self.toolchain),
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        """Check schema, digest and every field (see module docstring)."""
        if not isinstance(d, dict):
            raise ArtifactError(f"manifest is not a JSON object; {FIX}")
        version = d.get("schema_version")
        if version != SCHEMA_VERSION or isinstance(version, bool):
            raise ArtifactError(
                f"manifest field schema_version is {version!r}, but this resnet-deploy reads "
                f"version {SCHEMA_VERSION}; {FIX}"
            )
        check_digest(d)
        f = Fields(d, "")
        m = cls(
            model=f.section("model", ModelInfo.read),
            input=f.section("input", InputSpec.read, {}),
            preprocessing=f.section("preprocessing", Preprocessing.read, {}),
            files=f.list("files", reader(FileEntry), None) or [],
            parity=f.map("parity", reader(ParityRecord), None) or {},
            calibration=f.section("calibration", Calibration.read, None),
            quantization=f.section("quantization", Quantization.read, None) or Quantization(),
            engines=f.list("engines", reader(EngineRecord), None) or [],
            bench=f.section("bench", BenchSummary.read, None) if d.get("bench") else None,
            selection=f.section("selection", Selection.read, None) if d.get("selection") else None,
            toolchain=f.map("toolchain", a_str, None) or {},
            created_at=f.str("created_at", ""),
            schema_version=version,
        )
        m.check_file_inputs()
        return m

    def check_file_inputs(self) -> None:
        """A file with its own input contract must be a raw-pixel file at this manifest's crop size.

        Loaders feed such files uint8 NHWC crops as they are; a contract that says
        anything else would be fed wrong data silently, so the manifest is refused."""
        s = self.input.size
        for i, e in enumerate(self.files):
            spec = e.input
            if spec is not None and (spec.dtype, spec.layout, list(spec.shape)) != ("uint8", "NHWC", [-1, s, s, 3]):
                raise field_error(
                    f"files[{i}].input", f"uint8 NHWC [-1, {s}, {s}, 3] for raw-pixel file '{e.path}'",
                    f"{spec.dtype} {spec.layout} {spec.shape}",
                )


def canonical_json(data: dict[str, Any]) -> bytes:
    """The bytes the digest is taken over: sorted keys, no whitespace, UTF-8, no digest field."""
    body = {k: v for k, v in data.items() if k != DIGEST_FIELD}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def manifest_digest(data: dict[str, Any]) -> str:
    """``sha256:<hex>`` of ``canonical_json(data)``."""
    return DIGEST_PREFIX + hashlib.sha256(canonical_json(data)).hexdigest()


def check_digest(data: dict[str, Any]) -> None:
    """Refuse a present-but-wrong digest; a manifest without one predates it and is accepted."""
    if DIGEST_FIELD not in data:
        return
    got = data[DIGEST_FIELD]
    if not isinstance(got, str) or not got.startswith(DIGEST_PREFIX):
        raise field_error(DIGEST_FIELD, f"'{DIGEST_PREFIX}<hex>'", got)
    if got != manifest_digest(data):
        raise ArtifactError(
            f"manifest field {DIGEST_FIELD} does not match the manifest's contents "
            f"(edited by hand or corrupt); {FIX}"
        )
