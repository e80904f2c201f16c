"""GoogLeNet as torchvision's ``googlenet`` builds it (and d2l's when BN is off)."""
from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import NamedTuple

import torch
from torch import nn

from .layers import RecordedNet, conv_relu


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training mode when it has aux heads (torchvision's order)."""

    logits: torch.Tensor
    aux_logits2: torch.Tensor
    aux_logits1: torch.Tensor


class Inception(nn.Module):
    """Four branches side by side, concatenated along channels.

    ``widths`` is torchvision's ``(ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)``.
    """

    def __init__(self, in_channels: int, widths: tuple[int, int, int, int, int, int], *, conv,  # noqa: ANN001
                 wide_kernel: int, pool_ceil: bool) -> None:
        super().__init__()
        ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj = widths
        self.branch1 = conv(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(conv(in_channels, ch3x3red, 1), conv(ch3x3red, ch3x3, 3, padding=1))
        self.branch3 = nn.Sequential(conv(in_channels, ch5x5red, 1),
                                     conv(ch5x5red, ch5x5, wide_kernel, padding=wide_kernel // 2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=pool_ceil),
                                     conv(in_channels, pool_proj, 1))

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


class GoogLeNet(RecordedNet):
    """GoogLeNet from plain arguments (``GoogLeNetSpec.model_kwargs()`` supplies them).

    Args:
        inceptions: ``(name, widths)`` per Inception block, widths in torchvision's order.
        stage_pools: ``(kernel, stride, padding, ceil_mode)`` of the max-pool that opens each stage, keyed by
            the block it precedes (the stem's own pool after conv1 has the first stage's geometry).
        aux_after: the blocks after which the aux classifiers read (torchvision: 4a and 4d).
    """

    def __init__(self, *, inceptions: tuple[tuple[str, tuple[int, int, int, int, int, int]], ...],
                 in_channels: int, num_classes: int, stem_channels: tuple[int, int, int], batch_norm: bool,
                 wide_kernel: int, stage_pools: dict[str, tuple[int, int, int, bool]], pool_ceil: bool,
                 aux_after: tuple[str, ...], aux_logits: bool, dropout: float, aux_dropout: float) -> None:
        super().__init__()
        # torchvision: conv without bias -> BN(eps=0.001) -> ReLU; d2l: conv with bias -> ReLU.
        conv = partial(conv_relu, batch_norm=batch_norm, bn_eps=1e-3, conv_bias=not batch_norm)
        conv1, conv2, conv3 = stem_channels
        first = inceptions[0][0]

        def stage_pool(name: str) -> nn.MaxPool2d:
            kernel, stride, padding, ceil = stage_pools[name]
            return nn.MaxPool2d(kernel, stride=stride, padding=padding, ceil_mode=ceil)

        self.features = nn.Sequential(OrderedDict(
            stem=nn.Sequential(OrderedDict(conv1=conv(in_channels, conv1, 7, stride=2, padding=3),
                                           pool1=stage_pool(first), conv2=conv(conv1, conv2, 1),
                                           conv3=conv(conv2, conv3, 3, padding=1)))))
        self.record_block("stem", "stem", "features.stem")
        self.aux_logits = aux_logits
        self.aux_after = tuple(aux_after) if aux_logits else ()
        self._aux_inputs = {f"inception{name}" for name in self.aux_after}
        channels = conv3
        for name, widths in inceptions:
            if name in stage_pools:
                self.features.add_module(f"pool{name[0]}", stage_pool(name))
                self.record_block(f"pool{name[0]}", "pool", f"features.pool{name[0]}")
            block = f"inception{name}"
            self.features.add_module(block, Inception(channels, widths, conv=conv, wide_kernel=wide_kernel,
                                                      pool_ceil=pool_ceil))
            self.record_block(block, "inception", f"features.{block}", merge="concat", branches=tuple(
                (branch, f"features.{block}.{branch}") for branch in ("branch1", "branch2", "branch3", "branch4")))
            ch1x1, _, ch3x3, _, ch5x5, pool_proj = widths
            channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
            if name in self.aux_after:
                index = self.aux_after.index(name) + 1
                self.add_module(f"aux{index}", InceptionAux(channels, num_classes, conv=conv, dropout=aux_dropout))
                self.record_block(f"aux{index}", "aux", f"aux{index}")
        # Analysis runs in eval mode (BN's training path is slow on the meta device) but must see the aux heads.
        self.run_aux_in_eval = False
        head: OrderedDict[str, nn.Module] = OrderedDict(avgpool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten(1))
        if dropout > 0:
            head["dropout"] = nn.Dropout(dropout)
        head["fc"] = nn.Linear(channels, num_classes)
        self.head = nn.Sequential(head)
        self.record_block("head", "head", "head")

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        """Logits; in training mode with aux heads, :class:`GoogLeNetOutputs` (logits, aux2, aux1)."""
        with_aux = self.aux_logits and (self.training or self.run_aux_in_eval)
        aux_outputs = []
        for name, block in self.features.named_children():
            x = block(x)
            if with_aux and name in self._aux_inputs:
                aux_outputs.append(getattr(self, f"aux{len(aux_outputs) + 1}")(x))
        logits = self.head(x)
        if with_aux:
            return GoogLeNetOutputs(logits, *reversed(aux_outputs))
        return logits
