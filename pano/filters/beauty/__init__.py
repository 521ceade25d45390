"""``pano beauty``: train a pix2pix net on a folder of photos, then let it repaint spheres.

A pix2pix net (:mod:`pano.models.pix2pix`) learns to turn a *condition* of a photo (its edges or its
colour clusters, :mod:`pano.filters.conditions`) back into the photo. Trained only on flowers, it
repaints whatever it is shown as flowers.

One module per idea:

- :mod:`~pano.filters.beauty.model_file`: the model file (safetensors + JSON metadata), :func:`load_model`,
  :func:`save_model`, and :func:`generate` (running the generator);
- :mod:`~pano.filters.beauty.dataset`: the training photos, their augmentation and the step batches;
- :mod:`~pano.filters.beauty.training`: the GAN training loop (:func:`train`) and its checkpoints;
- :mod:`~pano.filters.beauty.filter`: :class:`BeautyFilter`, which repaints a sphere view by view.

Every name is re-exported here: ``from pano.filters.beauty import BeautyFilter, train, load_model`` works.
"""

from __future__ import annotations

from pano.filters.beauty.dataset import IMAGE_EXTENSIONS, LOAD_SCALE, PhotoFolder
from pano.filters.beauty.filter import BeautyFilter
from pano.filters.beauty.model_file import FORMAT, FORMAT_VERSION, META_KEY, BeautyModel, generate, load_model, save_model
from pano.filters.beauty.training import (
    TrainConfig,
    TrainResult,
    TrainStart,
    checkpoint_path,
    l1_on_photos,
    preview_folder,
    train,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "IMAGE_EXTENSIONS",
    "LOAD_SCALE",
    "META_KEY",
    "BeautyFilter",
    "BeautyModel",
    "PhotoFolder",
    "TrainConfig",
    "TrainResult",
    "TrainStart",
    "checkpoint_path",
    "generate",
    "l1_on_photos",
    "load_model",
    "preview_folder",
    "save_model",
    "train",
]
