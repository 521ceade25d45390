"""pano.commands.filter_options: a registered filter's options, as its own command declares them, turned into
the filter's settings fields (what ``pano video --filter NAME`` passes on)."""

from __future__ import annotations

import click
import pytest

from pano.commands.filter_options import settings_options
from pano.filters.settings import SETTINGS, settings_for


def test_video_takes_a_filters_options_as_its_command_declares_them():
    """pano video --filter NAME parses the options with NAME's own command: types, ranges, flags and messages."""
    assert settings_options("dream", ["--steps", "8", "--jitter", "upright", "--keep-seam", "--channels", "3,5-6"]) == {
        "steps": 8, "orientation": "upright", "repair_seam": False, "channels": (3, 5, 6)}
    assert settings_options("upscale", ["--scale", "2", "--tile=64"]) == {"scale": 2, "tile": 64}
    assert settings_options("mirage", ["--style-layers", "stem,stage1", "--init", "image"]) == {"style_layers": "stem,stage1", "init": "image"}
    assert settings_options("beauty", []) == {}
    for kind, args, words in [("dream", ["--steps", "0"], "0 is not in the range 1<=x<=10000"),
                              ("dream", ["--stepz", "3"], "No such option '--stepz'"),
                              ("upscale", ["--scale", "5"], "'5' is not one of '2', '3', '4'"),
                              ("dream", ["--output", "x.jpg"], "No such option '--output'"),  # a command option, no setting
                              ("upscale", ["--flat"], "No such option '--flat'"),  # a video's frames are spheres
                              ("dream", ["--channels", "7-5"], "use channel numbers like 3,17,40-45"),  # not an empty set
                              ("dream", ["--steps", "3", "stray"], "unexpected extra argument")]:
        with pytest.raises(click.UsageError) as exc:
            settings_options(kind, args)
        assert words in exc.value.format_message() and exc.value.ctx.command_path == f"pano {kind}", (args, exc.value.format_message())
    for kind in SETTINGS:  # what the parser gives, the settings take
        assert settings_for(kind, **settings_options(kind, [])) == settings_for(kind)
