"""Export a spec: standalone PyTorch source, ONNX, JSON and a text summary.

The PyTorch source is a plain ``.py`` file that imports only ``torch`` and ``collections``. It rebuilds the
network with the same module names as :func:`explorer.build_model`, so ``load_state_dict`` accepts the
explorer's checkpoints. Only validated numbers, booleans, ``None`` and tuples of them reach the generated
code, each through ``repr()``; the spec's JSON appears in a comment (JSON escapes every line break).
"""
from __future__ import annotations

import ast
import builtins
import inspect
import io
import json
import keyword
import math
import re
import string
from pathlib import Path
from typing import Any, Mapping, Union

import torch
from torch import nn

from .analysis import analyze
from .models import build_model
from .report import format_summary
from .specs import AlexNetSpec, ArchSpec, GoogLeNetSpec, NiNSpec, Spec, VGGSpec, parse_spec
from .specs.alexnet import GROUPED_CONVS
from .specs.googlenet import INCEPTION_NAMES

SpecLike = Union[ArchSpec, Mapping[str, Any], str]

#: What :func:`write_export` writes: kind -> (file name suffix, what the file holds).
EXPORT_KINDS: dict[str, tuple[str, str]] = {
    "pytorch": ("_network.py", "standalone PyTorch source"),
    "onnx": ("_network.onnx", "ONNX model (random weights)"),
    "json": ("_spec.json", "the spec as JSON"),
    "summary": ("_summary.txt", "per-layer text summary"),
}
#: protobuf refuses messages over 2 GiB; keep room for the graph itself.
MAX_ONNX_WEIGHT_BYTES = 2**31 - 2**26
ONNX_INPUT_NAME = "input"
ONNX_OUTPUT_NAME = "logits"
_FILE_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CLASS_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class ExportError(RuntimeError):
    """``torch.onnx.export`` failed; the message names the exporter and the torch version."""


# --- JSON and text summary ---------------------------------------------------------------------------------

def to_json(spec: SpecLike) -> str:
    """The spec as JSON, one field a line, that :func:`explorer.parse_spec` reads back into an equal spec."""
    return _readable_json(parse_spec(spec).to_dict()) + "\n"


def _readable_json(data: Mapping[str, Any], *, width: int = 100) -> str:
    """JSON with one top-level field a line; a long list of rows (Inception blocks, NiN blocks) gets one row a
    line. ``json.dumps`` escapes every control character, so no line break hides inside a value."""
    def compact(value: Any) -> str:
        return json.dumps(value, separators=(", ", ": "))

    lines = []
    for index, (key, value) in enumerate(data.items()):
        comma = "," if index < len(data) - 1 else ""
        text = f"  {compact(key)}: {compact(value)}"
        if isinstance(value, list) and value and len(text) > width:
            rows = [f"    {compact(item)}{',' if row < len(value) - 1 else ''}" for row, item in enumerate(value)]
            lines += [f"  {compact(key)}: [", *rows, f"  ]{comma}"]
        else:
            lines.append(text + comma)
    return "\n".join(["{", *lines, "}"])


def to_text_summary(spec: SpecLike, *, batch_size: int = 1) -> str:
    """The per-layer table and totals of :func:`explorer.report.format_summary`."""
    spec = parse_spec(spec)
    title = (f"{spec.family_label} network, input {spec.in_channels}x{spec.input_size}x{spec.input_size}, "
             f"{spec.num_classes} classes")
    return format_summary(analyze(spec, batch_size=batch_size), title=title) + "\n"


# --- PyTorch source ----------------------------------------------------------------------------------------

def to_pytorch_source(spec: SpecLike, *, class_name: str | None = None) -> str:
    """A standalone Python file that rebuilds the network of ``spec`` with plain PyTorch.

    The file defines ``build_model()``; its module names, parameter shapes and output shape are those of
    :func:`explorer.build_model`. Run as a script, it pushes one random input through the network and prints
    the output shape and the parameter count.

    Args:
        spec: a spec, or anything :func:`explorer.parse_spec` accepts.
        class_name: the network class's name (a Python identifier); defaults to the family's name.

    Raises:
        ValueError: if ``class_name`` is not a plain identifier or clashes with a name the file uses.
    """
    spec = parse_spec(spec)
    template, default_name, constants = _SOURCE_BUILDERS[type(spec)](spec)
    name = default_name if class_name is None else _check_class_name(class_name, template, constants)
    source = string.Template(template).substitute(HEADER=_header(spec), CONSTANTS=constants, CLASS=name)
    return source + _MAIN


def _check_class_name(class_name: str, template: str, constants: str) -> str:
    if not isinstance(class_name, str) or not _CLASS_NAME.match(class_name) or keyword.iskeyword(class_name):
        raise ValueError(f"class_name must be a Python identifier of at most 64 ASCII characters, "
                         f"got {class_name!r:.80}")
    if class_name in _names_used(template, constants):
        raise ValueError(f"class_name {class_name!r} clashes with a name the generated file already uses")
    return class_name


def _names_used(template: str, constants: str) -> set[str]:
    """Every identifier the generated file binds or reads, plus the builtins."""
    rendered = string.Template(template).substitute(HEADER="", CONSTANTS=constants, CLASS="_Placeholder") + _MAIN
    names = set(dir(builtins)) | {"__name__"}
    for node in ast.walk(ast.parse(rendered)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    names.discard("_Placeholder")
    return names


def _literal(value: Any) -> str:
    """``repr`` of a value made only of ints, finite floats, bools, None and tuples (lists become tuples)."""
    # Converting first means a subclass with a custom __repr__ cannot smuggle text into the file.
    if value is None or isinstance(value, bool):
        return repr(None if value is None else bool(value))
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write the non-finite number {value!r} into source code")
        return repr(float(value))
    if isinstance(value, (tuple, list)):
        items = [_literal(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    raise ValueError(f"only numbers, booleans, None and tuples go into generated code, got {type(value).__name__}")


def _constant(name: str, value: Any, comment: str = "") -> str:
    line = f"{name} = {_literal(value)}"
    return f"{line}  # {comment}" if comment else line


def _table(name: str, rows: list[tuple[Any, str]], comment: str) -> str:
    """A tuple of rows, one per line, each with a trailing comment."""
    lines = [f"# {comment}", f"{name} = ("]
    lines += [f"    {_literal(row)},  # {note}" for row, note in rows]
    return "\n".join([*lines, ")"])


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(str(size) for size in shape)


def _header(spec: Spec) -> str:
    input_shape = f"{spec.in_channels} x {spec.input_size} x {spec.input_size}"
    commented = "\n".join(f"#   {line}" for line in _readable_json(spec.to_dict()).splitlines())
    return (
        f'"""{spec.family_label} network, generated by CNN Architecture Explorer.\n'
        "\n"
        "Plain PyTorch: ``build_model()`` rebuilds the network of the spec below with the same module names as\n"
        "the explorer's ``build_model(spec)``, so ``model.load_state_dict(...)`` accepts its checkpoints.\n"
        "Run this file to build the network, push one random input through it and print the output shape and\n"
        "the parameter count.\n"
        "\n"
        f"Input: N x {input_shape}. Output: N x {spec.num_classes} logits. "
        f"Parameters: {spec.planned_params():,}.\n"
        '"""\n'
        "# The spec, as JSON (explorer.parse_spec reads it back):\n"
        f"{commented}"
    )


_MAIN = '''

if __name__ == "__main__":
    model = build_model().eval()
    images = torch.randn(1, IN_CHANNELS, INPUT_SIZE, INPUT_SIZE)
    with torch.no_grad():
        logits = model(images)
    print(f"output shape: {tuple(logits.shape)}")
    print(f"parameters: {sum(parameter.numel() for parameter in model.parameters()):,}")
'''

_COMMON_CONSTANTS = (("IN_CHANNELS", "image channels"), ("INPUT_SIZE", "square input, pixels per side"),
                     ("NUM_CLASSES", ""))


def _common_constants(spec: Spec) -> list[str]:
    return [_constant(name, getattr(spec, name.lower()), comment) for name, comment in _COMMON_CONSTANTS]


def _planned_shape(spec: Spec, where: str) -> tuple[int, ...]:
    """Output shape of the last planned layer at ``where``."""
    return [layer.out_shape for layer in spec.planned_layers() if layer.where == where][-1]


# VGG ---------------------------------------------------------------------------------------------------------

_VGG_TEMPLATE = '''$HEADER
from collections import OrderedDict

import torch
from torch import nn

$CONSTANTS


class $CLASS(nn.Module):
    """VGG: ``features`` (blocks of 3x3 convs, each closed by a 2x2 max-pool), then ``head`` (the classifier)."""

    def __init__(self, features: nn.Sequential, head: nn.Sequential) -> None:
        super().__init__()
        self.features = features
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # N x CONV_ARCH[-1][1] x H x W
        return self.head(x)  # N x NUM_CLASSES


def make_features(conv_arch: tuple, in_channels: int, batch_norm: bool) -> nn.Sequential:
    """torchvision's ``make_layers``: one named block per (num_convs, out_channels) row."""
    blocks = OrderedDict()
    channels = in_channels
    for block_index, (num_convs, width) in enumerate(conv_arch, 1):
        layers = OrderedDict()
        for conv_index in range(1, num_convs + 1):
            # torchvision keeps the conv bias even with batch norm
            layers[f"conv{conv_index}"] = nn.Conv2d(channels, width, kernel_size=3, padding=1)
            if batch_norm:
                layers[f"bn{conv_index}"] = nn.BatchNorm2d(width)
            layers[f"relu{conv_index}"] = nn.ReLU(inplace=True)
            channels = width
        layers["pool"] = nn.MaxPool2d(kernel_size=2, stride=2)
        blocks[f"block{block_index}"] = nn.Sequential(layers)
    return nn.Sequential(blocks)


def make_head(in_channels: int, hidden_sizes: tuple, num_classes: int, *, kernel: int, dropout: float,
              avgpool_size, fc_as_conv: bool) -> nn.Sequential:
    """The classifier: hidden layers with ReLU and dropout, then one output per class."""
    layers = OrderedDict()
    if fc_as_conv:
        # The FC layers as convolutions (fc1 kernel x kernel, the others 1x1), class scores averaged over the map.
        channels = in_channels
        for index, width in enumerate(hidden_sizes, 1):
            layers[f"fc{index}"] = nn.Conv2d(channels, width, kernel_size=kernel if index == 1 else 1)
            layers[f"relu{index}"] = nn.ReLU(inplace=True)
            if dropout > 0:
                layers[f"dropout{index}"] = nn.Dropout(dropout)
            channels = width
        last = len(hidden_sizes) + 1
        layers[f"fc{last}"] = nn.Conv2d(channels, num_classes, kernel_size=kernel if last == 1 else 1)
        layers["avgpool"] = nn.AdaptiveAvgPool2d(1)
        layers["flatten"] = nn.Flatten(1)
        return nn.Sequential(layers)
    if avgpool_size is not None:
        layers["avgpool"] = nn.AdaptiveAvgPool2d(avgpool_size)
    layers["flatten"] = nn.Flatten(1)
    features = in_channels * kernel * kernel
    for index, width in enumerate(hidden_sizes, 1):
        layers[f"fc{index}"] = nn.Linear(features, width)
        layers[f"relu{index}"] = nn.ReLU(inplace=True)
        if dropout > 0:
            layers[f"dropout{index}"] = nn.Dropout(dropout)
        features = width
    layers[f"fc{len(hidden_sizes) + 1}"] = nn.Linear(features, num_classes)
    return nn.Sequential(layers)


def build_model() -> $CLASS:
    """The network of the spec above, with PyTorch's default initialisation."""
    features = make_features(CONV_ARCH, IN_CHANNELS, BATCH_NORM)
    head = make_head(CONV_ARCH[-1][1], HIDDEN_SIZES, NUM_CLASSES, kernel=CLASSIFIER_KERNEL, dropout=DROPOUT,
                     avgpool_size=AVGPOOL_SIZE, fc_as_conv=FC_AS_CONV)
    return $CLASS(features, head)
'''


def _vgg_source(spec: VGGSpec) -> tuple[str, str, str]:
    rows = [((num_convs, width), f"block{index} -> {_shape(_planned_shape(spec, f'block {index}'))}")
            for index, ((num_convs, _), width) in enumerate(zip(spec.conv_arch, spec.block_channels), 1)]
    ratio_note = f" (the spec's widths divided by its ratio, {spec.ratio})" if spec.ratio != 1 else ""
    constants = [
        _table("CONV_ARCH", rows, f"(num_convs, out_channels) per block{ratio_note};\n"
                                  "# output shapes for one image"),
        *_common_constants(spec),
        _constant("HIDDEN_SIZES", spec.hidden_sizes, "widths of the hidden fully connected layers"),
        _constant("DROPOUT", spec.dropout, "after each hidden layer's ReLU"),
        _constant("BATCH_NORM", spec.batch_norm, "conv -> BN -> ReLU (torchvision's vgg*_bn)"),
        _constant("AVGPOOL_SIZE", spec.avgpool_size, "AdaptiveAvgPool2d before the classifier; None: flatten as is"),
        _constant("FC_AS_CONV", spec.fc_as_conv, "the FC layers as convolutions plus a global average"),
        _constant("CLASSIFIER_KERNEL", spec.classifier_kernel(), "spatial size of the map the classifier sees"),
    ]
    return _VGG_TEMPLATE, "VGG", "\n".join(constants)


# NiN ---------------------------------------------------------------------------------------------------------

_NIN_TEMPLATE = '''$HEADER
from collections import OrderedDict

import torch
from torch import nn

$CONSTANTS


class $CLASS(nn.Module):
    """Network in Network: ``features`` (NiN blocks with max-pools), then ``head`` (a NiN block with one
    channel per class, averaged over space: no fully connected layers)."""

    def __init__(self, features: nn.Sequential, head: nn.Sequential) -> None:
        super().__init__()
        self.features = features
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # N x C x H x W
        return self.head(x)  # N x NUM_CLASSES


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int,
              mlp_channels: tuple) -> OrderedDict:
    """A kxk conv, then 1x1 convs (the "micro network"), each followed by ReLU."""
    layers = OrderedDict()
    layers["conv"] = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
    layers["relu"] = nn.ReLU(inplace=True)
    channels = out_channels
    for index, width in enumerate(mlp_channels, 1):
        layers[f"mlp{index}"] = nn.Conv2d(channels, width, kernel_size=1)
        layers[f"mlp{index}_relu"] = nn.ReLU(inplace=True)
        channels = width
    return layers


def build_model() -> $CLASS:
    """The network of the spec above, with PyTorch's default initialisation."""
    blocks = OrderedDict()
    channels = IN_CHANNELS
    for index, (out_channels, kernel_size, stride, padding, mlp_channels) in enumerate(BLOCKS, 1):
        layers = nin_block(channels, out_channels, kernel_size, stride, padding, mlp_channels)
        layers["pool"] = nn.MaxPool2d(POOL_KERNEL, stride=POOL_STRIDE)
        blocks[f"nin{index}"] = nn.Sequential(layers)
        channels = mlp_channels[-1]

    head = OrderedDict()
    if DROPOUT > 0:
        head["dropout"] = nn.Dropout(DROPOUT)
    head.update(nin_block(channels, NUM_CLASSES, HEAD_KERNEL_SIZE, 1, HEAD_KERNEL_SIZE // 2,
                          (NUM_CLASSES, NUM_CLASSES)))
    head["avgpool"] = nn.AdaptiveAvgPool2d(1)
    head["flatten"] = nn.Flatten(1)
    return $CLASS(nn.Sequential(blocks), nn.Sequential(head))
'''


def _nin_source(spec: NiNSpec) -> tuple[str, str, str]:
    rows = [((block.out_channels, block.kernel_size, block.stride, block.padding, block.one_by_one_channels),
             f"nin{index} -> {_shape(_planned_shape(spec, f'NiN block {index} max-pool'))}")
            for index, block in enumerate(spec.blocks, 1)]
    constants = [
        _table("BLOCKS", rows, "(out_channels, kernel_size, stride, padding, mlp_channels) per block, each\n"
                               "# closed by a max-pool; output shapes for one image"),
        *_common_constants(spec),
        _constant("POOL_KERNEL", spec.pool_kernel, "max-pool after every block"),
        _constant("POOL_STRIDE", spec.pool_stride),
        _constant("DROPOUT", spec.dropout, "before the classifier block"),
        _constant("HEAD_KERNEL_SIZE", spec.head_kernel_size, "the classifier block's first conv"),
    ]
    return _NIN_TEMPLATE, "NiN", "\n".join(constants)


# AlexNet -----------------------------------------------------------------------------------------------------

_ALEXNET_TEMPLATE = '''$HEADER
from collections import OrderedDict

import torch
from torch import nn

$CONSTANTS


class $CLASS(nn.Module):
    """AlexNet: ``features`` (five conv blocks), then ``head`` (the fully connected classifier)."""

    def __init__(self, features: nn.Sequential, head: nn.Sequential) -> None:
        super().__init__()
        self.features = features
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # N x CONV_CHANNELS[-1] x H x W
        return self.head(x)  # N x NUM_CLASSES


def make_features() -> nn.Sequential:
    blocks = OrderedDict()
    channels = IN_CHANNELS
    for conv, ((kernel, stride, padding), width, groups) in enumerate(
            zip(CONV_GEOMETRY, CONV_CHANNELS, CONV_GROUPS), 1):
        layers = OrderedDict()
        layers["conv"] = nn.Conv2d(channels, width, kernel, stride=stride, padding=padding, groups=groups)
        layers["relu"] = nn.ReLU(inplace=True)
        if LRN and conv in (1, 2):
            # PyTorch divides alpha by the window size (the paper does not), so pass alpha * n.
            layers["lrn"] = nn.LocalResponseNorm(LRN_SIZE, alpha=LRN_ALPHA * LRN_SIZE, beta=LRN_BETA, k=LRN_K)
        if conv in (1, 2, 5):
            layers["pool"] = nn.MaxPool2d(kernel_size=POOL_KERNEL, stride=POOL_STRIDE)
        blocks[f"conv{conv}"] = nn.Sequential(layers)
        channels = width
    return nn.Sequential(blocks)


def make_head() -> nn.Sequential:
    """torchvision's classifier: dropout before each hidden layer."""
    layers = OrderedDict()
    if AVGPOOL_SIZE is not None:
        layers["avgpool"] = nn.AdaptiveAvgPool2d(AVGPOOL_SIZE)
    layers["flatten"] = nn.Flatten(1)
    features = FLAT_FEATURES
    for index, width in enumerate(HIDDEN_SIZES, 1):
        if DROPOUT > 0:
            layers[f"dropout{index}"] = nn.Dropout(DROPOUT)
        layers[f"fc{index}"] = nn.Linear(features, width)
        layers[f"relu{index}"] = nn.ReLU(inplace=True)
        features = width
    layers[f"fc{len(HIDDEN_SIZES) + 1}"] = nn.Linear(features, NUM_CLASSES)
    return nn.Sequential(layers)


def build_model() -> $CLASS:
    """The network of the spec above, with PyTorch's default initialisation."""
    return $CLASS(make_features(), make_head())
'''


def _alexnet_source(spec: AlexNetSpec) -> tuple[str, str, str]:
    geometry = ((spec.conv1_kernel, spec.conv1_stride, spec.conv1_padding), (5, 1, 2), (3, 1, 1), (3, 1, 1),
                (3, 1, 1))
    pool_kernel, pool_stride = spec.pool_window
    flat_features = next(layer.out_shape[0] for layer in spec.planned_layers() if layer.operation == "flatten")
    grouped = ", ".join(f"conv{conv}" for conv in GROUPED_CONVS)
    constants = [
        *_common_constants(spec),
        _constant("CONV_CHANNELS", spec.conv_channels, "out_channels of conv1..conv5"),
        _constant("CONV_GEOMETRY", geometry, "(kernel, stride, padding) of conv1..conv5"),
        _constant("CONV_GROUPS", tuple(spec.conv_groups(conv) for conv in range(1, 6)),
                  f"2: {grouped} split in two halves, as the paper's two GPUs"),
        _constant("POOL_KERNEL", pool_kernel, "max-pools after conv1, conv2 and conv5"),
        _constant("POOL_STRIDE", pool_stride),
        _constant("LRN", spec.lrn, "local response normalisation after conv1 and conv2"),
        _constant("LRN_SIZE", spec.lrn_size),
        _constant("LRN_ALPHA", spec.lrn_alpha, "the paper's alpha"),
        _constant("LRN_BETA", spec.lrn_beta),
        _constant("LRN_K", spec.lrn_k),
        _constant("AVGPOOL_SIZE", spec.avgpool_size, "AdaptiveAvgPool2d before the classifier; None: flatten as is"),
        _constant("FLAT_FEATURES", flat_features, "features the classifier sees: channels x final size squared"),
        _constant("HIDDEN_SIZES", spec.hidden_sizes, "widths of the hidden fully connected layers"),
        _constant("DROPOUT", spec.dropout, "before each hidden layer"),
    ]
    return _ALEXNET_TEMPLATE, "AlexNet", "\n".join(constants)


# GoogLeNet ---------------------------------------------------------------------------------------------------

_GOOGLENET_TEMPLATE = '''$HEADER
from collections import OrderedDict, namedtuple

import torch
from torch import nn

$CONSTANTS

INCEPTION_NAMES = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
STAGE_POOL_BEFORE = ("3a", "4a", "5a")  # a stride-2 max-pool opens each stage
# What the network returns in training mode when it has aux heads (torchvision's order).
GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


def conv_block(in_channels: int, out_channels: int, kernel_size: int, *, batch_norm: bool, stride: int = 1,
               padding: int = 0) -> nn.Sequential:
    """torchvision: conv without bias -> BN(eps=0.001) -> ReLU; d2l: conv with bias -> ReLU."""
    layers = OrderedDict()
    layers["conv"] = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                               bias=not batch_norm)
    if batch_norm:
        layers["bn"] = nn.BatchNorm2d(out_channels, eps=0.001)
    layers["relu"] = nn.ReLU(inplace=True)
    return nn.Sequential(layers)


def stage_pool(name: str, ceil_mode_pools: bool) -> nn.MaxPool2d:
    """The max-pool that opens stage ``name``."""
    if not ceil_mode_pools:
        return nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=False)
    return nn.MaxPool2d(2 if name == "5a" else 3, stride=2, padding=0, ceil_mode=True)


def inception_out_channels(ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                           pool_proj: int) -> int:
    return ch1x1 + ch3x3 + ch5x5 + pool_proj


class Inception(nn.Module):
    """Four branches side by side, concatenated along channels."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int, *, batch_norm: bool, wide_kernel: int, ceil_mode: bool) -> None:
        super().__init__()
        self.branch1 = conv_block(in_channels, ch1x1, 1, batch_norm=batch_norm)
        self.branch2 = nn.Sequential(conv_block(in_channels, ch3x3red, 1, batch_norm=batch_norm),
                                     conv_block(ch3x3red, ch3x3, 3, batch_norm=batch_norm, padding=1))
        self.branch3 = nn.Sequential(conv_block(in_channels, ch5x5red, 1, batch_norm=batch_norm),
                                     conv_block(ch5x5red, ch5x5, wide_kernel, batch_norm=batch_norm,
                                                padding=wide_kernel // 2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=ceil_mode),
                                     conv_block(in_channels, pool_proj, 1, batch_norm=batch_norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # N x (ch1x1 + ch3x3 + ch5x5 + pool_proj) x H x W: the spatial size is unchanged
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InceptionAux(nn.Module):
    """torchvision's auxiliary classifier: 4x4 average, 1x1 conv to 128, FC 1024, FC classes."""

    def __init__(self, in_channels: int, num_classes: int, *, batch_norm: bool, dropout: float) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = conv_block(in_channels, 128, 1, batch_norm=batch_norm)
        self.flatten = nn.Flatten(1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(self.conv(self.avgpool(x)))  # N x 2048
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


class $CLASS(nn.Module):
    """GoogLeNet: ``features`` (stem, max-pools and nine Inception blocks), then ``head`` (global average,
    dropout, one FC layer); optional auxiliary classifiers after 4a and 4d, used in training only."""

    def __init__(self) -> None:
        super().__init__()
        conv1, conv2, conv3 = STEM_CHANNELS
        blocks = OrderedDict()
        blocks["stem"] = nn.Sequential(OrderedDict([
            ("conv1", conv_block(IN_CHANNELS, conv1, 7, batch_norm=BATCH_NORM, stride=2, padding=3)),
            ("pool1", stage_pool("3a", CEIL_MODE_POOLS)),
            ("conv2", conv_block(conv1, conv2, 1, batch_norm=BATCH_NORM)),
            ("conv3", conv_block(conv2, conv3, 3, batch_norm=BATCH_NORM, padding=1)),
        ]))
        in_channels = conv3
        for name, row in zip(INCEPTION_NAMES, INCEPTIONS):
            if name in STAGE_POOL_BEFORE:
                blocks[f"pool{name[0]}"] = stage_pool(name, CEIL_MODE_POOLS)
            blocks[f"inception{name}"] = Inception(in_channels, *row, batch_norm=BATCH_NORM,
                                                   wide_kernel=CH5X5_KERNEL, ceil_mode=CEIL_MODE_POOLS)
            in_channels = inception_out_channels(*row)
        self.features = nn.Sequential(blocks)
        self.aux_logits = AUX_LOGITS
        if AUX_LOGITS:
            self.aux1 = InceptionAux(inception_out_channels(*INCEPTIONS[2]), NUM_CLASSES, batch_norm=BATCH_NORM,
                                     dropout=AUX_DROPOUT)
            self.aux2 = InceptionAux(inception_out_channels(*INCEPTIONS[5]), NUM_CLASSES, batch_norm=BATCH_NORM,
                                     dropout=AUX_DROPOUT)
        head = OrderedDict([("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten(1))])
        if DROPOUT > 0:
            head["dropout"] = nn.Dropout(DROPOUT)
        head["fc"] = nn.Linear(in_channels, NUM_CLASSES)
        self.head = nn.Sequential(head)

    def forward(self, x: torch.Tensor):
        """Logits; in training mode with aux heads, GoogLeNetOutputs(logits, aux_logits2, aux_logits1)."""
        with_aux = self.aux_logits and self.training
        aux1 = aux2 = None
        for name, block in self.features.named_children():
            x = block(x)
            if with_aux and name == "inception4a":
                aux1 = self.aux1(x)
            elif with_aux and name == "inception4d":
                aux2 = self.aux2(x)
        logits = self.head(x)  # N x NUM_CLASSES
        if with_aux:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits


def build_model() -> $CLASS:
    """The network of the spec above, with PyTorch's default initialisation."""
    return $CLASS()
'''


def _googlenet_source(spec: GoogLeNetSpec) -> tuple[str, str, str]:
    rows = []
    for name, block in zip(INCEPTION_NAMES, spec.inceptions):
        size = _planned_shape(spec, f"inception {name}")[-1]
        rows.append((block.as_tuple(), f"{name} -> {_shape((block.out_channels, size, size))}"))
    constants = [
        _table("INCEPTIONS", rows, "(ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) per Inception block; its\n"
                                   "# input channels are the previous block's output; output shapes for one image"),
        *_common_constants(spec),
        _constant("STEM_CHANNELS", spec.stem_channels, "7x7/2 conv, 1x1 conv, 3x3 conv"),
        _constant("BATCH_NORM", spec.batch_norm, "True: torchvision's conv -> BN -> ReLU; False: d2l's conv -> ReLU"),
        _constant("CH5X5_KERNEL", spec.ch5x5_kernel, "branch 3's wide conv: 5 in the paper and d2l, 3 in torchvision"),
        _constant("CEIL_MODE_POOLS", spec.pool_mode == "ceil",
                  "True: torchvision's ceil-mode pools (2x2 before 5a); False: d2l's padded 3x3/2"),
        _constant("AUX_LOGITS", spec.aux_logits, "auxiliary classifiers after 4a and 4d (training only)"),
        _constant("DROPOUT", spec.dropout, "before the final FC layer"),
        _constant("AUX_DROPOUT", spec.aux_dropout),
    ]
    return _GOOGLENET_TEMPLATE, "GoogLeNet", "\n".join(constants)


_SOURCE_BUILDERS = {VGGSpec: _vgg_source, NiNSpec: _nin_source, AlexNetSpec: _alexnet_source,
                    GoogLeNetSpec: _googlenet_source}


# --- ONNX --------------------------------------------------------------------------------------------------

def to_onnx_bytes(spec: SpecLike, *, batch_size: int = 1, dynamic_batch: bool = True, opset: int | None = None,
                  model: nn.Module | None = None, dynamo: bool | None = None) -> bytes:
    """The network as an ONNX model (input ``"input"``, output ``"logits"``), exported in eval mode.

    Args:
        spec: a spec, or anything :func:`explorer.parse_spec` accepts.
        batch_size: batch size of the example input; the exported batch size when ``dynamic_batch`` is off.
        dynamic_batch: export the batch axis as symbolic (``"batch"``).
        opset: ONNX opset version; None lets torch choose.
        model: export this model (say, trained weights) instead of a freshly initialised one; it must have
            the module names and shapes of ``build_model(spec)``. Its training flag is restored afterwards.
        dynamo: True: the torch.export-based exporter; False: the TorchScript one (deprecated since torch 2.9);
            None: torch's default (the torch.export one from 2.9 on).

    Raises:
        ValueError: for bad arguments, a model that does not match the spec, or weights over protobuf's 2 GiB.
        ExportError: when torch.onnx.export itself fails.
    """
    spec = parse_spec(spec)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 1024:
        raise ValueError(f"batch_size must be an integer between 1 and 1024, got {batch_size!r:.40}")
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int) or opset < 7):
        raise ValueError(f"opset must be an integer >= 7 or None, got {opset!r:.40}")
    weight_bytes = spec.planned_params() * 4
    if weight_bytes > MAX_ONNX_WEIGHT_BYTES:
        raise ValueError(f"this {spec.family_label} has {weight_bytes / 2**30:.2f} GiB of fp32 weights; one ONNX "
                         f"file holds at most {MAX_ONNX_WEIGHT_BYTES / 2**30:.2f} GiB (protobuf's 2 GiB limit)")
    use_dynamo = _onnx_dynamo_default() if dynamo is None else bool(dynamo)
    if use_dynamo and "dynamo" not in inspect.signature(torch.onnx.export).parameters:
        raise ValueError(f"torch {torch.__version__} has no torch.export-based ONNX exporter; pass dynamo=False")
    if model is None:
        model = build_model(spec)
    else:
        _check_model_matches(spec, model)
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    if device.type == "meta":
        raise ValueError("the model lives on the meta device (shapes only, no weights); build it on a real device")
    example = torch.randn(batch_size, spec.in_channels, spec.input_size, spec.input_size, device=device)
    was_training = model.training
    model.eval()
    try:
        if use_dynamo:
            return _export_dynamo(model, example, dynamic_batch=dynamic_batch, opset=opset)
        return _export_torchscript(model, example, dynamic_batch=dynamic_batch, opset=opset)
    except Exception as exc:  # noqa: BLE001 - the exporter fails in many ways; name it and keep the cause
        exporter = "torch.export-based" if use_dynamo else "TorchScript"
        raise ExportError(f"ONNX export of this {spec.family_label} failed (torch {torch.__version__}, {exporter} "
                          f"exporter): {type(exc).__name__}: {str(exc)[:500]}") from exc
    finally:
        model.train(was_training)


def export_onnx(spec: SpecLike, path: str | Path, **options: Any) -> Path:
    """Write :func:`to_onnx_bytes` to ``path`` (same keyword options); returns the path."""
    path = Path(path)
    path.write_bytes(to_onnx_bytes(spec, **options))
    return path


def _onnx_dynamo_default() -> bool:
    """Whether this torch's ``torch.onnx.export`` uses the torch.export-based exporter by default (2.9+)."""
    parameter = inspect.signature(torch.onnx.export).parameters.get("dynamo")
    return parameter is not None and parameter.default is True


def _check_model_matches(spec: Spec, model: nn.Module) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
    expected = {key: tuple(value.shape) for key, value in build_model(spec, device="meta").state_dict().items()}
    actual = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    if expected != actual:
        differing = sorted(set(expected.items()) ^ set(actual.items()))[:3]
        raise ValueError(f"the model does not match this {spec.family_label} spec (first differences: {differing})")


def _export_dynamo(model: nn.Module, example: torch.Tensor, *, dynamic_batch: bool, opset: int | None) -> bytes:
    # A string names the axis in the ONNX graph; torch.onnx turns it into a dynamic torch.export dimension.
    dynamic_shapes = ({0: "batch"},) if dynamic_batch else None
    program = torch.onnx.export(model, (example,), None, dynamo=True, verbose=False, opset_version=opset,
                                input_names=[ONNX_INPUT_NAME], output_names=[ONNX_OUTPUT_NAME],
                                dynamic_shapes=dynamic_shapes)
    return program.model_proto.SerializeToString()


def _export_torchscript(model: nn.Module, example: torch.Tensor, *, dynamic_batch: bool,
                        opset: int | None) -> bytes:
    buffer = io.BytesIO()
    axes = {ONNX_INPUT_NAME: {0: "batch"}, ONNX_OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None
    options: dict[str, Any] = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    # torch >= 2.9 warns that this exporter is deprecated; the caller asked for it (or runs an older torch).
    torch.onnx.export(model, (example,), buffer, input_names=[ONNX_INPUT_NAME], output_names=[ONNX_OUTPUT_NAME],
                      dynamic_axes=axes, opset_version=opset, **options)
    return buffer.getvalue()


# --- Files ---------------------------------------------------------------------------------------------------

def write_export(spec: SpecLike, kind: str, directory: str | Path, *, name: str | None = None) -> Path:
    """Write one export of ``spec`` into ``directory`` (created if missing) and return the file's path.

    Args:
        kind: one of :data:`EXPORT_KINDS`: ``"pytorch"``, ``"onnx"``, ``"json"`` or ``"summary"``.
        name: file name stem (letters, digits, ``_ . -``); defaults to the family, e.g. ``vgg_network.py``.
    """
    spec = parse_spec(spec)
    if kind not in EXPORT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(EXPORT_KINDS)}, got {kind!r:.40}")
    if name is not None and (not isinstance(name, str) or not _FILE_STEM.match(name)):
        raise ValueError(f"name must be 1-64 letters, digits, '_', '.' or '-', got {name!r:.80}")
    suffix = EXPORT_KINDS[kind][0]
    file_name = f"{name}{Path(suffix).suffix}" if name is not None else f"{spec.family}{suffix}"
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name
    if kind == "onnx":
        return export_onnx(spec, path)
    text = {"pytorch": to_pytorch_source, "json": to_json, "summary": to_text_summary}[kind](spec)
    path.write_text(text, encoding="utf-8")
    return path


__all__ = ["EXPORT_KINDS", "ExportError", "MAX_ONNX_WEIGHT_BYTES", "export_onnx", "to_json", "to_onnx_bytes",
           "to_pytorch_source", "to_text_summary", "write_export"]
