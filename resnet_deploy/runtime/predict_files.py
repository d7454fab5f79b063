"""What ``resnet-deploy predict`` runs: classify image files and folders with one loaded artifact."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from resnet_deploy.runtime.predictor import Prediction, load
from resnet_deploy.runtime.validate import check_top_k, expand_image_paths


@dataclass
class FilePredictions:
    """What ``predict_files`` returns: the backend used, why, and one Prediction per file."""

    backend: str
    why: list[str]
    predictions: list[Prediction]

    def to_list(self) -> list[dict[str, Any]]:
        rows = []
        for p in self.predictions:
            row = p.to_dict()
            rows.append({"file": row.pop("source"), "backend": self.backend, **row})
        return rows


def predict_files(
    artifact_dir: str | os.PathLike[str],
    paths: list[str | os.PathLike[str]],
    top_k: int = 5,
    backend: str = "auto",
    threads: int | None = None,
    raw: bool = True,
    exact_decode: bool = False,
) -> FilePredictions:
    """Load the artifact and classify image files / folders (what ``resnet-deploy predict`` runs).

    ``raw``: use the chosen file's raw-pixel twin when there is one (see ``load``)."""
    files = expand_image_paths(paths)
    with load(artifact_dir, backend=backend, threads=threads, raw=raw, exact_decode=exact_decode) as pred:
        check_top_k(top_k, pred.num_classes)
        results = pred.predict(files, top_k=top_k)  # decoded max_batch at a time: bounded memory
        return FilePredictions(pred.raw_backend or pred.backend, pred.explain().splitlines(), results)
