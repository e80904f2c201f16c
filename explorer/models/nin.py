"""NiNSpec -> nn.Module, following d2l's ``nin_block`` layout."""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from ..specs import NiNSpec
from .layers import ClassicCNN


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int,
              one_by_one: tuple[int, ...]) -> OrderedDict[str, nn.Module]:
    """A kxk conv then 1x1 convs, each followed by ReLU."""
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding),
        relu=nn.ReLU(inplace=True))
    channels = out_channels
    for index, width in enumerate(one_by_one, 1):
        layers[f"mlp{index}"] = nn.Conv2d(channels, width, kernel_size=1)
        layers[f"mlp{index}_relu"] = nn.ReLU(inplace=True)
        channels = width
    return layers


def build_nin(spec: NiNSpec) -> ClassicCNN:
    blocks: OrderedDict[str, nn.Module] = OrderedDict()
    channels = spec.in_channels
    for index, block in enumerate(spec.blocks, 1):
        layers = nin_block(channels, block.out_channels, block.kernel_size, block.stride, block.padding,
                           block.one_by_one_channels)
        layers["pool"] = nn.MaxPool2d(spec.pool_kernel, stride=spec.pool_stride)
        blocks[f"nin{index}"] = nn.Sequential(layers)
        channels = block.one_by_one_channels[-1]

    head: OrderedDict[str, nn.Module] = OrderedDict()
    if spec.dropout > 0:
        head["dropout"] = nn.Dropout(spec.dropout)
    # The classifier is a NiN block with one channel per class; global average pooling replaces FC layers.
    kernel = spec.head_kernel_size
    head.update(nin_block(channels, spec.num_classes, kernel, 1, kernel // 2, (spec.num_classes,) * 2))
    head["avgpool"] = nn.AdaptiveAvgPool2d(1)
    head["flatten"] = nn.Flatten(1)
    return ClassicCNN(nn.Sequential(blocks), nn.Sequential(head))
