"""Lazy re-exports for package ``__init__`` modules: names load on first use, so importing the package
(and ``pano --help``) does not import torch."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def by_module(groups: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """``{module: (name, ...)}`` -> the ``{name: module}`` table :func:`lazy_exports` takes."""
    return {name: module for module, names in groups.items() for name in names}


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``exports`` (name -> module that defines it)."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
