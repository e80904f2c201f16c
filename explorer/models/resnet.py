"""ResNet as torchvision's ``resnet18/34/50/...`` builds it (same module names, so its weights load), and d2l's.

d2l's ``Residual`` names its projection ``conv3``; here it is ``downsample.0`` as in torchvision, so the two styles
share one set of names (a deviation in naming only: the layer is the same 1x1 conv with bias).
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .layers import RecordedNet


def _norm(channels: int, batch_norm: bool) -> nn.Module | None:
    return nn.BatchNorm2d(channels) if batch_norm else None


def _projection(in_channels: int, out_channels: int, stride: int, *, conv_bias: bool,
                shortcut_bn: bool) -> nn.Sequential:
    """The shortcut that changes shape: a strided 1x1 conv (+ BN in torchvision's style)."""
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        {"0": nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=conv_bias)})
    if shortcut_bn:
        layers["1"] = nn.BatchNorm2d(out_channels)
    return nn.Sequential(layers)


class BasicBlock(nn.Module):
    """Two 3x3 convs; the first may stride. Output: ``relu(main(x) + shortcut(x))``."""

    def __init__(self, in_channels: int, channels: int, stride: int, *, batch_norm: bool, conv_bias: bool,
                 shortcut_bn: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=conv_bias)
        self.bn1 = _norm(channels, batch_norm)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=conv_bias)
        self.bn2 = _norm(channels, batch_norm)
        self.downsample = _projection(in_channels, channels, stride, conv_bias=conv_bias, shortcut_bn=shortcut_bn) \
            if stride != 1 or in_channels != channels else None

    def main_path(self) -> tuple[str, ...]:
        """Names of the main path's layers (for the block record)."""
        return tuple(name for name in ("conv1", "bn1", "conv2", "bn2") if getattr(self, name) is not None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(x)
        if self.bn1 is not None:
            out = self.bn1(out)
        out = self.relu(out)
        out = self.conv2(out)
        if self.bn2 is not None:
            out = self.bn2(out)
        identity = x if self.downsample is None else self.downsample(x)
        # N x channels x H' x W'. In place as torchvision (the sum keeps the main path's tensor, and so its
        # receptive-field record in the analysis); the block learns a residual F(x) = H(x) - x.
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (may stride) -> 1x1 expand to ``4 * channels``.

    The stride sits on the 3x3 conv as in torchvision ("ResNet v1.5"); the paper put it on the first 1x1 conv.
    """

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int, *, batch_norm: bool, conv_bias: bool,
                 shortcut_bn: bool) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=conv_bias)
        self.bn1 = _norm(channels, batch_norm)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=stride, padding=1, bias=conv_bias)
        self.bn2 = _norm(channels, batch_norm)
        self.conv3 = nn.Conv2d(channels, out_channels, 1, bias=conv_bias)
        self.bn3 = _norm(out_channels, batch_norm)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(in_channels, out_channels, stride, conv_bias=conv_bias,
                                      shortcut_bn=shortcut_bn) if stride != 1 or in_channels != out_channels else None

    def main_path(self) -> tuple[str, ...]:
        return tuple(name for name in ("conv1", "bn1", "conv2", "bn2", "conv3", "bn3")
                     if getattr(self, name) is not None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2)):
            out = conv(out)
            if bn is not None:
                out = bn(out)
            out = self.relu(out)
        out = self.conv3(out)
        if self.bn3 is not None:
            out = self.bn3(out)
        identity = x if self.downsample is None else self.downsample(x)
        out += identity  # N x 4*channels x H' x W'
        return self.relu(out)


BLOCKS: dict[str, type[nn.Module]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResNet(RecordedNet):
    """ResNet from plain arguments (``ResNetSpec.model_kwargs()`` supplies them).

    Args:
        stages: ``(blocks, base channels, first block's stride)`` per stage (``layer1``, ``layer2``, ...).
        block: ``"basic"`` or ``"bottleneck"``.
        conv_bias: biases on every conv (d2l; or no BN); torchvision's convs have none.
        shortcut_bn: BN after the projection shortcut's 1x1 conv (torchvision); d2l has none.

    Module names and ``state_dict`` keys equal torchvision's; the one extra module, ``flatten`` (no parameters),
    is torchvision's ``torch.flatten(x, 1)`` as a module, so the analysis sees the head take the whole map.
    """

    def __init__(self, *, stages: tuple[tuple[int, int, int], ...], block: str, in_channels: int,
                 num_classes: int, stem_channels: int, batch_norm: bool, conv_bias: bool, shortcut_bn: bool) -> None:
        super().__init__()
        block_class = BLOCKS[block]
        expansion = 4 if block == "bottleneck" else 1
        self.conv1 = nn.Conv2d(in_channels, stem_channels, 7, stride=2, padding=3, bias=conv_bias)
        self.bn1 = _norm(stem_channels, batch_norm)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.record_block("stem", "stem", tuple(name for name in ("conv1", "bn1", "relu", "maxpool")
                                                if getattr(self, name) is not None))
        channels = stem_channels
        for stage_index, (num_blocks, width, stride) in enumerate(stages, 1):
            layer = nn.Sequential()
            for block_index in range(num_blocks):
                residual = block_class(channels, width, stride if block_index == 0 else 1, batch_norm=batch_norm,
                                       conv_bias=conv_bias, shortcut_bn=shortcut_bn)
                layer.add_module(str(block_index), residual)
                channels = width * expansion
                path = f"layer{stage_index}.{block_index}"
                shortcut: str | tuple[str, ...] = f"{path}.downsample" if residual.downsample is not None else ()
                self.record_block(path, "residual", path, merge="add", branches=(
                    ("main", tuple(f"{path}.{name}" for name in residual.main_path())), ("shortcut", shortcut)))
            self.add_module(f"layer{stage_index}", layer)
        self.num_stages = len(stages)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(channels, num_classes)
        self.record_block("head", "head", ("avgpool", "flatten", "fc"))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)  # N x stem x H/2 x W/2
        if self.bn1 is not None:
            x = self.bn1(x)
        x = self.maxpool(self.relu(x))  # N x stem x H/4 x W/4
        for stage_index in range(1, self.num_stages + 1):
            x = getattr(self, f"layer{stage_index}")(x)
        return x

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.avgpool(x)))  # N x num_classes (logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
