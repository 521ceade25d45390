"""Training on real flower photos lowers L1; the model file round-trips; apply through the installed ``pano``;
resume continues exactly; unreadable images are skipped and counted; an empty folder is one clear error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from safetensors import safe_open

from pano.commands.beauty import beauty
from pano.filters.beauty import (
    META_KEY,
    BeautyFilter,
    PhotoFolder,
    TrainConfig,
    checkpoint_path,
    generate,
    l1_on_photos,
    load_model,
    train,
)
from pano.filters.conditions import ConditionSpec
from pano.metrics import TURN, pole_minus_equator
from pano.models.pix2pix import UNetGenerator, init_weights

from tests._spheres import isotropic_sphere

SIZE, NGF, STEPS, BATCH = 64, 8, 300, 2
HEIGHT_ISO = 256  # 512x256 random spheres for the pole test


def _link_photos(flowers_dir: Path, dest: Path, every: int) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    photos = sorted(flowers_dir.glob("*.jpg"))[::every]
    for p in photos:
        (dest / p.name).symlink_to(p)
    return photos


@pytest.fixture(scope="module")
def flower_folder(flowers_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("flowers")
    _link_photos(flowers_dir, folder, every=34)  # 6 photos across the 5 classes
    return folder


@pytest.fixture(scope="module")
def trained(flower_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("model")
    config = TrainConfig(
        condition=ConditionSpec("clusters", {"k": 7}), size=SIZE, steps=STEPS, batch=BATCH, ngf=NGF, ndf=NGF,
        num_workers=0, checkpoint_every=0, preview_every=STEPS, seed=0,
    )
    dataset = PhotoFolder(flower_folder, SIZE, config.condition)
    torch.manual_seed(config.seed)  # train() starts from exactly this initialisation
    initial = init_weights(UNetGenerator(3, 3, NGF, 6, config.dropout))
    photos = list(range(len(dataset)))
    before = l1_on_photos(initial, dataset, photos)
    result = train(flower_folder, out / "flowers.safetensors", config, device=torch.device("cpu"))
    after = l1_on_photos(result.model.generator, dataset, photos)
    return {"result": result, "before": before, "after": after, "dataset": dataset, "config": config}


def test_training_lowers_l1_on_the_photos(trained) -> None:
    r = trained["result"]
    print(f"L1 on {len(trained['dataset'])} photos: {trained['before']:.4f} -> {trained['after']:.4f}")
    assert r.step == STEPS and r.images == 6 and r.skipped == []
    assert trained["after"] < 0.75 * trained["before"]
    assert set(r.losses) == {"D", "G", "L1"} and all(np.isfinite(v) for v in r.losses.values())
    # the preview grid: 4 rows of condition | output | real
    assert len(r.previews) == 1
    with Image.open(r.previews[0]) as im:
        assert im.size == (3 * SIZE, 4 * SIZE)


def test_model_file_documented_and_reloads_to_same_outputs(trained) -> None:
    r = trained["result"]
    with safe_open(str(r.model_path), framework="pt") as f:
        meta = json.loads(f.metadata()[META_KEY])
        keys = set(f.keys())
    assert meta["format"] == "pano-beauty" and meta["format_version"] == 1
    assert meta["condition"] == {"name": "clusters", "params": {"k": 7, "seed": 0}}
    assert meta["size"] == SIZE and meta["step"] == STEPS
    assert meta["architecture"] == {"generator": "unet", "in_channels": 3, "out_channels": 3, "ngf": NGF, "depth": 6, "dropout": 0.5}
    assert meta["training"]["lr"] == 2e-4 and meta["training"]["l1_weight"] == 100.0 and meta["training"]["images"] == 6
    assert meta["pano_version"]
    assert keys == set(r.model.generator.state_dict())  # generator only: no discriminator, no optimizer

    model = load_model(r.model_path)
    assert not model.generator.training
    filt = BeautyFilter(model)
    assert filt.info.scale == 1 and filt.view_size == SIZE
    assert json.loads(json.dumps(filt.params()))["condition"]["name"] == "clusters"
    cond = torch.stack([trained["dataset"][(i, None)][0] for i in range(3)])
    trained_g = r.model.generator.eval()
    assert torch.equal(generate(model.generator, cond), generate(trained_g, cond))


def test_apply_real_equirect_through_installed_pano(trained, equirect_dir: Path, tmp_path: Path) -> None:
    from pano.metrics import cube_edge_ratio, pole_anisotropy, wrap_seam_ratio

    src = tmp_path / "petra.jpg"
    with Image.open(equirect_dir / "vrview_petra.jpg") as im:
        im.convert("RGB").resize((256, 128), Image.LANCZOS).save(src, quality=95)
    out = tmp_path / "petra_beauty.png"  # PNG: JPEG blocks would add their own edges to the measures
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    pano = shutil.which("pano")
    assert pano, "the pano entry point is not installed"
    proc = subprocess.run(
        [pano, "beauty", "apply", str(trained["result"].model_path), str(src), "-o", str(out), "--view-size", "64",
         "--device", "cpu", "-q"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    with Image.open(out) as im:
        result = np.asarray(im.convert("RGB")).astype(np.float32) / 255
    with Image.open(src) as im:
        original = np.asarray(im).astype(np.float32) / 255
    assert result.shape == (128, 256, 3)
    assert np.abs(result - original).mean() > 0.03  # it repainted the sphere
    equi = torch.from_numpy(result).permute(2, 0, 1)[None]
    scores = {"wrap": wrap_seam_ratio(equi), "cube": cube_edge_ratio(equi), "poles": pole_anisotropy(equi)}
    pole_in = pole_anisotropy(torch.from_numpy(original).permute(2, 0, 1)[None])
    print(scores, "input poles", pole_in)
    assert scores["wrap"] <= 1.25 and scores["cube"] <= 1.2
    # real photos have tripods and skies at the poles (petra at 256x128: 0.46 before any filter), so the
    # pole measure must be at most 0.3 or add at most 0.1 to the photo's own
    assert scores["poles"] <= max(0.3, pole_in + 0.1)

    # baseline: the same model run on the flat equirect (no views) leaves a seam the measure catches
    model = load_model(trained["result"].model_path)
    flat = BeautyFilter(model, flat=True, view_size=64)(torch.from_numpy(original).permute(2, 0, 1)[None])
    print("flat baseline: wrap", wrap_seam_ratio(flat))
    assert wrap_seam_ratio(flat) > 1.25

    # the output exists: a second run without --overwrite is one clear error, no traceback
    again = subprocess.run([pano, "beauty", "apply", str(trained["result"].model_path), str(src), "-o", str(out), "-q"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr


def _pole_shift(fn, height: int, seeds=range(4)) -> torch.Tensor:
    """:func:`pole_minus_equator` of ``fn``'s outputs, averaged over its four contents and over isotropic random
    spheres: ``(3,)``, one value per ring of the pole measure."""
    shifts = []
    for seed in seeds:
        outs = []
        for turn in (None, TURN):
            torch.manual_seed(0)
            outs.append(fn(isotropic_sphere(height, seed, turn=turn)))
        shifts.append(pole_minus_equator(*outs))
    return torch.cat(shifts).mean(0)


def test_apply_treats_the_poles_like_the_equator(trained) -> None:
    """The dream issue's pole measure compares one view straight up or down with four on the equator. This small
    test model paints blobs a few degrees across, and one view's innermost ring holds only a few of them: four
    equator views of one output differ by up to 0.44 there, so on one small sphere the measure mostly reads
    the content (0.13-0.38 at 512x256 on four random spheres, whose inputs score 0.09-0.18). What it is meant
    to catch is checked directly instead: the same content must score the same at a pole as on the equator,
    as it does without any filter (the measure's own sampling of a small equirect shifts it by about -0.07),
    while the same model run on the flat equirect paints radial streaks at the poles."""
    model = load_model(trained["result"].model_path)
    views = _pole_shift(BeautyFilter(model, view_size=SIZE), HEIGHT_ISO)
    identity = _pole_shift(lambda x: x, HEIGHT_ISO)
    flat = _pole_shift(BeautyFilter(model, view_size=SIZE, flat=True), HEIGHT_ISO)
    print(f"pole minus equator, per ring: views {views.tolist()}, no filter {identity.tolist()}, flat {flat.tolist()}")
    assert (views - identity).abs().max() <= 0.1
    assert flat.max() < -0.3  # a star: the baseline is caught in every ring


def test_apply_leaves_no_seam_at_180_on_a_width_off_the_view_grid(trained, equirect_dir: Path) -> None:
    """Issue 13 saw the wrap measure of a beauty output rise (1.11 -> 1.39 at 2048x1024). On one output that
    measure mostly reads the content (the same ratio at other columns of this model's outputs runs from 0.5
    to 2.2), and it depends on where the views fall on that content. So the same content pairs of a real
    photo (four places, each rolled to be the first and last column) are measured with the pipeline's ±180°
    line on them and with the input turned a quarter, a half and three quarters of a turn under the views
    (the output turned back): ±180° must be no worse than the other longitudes, and within issue 13's bar
    against the input. 257x128: odd width, not 2:1, not a multiple of the 64-px views. The flat baseline
    (the net on the equirect, whose left and right borders it sees as image borders) fails both."""
    from pano.io.image import read_image
    from pano.metrics import wrap_seam_ratio
    from pano.sphere.resize import resize_equirect

    photo = resize_equirect(read_image(equirect_dir / "vrview_taj-mahal.jpg", mode="sphere").pixels.float(), (128, 257))
    model = load_model(trained["result"].model_path)
    w = photo.shape[-1]
    places = [photo.roll(p, -1) for p in range(0, w, w // 4)[:4]]
    inputs = float(np.mean([wrap_seam_ratio(x) for x in places]))

    def by_longitude(filt) -> list[float]:  # [on the ±180° line, a quarter turn away, half, three quarters]
        turns = [k * w // 4 for k in range(4)]
        return [float(np.mean([wrap_seam_ratio(filt(x.roll(t, -1)).roll(-t, -1)) for x in places])) for t in turns]

    views = by_longitude(BeautyFilter(model, view_size=SIZE))
    flat = by_longitude(BeautyFilter(model, view_size=SIZE, flat=True))
    print(f"wrap measure of the same content pairs, input {inputs:.3f}; with the pipeline's ±180° line on them, then a "
          f"quarter, half, three quarters of a turn away: views {[round(v, 3) for v in views]}, flat {[round(v, 3) for v in flat]}")
    assert views[0] <= max(1.25, 1.1 * inputs)
    assert views[0] <= 1.1 * max(views[1:])  # nothing special at ±180°
    assert flat[0] > max(1.25, 1.1 * inputs) and flat[0] > 2 * max(flat[1:])  # the baseline's seam is caught


def test_apply_flat_side_by_side(trained, flower_folder: Path, tmp_path: Path) -> None:
    photo = tmp_path / "flower.png"
    shutil.copy(sorted(flower_folder.glob("*.jpg"))[0], tmp_path / "flower.jpg")
    with Image.open(tmp_path / "flower.jpg") as im:
        im.save(photo)
    res = CliRunner().invoke(beauty, ["apply", str(trained["result"].model_path), str(photo), "--flat", "--side-by-side",
                                      "--device", "cpu", "-q"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "flower_beauty.png"  # default name: NAME_beauty.EXT beside the input
    with Image.open(photo) as a, Image.open(out) as b:
        assert b.size == (2 * a.size[0], a.size[1])
        left = np.asarray(b.convert("RGB"))[:, : a.size[0]].astype(int)
        right = np.asarray(b.convert("RGB"))[:, a.size[0] :].astype(int)
        assert np.abs(left - np.asarray(a.convert("RGB")).astype(int)).mean() < 1  # the input, unchanged
        assert np.abs(right - left).mean() > 5  # its interpretation


def _messy_folder(flowers_dir: Path, folder: Path) -> Path:
    _link_photos(flowers_dir, folder, every=100)  # 2 photos
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (folder / "notes.txt").write_text("not an image, ignored")
    return folder


def test_resume_continues_step_count_and_optimizer_state(flowers_dir: Path, equirect_dir: Path, tmp_path: Path) -> None:
    folder = _messy_folder(flowers_dir, tmp_path / "photos")
    args = ["--condition", "edges", "--size", "64", "--batch", "2", "--ngf", "4", "--ndf", "4", "--num-workers", "0",
            "--checkpoint-every", "0", "--preview-every", "0", "--device", "cpu"]
    a = tmp_path / "a.safetensors"
    runner = CliRunner()
    first = runner.invoke(beauty, ["train", str(folder), "-o", str(a), "--steps", "3", *args])
    assert first.exit_code == 0, first.output
    assert first.output.count("1 unreadable skipped") == 1 and "2 images" in first.output
    second = runner.invoke(beauty, ["train", str(folder), "-o", str(a), "--steps", "6", "--resume", *args])
    assert second.exit_code == 0, second.output
    assert "resuming at step 3" in second.output
    assert load_model(a).step == 6

    # the same 6 steps in one go, loading data in 2 worker processes, end in the same state (weights, Adam
    # moments, batch-norm statistics, RNG: the 64-px U-Net has a dropout layer)
    b = tmp_path / "b.safetensors"
    config = TrainConfig(condition=ConditionSpec("edges"), size=64, steps=6, batch=2, ngf=4, ndf=4, num_workers=2,
                         checkpoint_every=0, preview_every=0)
    result = train(folder, b, config, device=torch.device("cpu"))
    assert result.step == 6 and [p.name for p in result.skipped] == ["broken.jpg"]
    with safe_open(str(checkpoint_path(a)), "pt") as fa, safe_open(str(checkpoint_path(b)), "pt") as fb:
        assert set(fa.keys()) == set(fb.keys())
        assert any(k.startswith("optG.") and k.endswith("exp_avg_sq") for k in fa.keys())
        for key in fa.keys():
            torch.testing.assert_close(fa.get_tensor(key), fb.get_tensor(key), rtol=1e-5, atol=1e-6, msg=key)
        assert json.loads(fa.metadata()[META_KEY])["step"] == 6

    # an edges model repaints a sphere too (edges of each perspective view)
    with Image.open(equirect_dir / "vrview_petra.jpg") as im:
        small = np.asarray(im.convert("RGB").resize((128, 64), Image.BILINEAR)).astype(np.float32) / 255
    equi = torch.from_numpy(small).permute(2, 0, 1)[None]
    out = BeautyFilter(load_model(a), view_size=32)(equi)
    assert out.shape == equi.shape and 0 <= float(out.min()) and float(out.max()) <= 1


def test_resume_without_checkpoint_and_existing_model(flowers_dir: Path, tmp_path: Path) -> None:
    folder = _messy_folder(flowers_dir, tmp_path / "photos")
    model = tmp_path / "m.safetensors"
    res = CliRunner().invoke(beauty, ["train", str(folder), "-o", str(model), "--resume", "--size", "32"])
    assert res.exit_code == 2 and "no checkpoint" in res.output and "without --resume" in res.output
    model.write_bytes(b"x")
    res = CliRunner().invoke(beauty, ["train", str(folder), "-o", str(model), "--size", "32"])
    assert res.exit_code == 2 and "already exists" in res.output


def test_empty_or_unreadable_folder_is_one_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(beauty, ["train", str(empty), "-o", str(tmp_path / "m.safetensors")])
    assert res.exit_code == 2
    assert "no readable images" in res.output and len(res.output.strip().splitlines()) == 1
    (empty / "bad.png").write_bytes(b"garbage")
    res = CliRunner().invoke(beauty, ["train", str(empty), "-o", str(tmp_path / "m.safetensors")])
    assert res.exit_code == 2 and "(1 unreadable)" in res.output


def test_not_a_model_file(tmp_path: Path, flowers_dir: Path) -> None:
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"\x00" * 64)
    photo = sorted(flowers_dir.glob("*.jpg"))[0]
    res = CliRunner().invoke(beauty, ["apply", str(bogus), str(photo), "--flat", "-o", str(tmp_path / "o.jpg")])
    assert res.exit_code == 2 and "safetensors" in res.output and "Traceback" not in res.output


def test_mixed_precision_channels_last_path(flowers_dir: Path, tmp_path: Path) -> None:
    """The GPU recipe (bf16 autocast, channels-last) runs here on the CPU and still writes an fp32 model."""
    folder = _messy_folder(flowers_dir, tmp_path / "photos")
    config = TrainConfig(condition=ConditionSpec("clusters", {"k": 4}), size=32, steps=2, batch=2, ngf=4, ndf=4,
                         num_workers=0, checkpoint_every=1, preview_every=0, precision="bf16", channels_last=True)
    starts = []
    result = train(folder, tmp_path / "m.safetensors", config, device=torch.device("cpu"), on_start=starts.append)
    assert starts[0].dtype == "bfloat16" and result.step == 2
    assert all(np.isfinite(v) for v in result.losses.values())
    with safe_open(str(result.model_path), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} <= {torch.float32, torch.int64}
