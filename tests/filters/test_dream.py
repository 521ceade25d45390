"""pano dream on real photos: the sphere measures of issue 3, the default's look and the output at the input's
own resolution (issue 13), strength, guide, mask, determinism, and the installed entry point end to end
(partial photosphere included)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from pano.filters.dream import DreamFilter, DreamSettings
from pano.metrics import (
    TURN,
    cube_edge_ratio,
    detail_ratio,
    pole_anisotropy,
    pole_minus_equator,
    structure_correlation,
    wrap_seam_ratio,
)
from pano.models.backbones import load_backbone
from pano.models.registry import get_spec
from pano.sphere.resize import resize_equirect

from tests._cli import run_pano_here
from tests._spheres import sphere_and_turned_from

# real photos at 1024x512, 3 octaves of 5 steps: the pole measure is statistical (rings of a 90° view), so the
# spheres must be large enough for the dream's motifs to be small against the rings
FAST = DreamSettings(size=1024, octaves=3, steps=5, step_size=0.02, seed=1)  # strong: the measures' hard case
LAYER = "stage4"  # the strong, even patterns of the intense preset: the sphere measures' hardest case
DEFAULT_LAYER = get_spec("efficientnet_lite0").default_layer
PHOTOS = ["vrview_petra.jpg", "aframe_louvre.jpg", "pannellum_examplepano.jpg"]


def load_equirect(path, width=512) -> torch.Tensor:
    img = Image.open(path).convert("RGB")
    img.draft("RGB", (width * 2, width))
    arr = np.asarray(img.resize((width, width // 2), Image.BILINEAR)).astype(np.float32) / 255
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


@pytest.fixture(scope="module")
def backbone():
    return load_backbone("efficientnet_lite0", layers=[LAYER])


@pytest.fixture(scope="module")
def default_backbone():
    return load_backbone("efficientnet_lite0", layers=[DEFAULT_LAYER])


def make(backbone, settings=FAST, **kw) -> DreamFilter:
    return DreamFilter(backbone, settings, layer=LAYER, **kw)


def make_default(backbone, **changes) -> DreamFilter:
    """pano dream's defaults (layer and strength), with ``changes`` (the working size, mostly)."""
    return DreamFilter(backbone, replace(DreamSettings(seed=1), **changes), layer=DEFAULT_LAYER)


@pytest.fixture(scope="module", params=PHOTOS)
def dreamed(request, backbone, equirect_dir):
    src = load_equirect(equirect_dir / request.param, 1024)
    return src, make(backbone)(src)


def strength(out: torch.Tensor, src: torch.Tensor) -> float:
    return float((out - src).abs().mean())


def test_dream_is_strong(dreamed):
    src, out = dreamed
    assert out.shape == src.shape and out.min() >= 0 and out.max() <= 1
    assert strength(out, src) > 0.05
    assert strength(src, src) == 0.0  # a no-op fails the bar above


def test_no_wrap_seam(dreamed):
    assert wrap_seam_ratio(dreamed[1]) <= 1.25


def test_no_cube_face_edges(dreamed):
    assert cube_edge_ratio(dreamed[1]) <= 1.2


def test_no_star_or_rings_at_the_poles(dreamed):
    """The single-image pole measure reads the content too: these photos' own poles score 0.37-0.70 (sky,
    tripod), and the output now keeps the input's detail at full resolution, so the bar is the input's."""
    src, out = dreamed
    assert pole_anisotropy(out) <= max(0.3, pole_anisotropy(src))


def test_the_same_content_dreams_the_same_at_a_pole_as_on_the_equator(backbone, default_backbone, equirect_dir):
    """Each photo (1024x512) dreamed at pano dream's defaults as it is and turned (``pano.metrics.TURN``: pole content on
    the equator, equator content at the poles): the same content must come out with the same ring anisotropy
    at a pole as on the equator. Numbers by ring, mean over the three photos, in BENCHMARKS.md; the classic
    dream on the flat equirect (the intense look) is the baseline that fails. The limit leaves room for other
    CPUs' rounding. The wrap and cube-edge measures of the default's dreams pass too: at this working size
    (faces of 128 px) the louvre read 1.22 on cube edges before the dream's change was smoothed as the views
    see it (``DreamFilter._dream_sphere``)."""
    dream = make_default(default_backbone, size=512)  # a CPU's case: the working size below the input's
    shifts, edges, wraps = [], [], []
    for name in PHOTOS:
        x, x_turned = sphere_and_turned_from(equirect_dir / name, 512, TURN)
        out = dream(x)
        shifts.append(pole_minus_equator(out, dream(x_turned)))
        edges.append(cube_edge_ratio(out))
        wraps.append((wrap_seam_ratio(out), max(1.25, 1.1 * wrap_seam_ratio(x))))
        if name == "vrview_petra.jpg":
            flat = make(backbone, replace(FAST, flat=True))
            baseline = pole_minus_equator(flat(x), flat(x_turned)).mean(0)
    mean = torch.cat(shifts).mean(0)
    print("dream, same content at a pole minus on the equator, by ring:", mean.tolist(), "flat baseline", baseline.tolist())
    print("cube edges (working size 512)", edges, "wrap (output, limit)", wraps)
    assert mean.abs().max() <= 0.15
    assert baseline.min() < -0.3  # the flat-equirect dream streaks the poles: caught
    assert all(w <= limit for w, limit in wraps)
    assert max(edges) <= 1.2


def test_the_default_leaves_no_cube_face_edges(default_backbone, equirect_dir):
    """The default (stage5, large motifs) at the CPU's working size, 1024, on a 1024x512 photo: the cube-edge
    measure as for the strong stage4 dream (at a working size of 512: the test above)."""
    x, _ = sphere_and_turned_from(equirect_dir / "aframe_louvre.jpg", 512, TURN)
    out = make_default(default_backbone, size=1024)(x)
    assert cube_edge_ratio(out) <= 1.2


@pytest.fixture(scope="module")
def at_input_size(default_backbone, equirect_dir):
    """petra at 600x300 dreamed at a working width of 256 (600 is not a multiple of it): the output, and the
    old way's (the dream at the working size blown up bicubically by torch, which clamps at the borders)."""
    from pano.io.image import read_image

    x = read_image(equirect_dir / "vrview_petra.jpg", mode="force-sphere", reduce=2).pixels
    x = resize_equirect(x, (300, 600)).clamp(0, 1)
    dream = make_default(default_backbone, size=256, octaves=3, steps=5, step_size=0.012)
    old = F.interpolate(dream.working_result(x), size=(300, 600), mode="bicubic", align_corners=False).clamp(0, 1)
    return x, dream(x), old


def test_the_output_keeps_the_inputs_detail(at_input_size):
    """High-frequency energy (3x3 Laplacian of the luminance, |lat| < 45°) of the output over the input's: the
    dream's change is added to the input at its own size; the old blow-up kept a tenth of it."""
    x, out, old = at_input_size
    assert out.shape == x.shape and strength(out, x) > 0.02  # it did dream
    print("detail ratio", detail_ratio(out, x), "old", detail_ratio(old, x))
    assert detail_ratio(out, x) >= 0.7
    assert detail_ratio(old, x) < 0.7  # the baseline is caught


def test_no_wrap_seam_when_the_input_is_not_the_working_size(at_input_size):
    x, out, old = at_input_size
    limit = max(1.25, 1.1 * wrap_seam_ratio(x))
    print("wrap seam: input", wrap_seam_ratio(x), "output", wrap_seam_ratio(out), "old", wrap_seam_ratio(old))
    assert wrap_seam_ratio(out) <= limit
    assert wrap_seam_ratio(old) > limit  # the clamped resize is caught


def test_the_default_keeps_the_scene_and_the_old_default_did_not(default_backbone, backbone, equirect_dir):
    """Luminance correlation at 128x64 of output and input, at defaults (working size 512 on a 512x256 photo):
    the classic notebook's strength on the default layer keeps the scene; the old default (the intense
    preset: stage4 at 3.4x that strength) turned it into an even pattern."""
    x = load_equirect(equirect_dir / "vrview_petra.jpg", 512)
    new = make_default(default_backbone, size=512)(x)
    intense = DreamSettings(seed=1, size=512).with_preset("intense")
    assert intense.layer == LAYER
    old = make(backbone, intense)(x)
    print("structure correlation: default", structure_correlation(new, x), "old default", structure_correlation(old, x))
    assert structure_correlation(new, x) >= 0.85
    assert structure_correlation(old, x) < 0.85  # the baseline is caught
    assert strength(new, x) > 0.01  # and the default does dream


def test_measures_catch_the_classic_failures(backbone, equirect_dir):
    """Baselines: DeepDream on the flat equirect (roll jitter) leaves its mark at the poles; a filter run on
    each cube face on its own leaves the cube edges."""
    src = load_equirect(equirect_dir / "vrview_petra.jpg", 1024)
    flat = make(backbone, replace(FAST, flat=True))(src)
    assert strength(flat, src) > 0.05
    assert pole_anisotropy(flat) > 0.35

    from pano.sphere import cubemap_to_equirect, equirect_to_cubemap

    cube = equirect_to_cubemap(src, 256)
    faces = cube[0]
    k = torch.ones(3, 1, 5, 5) / 25
    blurred = torch.stack([F.conv2d(face, k, padding=2, groups=3) for face in faces])[None]  # zero padding per face
    assert cube_edge_ratio(cubemap_to_equirect(blurred, 512, 1024)) > 1.5


def test_same_seed_same_result_other_seed_other_result(backbone, equirect_dir):
    src = load_equirect(equirect_dir / "vrview_taj-mahal.jpg", 256)
    quick = replace(FAST, size=256, octaves=2, steps=2)
    a = make(backbone, quick)(src)
    b = make(backbone, quick)(src)
    c = make(backbone, replace(quick, seed=2))(src)
    assert torch.equal(a, b)
    assert strength(a, c) > 0.005


def test_mask_limits_the_dream(backbone, equirect_dir):
    src = load_equirect(equirect_dir / "vrview_taj-mahal.jpg", 256)
    mask = torch.zeros(1, 1, 128, 256)
    mask[:, :, :48] = 1.0  # the sky only
    quick = replace(FAST, size=256, octaves=2, steps=4)
    out = make(backbone, quick, mask=mask)(src)
    assert strength(out[..., :40, :], src[..., :40, :]) > 0.03
    assert strength(out[..., 60:, :], src[..., 60:, :]) < 0.003


def test_guide_pulls_features_towards_the_guide(backbone, equirect_dir, flowers_dir):
    src = load_equirect(equirect_dir / "vrview_taj-mahal.jpg", 256)
    guide_img = np.asarray(Image.open(sorted(flowers_dir.glob("sunflowers_*"))[0]).convert("RGB"), dtype=np.float32) / 255
    guide = torch.from_numpy(guide_img).permute(2, 0, 1)[None].contiguous()
    quick = replace(FAST, size=256, octaves=2, steps=4)
    plain = make(backbone, quick)(src)
    guided_filter = make(backbone, quick, guide=guide)
    guided = guided_filter(src)
    assert strength(guided, plain) > 0.02

    def match(img: torch.Tensor) -> float:  # cosine between the image's mean features and the guide's
        with torch.no_grad():
            feats = backbone(F.interpolate(img, size=(128, 256), mode="bilinear"))[LAYER].mean(dim=(0, 2, 3))
        return float(feats @ guided_filter.guide_vector / feats.norm())

    assert match(guided) > match(plain) + 0.02


def test_flat_photo_dream(backbone, flowers_dir):
    img = np.asarray(Image.open(sorted(flowers_dir.glob("daisy_*"))[0]).convert("RGB"), dtype=np.float32) / 255
    src = torch.from_numpy(img).permute(2, 0, 1)[None].contiguous()
    out = make(backbone, replace(FAST, flat=True, size=192, octaves=2, steps=3, tile=128))(src)
    assert out.shape == src.shape
    assert strength(out, src) > 0.03


def test_the_working_size_follows_the_device():
    from pano.filters.dream import CPU_WORKING_SIZE, GPU_WORKING_SIZE_CAP, default_working_size

    assert default_working_size("cuda", 2048)[0] == 2048  # the input's own resolution on a GPU
    assert default_working_size("cuda", 14000) == (GPU_WORKING_SIZE_CAP, f"the cap on cuda: {GPU_WORKING_SIZE_CAP} px; --size to change")
    assert default_working_size("cpu", 8192)[0] == CPU_WORKING_SIZE == 1024  # minutes on a CPU
    assert default_working_size("cpu", 600) == (600, "the input's own, on cpu")


def run_pano(*args, cwd=None) -> subprocess.CompletedProcess:
    exe = [sys.executable, "-m", "pano"] if not _installed() else ["pano"]
    return subprocess.run([*exe, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


def _installed() -> bool:
    import shutil

    return shutil.which("pano") is not None


def test_cli_partial_photosphere_keeps_size_and_gpano(tmp_path, photosphere_dir):
    from pano.io.gpano import read_sphere_geometry

    src = photosphere_dir / "PANO_20130622_091214.jpg"  # a 360° strip, 7896x807, partial in latitude
    out = tmp_path / "strip_dream.jpg"
    r = run_pano("dream", src, "-o", out, "--size", "256", "--octaves", "2", "--steps", "2", "-q")
    assert r.returncode == 0, r.stderr
    assert Image.open(out).size == Image.open(src).size
    g_in, g_out = read_sphere_geometry(src), read_sphere_geometry(out)
    for key in ("full_width", "full_height", "crop_left", "crop_top", "crop_width", "crop_height"):
        assert getattr(g_out, key) == getattr(g_in, key), key
    info = json.loads(run_pano_here("info", out, "--json").stdout)
    assert info["kind"] == "partial"


def test_cli_end_to_end_default_name_params_and_errors(tmp_path, equirect_dir):
    src = tmp_path / "sphere.jpg"
    Image.open(equirect_dir / "vrview_petra.jpg").resize((256, 128)).save(src)
    r = run_pano("dream", src, "--size", "256", "--octaves", "2", "--steps", "2", "--seed", "5")
    assert r.returncode == 0, r.stderr
    assert "working size 256 px (from --size)" in r.stderr  # the progress line says which size and why
    out = tmp_path / "sphere_dream.jpg"
    assert Image.open(out).size == (256, 128)
    xmp = Image.open(out).info.get("xmp", b"")
    xmp = xmp.decode() if isinstance(xmp, bytes) else xmp
    assert "pano:Params" in xmp and "GPano" in xmp and "&quot;seed&quot;: 5" in xmp
    # the same command again: refuses to overwrite, one line, exit 2, no traceback (these refusals in this
    # process, through the same standalone error handling: an exception would be raised here)
    again = run_pano_here("dream", src, "--size", "256", "--octaves", "2", "--steps", "2")
    assert again.returncode == 2 and "--overwrite" in again.stderr and "Traceback" not in again.stderr
    bad_layer = run_pano_here("dream", src, "-o", tmp_path / "x.jpg", "--layer", "nope")
    assert bad_layer.returncode == 2 and len(bad_layer.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.jpg").exists()
    flat = tmp_path / "photo.jpg"
    Image.open(equirect_dir / "vrview_petra.jpg").resize((300, 200)).save(flat)
    not_sphere = run_pano_here("dream", flat)
    assert not_sphere.returncode == 2 and "--flat" in not_sphere.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg", "sphere.jpg", "sphere_dream.jpg"]


def test_cli_dream_then_upscale_sphere_and_flat_photo(tmp_path, equirect_dir):
    """``--upscale`` in the same run: a sphere comes back 2x with its GPano and the upscale in its params; a
    flat photo is upscaled as a photo (its left edge never sees its right edge, no polar views)."""
    src = tmp_path / "sphere.png"
    Image.open(equirect_dir / "vrview_petra.jpg").convert("RGB").resize((128, 64), Image.LANCZOS).save(src)
    quick = ["--size", "128", "--octaves", "1", "--steps", "1", "--upscale", "2", "--device", "cpu", "-q"]
    r = run_pano("dream", src, *quick)
    assert r.returncode == 0, r.stderr
    out = Image.open(tmp_path / "sphere_dream.png")
    assert out.size == (256, 128)
    xmp = out.info.get("xmp", b"")
    xmp = xmp.decode() if isinstance(xmp, bytes) else xmp
    assert "GPano" in xmp and "&quot;upscale&quot;: 2" in xmp

    photo = np.full((64, 96, 3), 0.5, np.float32)
    photo[:, :32], photo[:, 64:] = 0.05, 0.95  # dark left edge, bright right edge
    flat = tmp_path / "photo.png"
    Image.fromarray((photo * 255).round().astype(np.uint8)).save(flat)
    r = run_pano_here("dream", flat, "--flat", *quick)  # the entry point ran above: this one in this process
    assert r.returncode == 0, r.stderr
    result = np.asarray(Image.open(tmp_path / "photo_dream.png").convert("RGB"), np.float32) / 255
    assert result.shape == (128, 192, 3)
    # wrapped like a sphere, the edges would meet (both edge columns came out near 0.5)
    assert result[:, :2].mean() < 0.2 and result[:, -2:].mean() > 0.8


class RefusesBigBatches(torch.nn.Module):
    """The real backbone, but a batch of more than ``limit`` views raises CUDA's out-of-memory error."""

    def __init__(self, net: torch.nn.Module, limit: int) -> None:
        super().__init__()
        self.net, self.limit, self.refused = net, limit, 0

    def forward(self, x):
        if x.shape[0] > self.limit:
            self.refused += 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.net(x)


def test_out_of_memory_recovers_with_smaller_batches_and_says_so(backbone, equirect_dir):
    src = load_equirect(equirect_dir / "vrview_taj-mahal.jpg", 256)
    quick = replace(FAST, size=256, octaves=1, steps=1)  # one step: batch sizes must agree to rounding
    reference = make(backbone, quick)(src)
    guarded = RefusesBigBatches(backbone, limit=2)
    filt = DreamFilter(guarded, replace(quick, batch=6), layer=LAYER)  # as on a GPU: all views at once
    messages: list[str] = []
    out = filt(src, progress=lambda done, total, label: messages.append(label) if total == 0 else None)
    halved = [int(m.split(" with ")[1].split()[0]) for m in messages if "out of GPU memory" in m]
    assert guarded.refused >= 1 and halved and 1 <= halved[-1] <= 2  # halved from 6 views until it fits
    assert any("out of GPU memory" in m for m in messages)  # said through the call's callback
    # the call kept no state: its settings are as built, and a second call halves again, to the same result
    refused = guarded.refused
    assert filt.settings.batch == 6 and torch.equal(filt(src), out) and guarded.refused > refused
    # the same step, computed in smaller batches (to rounding: a few ReLU6 units sitting exactly at a kink may
    # flip, so compare the whole step, not every pixel)
    assert strength(out, reference) < 0.01 * strength(reference, src)
