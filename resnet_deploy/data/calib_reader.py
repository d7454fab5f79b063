"""CalibrationReader: a DataSource seen through ONNX Runtime's CalibrationDataReader.

ONNX Runtime's calibrators call ``get_next()`` until it returns None, feeding
each dict to an InferenceSession; ``quantize_static`` with ``CalibStridedMinMax``
also uses ``len()`` and ``set_range(start, end)`` (in units of ``get_next`` calls,
here batches). ``rewind()`` lets one reader serve several calibration passes;
the source caches decoded crops, so a rewind does not decode again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from resnet_deploy.checks import check_int
from resnet_deploy.data.base import DataSource
from resnet_deploy.errors import DataError


class CalibrationReader(CalibrationDataReader):
    """Yields ``{input_name: float32 [B,3,S,S]}`` batches of ``source``, then None."""

    def __init__(
        self,
        source: DataSource,
        input_name: str = "input",
        batch_size: int = 32,
        limit: int | None = None,
    ) -> None:
        check_int(batch_size, "calibration batch size", hint="pass e.g. 32", error=DataError)
        check_int(limit, "calibration limit", allow_none=True, hint="pass e.g. 512, or None for all",
                  error=DataError)
        self.source = source
        self.input_name = input_name
        self.batch_size = int(batch_size)
        self.limit = limit
        self.count = min(len(source), limit) if limit is not None else len(source)
        self._range: tuple[int, int] = (0, self._num_batches())
        self._it: Iterator[dict[str, np.ndarray]] | None = None

    def _num_batches(self) -> int:
        return -(-self.count // self.batch_size)

    def _generate(self) -> Iterator[dict[str, np.ndarray]]:
        start, stop = self._range
        seen = 0
        for b, (x, _) in enumerate(self.source.batches(self.batch_size)):
            if seen >= self.count or b >= stop:
                return
            x = x[: self.count - seen]
            seen += len(x)
            if b >= start:
                yield {self.input_name: x}

    def get_next(self) -> dict[str, Any] | None:
        """The next batch as an input feed, or None when the data is exhausted."""
        if self._it is None:
            self._it = self._generate()
        return next(self._it, None)

    def rewind(self) -> None:
        """Start again from the first batch (of the current range)."""
        self._it = None

    def __len__(self) -> int:
        return self._num_batches()

    def set_range(self, start_index: int, end_index: int) -> None:
        """Restrict to batches [start_index, end_index) and rewind (ORT's strided min-max)."""
        n = self._num_batches()
        if not (0 <= start_index <= end_index):
            raise DataError(
                f"invalid calibration range [{start_index}, {end_index}); give 0 <= start <= end (in batches)"
            )
        self._range = (int(start_index), min(int(end_index), n))
        self.rewind()
