"""Condition makers on their own: clusters on a real photo, edges on a synthetic shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pano.filters.conditions import (
    PALETTE,
    ConditionSpec,
    assign_clusters,
    cluster_condition,
    edge_condition,
    fit_cluster_centers,
    make_condition,
)


def _photo(flowers_dir: Path, name: str = "daisy_102841525_bd6628ae3c.jpg") -> np.ndarray:
    path = flowers_dir / name
    if not path.is_file():
        path = sorted(flowers_dir.glob("*.jpg"))[0]
    return np.asarray(Image.open(path).convert("RGB"))


def _colours(img: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in c) for c in np.unique(img.reshape(-1, 3), axis=0)}


@pytest.mark.parametrize("k", [3, 7, 12])
def test_clusters_exactly_k_palette_colours_on_real_photo(flowers_dir: Path, k: int) -> None:
    photo = _photo(flowers_dir)
    out = cluster_condition(photo, k=k)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert _colours(out) == {tuple(int(v) for v in c) for c in PALETTE[:k]}


def test_clusters_deterministic_and_ordered_by_luminance(flowers_dir: Path) -> None:
    photo = _photo(flowers_dir)
    a, b = cluster_condition(photo, k=7, seed=3), cluster_condition(photo, k=7, seed=3)
    assert np.array_equal(a, b)
    centers = fit_cluster_centers(photo, k=7)
    luma = centers @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(luma) > 0)
    # the darkest pixels of the photo get palette colour 0, the brightest the last one
    grey = photo.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    out = cluster_condition(photo, k=7)
    assert tuple(out.reshape(-1, 3)[grey.argmin()]) == tuple(PALETTE[0])
    assert tuple(out.reshape(-1, 3)[grey.argmax()]) == tuple(PALETTE[6])


def test_shared_centres_paint_views_consistently(flowers_dir: Path) -> None:
    """Centres fitted on the whole image give each crop the same colours as the whole image has there."""
    photo = _photo(flowers_dir)
    centers = fit_cluster_centers(photo, k=7)
    whole = assign_clusters(photo, centers)
    crop = assign_clusters(np.ascontiguousarray(photo[40:120, 50:170]), centers)
    assert np.array_equal(crop, whole[40:120, 50:170])


def test_edges_lie_on_the_border_of_a_rectangle() -> None:
    img = np.full((96, 128, 3), 40, np.uint8)
    img[20:70, 30:100] = (200, 180, 90)  # a bright rectangle, border rows 20/69, cols 30/99
    out = edge_condition(img)
    assert out.shape == img.shape and set(np.unique(out)) == {0, 255}
    ys, xs = np.nonzero(out[:, :, 0] == 0)
    assert len(ys) > 0
    # every edge pixel is within 2 px of the rectangle's outline ...
    d_rows = np.minimum(np.abs(ys - 19.5), np.abs(ys - 69.5))
    d_cols = np.minimum(np.abs(xs - 29.5), np.abs(xs - 99.5))
    inside_x = (xs >= 28) & (xs <= 101)
    inside_y = (ys >= 18) & (ys <= 71)
    on_outline = ((d_rows <= 2) & inside_x) | ((d_cols <= 2) & inside_y)
    assert on_outline.all()
    # ... and the outline is covered: each side has edge pixels along (nearly) its whole length
    edge = out[:, :, 0] == 0
    assert edge[18:22, 32:98].any(axis=0).mean() > 0.95
    assert edge[68:72, 32:98].any(axis=0).mean() > 0.95
    assert edge[22:68, 28:32].any(axis=1).mean() > 0.95
    assert edge[22:68, 98:102].any(axis=1).mean() > 0.95


def test_edges_on_real_photo_are_sparse_lines(flowers_dir: Path) -> None:
    out = edge_condition(_photo(flowers_dir))
    frac = float((out[:, :, 0] == 0).mean())
    assert 0.01 < frac < 0.4


def test_make_condition_tensor_front_end(flowers_dir: Path) -> None:
    photo = torch.from_numpy(_photo(flowers_dir)[:64, :96].copy()).permute(2, 0, 1)[None].float() / 255
    for spec in (ConditionSpec("edges"), ConditionSpec("clusters", {"k": 5})):
        out = make_condition(photo.repeat(2, 1, 1, 1), spec)
        assert out.shape == (2, 3, 64, 96) and out.dtype == photo.dtype
        assert 0 <= float(out.min()) and float(out.max()) <= 1


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="unknown condition"):
        ConditionSpec("sketch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must be"):
        ConditionSpec("clusters", {"k": 40})
    with pytest.raises(ValueError, match="unknown clusters parameter"):
        ConditionSpec("clusters", {"kk": 4})
    spec = ConditionSpec("clusters", {"k": 5})
    assert ConditionSpec.from_json(spec.to_json()) == spec


def test_clusters_on_device_equal_the_cpu_route_on_sphere_views(equirect_dir: Path) -> None:
    """The torch route (views stay on their device) paints the views of a real sphere as the uint8/OpenCV
    route does, with the centres fitted once on the whole sphere, as :class:`BeautyFilter` does."""
    from pano.io.image import read_image
    from pano.sphere.resize import resize_equirect
    from pano.sphere.views import equirect_to_views
    from pano.sphere.viewset import covering_views
    from pano.filters.conditions import assign_clusters_torch, to_uint8

    equi = resize_equirect(read_image(equirect_dir / "vrview_petra.jpg", mode="sphere").pixels.float(), (128, 256))
    views = equirect_to_views(equi, covering_views(60.0), 60.0, 48)[0]  # (N, 3, 48, 48), not 8-bit values
    spec = ConditionSpec("clusters", {"k": 7})
    centers = fit_cluster_centers(to_uint8(equi)[0], k=7)
    on_device = make_condition(views, spec, centers)
    cpu = make_condition(views, spec, centers, on_device=False)
    assert on_device.shape == cpu.shape == views.shape and on_device.dtype == views.dtype
    # only a pixel exactly halfway between two centres may round either way
    assert float((on_device != cpu).any(1).float().mean()) < 1e-3
    assert float((on_device - cpu).abs().mean()) < 1e-3
    differ = float((on_device != cpu).any(1).float().mean())
    print(f"pixels painted differently: {differ:.2e}")
    assert torch.equal(assign_clusters_torch(views, centers), on_device)
    assert len(torch.unique(on_device.permute(1, 0, 2, 3).reshape(3, -1), dim=1).T) == 7
