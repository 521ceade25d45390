"""Join or start a Ray instance, and size the workers on it.

``address`` None or ``"local"``: Ray's own rule (``RAY_ADDRESS`` if set, else a cluster started on this machine
with ``ray start --head``, else a new local instance using every CPU and GPU here). ``"HOST:PORT"`` (or
``ray://...``) joins that cluster. Only this module imports Ray.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pano.errors import DeviceError, PanoError

INSTALL_HINT = "pip install 'pano[ray]'"


def import_ray() -> Any:
    """The ``ray`` module, or one line saying how to install it."""
    try:
        import ray  # noqa: PLC0415
    except ImportError:
        raise PanoError(f"--ray needs Ray, an optional extra: {INSTALL_HINT}") from None
    return ray


@contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None, dashboard: bool | None = None) -> Iterator[Any]:
    """Connect to (or start) Ray for the duration of the block; yields the ``ray`` module.

    A Ray already initialised in this process (a library user's, the tests') is used as it is and left
    running; one connected or started here is disconnected (a local one stopped) at the end, also on Ctrl-C.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    kwargs: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False, "configure_logging": True}
    target = None if address in (None, "", "local") else address
    if target is None and not os.environ.get("RAY_ADDRESS"):
        kwargs["num_cpus"] = num_cpus
        kwargs["include_dashboard"] = dashboard
    try:
        ray.init(address=target, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = target or os.environ.get("RAY_ADDRESS") or "this machine"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PanoError(f"cannot start or reach Ray at {where}: {first}") from None
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C must reach Python as KeyboardInterrupt (to stop the workers and clean up), whatever Ray's
        # native code did with the signal's disposition while it connected
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield ray
    finally:
        ray.shutdown()


@dataclass(frozen=True)
class WorkerPlan:
    """How many actors, and what each one reserves."""

    count: int
    num_cpus: int
    num_gpus: int

    @property
    def device(self) -> str:
        return "cuda" if self.num_gpus else "cpu"


def plan_workers(ray: Any, device: str = "auto", workers: int | None = None) -> WorkerPlan:
    """One actor per GPU of the cluster (``device`` auto or cuda), or CPU actors sized by cores: on up to 8
    cores one single-threaded actor per core, on more one actor per 4 cores (each keeps a model in memory).
    ``workers`` caps the count.

    Raises:
        DeviceError: cuda asked for on a cluster without GPUs.
    """
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    cpus = max(1, int(resources.get("CPU", 1)))
    node_cpus = max([int(n.get("Resources", {}).get("CPU", 0)) for n in ray.nodes() if n.get("Alive")] or [cpus])
    kind = device.split(":")[0]
    if kind == "cuda" and not gpus:
        raise DeviceError("--device cuda: the Ray cluster has no GPU: use --device cpu or auto")
    if kind in ("auto", "cuda") and gpus:
        count = min(gpus, workers) if workers else gpus
        return WorkerPlan(count, num_cpus=max(1, min(node_cpus, cpus // count) // 2), num_gpus=1)
    count = workers or (cpus if cpus <= 8 else cpus // 4)
    count = max(1, min(count, cpus))
    return WorkerPlan(count, num_cpus=max(1, min(node_cpus, cpus // count)), num_gpus=0)


def worker_setup(threads: int) -> None:
    """In an actor: torch uses the cores the actor reserved."""
    import torch  # noqa: PLC0415

    torch.set_num_threads(max(1, threads))
