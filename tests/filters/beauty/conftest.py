"""Beauty tests run torch on one thread: these nets are tiny, and on a shared 2-core machine OpenMP
threads spin against other processes (measured: 0.88 CPU-s per training step on 2 threads, 0.026 on 1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
