"""pano mirage on a real photo at small sizes: the net sees the original's classes in the result (not without the
content loss), the style loss falls, the layout is gone (a plain dream keeps it), the sphere measures (wrap, cube
edges, the same look at a pole as on the equator); the command line (printing, JSON log, -q, partial
photosphere, flat photo) and pano video --filter mirage."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from pano.filters.dream import DreamFilter, DreamSettings
from pano.filters.mirage import MirageFilter, MirageSettings
from pano.filters.seeing import see_sphere
from pano.io.image import load_sphere
from pano.metrics import TURN, cube_edge_ratio, pole_anisotropy, pole_minus_equator, wrap_seam_ratio
from pano.models.backbones import load_backbone
from pano.models.classifier import load_classifier
from pano.sphere.rotation import rotation_matrix

from tests._cli import run_pano_here as run_pano  # in this process: the entry point has its own tests
from tests._spheres import sphere_and_turned_from

# 256x128, one scale (cube faces of 64 px, views of 116 px), 30 iterations: small enough for a CPU test
SMALL = MirageSettings(size=256, scales=1, steps=30, seed=0)
# the classes of a 512x256 photo (where pano see reads sensible ones: palace, castle, ...), mirage worked at 256 with
# the default recipe's 60 iterations at its smallest scale
CLASSES = MirageSettings(size=256, scales=1, steps=60, seed=0)
PHOTO = "aframe_louvre.jpg"
STYLE_FALL = 2.0  # the style loss of the last iterations at most half the first's
POLE_LIMIT = 0.15  # |pole minus equator| by ring, as for the dream


@pytest.fixture(scope="module")
def classifier():
    return load_classifier("efficientnet_lite0")


@pytest.fixture(scope="module")
def runs(classifier, equirect_dir):
    src = load_sphere(equirect_dir / PHOTO, full_width=256).equirect
    reports = []
    mirage = MirageFilter(classifier, SMALL, on_report=reports.append, report_every=10)
    out = mirage(src)
    dream = DreamFilter(load_backbone("efficientnet_lite0", layers=["stage4"]), DreamSettings(size=256, octaves=2, steps=5), layer="stage4")
    return {"src": src, "out": out, "dream": dream(src), "filter": mirage, "reports": reports}


@pytest.fixture(scope="module")
def at_512(classifier, equirect_dir):
    src = load_sphere(equirect_dir / PHOTO, full_width=512).equirect
    return {"src": src, "out": MirageFilter(classifier, CLASSES)(src), "out0": MirageFilter(classifier, replace(CLASSES, content_weight=0.0))(src)}


def top5(classifier, x) -> list[str]:
    return [name for _, name in see_sphere(classifier, x).top(5)]


def layout_correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Correlation of the luminance at 128x64: the large-scale layout."""
    w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    la, lb = ((F.interpolate(x.cpu(), size=(64, 128), mode="area") * w).sum(1).flatten() for x in (a, b))
    return float(torch.corrcoef(torch.stack([la, lb]))[0, 1])


def kl(p: torch.Tensor, q: torch.Tensor) -> float:
    return float((p * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum())


def same_classes(a: list[str], b: list[str]) -> bool:
    """The issue's bar: top-1 equal, or at least 3 of the top 5 shared."""
    return a[0] == b[0] or len(set(a) & set(b)) >= 3


def test_the_net_sees_the_original_classes_in_the_mirage_and_not_without_the_content_loss(at_512, classifier):
    """As pano see measures it (its own upright views, not the optimised random ones) at 512x256: the result's
    top classes are the original's (top-1 equal, or top-5 overlap >= 3); with content weight 0 they are not."""
    original, result, without = (see_sphere(classifier, at_512[k]) for k in ("src", "out", "out0"))
    names = [[n for _, n in seen.top(5)] for seen in (original, result, without)]
    print("original", original.top(5), "\nmirage", result.top(5), "\ncontent weight 0", without.top(5))
    print("KL to the original: mirage", kl(original.probs, result.probs), "content weight 0", kl(original.probs, without.probs))
    assert same_classes(names[0], names[1])
    assert not same_classes(names[0], names[2])
    # not tuned to pano see's own view set: views turned between them see the same classes
    turned = see_sphere(classifier, at_512["out"], rotation=rotation_matrix(torch.tensor(40.0), torch.tensor(10.0), torch.tensor(0.0)))
    print("mirage, views turned 40° yaw, 10° pitch", turned.top(5))
    assert same_classes(names[0], [n for _, n in turned.top(5)])
    assert kl(original.probs, result.probs) < kl(original.probs, without.probs)


def test_the_style_loss_falls_by_a_large_factor(runs):
    """From the noise start, the style loss (sum over the layers) of the last iterations against the first."""
    style = [sum(v for k, v in r["losses"].items() if k.startswith("style")) for r in runs["filter"].history]
    print("style loss", style[0], "->", style[-1])
    assert style[0] / (sum(style[-3:]) / 3) >= STYLE_FALL


def test_the_layout_is_gone_while_a_dream_keeps_it(runs):
    assert abs(layout_correlation(runs["src"], runs["out"])) < 0.5
    assert layout_correlation(runs["src"], runs["dream"]) > 0.8


def test_sphere_measures(runs):
    out = runs["out"]
    assert out.shape == runs["src"].shape and 0 <= float(out.min()) and float(out.max()) <= 1
    print("wrap", wrap_seam_ratio(out), "cube edges", cube_edge_ratio(out), "poles", pole_anisotropy(out))
    assert wrap_seam_ratio(out) <= 1.25
    assert pole_anisotropy(out) <= 0.3


def test_no_cube_face_edges(runs):
    """The result is the cube map as the views saw it (prefiltered): the pixel-level noise Adam leaves, uneven along
    the cube's edges, is not written (it read 1.32 on this measure before)."""
    assert cube_edge_ratio(runs["out"]) <= 1.2


def test_the_same_look_at_a_pole_as_on_the_equator(runs, classifier, equirect_dir):
    """Like for like (pano.metrics.pole_minus_equator, as the dream's test): the mirage of the photo and of the
    same sphere turned (its poles' content on the equator and back), ring anisotropy at a pole minus on the
    equator. A mirage has no layout, so "the same content" is the same classes and style: a filter that treats
    the poles like the equator scores near 0. The baseline that fails: the same mirage on the flat equirect."""
    x, x_turned = sphere_and_turned_from(equirect_dir / PHOTO, 128, TURN)
    quick = replace(SMALL, steps=15)
    mirage = MirageFilter(classifier, quick)
    shift = pole_minus_equator(mirage(x), mirage(x_turned)).mean(0)
    flat = MirageFilter(classifier, replace(quick, flat=True))
    baseline = pole_minus_equator(flat(x), flat(x_turned)).mean(0)
    print("mirage, pole minus equator by ring:", shift.tolist(), "flat baseline", baseline.tolist())
    assert shift.abs().max() <= POLE_LIMIT
    assert baseline.abs().max() > POLE_LIMIT


def test_reports_carry_iteration_losses_and_classes(runs):
    reports = runs["reports"]
    assert [r["iteration"] for r in reports] == [10, 20, 30]
    r = reports[-1]
    assert r["total"] == 30 and set(r["losses"]) >= {"content", "style 1", "tv", "total"} and len(r["top"]) == 3
    assert len(runs["filter"].history) == 30


QUICK = ["--size", "128", "--scales", "1", "--steps", "2", "--device", "cpu"]


def test_cli_prints_blocks_writes_json_log_and_keeps_geometry(tmp_path, equirect_dir):
    src = tmp_path / "sphere.jpg"
    Image.open(equirect_dir / PHOTO).resize((256, 128)).save(src)
    log = tmp_path / "run.jsonl"
    r = run_pano("mirage", src, *QUICK, "--print-every", "1", "--json-log", log)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "----------- seeing the features --------------"
    assert "Iteration 1 / 2 (scale 1/1)" in lines and "Iteration 2 / 2 (scale 1/1)" in lines
    block = lines.index("Iteration 2 / 2 (scale 1/1)")
    assert "content:" in lines[block + 1] and "style 6:" in lines[block + 1] and "total:" in lines[block + 1]
    assert any(line.startswith("original") and line.rstrip().endswith("mirage") for line in lines)
    out = tmp_path / "sphere_mirage.jpg"
    assert Image.open(out).size == (256, 128)
    xmp = Image.open(out).info.get("xmp", b"")
    xmp = xmp.decode() if isinstance(xmp, bytes) else xmp
    assert "GPano" in xmp and "pano:Params" in xmp
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[0]["event"] == "original" and [r["iteration"] for r in records[1:3]] == [1, 2]
    assert records[-1]["event"] == "result" and len(records[-1]["result"]) >= 3

    quiet = run_pano("mirage", src, *QUICK, "-q", "-o", tmp_path / "q.jpg")
    assert quiet.returncode == 0 and quiet.stdout == "" and "Iteration" not in quiet.stderr
    bad = run_pano("mirage", src, *QUICK, "--style-layers", "nope", "-o", tmp_path / "bad.jpg", "--json-log", tmp_path / "bad.jsonl")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad.jpg").exists() and not (tmp_path / "bad.jsonl").exists()
    assert not list(tmp_path.glob("*.part"))


def test_cli_partial_photosphere_and_flat_photo(tmp_path, photosphere_dir, flowers_dir):
    from pano.io.gpano import read_sphere_geometry

    src = photosphere_dir / "PANO_20130622_091214.jpg"
    out = tmp_path / "strip_mirage.jpg"
    r = run_pano("mirage", src, *QUICK, "-q", "-o", out)
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == Image.open(src).size
    g_in, g_out = read_sphere_geometry(src), read_sphere_geometry(out)
    for key in ("full_width", "full_height", "crop_left", "crop_top", "crop_width", "crop_height"):
        assert getattr(g_out, key) == getattr(g_in, key), key

    photo = sorted(flowers_dir.glob("daisy_*"))[0]
    flat_out = tmp_path / "daisy_mirage.jpg"
    r = run_pano("mirage", photo, "--flat", *QUICK, "-q", "-o", flat_out)
    assert r.returncode == 0, r.stderr
    assert Image.open(flat_out).size == Image.open(photo).size


def test_video_filter_mirage(tmp_path):
    from tests.video.clips import make_clip, read_frames

    clip = make_clip(tmp_path / "clip.mp4", frames=3, audio=False)
    out = tmp_path / "clip_mirage.mp4"
    r = run_pano("video", clip, "--filter", "mirage", "--size", "128", "--scales", "1", "--steps", "2", "--device", "cpu", "-q", "--encode-preset", "ultrafast")
    assert r.returncode == 0, r.stderr
    frames = read_frames(out)
    assert len(frames) == 3 and frames[0].shape[:2] == (64, 128)
