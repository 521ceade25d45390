"""SR model loading: the ncnn -> spandrel weight mapping is right (and a wrong one shows), files by path,
registry names, and the one-line errors."""

from __future__ import annotations

import pytest
import spandrel
import torch
import torch.nn.functional as F

from pano.errors import ModelError
from pano.models.ncnn import load_ncnn
from pano.models.sr import SR_MODELS, load_sr_model, ncnn_model_dir, ncnn_state_dict, sr_model_rows
from pano.models.weights import save_state_dict_file

from tests.filters.upscale._upscale_data import sphere_from


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(-10 * torch.log10(((a - b) ** 2).mean()))


def sharpness(x: torch.Tensor) -> float:
    return float((x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean())


def _misordered(state: dict[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """The same tensors with same-shaped layers assigned in the wrong order (what an off-by-one or a
    reversed walk over the layer list would give)."""
    bad = dict(state)
    if arch == "SRVGGNetCompact":  # reverse the 16 inner 64->64 convolutions
        convs = sorted({int(k.split(".")[1]) for k in state if k.endswith(".bias")})[1:-1]
        for a, b in zip(convs, reversed(convs)):
            for kind in ("weight", "bias"):
                bad[f"body.{a}.{kind}"] = state[f"body.{b}.{kind}"]
    else:  # reverse the RRDB blocks
        n = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("body."))
        for k in state:
            if k.startswith("body."):
                b = int(k.split(".")[1])
                bad[k] = state[k.replace(f"body.{b}.", f"body.{n - 1 - b}.", 1)]
    return bad


@pytest.fixture(scope="module")
def photo(equirect_dir):
    """A band of a real photo sphere (vrview_petra.jpg) at 128 x 256 as ground truth, and its x4 reduction."""
    hr = sphere_from(equirect_dir / "vrview_petra.jpg", 256)[:, :, 64:192, 128:384]
    return hr, F.interpolate(hr, scale_factor=0.25, mode="area")


@pytest.mark.parametrize(
    ("stem", "size"), [("realesr-animevideov3-x4", 128), ("realesrgan-x4plus-anime", 64), ("realesrgan-x4plus", 64)]
)
def test_mapping_restores_a_downscaled_photo_and_a_misordered_one_does_not(photo, stem, size):
    """Real-ESRGAN models are GAN-trained: on a clean downscale they trade a little PSNR for sharp edges
    (they do not beat bicubic in PSNR: measured 0.4-1.8 dB below it on 15 real spheres). The right mapping
    therefore lands close to bicubic (the compact net also sharper than it); the same tensors in a wrong
    order fall far below bicubic (measured: 5.4 dB PSNR for the compact net, 7 dB under bicubic for RRDB)."""
    hr, lr = photo
    hr, lr = hr[..., :size, :size], lr[..., : size // 4, : size // 4]
    bicubic = F.interpolate(lr, scale_factor=4, mode="bicubic").clamp(0, 1)
    state, arch = ncnn_state_dict(load_ncnn(ncnn_model_dir() / f"{stem}.param"))
    results = {}
    for label, sd in (("right", state), ("wrong", _misordered(state, arch))):
        model = spandrel.ModelLoader().load_from_state_dict(sd).eval()
        with torch.inference_mode():
            results[label] = model(lr)
    base = psnr(bicubic, hr)
    right, wrong = psnr(results["right"], hr), psnr(results["wrong"], hr)
    assert right > base - 2.5, (right, base)
    if arch == "SRVGGNetCompact":  # the anime RRDB flattens photo texture; the compact net sharpens edges
        assert sharpness(results["right"]) > 1.15 * sharpness(bicubic)
    assert wrong < base - 4.5, (wrong, base)
    assert right > wrong + 2.5


@pytest.mark.parametrize(
    ("name", "arch", "blocks"),
    [("realesrgan-x4plus", "ESRGAN", "23nb"), ("realesrgan-x4plus-anime", "ESRGAN", "6nb"), ("realesr-animevideov3", "Compact", "16nc")],
)
def test_offline_registry_models_load_through_spandrel(name, arch, blocks):
    d = load_sr_model(name)
    assert isinstance(d, spandrel.ImageModelDescriptor)
    assert d.architecture.id == arch and blocks in d.tags
    assert d.scale == SR_MODELS[name].scale == 4
    assert d.supports_half and d.supports_bfloat16
    assert not d.model.training and not any(p.requires_grad for p in d.model.parameters())


def test_files_by_path_give_the_same_model(tmp_path, compact):
    state, _ = ncnn_state_dict(load_ncnn(ncnn_model_dir() / "realesr-animevideov3-x4.param"))
    safet = save_state_dict_file(state, tmp_path / "compact.safetensors")
    x = torch.rand(1, 3, 12, 16, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ref = compact(x)
        for model in (str(safet), ncnn_model_dir() / "realesr-animevideov3-x4.param"):
            assert torch.equal(load_sr_model(model)(x), ref)


def test_errors_name_the_way_out(tmp_path, monkeypatch):
    with pytest.raises(ModelError, match="unknown model 'nope': use one of realesrgan-x4plus"):
        load_sr_model("nope")
    with pytest.raises(ModelError, match="does not exist"):
        load_sr_model(str(tmp_path / "missing.pth"))
    not_sr = save_state_dict_file({"conv.weight": torch.zeros(4, 3, 3, 3)}, tmp_path / "x.safetensors")
    with pytest.raises(ModelError, match="spandrel"):
        load_sr_model(not_sr)
    # an official release, offline and not cached: one line with the file name and the URL
    monkeypatch.setenv("PANO_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    with pytest.raises(ModelError) as info:
        load_sr_model("RealESRGAN_x4plus", quiet=True)
    message = info.value.format_message()
    assert "RealESRGAN_x4plus.pth" in message and SR_MODELS["RealESRGAN_x4plus"].url in message
    assert "\n" not in message


def test_model_rows_for_pano_models():
    rows = {row["name"]: row for row in sr_model_rows()}
    assert set(rows) == set(SR_MODELS)
    assert rows["realesrgan-x4plus"]["default_cuda"] and rows["realesr-animevideov3"]["default_cpu"]
    assert all(rows[n]["weights_present"] for n in ("realesrgan-x4plus", "realesrgan-x4plus-anime", "realesr-animevideov3"))
    assert rows["RealESRGAN_x4plus"]["weights_source"] == SR_MODELS["RealESRGAN_x4plus"].url
