"""One local Ray instance for the distributed tests: 2 CPUs, loopback only, no dashboard; stopped at the end."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def ray_local():
    """The ``ray`` module, initialised on 127.0.0.1 with 2 CPUs. Its workers import pano and the tests' helper
    modules through PYTHONPATH (they inherit this process's environment)."""
    ray = pytest.importorskip("ray")
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}
    paths = [str(Path(__file__).resolve().parents[2])] + [p for p in sys.path if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    # Ray's single-machine mode: every address is the loopback one, nothing listens for other machines
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray._private.ray_constants as constants

    enabled, constants.ENABLE_RAY_CLUSTER = constants.ENABLE_RAY_CLUSTER, False
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
        constants.ENABLE_RAY_CLUSTER = enabled
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
