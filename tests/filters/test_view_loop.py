"""The one view loop (:mod:`pano.filters.view_loop`): batch sizing, out-of-memory halving, views and back."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pano.filters.view_loop import CPU_VIEW_PIXELS, map_sphere, run_in_batches, view_batch


def test_view_batch_rules() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert view_batch(5, 40, 64 * 64, cpu) == 5  # asked for
    assert view_batch(100, 40, 64 * 64, cpu) == 40  # never more than there are views
    assert view_batch(None, 40, 256 * 256, cuda) == 40  # all at once on a GPU
    assert view_batch(0, 400, 256 * 256, cpu) == round(CPU_VIEW_PIXELS / (256 * 256))  # about 250k pixels on a CPU
    assert view_batch(None, 10, 4096 * 4096, cpu) == 1


def _oom_above(limit: int):
    def check(n: int) -> None:
        if n > limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    return check


def test_run_in_batches_halves_on_out_of_memory_and_covers_every_item_once() -> None:
    seen: list[int] = []
    halved: list[int] = []
    messages: list[str] = []
    check = _oom_above(3)

    def run(part: slice) -> None:
        check(part.stop - part.start)
        seen.extend(range(part.start, part.stop))

    final = run_in_batches(21, run, batch=16, device=torch.device("cpu"), on_halve=halved.append,
                           progress=lambda d, t, label: messages.append(label))
    assert seen == list(range(21))
    assert halved == [8, 4, 2] and final == 2
    assert sum("out of memory" in m for m in messages) == 3


def test_run_in_batches_raises_other_errors_and_oom_at_one() -> None:
    def broken(part: slice) -> None:
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_in_batches(4, broken, batch=4, device=torch.device("cpu"))
    check = _oom_above(0)
    with pytest.raises(torch.OutOfMemoryError):
        run_in_batches(4, lambda part: check(part.stop - part.start), batch=4, device=torch.device("cpu"))


def test_map_sphere_gives_the_same_sphere_when_batches_halve(equirect_dir: Path) -> None:
    """A real photo through a view function that runs out of memory above 3 views: same result as with room."""
    from pano.io.image import read_image
    from pano.metrics import wrap_seam_ratio
    from pano.sphere.resize import resize_equirect

    equi = resize_equirect(read_image(equirect_dir / "vrview_petra.jpg", mode="sphere").pixels.float(), (100, 201))
    check = _oom_above(3)

    def tight(views: torch.Tensor) -> torch.Tensor:
        check(views.shape[0])
        return views.flip(1)  # RGB -> BGR: something a test can see

    roomy = map_sphere(equi, lambda v: v.flip(1), view_size=48, batch=None)
    squeezed = map_sphere(equi, tight, view_size=48, batch=16)
    assert torch.allclose(roomy, squeezed, atol=1e-6)
    assert (roomy - equi.flip(1)).abs().mean() < 0.03  # the views came back where they belong
    assert wrap_seam_ratio(roomy) <= max(1.25, 1.1 * wrap_seam_ratio(equi))
