"""The dream's small parts (lucent's manner): objectives compose, a Mirage-style Gram objective slots into the
same ascent loop on the sphere parametrisation, and the loop raises what it is given."""

from __future__ import annotations

import pytest
import torch

from pano.filters.ascent import Batching, ascend, features, view_score
from pano.filters.objectives import Objective, channel_subset, feature_direction, guide_dot, layer_activation
from pano.filters.parametrisation import SphereParametrisation
from pano.models.backbones import load_backbone
from pano.sphere.resize import resize_equirect


@pytest.fixture(scope="module")
def backbone():
    return load_backbone("efficientnet_lite0", device="cpu", layers=["stage2", "stage3"])


@pytest.fixture(scope="module")
def sphere(equirect_dir):
    from pano.io.image import read_image

    return resize_equirect(read_image(equirect_dir / "vrview_petra.jpg", mode="flat").pixels[:, :3], (64, 128))


def gram_match(layer: str, target: torch.Tensor) -> Objective:
    """A Mirage's style term as an objective: minus the distance of each view's Gram matrix to ``target``."""
    from pano.filters.mirage import gram

    return Objective(lambda f: -(gram(f[layer]) - target).pow(2).sum(dim=(1, 2)).sum(), [layer], f"gram {layer}")


def test_objectives_compose_and_name_the_layers_they_read(backbone, sphere):
    views = torch.nn.functional.interpolate(sphere, size=(64, 64))
    f = features(backbone, views, ["stage2", "stage3"], torch.device("cpu"), torch.float32)
    a, c = layer_activation("stage3"), channel_subset("stage2", [0, 3])
    g = guide_dot("stage3", feature_direction(f["stage3"]))
    both = a + 0.5 * c - g
    assert both.layers == ("stage3", "stage2")
    assert torch.allclose(both(f), a(f) + 0.5 * c(f) - g(f))
    assert float(c(f)) == pytest.approx(float(f["stage2"][:, [0, 3]].pow(2).mean()), rel=1e-5)
    from pano.errors import InputError

    with pytest.raises(InputError, match="channel 999 does not exist"):
        channel_subset("stage2", [999])(f)


def test_a_gram_objective_slots_into_the_ascent_on_the_sphere_and_is_raised(backbone, sphere):
    torch.manual_seed(0)
    param = SphereParametrisation(24, fov_deg=110.0, view_margin=0.2, tile=512, orientation="any", device=torch.device("cpu"))
    channels = backbone(torch.zeros(1, 3, 64, 64))["stage2"].shape[1]
    target = torch.eye(channels) * 1e-3  # a style of uncorrelated, weak channels
    goal = gram_match("stage2", target) + 0.1 * layer_activation("stage3")
    score = view_score(backbone, goal, torch.float32)
    x = param.from_equirect(sphere)
    gen = torch.Generator().manual_seed(1)
    fixed = param.render(torch.Generator().manual_seed(9))  # one view set to measure on
    before = float(score(fixed.views(fixed.prepare(x), slice(None))))
    for _ in range(4):
        x = ascend(x, param.render(gen), score, 0.01, Batching(0, torch.device("cpu")))
    after = float(score(fixed.views(fixed.prepare(x), slice(None))))
    assert after > before and x.shape == param.from_equirect(sphere).shape and 0 <= float(x.min()) <= float(x.max()) <= 1
