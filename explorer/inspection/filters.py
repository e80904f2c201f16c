"""The first convolution's filters as small images: what the network looks for in the raw pixels."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from torch import nn

from . import render

#: At most this many filters are drawn (the weights array keeps them all).
MAX_FILTERS = 96


@dataclass(frozen=True)
class Filters:
    """The weights of the network's first convolution."""

    layer: str  # its module path, e.g. "features.block1.conv1"
    weights: np.ndarray  # out_channels x in_channels x k x k float32
    rgb: bool  # drawn in colour (the layer reads 3 channels)
    scale: float  # the largest |weight|: grey (or 50% colour) is 0, white +scale, black -scale
    grid: Image.Image | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "shape": list(self.weights.shape), "rgb": self.rgb, "scale": self.scale}


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d] | None:
    """The first ``Conv2d`` in module order (the builders register modules in execution order)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    return None


def conv_filters(model: nn.Module, *, render_grid: bool = True, max_filters: int = MAX_FILTERS) -> Filters | None:
    """The first convolution's filters; ``None`` for a network without one.

    One scale for all: 0 is mid-grey, so a filter's contrast shows how strong it is next to the others. With three
    input channels a filter is one RGB picture; otherwise each input channel of each filter is a grey tile.
    """
    found = first_conv(model)
    if found is None:
        return None
    name, conv = found
    weights = conv.weight.detach().float().cpu().numpy().copy()
    scale = float(np.abs(weights).max(initial=0.0)) or 1.0
    rgb = weights.shape[1] == 3
    grid = None
    if render_grid:
        tiles = []
        kernel = max(weights.shape[2], weights.shape[3])
        factor = render.zoom_factor(kernel, kernel, render.FILTER_PIXELS)
        for index, weight in enumerate(weights[:max_filters]):
            pictures = [weight.transpose(1, 2, 0)] if rgb else list(weight)
            for channel, picture in enumerate(pictures):
                pixels = np.clip((picture / scale * 0.5 + 0.5) * 255.0 + 0.5, 0, 255).astype(np.uint8)
                if pixels.ndim == 2:
                    pixels = np.repeat(pixels[:, :, None], 3, axis=2)
                caption = str(index) if len(pictures) == 1 else f"{index}.{channel}"
                tiles.append(render.Tile(render.enlarge(pixels, factor), caption))
        shown = min(len(weights), max_filters)
        title = (f"{name}: {shown} of {weights.shape[0]} filters, {weights.shape[1]}x{weights.shape[2]}x"
                 f"{weights.shape[3]} ({'RGB' if rgb else 'grey'}; mid-grey = 0, |w| <= {scale:.3g})")
        grid = render.grid(tiles, title=title, columns=min(16, max(1, int(np.ceil(np.sqrt(len(tiles) * 2))))))
    return Filters(layer=name, weights=weights, rgb=rgb, scale=scale, grid=grid)
