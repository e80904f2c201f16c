"""``shapes``: a built-in, offline, 10-class image dataset drawn procedurally with vectorised torch ops.

Every image holds one figure at a random position, size and rotation, with random contrast (one figure in four
darker than its background), a random background gradient and pixel noise. A class is a *shape* (disk, ring,
triangle, ...) or a shape with a texture (striped disk, checkered square), so no single pixel or global statistic
gives the class away: a model has to see edges, corners, holes and textures. The same seed always gives the same
images.

Figures are rendered from signed distances (positive inside, in pixels) and a one-pixel soft edge, so small sizes
still look like their shape. Generating 20,000 28x28 images takes about a second on a 2-core CPU.

Learnable in a short run: d2l's small VGG-11 at 32x32 (Adam lr 1e-3, He init, batch 128) reaches 0.89 test
accuracy on 4,000 test images after 2 epochs of 20,000 training images (about 80 s on a 2-core CPU with bf16).
"""
from __future__ import annotations

import math

import torch

#: Class names, in label order.
SHAPE_CLASSES: tuple[str, ...] = (
    "disk", "ring", "square", "frame", "triangle", "plus", "star", "bar", "striped disk", "checkered square",
)
#: Grayscale images are 28x28 (like Fashion-MNIST), colour images 32x32 (like CIFAR-10).
GRAY_SIZE = 28
COLOR_SIZE = 32


def generate_shapes(num_images: int, *, seed: int = 0, color: bool = False, size: int | None = None,
                    balanced: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``num_images`` images and their labels.

    Args:
        num_images: how many images.
        seed: the same seed gives the same images, on any machine.
        color: three channels (random colours whose luminance still contrasts) instead of one.
        size: pixels per side; 28 for grayscale and 32 for colour by default.
        balanced: cycle through the classes (then shuffle) so every class has the same count, +-1.

    Returns:
        ``(images, labels)``: uint8 ``N x C x H x W`` and int64 ``N``, on the CPU.
    """
    images, labels, _ = _draw(num_images, seed=seed, color=color, size=size, balanced=balanced)
    return images, labels


def generate_shapes_with_masks(num_images: int, *, seed: int = 0, color: bool = False, size: int | None = None,
                               balanced: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`generate_shapes`'s images and labels (the same ones, for the same arguments) and each figure's mask.

    Returns:
        ``(images, labels, masks)``; ``masks`` is float32 ``N x 1 x H x W`` in [0, 1]: how much of each pixel the
        figure covers (1 inside, 0 in the background, in between on the one-pixel soft edge).
    """
    return _draw(num_images, seed=seed, color=color, size=size, balanced=balanced)


def _draw(num_images: int, *, seed: int, color: bool, size: int | None,
          balanced: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images, labels and figure masks (see :func:`generate_shapes`)."""
    if isinstance(num_images, bool) or not isinstance(num_images, int) or num_images < 0:
        raise ValueError(f"num_images must be a non-negative integer, got {num_images!r}")
    size = size or (COLOR_SIZE if color else GRAY_SIZE)
    if not 8 <= size <= 256:
        raise ValueError(f"size must be between 8 and 256, got {size!r}")
    channels = 3 if color else 1
    generator = torch.Generator().manual_seed(int(seed))
    num_classes = len(SHAPE_CLASSES)

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=generator)

    if balanced:
        labels = torch.arange(num_images) % num_classes
        labels = labels[torch.randperm(num_images, generator=generator)]
    else:
        labels = torch.randint(num_classes, (num_images,), generator=generator)

    n = num_images
    # Geometry, in pixels. The radius is the figure's outer size; the centre keeps most of it in the frame.
    radius = uniform(0.28, 0.44, n) * size
    margin = radius * 0.8
    center_x = margin + torch.rand(n, generator=generator) * (size - 2 * margin)
    center_y = margin + torch.rand(n, generator=generator) * (size - 2 * margin)
    angle = uniform(0.0, 2 * math.pi, n)
    # Per-image shape parameters: ring hole, bar/plus arm width, star depth, texture period.
    inner = uniform(0.45, 0.65, n)
    arm = uniform(0.22, 0.34, n)
    star_depth = uniform(0.35, 0.55, n)
    period = uniform(0.45, 0.6, n) * radius.clamp(min=7.0)

    coords = torch.arange(size, dtype=torch.float32) + 0.5
    dx = coords.view(1, 1, size) - center_x.view(n, 1, 1)
    dy = coords.view(1, size, 1) - center_y.view(n, 1, 1)
    cos, sin = torch.cos(angle).view(n, 1, 1), torch.sin(angle).view(n, 1, 1)
    u = cos * dx + sin * dy  # coordinates in the figure's own (rotated) frame
    v = -sin * dx + cos * dy

    distance = torch.empty(n, size, size)
    for label in range(num_classes):
        index = (labels == label).nonzero().flatten()
        if len(index) == 0:
            continue
        distance[index] = _signed_distance(label, u[index], v[index], radius[index].view(-1, 1, 1),
                                           inner[index].view(-1, 1, 1), arm[index].view(-1, 1, 1),
                                           star_depth[index].view(-1, 1, 1), period[index].view(-1, 1, 1))
    mask = (distance + 0.5).clamp(0.0, 1.0).unsqueeze(1)  # N x 1 x H x W, a one-pixel soft edge

    # Intensities in [0, 1]: a background with a gentle linear gradient and a figure that contrasts with it
    # by 0.4-0.9 in luminance; one figure in four is darker than its background.
    contrast = uniform(0.4, 0.9, n) * torch.where(torch.rand(n, generator=generator) < 0.25, -1.0, 1.0)
    background_level = torch.where(contrast > 0, uniform(0.0, 0.1, n), uniform(0.9, 1.0, n))
    gradient = uniform(-0.1, 0.1, n, 2)
    ramp = (gradient[:, 0].view(n, 1, 1) * (dx / size) + gradient[:, 1].view(n, 1, 1) * (dy / size))
    if color:
        # Random hues; the figure's luminance still differs from the background's by |contrast|, so the
        # figure survives a conversion to grayscale.
        tint_background = uniform(-0.25, 0.25, n, 3)
        tint_figure = uniform(-0.25, 0.25, n, 3)
        background = (background_level.view(n, 1) + tint_background).view(n, 3, 1, 1) + ramp.unsqueeze(1)
        figure = (background_level + contrast).view(n, 1) + tint_figure
        figure = figure - _luminance(tint_figure).view(n, 1) + _luminance(tint_background).view(n, 1)
        figure = figure.view(n, 3, 1, 1) + ramp.unsqueeze(1)
    else:
        background = (background_level.view(n, 1, 1) + ramp).unsqueeze(1)
        figure = background + contrast.view(n, 1, 1, 1)
    noise_level = uniform(0.0, 0.06, n).view(n, 1, 1, 1)
    noise = torch.randn(n, channels, size, size, generator=generator) * noise_level
    images = background + mask * (figure - background) + noise
    images = (images.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
    return images, labels.to(torch.int64), mask


def _luminance(rgb: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma of ``... x 3`` values (what PIL's ``convert("L")`` uses)."""
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _polygon_distance(u: torch.Tensor, v: torch.Tensor, apothem: torch.Tensor, sides: int) -> torch.Tensor:
    """Signed distance to a regular polygon with the given apothem (exact inside, close enough outside)."""
    projections = torch.stack([u * math.cos(2 * math.pi * k / sides) + v * math.sin(2 * math.pi * k / sides)
                               for k in range(sides)])
    return apothem - projections.amax(dim=0)


def _box_distance(u: torch.Tensor, v: torch.Tensor, half_width: torch.Tensor,
                  half_length: torch.Tensor) -> torch.Tensor:
    return torch.minimum(half_width - u.abs(), half_length - v.abs())


def _signed_distance(label: int, u: torch.Tensor, v: torch.Tensor, radius: torch.Tensor, inner: torch.Tensor,
                     arm: torch.Tensor, star_depth: torch.Tensor, period: torch.Tensor) -> torch.Tensor:
    """Pixels inside (positive) or outside (negative) the figure of class ``label``."""
    r = torch.sqrt(u * u + v * v)
    name = SHAPE_CLASSES[label]
    if name == "disk":
        return radius - r
    if name == "ring":
        thickness_inner = torch.minimum(radius * inner, radius - 2.0)  # at least a 2-pixel band
        return torch.minimum(radius - r, r - thickness_inner)
    if name == "square":
        return _polygon_distance(u, v, radius * 0.78, 4)
    if name == "frame":
        outer = radius * 0.8
        band = torch.maximum(outer * (1 - inner), torch.full_like(outer, 2.0))
        square = _polygon_distance(u, v, outer, 4)
        return torch.minimum(square, band - square)
    if name == "triangle":
        # A triangle's apothem is half its circumradius; push it down a little so its area is like the others.
        return _polygon_distance(u, v - radius * 0.1, radius * 0.6, 3)
    if name == "plus":
        half_width = (radius * arm).clamp(min=1.2)
        return torch.maximum(_box_distance(u, v, half_width, radius), _box_distance(v, u, half_width, radius))
    if name == "star":
        theta = torch.atan2(v, u)
        boundary = radius * (1 - star_depth * (0.5 - 0.5 * torch.cos(5 * theta)))
        return (boundary - r) * 0.7
    if name == "bar":
        return _box_distance(u, v, (radius * arm * 1.2).clamp(min=1.5), radius)
    if name == "striped disk":
        stripes = torch.sin(2 * math.pi * u / period) * period / (2 * math.pi)  # ~ distance to a stripe edge
        return torch.minimum(radius - r, stripes)
    if name == "checkered square":
        checks = torch.sin(2 * math.pi * u / period) * torch.sin(2 * math.pi * v / period) * period / 4
        return torch.minimum(_polygon_distance(u, v, radius * 0.78, 4), checks)
    raise AssertionError(f"no figure for label {label}")  # pragma: no cover - the loop covers SHAPE_CLASSES
