"""Filters by name: ``make_filter("dream" | "upscale" | "beauty" | "mirage", device=..., **options)`` -> a filter.

A convenience for Python callers and ``--filter NAME``: the options (named as the fields of the filter's
settings in :mod:`pano.filters.settings`; dream also takes ``preset``) become a settings object, which
:func:`pano.filters.factory.build_filter` builds on ``device``. There is no other way to build a filter.
"""

from __future__ import annotations

from typing import Any

from pano.filters.settings import SETTINGS, settings_for

#: The registered filters, by name (each name is a settings ``kind``).
FILTERS: tuple[str, ...] = tuple(SETTINGS)


def make_filter(name: str, device: Any = "auto", **options: Any):
    """Build the filter ``name`` with ``options``; unknown names and options are a one-line :class:`InputError`."""
    from pano.filters.factory import build_filter  # noqa: PLC0415

    return build_filter(settings_for(name, **options), device)


def make_dream(device: Any = "auto", **options: Any):
    """``make_filter("dream", ...)``: a :class:`pano.filters.dream.DreamFilter`."""
    return make_filter("dream", device, **options)
