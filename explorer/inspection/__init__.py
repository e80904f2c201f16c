"""Look inside a trained network: load a checkpoint safely, prepare an image exactly like the dataset's test
images, and see the class probabilities, every block's feature maps, the first layer's filters and Grad-CAM.

::

    from explorer.inspection import load_checkpoint, inspect_image
    checkpoint = load_checkpoint("vgg-shapes-20250101-120000-42.pt")
    result = inspect_image(checkpoint, "drawing.png")          # or a PIL image, an array, bytes
    result.top                                                # ClassScore(index, name, probability) x 5
    result.feature("block3").grid.save("block3.png")          # the most active channels
    result.gradcam.overlay.save("gradcam.png")

Nothing here imports gradio; errors are :class:`CheckpointError` / :class:`ImageError` (both SpecError, so
ValueError) or SpecError for a bad option, each with a message for the user.
"""
from __future__ import annotations

from .checkpoints import CHECKPOINT_FORMAT, LoadedCheckpoint, load_checkpoint, read_checkpoint
from .errors import CheckpointError, ImageError
from .features import ChannelMap, FeatureMaps
from .filters import Filters, conv_filters, first_conv
from .gradcam import GradCAM, default_gradcam_block, gradcam_blocks
from .images import (MAX_IMAGE_PIXELS, PreparedImage, Preprocessing, load_image, prepare_image)
from .inspector import ClassScore, Inspection, inspect_image, inspect_tensor
from .output import write_inspection

__all__ = ["CHECKPOINT_FORMAT", "ChannelMap", "CheckpointError", "ClassScore", "FeatureMaps", "Filters", "GradCAM",
           "ImageError", "Inspection", "LoadedCheckpoint", "MAX_IMAGE_PIXELS", "PreparedImage", "Preprocessing",
           "conv_filters", "default_gradcam_block", "first_conv", "gradcam_blocks", "inspect_image",
           "inspect_tensor", "load_checkpoint", "load_image", "prepare_image", "read_checkpoint", "write_inspection"]
