"""pano see on real photos: plausible classes over covering views, per direction, flat photos, a user's own
classifier with its labels file, and the command line."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from pano.filters.seeing import see_flat, see_sphere, view_count
from pano.io.image import load_sphere, read_image
from pano.models.classifier import load_classifier, read_labels
from pano.models.imagenet import IMAGENET_CLASSES
from pano.models.weights import save_state_dict_file

from tests._cli import run_pano_here as run_pano  # in this process: the entry point has its own tests

# what pano see gave on the shared photos at 1024x512 (README "pano see"): petra cliff / cliff dwelling /
# monastery, louvre palace, taj mahal mosque / bell cote; a test accepts any of these neighbours
PLAUSIBLE = {
    "vrview_petra.jpg": {"cliff", "cliff dwelling", "monastery", "alp", "valley", "promontory", "megalith"},
    "aframe_louvre.jpg": {"palace", "castle", "library", "monastery", "planetarium", "fountain"},
}


@pytest.fixture(scope="module")
def classifier():
    return load_classifier("efficientnet_lite0")


@pytest.mark.parametrize("name", sorted(PLAUSIBLE))
def test_see_gives_plausible_classes_on_real_spheres(classifier, equirect_dir, name):
    sphere = load_sphere(equirect_dir / name, full_width=1024)
    seen = see_sphere(classifier, sphere.equirect)
    top = seen.top(3)
    print(name, top)
    assert top[0][1] in PLAUSIBLE[name]
    assert abs(float(seen.probs.sum()) - 1) < 1e-4 and top[0][0] > top[1][0] > top[2][0]
    assert seen.view_probs.shape == (view_count(), 1000)
    where = seen.where()
    assert len(where) == view_count() and {"yaw", "pitch", "class", "probability"} <= set(where[0])
    assert where[0]["pitch"] >= where[-1]["pitch"]  # from the top of the sphere down


def test_see_ignores_the_empty_part_of_a_partial_photosphere(classifier, photosphere_dir):
    """A 360° strip around the horizon (37° tall): views of the empty sky and ground weigh nothing, views on the
    horizon about half (the strip fills half of a 75° view); the same strip placed
    with no mask lets the black caps in (the classes change)."""
    sphere = load_sphere(photosphere_dir / "PANO_20130622_091214.jpg", full_width=1024)
    with_mask = see_sphere(classifier, sphere.equirect, mask=sphere.mask)
    no_mask = see_sphere(classifier, sphere.equirect)
    assert float(with_mask.weights.min()) < 0.05 and float(with_mask.weights.max()) > 0.4
    assert len(with_mask.where()) < view_count()
    assert not torch.allclose(with_mask.probs, no_mask.probs, atol=1e-3)


def test_see_flat_photo(classifier, flowers_dir):
    photo = read_image(sorted(flowers_dir.glob("daisy_*"))[0], mode="flat").pixels
    assert see_flat(classifier, photo).top(1)[0][1] == "daisy"


def test_users_classifier_with_its_labels_file(tmp_path, classifier, equirect_dir):
    """A 'scene net' with 6 classes made from the ImageNet net's own rows: its answer on the Louvre must be the
    full net's best among those 6, read from a Places365-style labels file (``/p/palace 0``)."""
    picked = ["palace", "cliff", "daisy", "mosque", "volcano", "seashore"]
    index = [IMAGENET_CLASSES.index(name) for name in picked]
    state = {k: v.clone() for k, v in classifier.backbone.net.state_dict().items()}
    state["fc.weight"], state["fc.bias"] = state["fc.weight"][index], state["fc.bias"][index]
    weights = save_state_dict_file(state, tmp_path / "scenes.safetensors")
    labels = tmp_path / "scenes.txt"
    labels.write_text("".join(f"/{n[0]}/{n} {i}\n" for i, n in enumerate(picked)))
    assert read_labels(labels) == tuple(picked)

    sphere = load_sphere(equirect_dir / "aframe_louvre.jpg", full_width=1024)
    mine = load_classifier("efficientnet_lite0", weights=weights, labels=labels)
    seen = see_sphere(mine, sphere.equirect)
    full = see_sphere(classifier, sphere.equirect)
    assert seen.probs.shape == (6,)
    best_full = max(picked, key=lambda n: float(full.probs[IMAGENET_CLASSES.index(n)]))
    assert seen.top(1)[0][1] == best_full == "palace"

    r = run_pano("see", equirect_dir / "aframe_louvre.jpg", "--weights", weights, "--labels", labels, "--json", "--top", "2")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["top"][0]["class"] == "palace" and len(out["top"]) == 2
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("a\nb\n")
    bad = run_pano("see", equirect_dir / "aframe_louvre.jpg", "--weights", weights, "--labels", wrong)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_cli_see_text_where_flat_and_errors(tmp_path, equirect_dir, flowers_dir):
    src = tmp_path / "petra.jpg"
    Image.open(equirect_dir / "vrview_petra.jpg").resize((1024, 512)).save(src)
    r = run_pano("see", src, "--where", "--top", "3")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("petra.jpg: what efficientnet_lite0 sees")
    assert lines[1].split(" ", 1)[1] in PLAUSIBLE["vrview_petra.jpg"] and float(lines[1].split()[0]) > 0
    assert "where (yaw, pitch of the view centre):" in lines[4] and len(lines) == 5 + view_count()

    photo = sorted(flowers_dir.glob("daisy_*"))[0]
    flat = json.loads(run_pano("see", photo, "--flat", "--json").stdout)
    assert flat["top"][0]["class"] == "daisy" and flat["views"] == 1

    labels_only = run_pano("see", src, "--labels", tmp_path / "x.txt")
    assert labels_only.returncode == 2 and "--weights" in labels_only.stderr and "Traceback" not in labels_only.stderr
    not_sphere = run_pano("see", photo)
    assert not_sphere.returncode == 2 and "--flat" in not_sphere.stderr
