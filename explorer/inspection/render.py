"""Arrays -> PIL images: colour maps, labelled tile grids, side-by-side panels and heat-map overlays.

Pure numpy and PIL (no Plotly, no matplotlib), so a grid renders in a few milliseconds and saves as a PNG.
Tiles are enlarged by whole factors with nearest-neighbour sampling, so every activation stays one visible square.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Small maps are enlarged (by a whole factor) until their longer side reaches this many pixels.
TILE_PIXELS = 56
#: Filters (3x3 to 11x11 kernels) are enlarged to about this size.
FILTER_PIXELS = 32
#: Grad-CAM overlays and "what the network sees" images are enlarged to at least this many pixels per side.
DISPLAY_PIXELS = 192
_GAP = 4
_BACKGROUND = (255, 255, 255)
_TEXT = (40, 40, 40)

# matplotlib's viridis at 9 evenly spaced points (perceptually uniform, readable in grayscale and by most
# colour-blind people); interpolated linearly to 256 entries.
_VIRIDIS = ((68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141), (39, 173, 129),
            (92, 200, 99), (170, 220, 50), (253, 231, 37))
# matplotlib's inferno, for Grad-CAM heat (dark = no evidence, bright yellow = strongest evidence).
_INFERNO = ((0, 0, 4), (31, 12, 72), (85, 15, 109), (136, 34, 106), (186, 54, 85), (227, 89, 51),
            (249, 140, 10), (249, 201, 50), (252, 255, 164))


def _lut(anchors: Sequence[tuple[int, int, int]]) -> np.ndarray:
    points = np.linspace(0.0, 1.0, len(anchors))
    table = np.array(anchors, dtype=np.float64)
    steps = np.linspace(0.0, 1.0, 256)
    return np.stack([np.interp(steps, points, table[:, channel]) for channel in range(3)], axis=1).round().astype(
        np.uint8)


COLORMAPS: dict[str, np.ndarray] = {"viridis": _lut(_VIRIDIS), "inferno": _lut(_INFERNO)}


@lru_cache(maxsize=1)
def font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """PIL's built-in font (no font files needed)."""
    return ImageFont.load_default()


def colorize(values: np.ndarray, low: float, high: float, colormap: str = "viridis") -> np.ndarray:
    """``H x W`` floats -> ``H x W x 3`` uint8 through a colour map; ``low`` and ``high`` are its ends."""
    span = high - low
    scaled = np.zeros(values.shape, dtype=np.float32) if span <= 0 else (values - low) / span
    index = np.clip(np.nan_to_num(scaled, nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return COLORMAPS[colormap][index]


def enlarge(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of ``H x W (x C)`` by a whole factor."""
    if factor <= 1:
        return pixels
    return np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)


def zoom_factor(height: int, width: int, target: int) -> int:
    """The whole factor that brings the longer side closest to ``target`` without going past it (at least 1)."""
    return max(1, target // max(height, width, 1))


def text_size(text: str) -> tuple[int, int]:
    left, top, right, bottom = font().getbbox(text)
    return int(right - left), int(bottom - min(top, 0))


@dataclass(frozen=True)
class Tile:
    """One small picture of a grid and the caption under it."""

    pixels: np.ndarray  # H x W x 3 uint8
    caption: str


def grid(tiles: Sequence[Tile], *, title: str = "", columns: int | None = None) -> Image.Image:
    """Tiles in rows (``columns`` per row; about square by default), each captioned, under a title line."""
    count = len(tiles)
    columns = max(1, min(columns or int(np.ceil(np.sqrt(count))) or 1, max(count, 1)))
    rows = max(1, -(-count // columns))
    tile_height = max((tile.pixels.shape[0] for tile in tiles), default=0)
    tile_width = max((tile.pixels.shape[1] for tile in tiles), default=0)
    caption_height = max((text_size(tile.caption)[1] for tile in tiles if tile.caption), default=0)
    caption_height = caption_height + 2 if caption_height else 0
    cell_width = max(tile_width, max((text_size(tile.caption)[0] for tile in tiles), default=0)) + _GAP
    cell_height = tile_height + caption_height + _GAP
    title_width, title_height = text_size(title) if title else (0, 0)
    title_height = title_height + _GAP if title else 0
    width = max(columns * cell_width + _GAP, title_width + 2 * _GAP)
    height = title_height + rows * cell_height + _GAP
    canvas = Image.new("RGB", (width, height), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((_GAP, 2), title, fill=_TEXT, font=font())
    for index, tile in enumerate(tiles):
        row, column = divmod(index, columns)
        x = _GAP + column * cell_width + (cell_width - _GAP - tile.pixels.shape[1]) // 2
        y = title_height + _GAP + row * cell_height
        canvas.paste(Image.fromarray(tile.pixels), (x, y))
        if tile.caption:
            caption_width = text_size(tile.caption)[0]
            draw.text((_GAP + column * cell_width + (cell_width - _GAP - caption_width) // 2,
                       y + tile.pixels.shape[0] + 1), tile.caption, fill=_TEXT, font=font())
    return canvas


def side_by_side(images: Sequence[Image.Image], *, gap: int = 12) -> Image.Image:
    """Panels left to right, top-aligned, on a white background."""
    width = sum(image.width for image in images) + gap * max(len(images) - 1, 0)
    height = max((image.height for image in images), default=1)
    canvas = Image.new("RGB", (max(width, 1), height), _BACKGROUND)
    x = 0
    for image in images:
        canvas.paste(image.convert("RGB"), (x, 0))
        x += image.width + gap
    return canvas


def to_image(pixels: np.ndarray) -> Image.Image:
    """``H x W`` or ``H x W x 3`` uint8 -> an ``L`` or ``RGB`` image."""
    return Image.fromarray(pixels if pixels.ndim == 2 else np.ascontiguousarray(pixels))


def overlay(base: np.ndarray, heat: np.ndarray, *, opacity: float = 0.5, colormap: str = "inferno") -> Image.Image:
    """A heat map in [0, 1] laid over an image of the same size (``H x W`` or ``H x W x 3`` uint8)."""
    base_rgb = np.repeat(base[:, :, None], 3, axis=2) if base.ndim == 2 else base
    colour = colorize(heat, 0.0, 1.0, colormap).astype(np.float32)
    blended = base_rgb.astype(np.float32) * (1.0 - opacity) + colour * opacity
    return Image.fromarray(np.clip(blended + 0.5, 0, 255).astype(np.uint8))
