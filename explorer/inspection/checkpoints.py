"""Open a checkpoint that this app's training wrote (:func:`explorer.training.engine.save_checkpoint`), safely.

The file is read with ``torch.load(weights_only=True)`` (tensors and plain data only: no code runs), its spec is
validated by :func:`explorer.parse_spec` like any user input, and every other part is checked before the model
is built: the class names, the dataset, the normalisation, and that each weight has the shape the spec builds.
Each failure is a :class:`CheckpointError` that says what the file is and what to do.

The format (``"format": "cnn-explorer checkpoint v1"``)::

    {"model_state_dict": {name: tensor}, "spec": spec.to_dict(), "config": TrainConfig.to_dict(),
     "metrics": {"test_acc", "test_loss", "train_acc", "train_loss", "steps", "epochs_completed"},
     "classes": [names], "normalization": {"mean": [...], "std": [...]}, "format": "..."}

plus, when a writer adds them, ``"curves"`` (a dict of lists of numbers), which are passed on.
"""
from __future__ import annotations

import math
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from ..analysis import Analysis, analyze
from ..models import build_model
from ..specs import ArchSpec, SpecError, parse_spec
from ..training.config import normalize_dataset_name
from ..training.data import dataset_info
from .errors import CheckpointError
from .images import Preprocessing

#: What ``save_checkpoint`` writes in the ``format`` field.
CHECKPOINT_FORMAT = "cnn-explorer checkpoint v1"
#: Largest checkpoint accepted (VGG-19's fp32 weights are 0.55 GiB).
MAX_CHECKPOINT_BYTES = 2 * 2**30
_REQUIRED = ("model_state_dict", "spec", "config", "classes", "normalization")
_MAX_CLASSES = 10_000
_MAX_CLASS_NAME = 200
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"  # torch's legacy (non-zip) format starts with a pickle protocol opcode


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A trained network, ready to inspect."""

    path: str
    spec: ArchSpec  # validated by parse_spec
    model: nn.Module  # on the CPU, in eval mode, parameters frozen (requires_grad False)
    dataset: str  # the dataset it was trained on, e.g. "fashion-mnist"
    classes: tuple[str, ...]  # class names, in label order
    preprocessing: Preprocessing  # how its test images were prepared (dataset form + the run's normalisation)
    config: dict[str, Any] = field(default_factory=dict)  # the TrainConfig it was trained with, as saved
    metrics: dict[str, Any] = field(default_factory=dict)  # final test/train accuracy and loss, steps, epochs
    curves: dict[str, list[float]] | None = None  # training curves, when the checkpoint has them
    format: str = CHECKPOINT_FORMAT
    notes: tuple[str, ...] = ()
    notes_zh: tuple[str, ...] = ()  # the same notes in Simplified Chinese

    @property
    def analysis(self) -> Analysis:
        """The spec's analysis (cached by :func:`explorer.analyze`)."""
        return analyze(self.spec)

    def metadata(self) -> dict[str, Any]:
        """JSON-ready: everything but the weights."""
        return {"path": self.path, "format": self.format, "family": self.spec.family, "spec": self.spec.to_dict(),
                "dataset": self.dataset, "classes": list(self.classes), "config": self.config,
                "metrics": self.metrics, "curves": self.curves, "preprocessing": self.preprocessing.to_dict(),
                "notes": list(self.notes)}


def load_checkpoint(path: str | os.PathLike) -> LoadedCheckpoint:
    """Read and check a checkpoint file; build its model with its weights.

    Raises:
        CheckpointError: not a file, not a PyTorch checkpoint, damaged, holding Python objects, a bare
            ``state_dict`` (torchvision's, say) or a checkpoint from elsewhere, inconsistent parts, or weights
            that do not fit the spec. A spec that fails validation is reported with its field.
    """
    checkpoint = read_checkpoint(path)
    for key in _REQUIRED:
        if key not in checkpoint:
            raise CheckpointError(f"the checkpoint has no {key!r}; it was not written by this app's training "
                                  f"(keys: {_key_list(checkpoint)})",
                                  f"检查点里没有 `{key!r}`；它不是本应用的训练写出的（键：`{_key_list(checkpoint)}`）")
    if not isinstance(checkpoint["spec"], Mapping):
        raise CheckpointError(f"the checkpoint's spec is a {type(checkpoint['spec']).__name__}, not a spec dict",
                              f"检查点的规格是 `{type(checkpoint['spec']).__name__}`，不是规格字典")
    try:
        spec = parse_spec(checkpoint["spec"])
    except SpecError as exc:
        where = f" (at {exc.field})" if exc.field else ""
        where_zh = f"（在 `{exc.field}`）" if exc.field else ""
        raise CheckpointError(f"the checkpoint's spec is not valid{where}: {exc.message}",
                              f"检查点的规格无效{where_zh}：{exc.message_for(zh=True)}") from None
    config = checkpoint["config"] if isinstance(checkpoint["config"], Mapping) else {}
    try:
        dataset = normalize_dataset_name(config.get("dataset"))
    except SpecError:
        raise CheckpointError(f"the checkpoint does not say which dataset it was trained on (config.dataset is "
                              f"{str(config.get('dataset'))[:40]!r})",
                              f"检查点没有说明它是在哪个数据集上训练的（`config.dataset` 是 "
                              f"`{str(config.get('dataset'))[:40]!r}`）") from None
    classes = _classes(checkpoint["classes"], spec)
    mean, std = _normalization(checkpoint["normalization"], spec)
    try:
        preprocessing = Preprocessing.for_spec(dataset, spec, mean, std)
    except SpecError as exc:
        raise CheckpointError(f"the checkpoint's parts disagree: {exc}",
                              f"检查点的各部分互相矛盾：{exc.text(zh=True)}") from None
    notes, notes_zh = [], []
    if len(classes) != len(dataset_info(dataset).classes):
        notes.append(f"{len(classes)} classes, while {dataset_info(dataset).label} has "
                     f"{len(dataset_info(dataset).classes)}")
        notes_zh.append(f"{len(classes)} 个类别，而 {dataset_info(dataset).label} 有 "
                        f"{len(dataset_info(dataset).classes)} 个")
    model = _build(spec, checkpoint["model_state_dict"])
    return LoadedCheckpoint(
        path=str(path), spec=spec, model=model, dataset=dataset, classes=classes, preprocessing=preprocessing,
        config=_plain(config), metrics=_plain(checkpoint.get("metrics") or {}),
        curves=_curves(checkpoint.get("curves")), format=str(checkpoint.get("format", ""))[:100],
        notes=tuple(notes), notes_zh=tuple(notes_zh))


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with every failure turned into a :class:`CheckpointError`."""
    try:
        file = Path(path)
        size = file.stat().st_size
        is_file = file.is_file()
    except (OSError, ValueError, TypeError):
        raise CheckpointError(f"no such file: {str(path)[:200]}", f"没有这个文件：`{str(path)[:200]}`") from None
    if not is_file:
        raise CheckpointError(f"not a file: {str(path)[:200]}", f"不是文件：`{str(path)[:200]}`")
    if size == 0:
        raise CheckpointError("the file is empty", "文件是空的")
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"the file is too large ({size / 2**30:.1f} GiB; at most "
                              f"{MAX_CHECKPOINT_BYTES / 2**30:.0f} GiB)",
                              f"文件太大（{size / 2**30:.1f} GiB；最多 {MAX_CHECKPOINT_BYTES / 2**30:.0f} GiB）")
    with open(file, "rb") as handle:
        magic = handle.read(4)
    if not (magic.startswith(_ZIP_MAGIC) or magic.startswith(_PICKLE_MAGIC)):
        raise CheckpointError("this is not a PyTorch checkpoint (.pt) file; choose a file that training wrote",
                              "这不是 PyTorch 检查点（.pt）文件；请选择训练写出的文件")
    try:
        checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Weights only load failed" in text:
            found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
            what = f" (it contains {found.group(1)})" if found else ""
            what_zh = f"（其中有 `{found.group(1)}`）" if found else ""
            raise CheckpointError(f"the file holds Python objects, not just weights and plain data{what}; it was "
                                  f"not written by this app's training and is not loaded, since loading it "
                                  f"could run code",
                                  f"文件里有 `Python` 对象，而不只是权重和普通数据{what_zh}；它不是本应用的训练写出的，"
                                  f"不会被载入，因为载入它可能会运行代码") from None
        raise CheckpointError(f"the file is damaged or not a PyTorch checkpoint ({_short(text)})",
                              f"文件已损坏，或者不是 PyTorch 检查点（`{_short(text)}`）") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            MemoryError) as exc:
        text = str(exc)
        if "not in a subdirectory" in text or "failed locating file" in text:
            raise CheckpointError("this is a zip archive but not a PyTorch checkpoint",
                                  "这是一个 zip 压缩包，但不是 PyTorch 检查点") from None
        raise CheckpointError(f"the file is damaged (truncated or corrupted?): {_short(text)}",
                              f"文件已损坏（被截断或数据出错？）：`{_short(text)}`") from None
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"the file holds a {type(checkpoint).__name__}, not a checkpoint (a dict with the "
                              f"weights, the spec and the training settings)",
                              f"文件里是一个 `{type(checkpoint).__name__}`，不是检查点（检查点是包含权重、规格和"
                              f"训练设置的字典）")
    if checkpoint and all(isinstance(value, torch.Tensor) for value in checkpoint.values()):
        raise CheckpointError(f"the file holds only weights ({len(checkpoint)} tensors, a bare state_dict such as "
                              f"torchvision's), without the spec, dataset and normalisation this app's training "
                              f"saves; train the network here (Train tab or `python -m explorer train`) to get a "
                              f"checkpoint you can inspect",
                              f"文件里只有权重（{len(checkpoint)} 个张量，是像 torchvision 那样的单纯 `state_dict`），"
                              f"没有本应用的训练会保存的规格、数据集和归一化参数；请在这里训练这个网络（训练页或 "
                              f"`python -m explorer train`），得到一个可以检查的检查点")
    return dict(checkpoint)


# -- the parts --------------------------------------------------------------------------------------------------


def _classes(value: Any, spec: ArchSpec) -> tuple[str, ...]:
    if (not isinstance(value, (list, tuple)) or not 1 <= len(value) <= _MAX_CLASSES
            or not all(isinstance(name, str) and 0 < len(name) <= _MAX_CLASS_NAME for name in value)):
        raise CheckpointError("the checkpoint's class names are not a list of short texts",
                              "检查点的类别名称不是由短文本组成的列表")
    if len(value) != spec.num_classes:
        raise CheckpointError(f"the checkpoint names {len(value)} classes but its network has "
                              f"{spec.num_classes} outputs",
                              f"检查点列出了 {len(value)} 个类别，但它的网络有 {spec.num_classes} 个输出")
    return tuple(value)


def _normalization(value: Any, spec: ArchSpec) -> tuple[list[float], list[float]]:
    if not isinstance(value, Mapping):
        raise CheckpointError("the checkpoint's normalization is not a {'mean': [...], 'std': [...]} dict",
                              "检查点的归一化参数不是 `{'mean': [...], 'std': [...]}` 形式的字典")
    parts = []
    for key in ("mean", "std"):
        numbers = value.get(key)
        if isinstance(numbers, torch.Tensor):
            numbers = numbers.flatten().tolist()
        if (not isinstance(numbers, (list, tuple)) or len(numbers) != spec.in_channels
                or not all(isinstance(number, (int, float)) and not isinstance(number, bool)
                           and math.isfinite(number) for number in numbers)):
            raise CheckpointError(f"the checkpoint's normalization {key} should be {spec.in_channels} finite "
                                  f"number(s), one per input channel",
                                  f"检查点的归一化参数 `{key}` 应该是 {spec.in_channels} 个有限的数，每个输入通道一个")
        parts.append([float(number) for number in numbers])
    if any(number <= 0 for number in parts[1]):
        raise CheckpointError("the checkpoint's normalization std has a value <= 0",
                              "检查点的归一化参数 `std` 中有值 <= 0")
    return parts[0], parts[1]


def _build(spec: ArchSpec, state: Any) -> nn.Module:
    """The spec's model with the checkpoint's weights, after checking that every one fits."""
    if not isinstance(state, Mapping) or not all(isinstance(name, str) and isinstance(tensor, torch.Tensor)
                                                 for name, tensor in state.items()):
        raise CheckpointError("the checkpoint's model_state_dict is not a dict of named tensors",
                              "检查点的 `model_state_dict` 不是由命名张量组成的字典")
    model = build_model(spec, device="meta")  # shapes only: no memory, no initialisation
    expected = model.state_dict()
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    wrong = [f"{name}: {list(state[name].shape)} in the file, {list(tensor.shape)} in the spec"
             for name, tensor in expected.items()
             if name in state and tuple(state[name].shape) != tuple(tensor.shape)]
    kinds = [name for name, tensor in expected.items() if name in state and tensor.is_floating_point()
             and not state[name].is_floating_point()]
    if missing or unexpected or wrong or kinds:
        problems, problems_zh = [], []
        if wrong:
            problems.append(f"{len(wrong)} with another shape ({'; '.join(wrong[:3])}{'; ...' if len(wrong) > 3 else ''})")
            shapes_zh = [f"`{name}`：文件中为 {list(state[name].shape)}，规格中为 {list(tensor.shape)}"
                         for name, tensor in expected.items()
                         if name in state and tuple(state[name].shape) != tuple(tensor.shape)][:3]
            problems_zh.append(f"{len(wrong)} 个形状不同（{'；'.join(shapes_zh)}{'；……' if len(wrong) > 3 else ''}）")
        if missing:
            problems.append(f"{len(missing)} missing ({_names(missing)})")
            problems_zh.append(f"缺少 {len(missing)} 个（`{_names(missing)}`）")
        if unexpected:
            problems.append(f"{len(unexpected)} the spec does not have ({_names(unexpected)})")
            problems_zh.append(f"{len(unexpected)} 个是规格中没有的（`{_names(unexpected)}`）")
        if kinds:
            problems.append(f"{len(kinds)} not floating point ({_names(kinds)})")
            problems_zh.append(f"{len(kinds)} 个不是浮点数（`{_names(kinds)}`）")
        raise CheckpointError(f"the weights do not fit the checkpoint's {spec.family_label} spec: "
                              f"{', '.join(problems)}",
                              f"权重与检查点的 {spec.family_label} 规格不符：{'，'.join(problems_zh)}")
    bad = [name for name, tensor in state.items() if tensor.is_floating_point() and not _finite(tensor)]
    if bad:
        raise CheckpointError(f"the weights contain NaN or infinite values ({_names(bad)}): the training run "
                              f"diverged; train again with a smaller learning rate",
                              f"权重中有 NaN 或无穷大的值（`{_names(bad)}`）：那次训练发散了；请用更小的学习率重新训练")
    # The loaded tensors become the parameters (no copy); the meta model had none to overwrite.
    model.load_state_dict({name: tensor.to(dtype=expected[name].dtype).contiguous()
                           for name, tensor in state.items()}, strict=True, assign=True)
    if any(tensor.is_meta for tensor in (*model.parameters(), *model.buffers())):  # a non-persistent buffer
        raise CheckpointError("the model has tensors the checkpoint cannot provide")  # pragma: no cover
    model.eval()
    model.requires_grad_(False)  # inspection never trains: no graph is built before Grad-CAM's block
    return model


def _finite(tensor: torch.Tensor) -> bool:
    """No NaN or infinity (min and max propagate NaN; one pass, no temporary the size of the tensor)."""
    if tensor.numel() == 0:
        return True
    low, high = torch.aminmax(tensor.detach().float() if tensor.dtype in (torch.float16, torch.bfloat16)
                              else tensor.detach())
    return math.isfinite(float(low)) and math.isfinite(float(high))


def _curves(value: Any) -> dict[str, list[float]] | None:
    if not isinstance(value, Mapping):
        return None
    curves = {}
    for name, points in list(value.items())[:50]:
        if isinstance(name, str) and isinstance(points, (list, tuple)):
            numbers = [float(point) for point in points[:100_000]
                       if isinstance(point, (int, float)) and not isinstance(point, bool)]
            curves[name[:100]] = numbers
    return curves or None


def _plain(value: Any, depth: int = 0) -> Any:
    """Checkpoint metadata as JSON-ready values (tensors become lists; deep or odd values become text)."""
    if depth > 8:
        return None
    if isinstance(value, Mapping):
        return {str(key)[:200]: _plain(item, depth + 1) for key, item in list(value.items())[:1000]}
    if isinstance(value, (list, tuple)):
        return [_plain(item, depth + 1) for item in value[:100_000]]
    if isinstance(value, torch.Tensor):
        return value.tolist() if value.numel() <= 100_000 else f"tensor of shape {list(value.shape)}"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)[:1000]


def _names(names: list[str]) -> str:
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")


def _key_list(checkpoint: Mapping[str, Any]) -> str:
    keys = [str(key)[:40] for key in list(checkpoint)[:8]]
    return ", ".join(keys) + (", ..." if len(checkpoint) > 8 else "") if keys else "none"


def _short(text: str) -> str:
    return " ".join(text.split())[:160] or "no details"
