"""The artifact directory and its manifest: the contract between build and run side.

Everything the pipeline produces lands in one directory described by
``manifest.json``. The build side (export, quantize, engines) adds files and
results; the run side (runtime, bench, serve) only reads it and never needs
PyTorch or the original checkpoint.

- ``core``: model, input, preprocessing and file sections;
- ``records``: parity, calibration, quantization (drift as ``metrics.Drift``);
- ``runs``: engine build records, benchmark summary, selection;
- ``manifest``: the ``Manifest`` record, schema version and its own digest;
- ``io``: save/read/load, per-file sha256, paths kept inside the directory;
- ``fields``: the type/range checks that name the bad field.

Writes are atomic: a new artifact is built in a hidden temp directory beside
the target and renamed at the end (``staging_dir``); files added later are
written to a temp name and ``os.replace``d, and the manifest is rewritten the
same way (``update_manifest``).
"""

from __future__ import annotations

from resnet_deploy.artifact.core import (
    FORMATS,
    PRECISIONS,
    FileEntry,
    InputSpec,
    ModelInfo,
    Preprocessing,
    now_iso,
)
from resnet_deploy.artifact.io import (
    MANIFEST_NAME,
    install_file,
    load_manifest,
    make_entry,
    manifest_json,
    read_manifest,
    resolve_inside,
    save_manifest,
    sha256_file,
    toolchain_versions,
    update_manifest,
    verify_file,
)
from resnet_deploy.artifact.manifest import SCHEMA_VERSION, Manifest, manifest_digest
from resnet_deploy.artifact.records import (
    Calibration,
    Fp16Record,
    ParityRecord,
    Quantization,
    QuantTarget,
    as_drift,
)
from resnet_deploy.artifact.runs import (
    NO_GPU_NAME,
    BenchRowSummary,
    BenchSummary,
    EngineRecord,
    Selection,
)
from resnet_deploy.atomic import (  # re-exported: artifact writers use them
    check_output_dir,
    make_readable,
    publish_dir,
    staging_dir,
    temp_path,
)
from resnet_deploy.errors import ArtifactError

__all__ = [
    "FORMATS", "MANIFEST_NAME", "NO_GPU_NAME", "PRECISIONS", "SCHEMA_VERSION", "ArtifactError",
    "BenchRowSummary", "BenchSummary", "Calibration", "EngineRecord", "FileEntry", "Fp16Record",
    "InputSpec", "Manifest", "ModelInfo", "ParityRecord", "Preprocessing", "QuantTarget",
    "Quantization", "Selection", "as_drift", "check_output_dir", "install_file", "load_manifest",
    "make_entry", "make_readable", "manifest_digest", "manifest_json", "now_iso", "publish_dir",
    "read_manifest", "resolve_inside", "save_manifest", "sha256_file", "staging_dir", "temp_path",
    "toolchain_versions", "update_manifest", "verify_file",
]
