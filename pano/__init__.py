"""pano: neural-network dreams for 360° photospheres and videos.

The public API is what this module re-exports (see ``__all__``); everything is imported lazily so
``import pano`` stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
