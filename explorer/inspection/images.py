"""A user's image (an upload, a sketchpad drawing, a test image) -> the tensor the trained network takes.

The steps, in order:

1. **Read it safely**: only common formats (PNG, JPEG, GIF, BMP, WebP, TIFF); the pixel count is checked from
   the header before anything is decoded (:data:`MAX_IMAGE_PIXELS`, against decompression bombs); the first
   frame of an animation; a photo's EXIF orientation applied.
2. **Transparency**: a drawing on a transparent canvas is composited on the background its strokes show up on
   (white under dark strokes, black under light ones), as the person saw it while drawing.
3. **Square**: ``fit="pad"`` (default) pads the shorter side with the border's colour so nothing is cut off;
   ``fit="crop"`` keeps the centre square.
4. **As a dataset image**: the dataset's channels (PIL's BT.601 luminance for grey, as the data pipeline) and
   its resolution (28 or 32 pixels; shrinking averages the pixels each output pixel covers, enlarging is
   bilinear), as uint8.
5. **Polarity**: MNIST and Fashion-MNIST show light things on black. An image with a light border (a sketch on
   white, a photo on a white table) is inverted for them (``invert=None``, the default; ``True``/``False`` force
   it). The built-in ``shapes`` has both polarities and CIFAR-10 is photos: never inverted automatically.
6. **The test-time pipeline**: the very :class:`~explorer.training.data.BatchPipeline` a run evaluates its test
   images with (conversion to the network's channels, resizing to its input size, the training set's mean and
   std saved in the checkpoint).

A dataset's own test image saved as a PNG therefore reaches the network exactly as during the run's evaluation.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np
import torch
from PIL import Image, ImageOps

from ..specs import ArchSpec, SpecError
from ..training.data import BatchPipeline, check_channels, dataset_info
from . import render
from .errors import ImageError

#: Largest image accepted, in pixels (width x height), checked before decoding. A 40-megapixel photo passes.
MAX_IMAGE_PIXELS = 40_000_000
#: Largest encoded image accepted, in bytes.
MAX_IMAGE_BYTES = 64 * 2**20
#: Formats PIL may decode (PIL knows many more; rarely used decoders are where its security bugs were).
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
#: Datasets that show light figures on a black background (images with a light border are inverted for them).
DARK_BACKGROUND_DATASETS = frozenset({"mnist", "fashion-mnist"})
FITS = ("pad", "crop")

ImageInput = Union[Image.Image, np.ndarray, torch.Tensor, bytes, str, os.PathLike]


@dataclass(frozen=True)
class Preprocessing:
    """How a trained network's test images were prepared: the dataset's form and the run's normalisation."""

    dataset: str  # the dataset's name, e.g. "fashion-mnist"
    dataset_channels: int  # 1 or 3
    dataset_size: int  # pixels per side of the dataset's images
    model_channels: int  # the network's in_channels
    input_size: int  # the network's input size
    mean: tuple[float, ...]  # per model channel, of the training images in [0, 1] (saved in the checkpoint)
    std: tuple[float, ...]

    @classmethod
    def for_spec(cls, dataset: str, spec: ArchSpec, mean: Sequence[float],
                 std: Sequence[float]) -> "Preprocessing":
        """The preprocessing of ``spec`` trained on ``dataset`` with this normalisation."""
        info = dataset_info(dataset)
        check_channels(info.channels, spec.in_channels)
        if len(mean) != spec.in_channels or len(std) != spec.in_channels:
            raise SpecError("normalization", f"expected {spec.in_channels} mean and std values (one per input "
                                             f"channel), got {len(mean)} and {len(std)}")
        return cls(dataset=info.name, dataset_channels=info.channels, dataset_size=info.size,
                   model_channels=spec.in_channels, input_size=spec.input_size,
                   mean=tuple(float(value) for value in mean), std=tuple(float(value) for value in std))

    @property
    def dark_background(self) -> bool:
        return self.dataset in DARK_BACKGROUND_DATASETS

    def pipeline(self) -> BatchPipeline:
        """The data module's test-time pipeline with this normalisation (no augmentation)."""
        return BatchPipeline(source_channels=self.dataset_channels, source_size=self.dataset_size,
                             model_channels=self.model_channels, input_size=self.input_size,
                             mean=torch.tensor(self.mean), std=torch.tensor(self.std))

    def to_tensor(self, pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 dataset images (``N x C x H x W``, or one ``C x H x W`` / ``H x W``) -> the normalised batch."""
        images = pixels.clone() if isinstance(pixels, torch.Tensor) else torch.from_numpy(np.array(pixels))
        if images.dim() == 2:
            images = images.unsqueeze(0)
        if images.dim() == 3:
            images = images.unsqueeze(0)
        return self.pipeline()(images.to(torch.uint8), train=False)

    def to_pixels(self, tensor: torch.Tensor) -> np.ndarray:
        """A normalised ``1 x C x H x W`` batch back to uint8 (``H x W`` or ``H x W x 3``): what the network sees."""
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        values = (tensor.detach().float().cpu() * std + mean)[0].clamp(0.0, 1.0).mul(255.0).round()
        pixels = values.to(torch.uint8).numpy()
        if pixels.shape[0] == 1:
            return pixels[0]
        if pixels.shape[0] == 3:
            return np.ascontiguousarray(pixels.transpose(1, 2, 0))
        return pixels.mean(axis=0).round().astype(np.uint8)  # other channel counts: their mean, as grey

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "dataset_channels": self.dataset_channels,
                "dataset_size": self.dataset_size, "model_channels": self.model_channels,
                "input_size": self.input_size, "mean": list(self.mean), "std": list(self.std)}


@dataclass(frozen=True)
class PreparedImage:
    """A user's image, ready for the network."""

    tensor: torch.Tensor  # 1 x C x H x W float32, normalised: exactly what the network is given
    pixels: np.ndarray  # uint8, H x W (grey) or H x W x 3, at the dataset's resolution: the image as a dataset image
    seen: Image.Image  # what the network sees: its input before normalisation, at the input size (L or RGB)
    inverted: bool  # whether the polarity was flipped for a dark-background dataset
    notes: tuple[str, ...]  # what was done to the image, in words
    notes_zh: tuple[str, ...] = ()  # the same notes in Simplified Chinese

    def display(self, pixels: int = render.DISPLAY_PIXELS) -> Image.Image:
        """:attr:`seen`, enlarged by a whole factor (nearest neighbour) to about ``pixels`` per side."""
        factor = render.zoom_factor(self.seen.height, self.seen.width, pixels)
        return self.seen.resize((self.seen.width * factor, self.seen.height * factor), Image.Resampling.NEAREST)


def load_image(source: ImageInput) -> Image.Image:
    """Read an image from a PIL image, a numpy array / tensor (uint8 ``H x W``, ``H x W x C`` or ``C x H x W``;
    floats in [0, 1]), encoded bytes or a file path. Returns a decoded PIL image in mode L, RGB or RGBA.

    Raises:
        ImageError: not an image, an unsupported format, a damaged file, or more than :data:`MAX_IMAGE_PIXELS`.
    """
    if isinstance(source, Image.Image):
        _check_pixels(source.width, source.height)
        return _standard_mode(source)
    if isinstance(source, (np.ndarray, torch.Tensor)):
        return _standard_mode(_from_array(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > MAX_IMAGE_BYTES:
            raise ImageError(f"the file is too large ({len(data) / 2**20:.0f} MiB; at most "
                             f"{MAX_IMAGE_BYTES / 2**20:.0f} MiB)",
                             f"文件太大（{len(data) / 2**20:.0f} MiB；最多 {MAX_IMAGE_BYTES / 2**20:.0f} MiB）")
        return _decode(io.BytesIO(data), "the uploaded data", "上传的数据")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            size = path.stat().st_size
        except (OSError, ValueError):
            raise ImageError(f"no such file: {str(source)[:200]}", f"没有这个文件：`{str(source)[:200]}`") from None
        if not path.is_file():
            raise ImageError(f"not a file: {str(source)[:200]}", f"不是文件：`{str(source)[:200]}`")
        if size > MAX_IMAGE_BYTES:
            raise ImageError(f"the file is too large ({size / 2**20:.0f} MiB; at most "
                             f"{MAX_IMAGE_BYTES / 2**20:.0f} MiB)",
                             f"文件太大（{size / 2**20:.0f} MiB；最多 {MAX_IMAGE_BYTES / 2**20:.0f} MiB）")
        with open(path, "rb") as handle:
            return _decode(io.BytesIO(handle.read()), path.name[:100], f"`{path.name[:100].replace('`', chr(39))}`")
    raise ImageError(f"expected an image (a PIL image, an array, bytes or a file path), got "
                     f"{type(source).__name__}",
                     f"需要一张图像（`PIL` 图像、数组、字节或文件路径），收到的是 `{type(source).__name__}`")


def prepare_image(source: ImageInput, preprocessing: Preprocessing, *, fit: str = "pad",
                  invert: bool | None = None) -> PreparedImage:
    """Turn an image into the network's input, exactly as the dataset's test images (see the module's steps).

    Args:
        source: anything :func:`load_image` reads.
        preprocessing: the checkpoint's (``LoadedCheckpoint.preprocessing``).
        fit: ``"pad"`` (keep the whole image) or ``"crop"`` (keep the centre square).
        invert: flip black and white; ``None`` decides for dark-background datasets from the border's brightness.
    """
    if fit not in FITS:
        raise SpecError("fit", f"must be one of {', '.join(FITS)}, got {fit!r}")
    if invert is not None and not isinstance(invert, bool):
        raise SpecError("invert", f"must be true, false or None, got {invert!r}")
    image = load_image(source)
    notes: list[str] = []
    notes_zh: list[str] = []
    image = _composite(image, notes, notes_zh)
    if image.width != image.height:
        image = _square(image, fit)
        notes.append("padded to a square with the border's colour" if fit == "pad"
                     else "cropped to the centre square")
        notes_zh.append("用边框的颜色填充成正方形" if fit == "pad" else "裁剪出中间的正方形")
    size = preprocessing.dataset_size
    if preprocessing.dataset_channels == 1 and image.mode != "L":
        image = image.convert("L")
        notes.append("converted to grey (luminance)")
        notes_zh.append("转换为灰度（按亮度）")
    elif preprocessing.dataset_channels == 3 and image.mode != "RGB":
        image = image.convert("RGB")
    if image.width != size:
        shrinking = image.width > size
        image = image.resize((size, size), Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR)
        notes.append(f"{'shrunk' if shrinking else 'enlarged'} to {size}x{size} like the dataset's images")
        notes_zh.append(f"{'缩小' if shrinking else '放大'}到 {size}x{size}，与数据集的图像一样")
    pixels = np.asarray(image, dtype=np.uint8)
    inverted = _should_invert(pixels, preprocessing) if invert is None else invert
    if inverted:
        pixels = 255 - pixels
        if invert is None:
            notes.append(f"inverted: {dataset_info(preprocessing.dataset).label} shows light figures on black")
            notes_zh.append(f"黑白反转：{dataset_info(preprocessing.dataset).label} 的图像是黑底浅色图形")
    chw = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    tensor = preprocessing.to_tensor(np.ascontiguousarray(chw))
    if preprocessing.input_size != size:
        notes.append(f"resized to the network's {preprocessing.input_size}x{preprocessing.input_size} input")
        notes_zh.append(f"缩放到网络的 {preprocessing.input_size}x{preprocessing.input_size} 输入尺寸")
    return PreparedImage(tensor=tensor, pixels=np.ascontiguousarray(pixels),
                         seen=render.to_image(preprocessing.to_pixels(tensor)), inverted=bool(inverted),
                         notes=tuple(notes), notes_zh=tuple(notes_zh))


# -- reading ------------------------------------------------------------------------------------------------------


def _check_pixels(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise ImageError(f"the image is empty ({width}x{height} pixels)", f"图像是空的（{width}x{height} 像素）")
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(f"the image is too large ({width}x{height} = {width * height / 1e6:.0f} megapixels; at "
                         f"most {MAX_IMAGE_PIXELS / 1e6:.0f}); shrink it first",
                         f"图像太大（{width}x{height} = {width * height / 1e6:.0f} 百万像素；最多 "
                         f"{MAX_IMAGE_PIXELS / 1e6:.0f}）；请先缩小它")


def _decode(stream: io.BytesIO, name: str, name_zh: str) -> Image.Image:
    """The decoded image; ``name`` says what it is in messages (``name_zh``: in Chinese)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=IMAGE_FORMATS)
            _check_pixels(image.width, image.height)  # from the header, before decoding anything
            image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"the image is too large: {name} declares an enormous size (a decompression bomb?); "
                         f"at most {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels",
                         f"图像太大：{name_zh} 声明了一个巨大的尺寸（解压炸弹？）；最多 "
                         f"{MAX_IMAGE_PIXELS / 1e6:.0f} 百万像素") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{name} is not an image in a supported format ({', '.join(IMAGE_FORMATS)})",
                         f"{name_zh} 不是支持的格式的图像（`{', '.join(IMAGE_FORMATS)}`）") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:  # truncated or damaged data
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise ImageError(f"{name} could not be decoded; it looks damaged ({detail})",
                         f"{name_zh} 无法解码，看起来已损坏（`{detail.replace('`', chr(39))}`）") from None
    try:
        image = ImageOps.exif_transpose(image) or image  # a phone photo taken sideways
    except Exception:  # noqa: BLE001 - a broken EXIF block: keep the pixels as stored
        pass
    return _standard_mode(image)


def _from_array(array: np.ndarray | torch.Tensor) -> Image.Image:
    values = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
    if values.ndim == 3 and values.shape[0] in (1, 3, 4) and values.shape[2] not in (1, 3, 4):
        values = values.transpose(1, 2, 0)  # C x H x W, as the datasets store images
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[:, :, 0]
    if values.ndim not in (2, 3) or (values.ndim == 3 and values.shape[2] not in (3, 4)):
        raise ImageError(f"expected an H x W, H x W x 3/4 or 1/3 x H x W array, got shape {tuple(values.shape)}",
                         f"需要形状为 H x W、H x W x 3/4 或 1/3 x H x W 的数组，收到的形状是 {tuple(values.shape)}")
    _check_pixels(int(values.shape[1]), int(values.shape[0]))
    if values.dtype == np.bool_:
        values = values.astype(np.uint8) * 255
    elif np.issubdtype(values.dtype, np.floating):
        if not np.isfinite(values).all():
            raise ImageError("the array has NaN or infinite values")
        values = np.clip(values * (255.0 if values.max(initial=0.0) <= 1.0 else 1.0), 0, 255).round()
    elif not np.issubdtype(values.dtype, np.integer):
        raise ImageError(f"expected numbers, got an array of {values.dtype}", f"需要数值，收到的是 `{values.dtype}` 数组")
    elif values.size and (values.min() < 0 or values.max() > 255):
        raise ImageError("integer pixels must lie in 0..255")
    return Image.fromarray(np.ascontiguousarray(values.astype(np.uint8)))


def _standard_mode(image: Image.Image) -> Image.Image:
    """Any PIL mode -> L, RGB or RGBA (16-bit and float greys scaled to 8 bits, palettes expanded)."""
    mode = image.mode
    if mode in ("L", "RGB", "RGBA"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("LA", "La", "PA", "RGBa") or (mode == "P" and "transparency" in image.info):
        return image.convert("RGBA")
    if mode.startswith("I") or mode == "F":
        values = np.asarray(image, dtype=np.float64)
        top = float(values.max(initial=0.0))
        if mode == "F" and top <= 1.0:
            values = values * 255.0
        elif top > 255.0:  # 16-bit (or wider) grey
            values = values / (257.0 if top <= 65535.0 else top / 255.0)
        return Image.fromarray(np.clip(values, 0, 255).round().astype(np.uint8))
    try:
        return image.convert("RGB")  # P without transparency, CMYK, YCbCr, LAB, HSV
    except (ValueError, OSError) as exc:
        raise ImageError(f"unsupported image mode {mode!r} ({exc})",
                         f"不支持的图像模式 `{mode!r}`（`{str(exc).replace('`', chr(39))}`）") from None


# -- the steps ----------------------------------------------------------------------------------------------------


def _composite(image: Image.Image, notes: list[str], notes_zh: list[str]) -> Image.Image:
    """RGBA -> RGB on the background the visible pixels stand out from; opaque images are returned unchanged."""
    if image.mode != "RGBA":
        return image
    rgba = np.asarray(image, dtype=np.float32)
    alpha = rgba[:, :, 3:] / 255.0
    if float(alpha.min()) >= 1.0:
        return image.convert("RGB")
    luminance = rgba[:, :, 0] * 0.299 + rgba[:, :, 1] * 0.587 + rgba[:, :, 2] * 0.114
    weight = float(alpha.sum())
    if weight <= 0.0:
        notes.append("the image is fully transparent (blank)")
        notes_zh.append("图像完全透明（空白）")
        background = 255.0
    else:
        content = float((luminance * alpha[:, :, 0]).sum()) / weight
        background = 255.0 if content < 127.5 else 0.0
        notes.append(f"transparent pixels filled with {'white' if background else 'black'} "
                     f"(the drawing is {'dark' if background else 'light'})")
        notes_zh.append(f"透明像素填充为{'白色' if background else '黑色'}（图形是{'深色' if background else '浅色'}的）")
    rgb = rgba[:, :, :3] * alpha + background * (1.0 - alpha)
    return Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8))


def _border(pixels: np.ndarray, width: int) -> np.ndarray:
    """The pixels within ``width`` of the edge, as an ``N x C`` array."""
    values = pixels if pixels.ndim == 3 else pixels[:, :, None]
    mask = np.zeros(values.shape[:2], dtype=bool)
    mask[:width, :] = mask[-width:, :] = True
    mask[:, :width] = mask[:, -width:] = True
    return values[mask]


def _square(image: Image.Image, fit: str) -> Image.Image:
    width, height = image.size
    if fit == "crop":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return image.crop((left, top, left + side, top + side))
    side = max(width, height)
    pixels = np.asarray(image)
    colour = np.median(_border(pixels, max(1, min(width, height) // 32)), axis=0).round().astype(np.uint8)
    fill = int(colour[0]) if image.mode == "L" else tuple(int(value) for value in colour)
    canvas = Image.new(image.mode, (side, side), fill)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


def _should_invert(pixels: np.ndarray, preprocessing: Preprocessing) -> bool:
    """For a dark-background dataset: whether the image's border is mostly light."""
    if not preprocessing.dark_background:
        return False
    border = _border(pixels, max(1, pixels.shape[0] // 14)).astype(np.float32)
    if border.shape[-1] == 3:
        border = border @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return float(np.mean(border)) > 127.5
