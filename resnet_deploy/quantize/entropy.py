"""ORT's entropy (KL-divergence) threshold search, with the same arithmetic in numpy.

Hand-written because ORT's ``HistogramCollector.get_entropy_threshold`` sums
histogram slices with Python's builtin ``sum`` and loops over the 128 quantized
bins for every candidate threshold: ~1 s per tensor at 2,048 bins, and its
histograms grow when a later batch has a larger value (20 s for one tensor with
one outlier in the unit test). This subclass replaces only that method; the
histogram collection, ``smooth_distribution`` and ``entropy`` are ORT's own, and
a unit test checks it returns exactly what ORT's implementation returns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnxruntime.quantization.calibrate import HistogramCollector, entropy
from onnxruntime.quantization.quant_utils import smooth_distribution


class FastHistogramCollector(HistogramCollector):
    """``HistogramCollector`` whose entropy threshold search is vectorised per candidate."""

    def get_entropy_threshold(self, histogram: Any, num_quantized_bins: int) -> tuple[Any, Any]:
        hist, hist_edges = histogram[0], histogram[1]
        num_bins = hist.size
        zero_bin_index = num_bins // 2
        half = num_quantized_bins // 2
        dtype = hist_edges.dtype
        cum = np.concatenate([[0], np.cumsum(hist)])  # cum[k] = sum(hist[:k])
        total = cum[-1]
        candidates = range(half, zero_bin_index + 1)
        kl = np.zeros(len(candidates))
        thresholds = []
        for j, i in enumerate(candidates):
            start, end = zero_bin_index - i, min(zero_bin_index + i + 1, num_bins)
            thresholds.append((hist_edges[start], hist_edges[end]))
            sliced = hist[start:end].astype(np.int64)
            p = sliced.copy()
            p[0] += cum[start]
            p[-1] += total - cum[end]
            merged = sliced.size // num_quantized_bins
            body = num_quantized_bins * merged
            quantized = sliced[:body].reshape(num_quantized_bins, merged).sum(axis=1)
            quantized[-1] += sliced[body:].sum()
            norm = (p[:body] != 0).reshape(num_quantized_bins, merged).sum(axis=1)
            # ORT assigns quantized/norm into an int64 array: truncation, zeros where norm == 0
            expanded = np.where(norm != 0, quantized // np.maximum(norm, 1), 0)
            q = np.zeros(p.size, dtype=np.int64)
            q[:body] = np.repeat(expanded, merged)
            ps, qs = smooth_distribution(p), smooth_distribution(q)
            kl[j] = np.inf if ps is None or qs is None else np.array(entropy(ps, qs), dtype=dtype)
        best = thresholds[int(np.argmin(kl))]
        min_value, max_value = histogram[2], histogram[3]
        if best[0] < min_value:
            best = (min_value, best[1])
        if best[1] > max_value:
            best = (best[0], max_value)
        return best


def install(calibrator: Any) -> None:
    """Give an ORT ``EntropyCalibrater`` this collector before its first ``collect_data``."""
    calibrator.collector = FastHistogramCollector(
        method=calibrator.method,
        symmetric=calibrator.symmetric,
        num_bins=calibrator.num_bins,
        num_quantized_bins=calibrator.num_quantized_bins,
        percentile=calibrator.percentile,
        scenario=calibrator.scenario,
    )
