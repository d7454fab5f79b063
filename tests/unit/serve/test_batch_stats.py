"""The image callable's tally: batch counts, mean size, busy share and the gap between batches."""

from __future__ import annotations

import threading
import time

import pytest

from resnet_deploy.serve.batch_stats import BatchStats


def test_busy_share_and_gap_come_from_the_recorded_runs() -> None:
    s = BatchStats()
    s.record(4, 10.0, 10.050)   # 50 ms
    s.record(2, 10.060, 10.090)  # 10 ms gap, 30 ms
    s.record(3, 10.100, 10.140)  # 10 ms gap, 40 ms
    d = s.to_dict()
    assert d["batches"] == 3 and d["items"] == 9 and d["mean_batch"] == 3.0
    assert d["busy_share"] == pytest.approx(0.120 / 0.140, abs=1e-3)
    assert d["mean_gap_ms"] == pytest.approx(10.0, abs=1e-3)
    assert "9 images in 3 batches (mean 3.00)" in s.line() and "10.0 ms between batches" in s.line()


def test_an_idle_server_says_so_and_threads_add_up() -> None:
    s = BatchStats()
    assert s.to_dict()["mean_batch"] is None and s.line() == "image model: no requests"

    def work() -> None:
        for _ in range(50):
            with s.timed(2):
                time.sleep(0.0005)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    d = s.to_dict()
    assert d["batches"] == 200 and d["items"] == 400 and d["busy_s"] > 0.09
