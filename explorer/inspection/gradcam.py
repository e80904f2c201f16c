"""Grad-CAM (Selvaraju et al., 2017): where in the image a block's features raise a class's score.

For a block's output ``A`` (``C x h x w``) and the class score ``y`` (its logit, before the softmax):
``alpha_k = mean over positions of dy/dA_k`` and ``map = ReLU(sum_k alpha_k A_k)``. The map has the block's
resolution; it is divided by its maximum (so it lies in [0, 1]) and enlarged bilinearly to the input size.

Only the part of the network after the block takes part in the backward pass: the hook hands the rest of the
forward pass a copy of a detached ``A`` that requires gradients.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..analysis import Analysis
from ..specs import SpecError

#: The default block is the last one whose map is at least this many cells per side.
MIN_MAP_SIZE = 4


@dataclass(frozen=True)
class GradCAM:
    """The Grad-CAM map of one class at one block."""

    block: str  # the block whose output it weighs
    class_index: int
    class_name: str
    score: float  # the class's logit
    weights: np.ndarray  # C float32: alpha_k, the mean gradient of the score per channel
    heatmap: np.ndarray  # h x w float32 in [0, 1], at the block's resolution
    upsampled: np.ndarray  # H x W float32 in [0, 1], at the input's size (bilinear)
    peak: float  # the map's maximum before normalising; 0 means no part of the block raises the score
    overlay: Image.Image | None = None  # the map over what the network sees

    def to_dict(self) -> dict[str, Any]:
        return {"block": self.block, "class_index": self.class_index, "class_name": self.class_name,
                "score": self.score, "peak": self.peak, "shape": list(self.heatmap.shape),
                "heatmap": np.round(self.heatmap, 4).tolist()}


def gradcam_blocks(analysis: Analysis) -> tuple[str, ...]:
    """The blocks Grad-CAM can use: feature blocks with a ``C x H x W`` output."""
    return tuple(block.name for block in analysis.feature_blocks if len(block.output_shape) == 3)


def default_gradcam_block(analysis: Analysis) -> str | None:
    """The last feature block whose map is at least :data:`MIN_MAP_SIZE` per side (else the last with a map)."""
    candidates = [block for block in analysis.feature_blocks if len(block.output_shape) == 3]
    large = [block for block in candidates if min(block.output_shape[1:]) >= MIN_MAP_SIZE]
    chosen = large or candidates
    return chosen[-1].name if chosen else None


def check_block(analysis: Analysis, block: str | None) -> str | None:
    """``block`` if Grad-CAM can use it, the default for ``None``; SpecError naming the choices otherwise."""
    if block is None:
        return default_gradcam_block(analysis)
    choices = gradcam_blocks(analysis)
    if block not in choices:
        raise SpecError("block", f"no feature block named {str(block)[:60]!r}; choose one of {', '.join(choices)}")
    return block


class Capture:
    """A forward hook for the Grad-CAM block: keeps its output as a leaf that requires gradients."""

    def __init__(self) -> None:
        self.activation: torch.Tensor | None = None

    def hook(self) -> Callable:
        def forward_hook(module: nn.Module, args: tuple, output: Any) -> Any:
            if not isinstance(output, torch.Tensor):
                return None
            leaf = output.detach().requires_grad_(True)
            self.activation = leaf
            return leaf.clone()  # later in-place layers change the copy, never the leaf
        return forward_hook


def compute(activation: torch.Tensor, score: torch.Tensor, input_size: tuple[int, int]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(weights, heatmap in [0, 1], upsampled heatmap, peak) from a ``1 x C x h x w`` leaf and a scalar score."""
    (gradient,) = torch.autograd.grad(score, activation, allow_unused=True, materialize_grads=True)
    with torch.no_grad():
        weights = gradient[0].float().mean(dim=(1, 2))  # alpha_k
        cam = torch.relu((weights.view(-1, 1, 1) * activation[0].float()).sum(dim=0))
        peak = float(cam.max())
        upsampled = F.interpolate(cam[None, None], size=input_size, mode="bilinear", align_corners=False)[0, 0]
        if peak > 0:
            cam, upsampled = cam / peak, (upsampled / peak).clamp(0.0, 1.0)
    return (weights.numpy().astype(np.float32), cam.numpy().astype(np.float32),
            upsampled.numpy().astype(np.float32), peak)
