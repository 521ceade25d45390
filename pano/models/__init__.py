"""Models: the backbone registry (classifiers with named layers), safe weights, super-resolution, pix2pix.

Imports are lazy (as in :mod:`pano.io` and :mod:`pano.sphere`): importing one model module does not load the
others, so a dream with the embedded EfficientNet-Lite never imports torchvision (1.5 s a process) for the
ImageNet class names only ``pano see`` and ``pano mirage`` read.
"""

from __future__ import annotations

from pano._lazy import by_module, lazy_exports

_EXPORTS = by_module({
    "pano.models.backbones": ("Backbone", "load_backbone"),
    "pano.models.imagenet": ("IMAGENET_CLASSES", "top_k"),
    "pano.models.registry": ("BACKBONES", "DEFAULT_BACKBONE", "get_spec", "list_backbones"),
    "pano.models.weights": ("download_weights", "load_state_dict_file"),
})

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
