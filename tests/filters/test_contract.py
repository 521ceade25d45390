"""The filter contract (pano.filters.base, .settings, .factory): every registered filter is built from a plain
picklable settings object by one factory, declares its capabilities, keeps no state between calls, and the
command-line options are the settings' fields."""

from __future__ import annotations

import pickle
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import click
import pytest
import torch

from pano.filters.factory import build_filter
from pano.filters.settings import (
    SETTINGS,
    BeautySettings,
    DreamSettings,
    MirageFilterSettings,
    UpscaleSettings,
    settings_for,
)

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import pickle, sys, torch
torch.set_num_threads(1)
from pano.filters.factory import build_filter
cases, equi = pickle.load(open(sys.argv[1], "rb"))
out = {name: build_filter(settings, "cpu")(equi) for name, settings in cases.items()}
torch.save(out, sys.argv[2])
"""


def tiny_beauty_model(path: Path) -> Path:
    """A real pix2pix generator with fresh weights (tests/beauty trains them; the contract needs only a model)."""
    from pano.filters.beauty import BeautyModel, save_model
    from pano.filters.conditions import ConditionSpec
    from pano.models.pix2pix import UNetGenerator, init_weights

    torch.manual_seed(0)
    gen = init_weights(UNetGenerator(3, 3, 4, 3, 0.0))
    return save_model(path, BeautyModel(gen, ConditionSpec("edges"), size=32))


def every_filter(tmp_path: Path) -> dict[str, object]:
    return {
        "dream": DreamSettings(size=128, octaves=1, steps=1, step_size=0.02, seed=4),
        "upscale": UpscaleSettings("realesr-animevideov3", scale=2, tile=32),  # the smallest SR model of the registry
        "beauty": BeautySettings(str(tiny_beauty_model(tmp_path / "tiny.safetensors")), view_size=32),
        "mirage": settings_for("mirage", size=128, scales=1, steps=1, target_rotations=1, seed=2),
    }


def test_every_registered_filter_builds_from_pickled_settings_in_a_fresh_process_with_the_same_output(tmp_path, equirect_dir):
    from pano.io.image import read_image
    from pano.sphere.resize import resize_equirect

    cases = every_filter(tmp_path)
    assert set(cases) == set(SETTINGS)  # every registered filter, no more
    equi = resize_equirect(read_image(equirect_dir / "vrview_petra.jpg", mode="flat").pixels[:, :3], (64, 128))
    job = tmp_path / "job.pkl"
    job.write_bytes(pickle.dumps((cases, equi)))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        here = {name: build_filter(pickle.loads(pickle.dumps(s)), "cpu")(equi) for name, s in cases.items()}
    finally:
        torch.set_num_threads(threads)
    r = subprocess.run([sys.executable, "-c", CHILD, str(job), str(tmp_path / "out.pt")], capture_output=True, text=True,
                       cwd=REPO, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    there = torch.load(tmp_path / "out.pt")
    for name, out in here.items():
        scale = 2 if name == "upscale" else 1
        assert out.shape == (1, 3, 64 * scale, 128 * scale), name
        assert (out - equi.repeat_interleave(scale, -2).repeat_interleave(scale, -1)).abs().mean() > 1e-3, name  # it did something
        assert torch.equal(out, there[name]), f"{name}: the fresh process gave another output"


def test_capabilities_are_declared_and_the_pipeline_reads_only_them():
    from pano.video.eye import EyeFilter

    from pano.filters.base import FilterInfo

    class Quiet:  # its call could take init and seed, but it does not say so: it gets neither
        info = FilterInfo("quiet")
        device = torch.device("cpu")

        def __call__(self, equi, *, progress=None, init=None, seed=None):
            self.got = (init, seed)
            return equi

        def params(self):
            return {}

    eye = EyeFilter(Quiet())
    assert eye.mode == "output" and not eye.takes_init and not eye.pass_seed
    from pano.filters.dream import DreamFilter
    from pano.filters.upscale import UpscaleFilter

    assert DreamFilter.info.takes_init and DreamFilter.info.takes_seed and DreamFilter.info.supports_flat
    with pytest.raises(Exception, match="has no device"):
        EyeFilter(type("NoDevice", (), {"info": FilterInfo("x"), "params": lambda self: {}, "__call__": lambda self, e: e})())
    assert "takes_extent" in {f.name for f in fields(FilterInfo)} and UpscaleFilter.__call__.__kwdefaults__["extent"] is None


def test_settings_are_frozen_plain_and_refuse_unknown_options():
    for cls in SETTINGS.values():
        s = cls()
        assert pickle.loads(pickle.dumps(s)) == s and cls.kind in SETTINGS
        with pytest.raises(Exception):
            s.kind_of_thing = 1  # frozen
    from pano.errors import InputError

    with pytest.raises(InputError, match="unknown dream option 'stepz'"):
        settings_for("dream", stepz=3)
    with pytest.raises(InputError, match="unknown filter"):
        settings_for("sparkle")
    assert settings_for("dream", preset="intense").layer == "stage4"
    assert settings_for("dream", preset="intense", model="vgg16").layer is None  # a preset's layer only where it exists
    assert isinstance(settings_for("mirage", style_layers="stem,stage1"), MirageFilterSettings)


def _fields_of(kind: str) -> set[str]:
    if kind != "mirage":
        return {f.name for f in fields(SETTINGS[kind])}
    from pano.filters.mirage import MirageSettings  # the mirage's own fields travel as MirageFilterSettings.options

    return {f.name for f in fields(MirageSettings)} | {f.name for f in fields(MirageFilterSettings)} - {"options"}


#: settings each command leaves to their defaults (tuning the CLI does not expose)
INTERNAL = {
    "dream": {"batch", "view_margin"},
    "upscale": set(),
    "beauty": {"batch", "context"},
    "mirage": {"content_classes", "content_views", "fov_deg", "target_rotations", "tile", "view_margin"},
}


@pytest.mark.parametrize(("kind", "renamed"), [
    ("dream", {"jitter": "orientation", "fov": "fov_deg", "keep_seam": "repair_seam"}),
    ("upscale", {"keep_seam": "repair_seam"}),
    ("beauty", {}),
    ("mirage", {"jitter": "orientation", "keep_seam": "repair_seam"}),
])
def test_each_commands_options_are_its_filters_settings_fields(kind, renamed):
    """A new setting is written once, as a field: a command without an option for it fails here, and an option
    that is no setting must be named in NOT_SETTINGS (pano video --filter KIND takes the command's options as
    settings through the same tables)."""
    from pano.commands.filter_options import NOT_SETTINGS, SETTINGS_KEYWORDS, filter_command, to_settings_fields

    command = filter_command(kind)
    options = {p.name for p in command.params if isinstance(p, click.Parameter)} - NOT_SETTINGS - SETTINGS_KEYWORDS
    fields_ = _fields_of(kind)
    as_fields = set(to_settings_fields({o: True for o in options}))
    assert as_fields <= fields_, f"options that are no setting: {sorted(as_fields - fields_)}"
    for option, field in renamed.items():
        assert option in options and field in to_settings_fields({option: True}), (option, field)
    internal = INTERNAL[kind] & fields_ - as_fields
    assert fields_ - as_fields - internal == set(), f"settings without an option: {sorted(fields_ - as_fields - internal)}"
    if kind == "dream":
        from pano.commands.dream import PRESET_NAMES
        from pano.filters.settings import PRESETS

        assert PRESET_NAMES == list(PRESETS)
