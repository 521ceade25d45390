"""Models: the backbone registry (classifiers with named layers), safe weights, super-resolution, pix2pix."""

from pano.models.backbones import Backbone, load_backbone
from pano.models.imagenet import IMAGENET_CLASSES, top_k
from pano.models.registry import BACKBONES, DEFAULT_BACKBONE, get_spec, list_backbones
from pano.models.weights import download_weights, load_state_dict_file

__all__ = [
    "BACKBONES",
    "DEFAULT_BACKBONE",
    "IMAGENET_CLASSES",
    "Backbone",
    "download_weights",
    "get_spec",
    "list_backbones",
    "load_backbone",
    "load_state_dict_file",
    "top_k",
]
