#!/usr/bin/env python
"""How close is ``predict``'s fast (draft) JPEG decode to the exact one? Top-1 agreement and top-5 overlap.

Runs one artifact on the same JPEGs twice, through the same pipeline, once with
``exact_decode=True`` and once with the default reduced-scale decode, and
prints a JSON record: top-1 agreement, mean top-5 overlap (|A ∩ B| / 5), mean
|Δ| of the uint8 crops, top-1 accuracy of both where labels are known, and an
indicative decode rate of both paths (2 shared cores: not a benchmark).

Image sets:
  sample  the built-in sample set's eval images enlarged to 160-1024 px JPEGs (labelled)
  photos  scikit-image's real photographs at camera sizes, 640-4000 px (needs the photos extra)

Example:
  python scripts/decode_agreement.py ARTIFACT --set sample
  python scripts/decode_agreement.py ARTIFACT --set photos --count 210
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np


def measure(pred: Any, images: list[bytes], labels: np.ndarray | None = None) -> dict[str, Any]:
    """Fast vs exact decode on one loaded Predictor: agreement, top-5 overlap, crop |Δ|, rates."""
    from resnet_deploy.metrics import agreement, topk_indices
    from resnet_deploy.preprocess import crop_image
    logits, rate = {}, {}
    for exact in (True, False):
        pred.exact_decode = exact
        t0 = time.perf_counter()
        logits[exact] = pred.infer_images(images)
        rate[exact] = len(images) / (time.perf_counter() - t0)
    pred.exact_decode = False
    k = min(5, pred.num_classes)
    top_e, top_f = topk_indices(logits[True], k), topk_indices(logits[False], k)
    overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(top_e, top_f, strict=True)])
    sample = images[:: max(1, len(images) // 32)]
    pre = pred.preprocessing
    diff = [np.abs(crop_image(b, pre).astype(np.int16) - crop_image(b, pre, fast=True)).mean() for b in sample]
    out = {
        "n": len(images), "resize": pre.resize, "crop": pre.crop,
        "top1_agreement": agreement(logits[True], logits[False]), "top5_overlap": float(overlap),
        "crop_mean_abs_diff_uint8": float(np.mean(diff)),
        "images_per_s_indicative": {"exact": round(rate[True], 1), "fast": round(rate[False], 1)},
    }
    if labels is not None:
        out["top1_accuracy"] = {"exact": float(np.mean(logits[True].argmax(1) == labels)),
                                "fast": float(np.mean(logits[False].argmax(1) == labels))}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("artifact", help="an artifact directory (any image classifier)")
    ap.add_argument("--set", choices=["sample", "photos"], default="sample")
    ap.add_argument("--count", type=int, default=None, help="images (default: 600 sample / 210 photos)")
    ap.add_argument("--backend", default="onnxruntime:fp32")
    args = ap.parse_args(argv)

    from resnet_deploy.data import photos
    from resnet_deploy.errors import ResNetDeployError
    from resnet_deploy.runtime import load

    labels = None
    try:  # a missing extra (scikit-image for --set photos) or a bad artifact: one line, not a traceback
        if args.set == "sample":
            jpgs, labels = photos.sample_jpegs("eval", args.count)
        else:
            count = args.count or len(photos.PHOTO_NAMES) * len(photos.CAMERA_SIZES)
            jpgs = photos.camera_jpegs(count)
        with load(args.artifact, backend=args.backend) as pred:
            record = {"set": args.set, "backend": pred.backend, **measure(pred, [j.data for j in jpgs], labels)}
    except ResNetDeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
