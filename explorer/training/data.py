"""Datasets as uint8 tensors in memory, and the device-side batch pipeline.

Fashion-MNIST, MNIST and CIFAR-10 come through torchvision, from a data folder in torchvision's own layout
(``<data_dir>/FashionMNIST/raw/train-images-idx3-ubyte``, ``<data_dir>/cifar-10-batches-py/data_batch_1``...),
so an existing download works offline. ``shapes`` and ``shapes-color`` are drawn procedurally
(:mod:`explorer.training.shapes`) and need nothing.

These datasets fit in memory, so a run keeps them as uint8 tensors on the training device and does everything
per batch there (:class:`BatchPipeline`): random crop and flip, conversion to float, resizing with
``F.interpolate``, channel conversion and normalisation. There is no per-sample PIL work in the training loop.
"""
from __future__ import annotations

import os
import socket
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

import torch
import torch.nn.functional as F

from ..specs import SpecError
from .config import normalize_dataset_name
from .shapes import COLOR_SIZE, GRAY_SIZE, SHAPE_CLASSES, generate_shapes

#: The environment variable that names the data folder.
DATA_DIR_ENV = "EXPLORER_DATA_DIR"
CHECKPOINT_DIR_ENV = "EXPLORER_CHECKPOINT_DIR"
#: How many images the built-in dataset draws when no subset size is given.
SHAPES_TRAIN_SIZE = 20_000
SHAPES_TEST_SIZE = 4_000
#: Seeds of the built-in dataset's splits (fixed, so runs with different training seeds see the same data).
SHAPES_TRAIN_SEED = 1
SHAPES_TEST_SEED = 2


@dataclass(frozen=True)
class DatasetInfo:
    """What the explorer knows about a dataset before loading it."""

    name: str  # the name used in configs and on the command line
    label: str  # for people
    classes: tuple[str, ...]
    channels: int
    size: int  # pixels per side
    train_size: int
    test_size: int
    flip_ok: bool  # whether horizontal flips keep the class (not for digits)
    torchvision_class: str | None  # the torchvision.datasets class, or None for built-in data
    folder: str  # where torchvision keeps it under the data folder


FASHION_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle boot")  # d2l's text labels
DIGITS = tuple(str(digit) for digit in range(10))
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

DATASETS: dict[str, DatasetInfo] = {info.name: info for info in (
    DatasetInfo("fashion-mnist", "Fashion-MNIST", FASHION_CLASSES, 1, 28, 60_000, 10_000, True, "FashionMNIST",
                "FashionMNIST/raw"),
    DatasetInfo("mnist", "MNIST", DIGITS, 1, 28, 60_000, 10_000, False, "MNIST", "MNIST/raw"),
    DatasetInfo("cifar10", "CIFAR-10", CIFAR_CLASSES, 3, 32, 50_000, 10_000, True, "CIFAR10", "cifar-10-batches-py"),
    DatasetInfo("shapes", "shapes", SHAPE_CLASSES, 1, GRAY_SIZE, SHAPES_TRAIN_SIZE, SHAPES_TEST_SIZE, True, None,
                ""),
    DatasetInfo("shapes-color", "shapes (colour)", SHAPE_CLASSES, 3, COLOR_SIZE, SHAPES_TRAIN_SIZE,
                SHAPES_TEST_SIZE, True, None, ""),
)}


class DatasetUnavailable(SpecError):
    """A torchvision dataset that is neither on disk nor downloadable; the message offers ``shapes``."""

    def __init__(self, message: str, message_zh: str = "") -> None:
        super().__init__("dataset", message, message_zh)


@dataclass
class ImageData:
    """One split of a dataset held as tensors."""

    images: torch.Tensor  # uint8, N x C x H x W
    labels: torch.Tensor  # int64, N
    info: DatasetInfo
    train: bool

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str) -> "ImageData":
        return ImageData(self.images.to(device), self.labels.to(device), self.info, self.train)

    def subset(self, indices: torch.Tensor) -> "ImageData":
        return ImageData(self.images[indices], self.labels[indices], self.info, self.train)

    @property
    def nbytes(self) -> int:
        return self.images.numel() * self.images.element_size() + self.labels.numel() * 8


def dataset_info(name: str) -> DatasetInfo:
    return DATASETS[normalize_dataset_name(name)]


def split_sizes(info: DatasetInfo, train_subset: int | None, test_subset: int | None) -> tuple[int, int]:
    """How many training and test examples :func:`load_dataset` will return for these subset sizes (the built-in
    data draws exactly as many as asked; a torchvision dataset has at most its own size)."""
    if info.torchvision_class is None:
        return train_subset or info.train_size, test_subset or info.test_size
    return min(train_subset or info.train_size, info.train_size), min(test_subset or info.test_size, info.test_size)


def default_data_dir() -> Path:
    """``$EXPLORER_DATA_DIR``, or ``~/.cache/cnn-explorer/data``."""
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "cnn-explorer" / "data"


def default_checkpoint_dir() -> Path:
    """``$EXPLORER_CHECKPOINT_DIR``, or ``<tempdir>/cnn-explorer/checkpoints``."""
    configured = os.environ.get(CHECKPOINT_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path(tempfile.gettempdir()) / "cnn-explorer" / "checkpoints"


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    return Path(data_dir).expanduser() if data_dir else default_data_dir()


def is_on_disk(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """Whether a torchvision dataset's files are already in the data folder (built-in data always is)."""
    info = dataset_info(name)
    if info.torchvision_class is None:
        return True
    folder = resolve_data_dir(data_dir) / info.folder
    if info.name == "cifar10":
        return all((folder / name).is_file() for name in ("data_batch_1", "test_batch", "batches.meta"))
    return all((folder / f"{prefix}-{kind}-idx{dims}-ubyte").is_file()
               for prefix in ("train", "t10k") for kind, dims in (("images", 3), ("labels", 1)))


def load_dataset(name: str, *, train: bool, data_dir: str | os.PathLike | None = None, download: bool = True,
                 limit: int | None = None, seed: int = 0) -> ImageData:
    """One split of a dataset as uint8 tensors on the CPU.

    Args:
        name: one of :data:`DATASETS`.
        train: the training split, else the test split.
        data_dir: the data folder in torchvision's layout (default: :func:`default_data_dir`).
        download: when the files are missing, try to download them (torchvision's mirrors).
        limit: keep a random subset of this many examples (the built-in data draws exactly this many).
        seed: which random subset.

    Raises:
        DatasetUnavailable: the files are missing and could not be downloaded; the message says where they
            were looked for and offers the built-in ``shapes`` dataset.
    """
    info = dataset_info(name)
    if info.torchvision_class is None:
        count = limit or (info.train_size if train else info.test_size)
        images, labels = _cached_shapes(count, SHAPES_TRAIN_SEED if train else SHAPES_TEST_SEED, info.channels == 3)
        return ImageData(images, labels, info, train)
    root = resolve_data_dir(data_dir)
    images, labels = _load_torchvision(info, root, train, download)
    data = ImageData(images, labels, info, train)
    if limit is not None and limit < len(data):
        generator = torch.Generator().manual_seed(int(seed) * 2 + (0 if train else 1))
        data = data.subset(torch.randperm(len(data), generator=generator)[:limit])
    return data


@lru_cache(maxsize=4)
def _cached_shapes(count: int, seed: int, color: bool) -> tuple[torch.Tensor, torch.Tensor]:
    return generate_shapes(count, seed=seed, color=color)


_TORCHVISION_CACHE: "OrderedDict[tuple[str, str, bool], tuple[torch.Tensor, torch.Tensor]]" = OrderedDict()
_TORCHVISION_CACHE_SIZE = 4


def _load_torchvision(info: DatasetInfo, root: Path, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    key = (info.name, str(root), train)
    if key in _TORCHVISION_CACHE:
        _TORCHVISION_CACHE.move_to_end(key)
        return _TORCHVISION_CACHE[key]
    import torchvision.datasets as tv_datasets  # torchvision's import is slow; only pay for it here

    dataset_class = getattr(tv_datasets, info.torchvision_class)  # type: ignore[arg-type]
    try:
        dataset = dataset_class(str(root), train=train, download=False)
    except RuntimeError:  # torchvision: "Dataset not found" (or, for CIFAR, "... or corrupted")
        if not download:
            raise DatasetUnavailable(*_unavailable_messages(info, root, "", offline=True)) from None
        try:
            unreachable = unreachable_reason(download_hosts(dataset_class))
            if unreachable:
                raise OSError(unreachable)
            root.mkdir(parents=True, exist_ok=True)
            dataset = dataset_class(str(root), train=train, download=True)
        except Exception as failure:  # noqa: BLE001 - URLError, RuntimeError, OSError, tarfile errors...
            reason = " ".join(str(failure).split())[:300] or type(failure).__name__
            raise DatasetUnavailable(*_unavailable_messages(info, root, reason, offline=False)) from None
    data = dataset.data
    images = torch.as_tensor(data) if not isinstance(data, torch.Tensor) else data
    if images.dim() == 3:  # MNIST-style N x H x W
        images = images.unsqueeze(1)
    else:  # CIFAR's N x H x W x C numpy array
        images = images.permute(0, 3, 1, 2)
    images = images.to(torch.uint8).contiguous()
    labels = torch.as_tensor(dataset.targets, dtype=torch.int64)
    _TORCHVISION_CACHE[key] = (images, labels)
    while len(_TORCHVISION_CACHE) > _TORCHVISION_CACHE_SIZE:
        _TORCHVISION_CACHE.popitem(last=False)
    return images, labels


def download_hosts(dataset_class: type) -> list[tuple[str, int]]:
    """(host, port) of the servers torchvision would download a dataset class from, in its order."""
    urls = list(getattr(dataset_class, "mirrors", None) or []) or [getattr(dataset_class, "url", "")]
    hosts = []
    for url in urls:
        parsed = urlparse(url)
        if parsed.hostname:
            hosts.append((parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)))
    return hosts


def unreachable_reason(hosts: list[tuple[str, int]], timeout: float = 5.0) -> str | None:
    """None when one of the hosts accepts a connection within ``timeout`` seconds; otherwise why not.

    torchvision's downloads have no timeout, so on a network that silently drops packets they would hang; this
    probe turns that into a prompt, clear failure.
    """
    if not hosts:
        return None
    reasons = []
    for host, port in hosts:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return None
        except OSError as exc:
            reasons.append(f"{host}: {exc}")
    return "cannot reach " + "; ".join(reasons)


def _unavailable_messages(info: DatasetInfo, root: Path, reason: str, *, offline: bool) -> tuple[str, str]:
    """Why ``info`` cannot be loaded and what to do, in English and in Chinese; ``reason``: why the download
    failed (the system's own words, quoted as they are)."""
    where = root / info.folder
    hint = "downloads are switched off" if offline else "this machine may have no internet access"
    detail = f" (download failed: {reason})" if reason else ""
    english = (f"{info.label} is not in {where} (or its files are incomplete) and {hint}{detail}. Copy "
               f"torchvision's files there "
               f"(set {DATA_DIR_ENV} or --data-dir to use another folder), or train on the built-in dataset "
               f"'shapes' (10 classes of procedurally drawn figures, no download needed).")
    hint_zh = "下载已关闭" if offline else "这台机器可能无法访问互联网"
    detail_zh = f"（下载失败：`{reason.replace('`', chr(39))}`）" if reason else ""
    chinese = (f"{info.label} 数据集不在 `{where}` 中（或文件不完整），而且{hint_zh}{detail_zh}。请把 torchvision "
               f"的数据集文件复制到那里（设置 `{DATA_DIR_ENV}` 或 `--data-dir` 可改用其他文件夹），或者用内置的 "
               f"`shapes` 数据集训练（10 类程序绘制的图形，无需下载）。")
    return english, chinese


# ---------------------------------------------------------------------------------------------------------------
# The device-side batch pipeline


def luminance_weights(device: torch.device | str | None = None) -> torch.Tensor:
    """ITU-R BT.601 weights, as PIL's ``convert("L")``."""
    return torch.tensor([0.299, 0.587, 0.114], device=device)


def check_channels(source_channels: int, model_channels: int) -> None:
    """Raise SpecError unless images with ``source_channels`` can be fed to a ``model_channels`` network."""
    if source_channels == model_channels or model_channels == 1 or source_channels == 1:
        return
    raise SpecError("in_channels", f"the network takes {model_channels} channels and the images have "
                                   f"{source_channels}; use in_channels 1 or {source_channels}")


@dataclass
class BatchPipeline:
    """uint8 images on the device -> the float batch the model takes, all as batched tensor ops.

    Order: random crop and flip (on uint8, at the dataset's resolution, when training with augmentation),
    then float in [0, 1], channel conversion (3 -> 1 by luminance before resizing, 1 -> C by repeating after),
    resizing with ``F.interpolate`` (bilinear; antialiased when shrinking), normalisation with the training
    set's per-channel mean and std, and channels_last when asked.
    """

    source_channels: int
    source_size: int
    model_channels: int
    input_size: int
    mean: torch.Tensor  # model_channels, on the device
    std: torch.Tensor
    augment: bool = False
    flip: bool = False
    crop_padding: int = 0
    channels_last: bool = False

    def __call__(self, images: torch.Tensor, *, train: bool,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        if train and self.augment:
            if self.crop_padding > 0:
                images = random_crop(images, self.crop_padding, generator)
            if self.flip:
                images = random_flip(images, generator)
        batch = images.float().div_(255.0)
        batch = to_float_input(batch, self.model_channels, self.input_size)
        batch = (batch - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.model_channels, self.input_size, self.input_size)


def to_float_input(batch: torch.Tensor, model_channels: int, input_size: int) -> torch.Tensor:
    """Float images in [0, 1] -> the model's channels and size (no normalisation)."""
    channels = batch.shape[1]
    if model_channels == 1 and channels != 1:
        weights = (luminance_weights(batch.device) if channels == 3
                   else torch.full((channels,), 1.0 / channels, device=batch.device))
        batch = (batch * weights.view(1, -1, 1, 1)).sum(dim=1, keepdim=True)
    if batch.shape[-1] != input_size or batch.shape[-2] != input_size:
        shrinking = input_size < batch.shape[-1]
        batch = F.interpolate(batch, size=(input_size, input_size), mode="bilinear", align_corners=False,
                              antialias=shrinking)
    if batch.shape[1] == 1 and model_channels > 1:
        batch = batch.expand(-1, model_channels, -1, -1)
    return batch


def channel_stats(images: torch.Tensor, model_channels: int, *, max_images: int = 10_000) -> tuple[torch.Tensor,
                                                                                                   torch.Tensor]:
    """Per-channel mean and std of uint8 images as the model will see them (after channel conversion)."""
    sample = images[:max_images].float().div_(255.0)
    sample = to_float_input(sample, model_channels, sample.shape[-1])
    mean = sample.mean(dim=(0, 2, 3))
    std = sample.std(dim=(0, 2, 3)).clamp(min=1e-3)
    return mean, std


def make_pipeline(train_images: torch.Tensor, *, model_channels: int, input_size: int, augment: bool,
                  flip: bool, channels_last: bool) -> BatchPipeline:
    """A pipeline whose normalisation comes from ``train_images`` (uint8, N x C x H x W, on the device)."""
    check_channels(int(train_images.shape[1]), model_channels)
    mean, std = channel_stats(train_images, model_channels)
    size = int(train_images.shape[-1])
    return BatchPipeline(source_channels=int(train_images.shape[1]), source_size=size,
                         model_channels=model_channels, input_size=input_size, mean=mean, std=std,
                         augment=augment, flip=flip, crop_padding=max(size // 8, 1), channels_last=channels_last)


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random ``H x W`` window of each zero-padded image (torchvision's ``RandomCrop(padding=...)``), batched."""
    n, c, h, w = images.shape
    padded = F.pad(images, (padding, padding, padding, padding))
    offset_y = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=images.device)
    offset_x = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=images.device)
    rows = offset_y.view(n, 1) + torch.arange(h, device=images.device).view(1, h)  # n x h
    cols = offset_x.view(n, 1) + torch.arange(w, device=images.device).view(1, w)  # n x w
    padded = padded.gather(2, rows.view(n, 1, h, 1).expand(n, c, h, w + 2 * padding))
    return padded.gather(3, cols.view(n, 1, 1, w).expand(n, c, h, w))


def random_flip(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flips = torch.rand(images.shape[0], generator=generator, device=images.device) < 0.5
    return torch.where(flips.view(-1, 1, 1, 1), images.flip(-1), images)


def batch_indices(num_examples: int, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None,
                  device: torch.device | str | None = None) -> Iterator[torch.Tensor]:
    """Index tensors of the batches of one epoch.

    A trailing batch of a single example is dropped when there are other batches (batch norm cannot train on
    one example); otherwise every example is used, so a split smaller than one batch still gives one batch.
    """
    order = (torch.randperm(num_examples, generator=generator, device=device) if shuffle
             else torch.arange(num_examples, device=device))
    for start in range(0, num_examples, batch_size):
        chunk = order[start:start + batch_size]
        if len(chunk) == 1 and start > 0 and shuffle:
            break
        yield chunk


def num_batches(num_examples: int, batch_size: int, *, shuffle: bool = True) -> int:
    """How many batches :func:`batch_indices` yields."""
    full, rest = divmod(num_examples, batch_size)
    if rest == 1 and full > 0 and shuffle:
        return full
    return full + (1 if rest else 0)
