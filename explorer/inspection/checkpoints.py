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
                                  f"(keys: {_key_list(checkpoint)})")
    if not isinstance(checkpoint["spec"], Mapping):
        raise CheckpointError(f"the checkpoint's spec is a {type(checkpoint['spec']).__name__}, not a spec dict")
    try:
        spec = parse_spec(checkpoint["spec"])
    except SpecError as exc:
        where = f" (at {exc.field})" if exc.field else ""
        raise CheckpointError(f"the checkpoint's spec is not valid{where}: {exc.message}") from None
    config = checkpoint["config"] if isinstance(checkpoint["config"], Mapping) else {}
    try:
        dataset = normalize_dataset_name(config.get("dataset"))
    except SpecError:
        raise CheckpointError(f"the checkpoint does not say which dataset it was trained on (config.dataset is "
                              f"{str(config.get('dataset'))[:40]!r})") from None
    classes = _classes(checkpoint["classes"], spec)
    mean, std = _normalization(checkpoint["normalization"], spec)
    try:
        preprocessing = Preprocessing.for_spec(dataset, spec, mean, std)
    except SpecError as exc:
        raise CheckpointError(f"the checkpoint's parts disagree: {exc}") from None
    notes = []
    if len(classes) != len(dataset_info(dataset).classes):
        notes.append(f"{len(classes)} classes, while {dataset_info(dataset).label} has "
                     f"{len(dataset_info(dataset).classes)}")
    model = _build(spec, checkpoint["model_state_dict"])
    return LoadedCheckpoint(
        path=str(path), spec=spec, model=model, dataset=dataset, classes=classes, preprocessing=preprocessing,
        config=_plain(config), metrics=_plain(checkpoint.get("metrics") or {}),
        curves=_curves(checkpoint.get("curves")), format=str(checkpoint.get("format", ""))[:100],
        notes=tuple(notes))


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with every failure turned into a :class:`CheckpointError`."""
    try:
        file = Path(path)
        size = file.stat().st_size
        is_file = file.is_file()
    except (OSError, ValueError, TypeError):
        raise CheckpointError(f"no such file: {str(path)[:200]}") from None
    if not is_file:
        raise CheckpointError(f"not a file: {str(path)[:200]}")
    if size == 0:
        raise CheckpointError("the file is empty")
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"the file is too large ({size / 2**30:.1f} GiB; at most "
                              f"{MAX_CHECKPOINT_BYTES / 2**30:.0f} GiB)")
    with open(file, "rb") as handle:
        magic = handle.read(4)
    if not (magic.startswith(_ZIP_MAGIC) or magic.startswith(_PICKLE_MAGIC)):
        raise CheckpointError("this is not a PyTorch checkpoint (.pt) file; choose a file that training wrote")
    try:
        checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Weights only load failed" in text:
            found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
            what = f" (it contains {found.group(1)})" if found else ""
            raise CheckpointError(f"the file holds Python objects, not just weights and plain data{what}; it was "
                                  f"not written by this app's training and is not loaded, since loading it "
                                  f"could run code") from None
        raise CheckpointError(f"the file is damaged or not a PyTorch checkpoint ({_short(text)})") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
            MemoryError) as exc:
        text = str(exc)
        if "not in a subdirectory" in text or "failed locating file" in text:
            raise CheckpointError("this is a zip archive but not a PyTorch checkpoint") from None
        raise CheckpointError(f"the file is damaged (truncated or corrupted?): {_short(text)}") from None
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(f"the file holds a {type(checkpoint).__name__}, not a checkpoint (a dict with the "
                              f"weights, the spec and the training settings)")
    if checkpoint and all(isinstance(value, torch.Tensor) for value in checkpoint.values()):
        raise CheckpointError(f"the file holds only weights ({len(checkpoint)} tensors, a bare state_dict such as "
                              f"torchvision's), without the spec, dataset and normalisation this app's training "
                              f"saves; train the network here (Train tab or `python -m explorer train`) to get a "
                              f"checkpoint you can inspect")
    return dict(checkpoint)


# -- the parts --------------------------------------------------------------------------------------------------


def _classes(value: Any, spec: ArchSpec) -> tuple[str, ...]:
    if (not isinstance(value, (list, tuple)) or not 1 <= len(value) <= _MAX_CLASSES
            or not all(isinstance(name, str) and 0 < len(name) <= _MAX_CLASS_NAME for name in value)):
        raise CheckpointError("the checkpoint's class names are not a list of short texts")
    if len(value) != spec.num_classes:
        raise CheckpointError(f"the checkpoint names {len(value)} classes but its network has "
                              f"{spec.num_classes} outputs")
    return tuple(value)


def _normalization(value: Any, spec: ArchSpec) -> tuple[list[float], list[float]]:
    if not isinstance(value, Mapping):
        raise CheckpointError("the checkpoint's normalization is not a {'mean': [...], 'std': [...]} dict")
    parts = []
    for key in ("mean", "std"):
        numbers = value.get(key)
        if isinstance(numbers, torch.Tensor):
            numbers = numbers.flatten().tolist()
        if (not isinstance(numbers, (list, tuple)) or len(numbers) != spec.in_channels
                or not all(isinstance(number, (int, float)) and not isinstance(number, bool)
                           and math.isfinite(number) for number in numbers)):
            raise CheckpointError(f"the checkpoint's normalization {key} should be {spec.in_channels} finite "
                                  f"number(s), one per input channel")
        parts.append([float(number) for number in numbers])
    if any(number <= 0 for number in parts[1]):
        raise CheckpointError("the checkpoint's normalization std has a value <= 0")
    return parts[0], parts[1]


def _build(spec: ArchSpec, state: Any) -> nn.Module:
    """The spec's model with the checkpoint's weights, after checking that every one fits."""
    if not isinstance(state, Mapping) or not all(isinstance(name, str) and isinstance(tensor, torch.Tensor)
                                                 for name, tensor in state.items()):
        raise CheckpointError("the checkpoint's model_state_dict is not a dict of named tensors")
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
        problems = []
        if wrong:
            problems.append(f"{len(wrong)} with another shape ({'; '.join(wrong[:3])}{'; ...' if len(wrong) > 3 else ''})")
        if missing:
            problems.append(f"{len(missing)} missing ({_names(missing)})")
        if unexpected:
            problems.append(f"{len(unexpected)} the spec does not have ({_names(unexpected)})")
        if kinds:
            problems.append(f"{len(kinds)} not floating point ({_names(kinds)})")
        raise CheckpointError(f"the weights do not fit the checkpoint's {spec.family_label} spec: "
                              f"{', '.join(problems)}")
    bad = [name for name, tensor in state.items() if tensor.is_floating_point() and not _finite(tensor)]
    if bad:
        raise CheckpointError(f"the weights contain NaN or infinite values ({_names(bad)}): the training run "
                              f"diverged; train again with a smaller learning rate")
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
