"""GoogLeNetSpec -> nn.Module, following torchvision's ``googlenet`` (and d2l's when BN is off)."""
from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import NamedTuple

import torch
from torch import nn

from ..specs import GoogLeNetSpec
from ..specs.googlenet import INCEPTION_NAMES, STAGE_POOL_BEFORE, InceptionSpec
from .layers import conv_relu


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training mode when it has aux heads (torchvision's order)."""

    logits: torch.Tensor
    aux_logits2: torch.Tensor
    aux_logits1: torch.Tensor


class Inception(nn.Module):
    """Four branches side by side, concatenated along channels."""

    def __init__(self, in_channels: int, block: InceptionSpec, *, conv, wide_kernel: int, pool_ceil: bool) -> None:  # noqa: ANN001
        super().__init__()
        self.branch1 = conv(in_channels, block.ch1x1, 1)
        self.branch2 = nn.Sequential(conv(in_channels, block.ch3x3red, 1),
                                     conv(block.ch3x3red, block.ch3x3, 3, padding=1))
        self.branch3 = nn.Sequential(conv(in_channels, block.ch5x5red, 1),
                                     conv(block.ch5x5red, block.ch5x5, wide_kernel, padding=wide_kernel // 2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=pool_ceil),
                                     conv(in_channels, block.pool_proj, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # N x (ch1x1 + ch3x3 + ch5x5 + pool_proj) x H x W: the spatial size is unchanged
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InceptionAux(nn.Module):
    """torchvision's auxiliary classifier: 4x4 average, 1x1 conv to 128, FC 1024, FC classes."""

    def __init__(self, in_channels: int, num_classes: int, *, conv, dropout: float) -> None:  # noqa: ANN001
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = conv(in_channels, 128, 1)
        self.flatten = nn.Flatten(1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(self.conv(self.avgpool(x)))  # N x 2048
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    def __init__(self, spec: GoogLeNetSpec) -> None:
        super().__init__()
        # torchvision: conv without bias -> BN(eps=0.001) -> ReLU; d2l: conv with bias -> ReLU.
        conv = partial(conv_relu, batch_norm=spec.batch_norm, bn_eps=1e-3, conv_bias=not spec.batch_norm)
        conv1, conv2, conv3 = spec.stem_channels

        def stage_pool(name: str) -> nn.MaxPool2d:
            kernel, stride, padding, ceil = spec.stage_pool(name)
            return nn.MaxPool2d(kernel, stride=stride, padding=padding, ceil_mode=ceil)

        blocks: OrderedDict[str, nn.Module] = OrderedDict(
            stem=nn.Sequential(OrderedDict(conv1=conv(spec.in_channels, conv1, 7, stride=2, padding=3),
                                           pool1=stage_pool("3a"),
                                           conv2=conv(conv1, conv2, 1),
                                           conv3=conv(conv2, conv3, 3, padding=1))))
        for name, block, in_channels in zip(INCEPTION_NAMES, spec.inceptions, spec.inception_in_channels()):
            if name in STAGE_POOL_BEFORE:
                blocks[f"pool{name[0]}"] = stage_pool(name)
            blocks[f"inception{name}"] = Inception(in_channels, block, conv=conv, wide_kernel=spec.ch5x5_kernel,
                                                   pool_ceil=spec.pool_mode == "ceil")
        self.features = nn.Sequential(blocks)
        self.aux_logits = spec.aux_logits
        # Analysis runs in eval mode (BN's training path is slow on the meta device) but must see the aux heads.
        self.run_aux_in_eval = False
        if spec.aux_logits:
            self.aux1 = InceptionAux(spec.inceptions[2].out_channels, spec.num_classes, conv=conv,
                                     dropout=spec.aux_dropout)
            self.aux2 = InceptionAux(spec.inceptions[5].out_channels, spec.num_classes, conv=conv,
                                     dropout=spec.aux_dropout)
        head: OrderedDict[str, nn.Module] = OrderedDict(avgpool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(1))
        if spec.dropout > 0:
            head["dropout"] = nn.Dropout(spec.dropout)
        head["fc"] = nn.Linear(spec.inceptions[-1].out_channels, spec.num_classes)
        self.head = nn.Sequential(head)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        """Logits; in training mode with aux heads, :class:`GoogLeNetOutputs` (logits, aux2, aux1)."""
        with_aux = self.aux_logits and (self.training or self.run_aux_in_eval)
        aux1 = aux2 = None
        for name, block in self.features.named_children():
            x = block(x)
            if with_aux and name == "inception4a":
                aux1 = self.aux1(x)
            elif with_aux and name == "inception4d":
                aux2 = self.aux2(x)
        logits = self.head(x)
        if with_aux:
            return GoogLeNetOutputs(logits, aux2, aux1)
        return logits


def build_googlenet(spec: GoogLeNetSpec) -> GoogLeNet:
    return GoogLeNet(spec)
